"""One track's scores, as counts that sum over tracks, and as mir_eval's figures.

* :func:`track_counts` (pure): matched / reference / estimated counts of one
  track for every figure, plus the same counts per drum class (percussive
  stems) or per octave (pitched stems). Counts add up over tracks, so a
  split's F1 is ``2 TP / (n_ref + n_est)`` of the summed counts ("pooled"
  F1) and a bootstrap over tracks resamples rows of counts (``intervals.py``).
* :func:`score_notes` (pure): mir_eval's precision / recall / F1 of one track
  from those counts; the benchmarks use it.

Figures: the note figures ``onset``, ``onset_offset`` and ``onset_offset_velocity``
    as :func:`midi_extractor.matching.match_notes` matches them (mir_eval, onset
    tolerance 50 ms, pitch tolerance 50 cents); ``frame``: active (frame, pitch) cells on a grid of ``hop_s`` (the model's
    hop), as ``mir_eval.multipitch`` counts them for exact MIDI pitches.

Drum notes carry the class's GM key (``taxonomy.DRUM_CLASS_PITCH``); the
reference is read with every class of :data:`taxonomy.DRUM_CLASSES`, so a class
the model cannot output still counts (recall 0). Octaves are C-octaves:
octave ``k`` holds MIDI pitches ``12 (k + 1)`` to ``12 (k + 1) + 11`` (``"0"``:
A0-B0, ``"1"``: C1-B1, ...).
"""
from __future__ import annotations

import dataclasses
import math
from typing import Any, Sequence

import numpy as np

from midi_extractor import taxonomy as tx
from midi_extractor.matching import NOTE_FIGURES, ONSET_TOLERANCE_S, match_notes, midi_to_hz, prf
from midi_extractor.model.decoding import Note

#: Figures counted per track, in file order.
FIGURES = (*NOTE_FIGURES, "frame")
#: The per-track keys of :func:`score_notes`, in file order.
METRIC_KEYS = ("onset_precision", "onset_recall", "onset_f1", "onset_offset_f1", "onset_offset_velocity_f1",
               "frame_precision", "frame_recall", "frame_f1")
ALL_DRUM_CLASSES = tuple(tx.DRUM_CLASSES)
_PITCH_CLASS = {p: c for c, p in tx.DRUM_CLASS_PITCH.items()}
#: the one pitch every drum hit is given for class-blind matching
BLIND_PITCH = 60


def octave_of(pitch: int) -> str:
    """C-octave name of a MIDI pitch: 21 (A0) -> ``"0"``, 24 (C1) -> ``"1"``, 60 (C4) -> ``"4"``."""
    return str(int(pitch) // 12 - 1)


def notes_to_roll(notes: Sequence[Note], hop_s: float, n_frames: int) -> np.ndarray:
    """Boolean ``(n_frames, 128)``: a note covers frames ``round(start/hop)`` up to
    ``round(end/hop)`` (exclusive), at least one."""
    roll = np.zeros((n_frames, 128), dtype=bool)
    for n in notes:
        a = int(round(n.start_s / hop_s))
        b = max(a + 1, int(round(n.end_s / hop_s)))
        if a < n_frames:
            roll[a:min(b, n_frames), int(n.pitch)] = True
    return roll


def notes_to_frames(notes: Sequence[Note], hop_s: float, n_frames: int) -> tuple[np.ndarray, list[np.ndarray]]:
    """Frame times (s) and the active frequencies (Hz) per frame for ``mir_eval.multipitch``."""
    roll = notes_to_roll(notes, hop_s, n_frames)
    midi_hz = midi_to_hz(np.arange(128))
    return np.arange(n_frames) * hop_s, [midi_hz[np.flatnonzero(row)] for row in roll]


def _group_counts(ref: Sequence[Note], est: Sequence[Note], matching: list, key) -> dict[str, list[int]]:
    """``{group: [tp, n_ref, n_est]}`` of onset matches, grouping notes by ``key(note)``."""
    out: dict[str, list[int]] = {}
    for n in ref:
        out.setdefault(key(n), [0, 0, 0])[1] += 1
    for n in est:
        out.setdefault(key(n), [0, 0, 0])[2] += 1
    for i, _ in matching:
        out[key(ref[i])][0] += 1
    return out


def track_counts(ref_notes: Sequence[Note], est_notes: Sequence[Note], *, hop_s: float = 0.01,
                 onset_tolerance: float = ONSET_TOLERANCE_S, drums: bool = False) -> dict[str, Any]:
    """Counts of one track: ``{figure: (tp, n_ref, n_est)}`` for :data:`FIGURES`
    (frame counts are (frame, pitch) cells), and ``groups``: ``{class: [tp, n_ref, n_est]}``
    of onset matches per drum class (``drums=True``; a note's class is read from its
    pitch, a folded GM key) or per octave (pitched). Drums also get ``onset_any_class`` and
    ``confusions`` (:func:`_class_blind`)."""
    matches = match_notes(ref_notes, est_notes, NOTE_FIGURES, onset_tolerance)
    n_ref, n_est = len(ref_notes), len(est_notes)
    out: dict[str, Any] = {k: (len(m), n_ref, n_est) for k, m in matches.items()}
    end = max([n.end_s for n in [*ref_notes, *est_notes]], default=0.0)
    n_frames = int(math.ceil(end / hop_s)) + 1
    ref_roll, est_roll = notes_to_roll(ref_notes, hop_s, n_frames), notes_to_roll(est_notes, hop_s, n_frames)
    out["frame"] = (int((ref_roll & est_roll).sum()), int(ref_roll.sum()), int(est_roll.sum()))
    key = (lambda n: _PITCH_CLASS.get(n.pitch, tx.drum_class(n.pitch))) if drums else (lambda n: octave_of(n.pitch))
    out["groups"] = _group_counts(list(ref_notes), list(est_notes), matches["onset"], key)
    if drums:
        out.update(_class_blind(list(ref_notes), list(est_notes), key, onset_tolerance))
    return out


def _class_blind(ref: list[Note], est: list[Note], class_of, onset_tolerance: float) -> dict[str, Any]:
    """Drums: ``onset_any_class`` (tp, n_ref, n_est) of hits matched in time whatever their
    class, and ``confusions``: ``{"<reference class>><transcribed class>": n}`` of those pairs
    whose classes differ (a hit heard, its class wrong)."""
    same = lambda notes: [dataclasses.replace(n, pitch=BLIND_PITCH) for n in notes]  # noqa: E731
    pairs = match_notes(same(ref), same(est), ("onset",), onset_tolerance)["onset"]
    confusions: dict[str, int] = {}
    for i, j in pairs:
        a, b = class_of(ref[i]), class_of(est[j])
        if a != b:
            confusions[f"{a}>{b}"] = confusions.get(f"{a}>{b}", 0) + 1
    return {"onset_any_class": (len(pairs), len(ref), len(est)), "confusions": confusions}


def figures_from_counts(counts: dict[str, Any]) -> dict[str, float]:
    """Per-track figures :data:`METRIC_KEYS` from :func:`track_counts`."""
    out: dict[str, float] = {}
    p, r, f = prf(*counts["onset"])
    out.update(onset_precision=p, onset_recall=r, onset_f1=f)
    out["onset_offset_f1"] = prf(*counts["onset_offset"])[2]
    out["onset_offset_velocity_f1"] = prf(*counts["onset_offset_velocity"])[2]
    p, r, f = prf(*counts["frame"])
    out.update(frame_precision=p, frame_recall=r, frame_f1=f)
    return out


def score_notes(ref_notes: Sequence[Note], est_notes: Sequence[Note], *, hop_s: float = 0.01,
                onset_tolerance: float = ONSET_TOLERANCE_S,
                drum_classes: Sequence[str] | None = None) -> dict[str, float]:
    """mir_eval figures of one track (keys :data:`METRIC_KEYS`), plus
    ``onset_f1_<class>`` per drum class when ``drum_classes`` is given (NaN for a
    class neither side has). Empty inputs score 0, as in mir_eval."""
    counts = track_counts(ref_notes, est_notes, hop_s=hop_s, onset_tolerance=onset_tolerance,
                          drums=drum_classes is not None)
    out = figures_from_counts(counts)
    for cls in drum_classes or ():
        tp, n_ref, n_est = counts["groups"].get(cls, (0, 0, 0))
        out[f"onset_f1_{cls}"] = float("nan") if n_ref + n_est == 0 else prf(tp, n_ref, n_est)[2]
    return {k: float(v) for k, v in out.items()}


def mean_metrics(rows: Sequence[dict[str, Any]], keys: Sequence[str]) -> dict[str, float | None]:
    """Mean of each key over rows, ignoring NaN; ``None`` when no row has a number."""
    means: dict[str, float | None] = {}
    for key in keys:
        values = np.array([r[key] for r in rows if r.get(key) is not None], dtype=float)
        values = values[~np.isnan(values)]
        means[key] = round(float(values.mean()), 6) if values.size else None
    return means

