"""A set of tracks' scores with bootstrap 95 % intervals over tracks (pure numpy).

Every F1 here is *pooled*: matched, reference and estimated counts are summed over the
tracks, then ``F1 = 2 TP / (n_ref + n_est)`` (``matching.f1_from_counts``), so a track
weighs by its notes and a 3-note track cannot swing the score. The interval resamples
whole tracks with replacement (:data:`N_RESAMPLES` times, seeded with :data:`SEED`),
recomputes the pooled F1 of each resample and keeps the 2.5th and 97.5th percentiles.
One track gives an interval of zero width: there is nothing to resample.

A block (:func:`summarize`) as written to ``metrics/<stem>.json``. ``dvc metrics show``
and ``dvc exp show`` show numbers and hide lists, so the scores a user compares are
numbers and the details are lists (still in the JSON, and in the MLflow run)::

    {"n_tracks": 12, "n_ref_notes": 840,
     "onset_f1": 0.91, "onset_offset_f1": 0.62, "onset_offset_velocity_f1": 0.3, "frame_f1": 0.88,
     "onset_f1_by_class": {"kick": 0.97, "hihat": 0.0},          # drums: classes in the reference
     "ci95": {"onset_f1": [0.88, 0.94], "onset_offset_f1": [..], "frame_f1": [..]},
     "precision_recall": {"onset": [p, r], "frame": [p, r]},
     "by_class": [{"class": "kick", "n_ref_notes", "onset_f1", "ci95": [lo, hi], "precision", "recall"}],
     "onset_any_class_f1": 0.95, "onset_any_class_ci95": [lo, hi],  # drums: hits in time, class aside
     "confusions": [{"reference": "hihat", "transcribed": "shaker", "n": 160}],   # drums: of those hits
     "by_octave": [{"octave": "1", "pitches": "C1-B1", "n_ref_notes", "recall"}],   # pitched
     "by_source": [{"source": "<plugin_name>", "n_tracks", "n_ref_notes", "onset_f1", "frame_f1"}]}

An empty block is ``{"n_tracks": 0, "n_ref_notes": 0}``. Figures are rounded to 4
decimals.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from midi_extractor.matching import f1_from_counts, prf

N_RESAMPLES = 1000
SEED = 0
DIGITS = 4


def _r(x: float) -> float:
    return round(float(x), DIGITS)


def bootstrap_f1(counts: np.ndarray, *, n_resamples: int = N_RESAMPLES, seed: int = SEED) -> list[float]:
    """95 % interval ``[low, high]`` of the pooled F1 of ``counts (n_tracks, 3)``
    (columns tp, n_ref, n_est) under resampling of tracks."""
    counts = np.asarray(counts, dtype=float).reshape(-1, 3)
    if len(counts) == 0:
        return [0.0, 0.0]
    rng = np.random.default_rng(seed)
    sums = counts[rng.integers(0, len(counts), size=(n_resamples, len(counts)))].sum(axis=1)
    denom = sums[:, 1] + sums[:, 2]
    f1 = np.where(denom > 0, 2.0 * sums[:, 0] / np.maximum(denom, 1e-12), 0.0)
    low, high = np.percentile(f1, [2.5, 97.5])
    return [_r(low), _r(high)]


def _figure(rows: Sequence[dict], name: str) -> np.ndarray:
    return np.array([row["counts"][name] for row in rows], dtype=float).reshape(-1, 3)


def _groups(rows: Sequence[dict]) -> dict[str, np.ndarray]:
    """``{group: (n_tracks, 3) counts}`` with zeros for tracks without the group."""
    names = sorted({g for row in rows for g in row["counts"]["groups"]}, key=_group_order)
    return {g: np.array([row["counts"]["groups"].get(g, (0, 0, 0)) for row in rows], dtype=float)
            for g in names}


def _group_order(name: str) -> tuple:
    from midi_extractor import taxonomy as tx

    order = list(tx.DRUM_CLASSES)
    if name in order:
        return (0, order.index(name), name)
    try:
        return (1, int(name), name)
    except ValueError:
        return (2, 0, name)


def summarize(rows: Sequence[dict[str, Any]], *, drums: bool, n_resamples: int = N_RESAMPLES,
              seed: int = SEED) -> dict[str, Any]:
    """The block of one set of tracks (module docstring). ``rows`` are per-track
    dicts with ``counts`` (``scoring.track_counts``) and ``plugin_name``."""
    if not rows:
        return {"n_tracks": 0, "n_ref_notes": 0}
    onset = _figure(rows, "onset")
    block: dict[str, Any] = {"n_tracks": len(rows), "n_ref_notes": int(onset[:, 1].sum())}
    ci95, pr = {}, {}
    for name in ("onset", "onset_offset", "onset_offset_velocity", "frame"):
        counts = _figure(rows, name)
        block[f"{name}_f1"] = _r(f1_from_counts(*counts.sum(axis=0)))
        if name != "onset_offset_velocity":
            ci95[f"{name}_f1"] = bootstrap_f1(counts, n_resamples=n_resamples, seed=seed)
        if name in ("onset", "frame"):
            pr[name] = [_r(x) for x in prf(*counts.sum(axis=0))[:2]]
    groups = {g: c for g, c in _groups(rows).items() if c[:, 1].sum() > 0}  # groups the reference has
    if drums:
        classes = [_class_record(g, c, n_resamples, seed) for g, c in groups.items()]
        block["onset_f1_by_class"] = {c["class"]: c["onset_f1"] for c in classes}
    block["ci95"], block["precision_recall"] = ci95, pr
    if drums:
        block["by_class"] = classes
        block.update(_class_blind(rows, n_resamples, seed))
    else:
        block["by_octave"] = [{"octave": g, "pitches": octave_range(g), "n_ref_notes": int(c[:, 1].sum()),
                               "recall": _r(c[:, 0].sum() / c[:, 1].sum())} for g, c in groups.items()]
    block["by_source"] = by_source(rows)
    return block


def _class_blind(rows: Sequence[dict[str, Any]], n_resamples: int, seed: int) -> dict[str, Any]:
    """Drums: pooled onset F1 of hits whatever their class, its interval, and the class
    confusions of those hits, most frequent first (``scoring.track_counts``)."""
    counts = _figure(rows, "onset_any_class")
    confusions: dict[str, int] = {}
    for row in rows:
        for pair, n in row["counts"]["confusions"].items():
            confusions[pair] = confusions.get(pair, 0) + int(n)
    ranked = sorted(confusions.items(), key=lambda kv: (-kv[1], kv[0]))
    return {"onset_any_class_f1": _r(f1_from_counts(*counts.sum(axis=0))),
            "onset_any_class_ci95": bootstrap_f1(counts, n_resamples=n_resamples, seed=seed),
            "confusions": [{"reference": pair.split(">")[0], "transcribed": pair.split(">")[1], "n": n}
                           for pair, n in ranked]}


def octave_range(octave: str) -> str:
    """``"0"`` -> ``"A0-B0"`` (the lowest MIDI octave starts at A0), ``"3"`` -> ``"C3-B3"``."""
    return f"A{octave}-B{octave}" if octave == "0" else f"C{octave}-B{octave}"


def _class_record(name: str, counts: np.ndarray, n_resamples: int, seed: int) -> dict[str, Any]:
    tp, n_ref, n_est = counts.sum(axis=0)
    p, r, _ = prf(tp, n_ref, n_est)
    return {"class": name, "n_ref_notes": int(n_ref), "onset_f1": _r(f1_from_counts(tp, n_ref, n_est)),
            "ci95": bootstrap_f1(counts, n_resamples=n_resamples, seed=seed), "precision": _r(p), "recall": _r(r)}


def by_source(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Pooled onset and frame F1 per ``plugin_name`` (``"unknown"`` when missing), by name."""
    out = []
    for name in sorted({str(row.get("plugin_name") or "unknown") for row in rows}):
        mine = [row for row in rows if str(row.get("plugin_name") or "unknown") == name]
        onset, frame = _figure(mine, "onset").sum(axis=0), _figure(mine, "frame").sum(axis=0)
        out.append({"source": name, "n_tracks": len(mine), "n_ref_notes": int(onset[1]),
                    "onset_f1": _r(f1_from_counts(*onset)), "frame_f1": _r(f1_from_counts(*frame))})
    return out
