"""Score a stem's model on a split of its index with mir_eval.

* :func:`score_notes` (pure): one track's figures from reference and
  estimated notes; the trainer uses it for validation F1.
* :func:`evaluate`: every entry of a split -> ``metrics/<stem>.json`` (contract 3,
  means over tracks), ``metrics/<stem>_tracks.csv`` (one row a track),
  piano-roll PNGs, and the same figures in the stem's MLflow run.

Figures (mir_eval, onset tolerance 50 ms):
    ``onset_*``: ``transcription.precision_recall_f1_overlap(offset_ratio=None)``;
    ``onset_offset_f1``: the same with ``offset_ratio=0.2``;
    ``onset_offset_velocity_f1``: ``transcription_velocity.precision_recall_f1_overlap``;
    ``frame_*``: ``multipitch.metrics`` on a frame grid (the model's hop in
    :func:`evaluate`), F1 = 2PR/(P+R);
    percussive stems add ``onset_f1_<class>``: the onset F1 of that class's
    hits alone (tracks where neither reference nor estimate has the class are
    left out of its mean; ``null`` when no track has it).
"""
from __future__ import annotations

import argparse
import csv
import json
import logging
import math
import os
import sys
import warnings
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from midi_extractor import taxonomy as tx
from midi_extractor.config import resolve_params
from midi_extractor.model.decoding import Note
from midi_extractor.midi_io import notes_to_arrays

log = logging.getLogger(__name__)

#: The contract-3 figures every stem has, in file order.
METRIC_KEYS = ("onset_precision", "onset_recall", "onset_f1", "onset_offset_f1", "onset_offset_velocity_f1",
               "frame_precision", "frame_recall", "frame_f1")


# ------------------------------------------------------------------ pure part
def notes_to_frames(notes: Sequence[Note], hop_s: float, n_frames: int) -> tuple[np.ndarray, list[np.ndarray]]:
    """Frame times and the active frequencies (Hz) per frame for ``mir_eval.multipitch``.
    A note covers frames ``round(start/hop)`` up to ``round(end/hop)`` (exclusive), at least one."""
    roll = np.zeros((n_frames, 128), dtype=bool)
    for n in notes:
        a = int(round(n.start_s / hop_s))
        b = max(a + 1, int(round(n.end_s / hop_s)))
        if a < n_frames:
            roll[a:min(b, n_frames), int(n.pitch)] = True
    times = np.arange(n_frames) * hop_s
    midi_hz = 440.0 * 2.0 ** ((np.arange(128) - 69) / 12.0)
    freqs = [midi_hz[np.flatnonzero(row)] for row in roll]
    return times, freqs


def _f1(p: float, r: float) -> float:
    return 0.0 if p + r == 0 else 2 * p * r / (p + r)


def score_notes(ref_notes: Sequence[Note], est_notes: Sequence[Note], *, hop_s: float = 0.01,
                onset_tolerance: float = 0.05, drum_classes: Sequence[str] | None = None) -> dict[str, float]:
    """mir_eval figures of one track (keys :data:`METRIC_KEYS`, plus
    ``onset_f1_<class>`` per drum class when ``drum_classes`` is given; NaN
    for a class neither side has). Empty inputs score as mir_eval scores them (0)."""
    ref_i, ref_p, ref_v = notes_to_arrays(ref_notes)
    est_i, est_p, est_v = notes_to_arrays(est_notes)
    import mir_eval

    out: dict[str, float] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # mir_eval warns on empty references/estimates
        p, r, f, _ = mir_eval.transcription.precision_recall_f1_overlap(
            ref_i, ref_p, est_i, est_p, onset_tolerance=onset_tolerance, offset_ratio=None)
        out.update(onset_precision=p, onset_recall=r, onset_f1=f)
        out["onset_offset_f1"] = mir_eval.transcription.precision_recall_f1_overlap(
            ref_i, ref_p, est_i, est_p, onset_tolerance=onset_tolerance)[2]
        if len(ref_v) and len(est_v):
            out["onset_offset_velocity_f1"] = mir_eval.transcription_velocity.precision_recall_f1_overlap(
                ref_i, ref_p, ref_v, est_i, est_p, est_v, onset_tolerance=onset_tolerance)[2]
        else:
            out["onset_offset_velocity_f1"] = 0.0
        end = max([n.end_s for n in [*ref_notes, *est_notes]], default=0.0)
        n_frames = int(math.ceil(end / hop_s)) + 1
        ref_t, ref_f = notes_to_frames(ref_notes, hop_s, n_frames)
        est_t, est_f = notes_to_frames(est_notes, hop_s, n_frames)
        scores = mir_eval.multipitch.metrics(ref_t, ref_f, est_t, est_f)
        out.update(frame_precision=scores[0], frame_recall=scores[1], frame_f1=_f1(scores[0], scores[1]))
        for cls in drum_classes or ():
            pitch = tx.DRUM_CLASS_PITCH[cls]
            ref_c = [n for n in ref_notes if n.pitch == pitch]
            est_c = [n for n in est_notes if n.pitch == pitch]
            if not ref_c and not est_c:
                out[f"onset_f1_{cls}"] = float("nan")
                continue
            ri, rp, _ = notes_to_arrays(ref_c)
            ei, ep, _ = notes_to_arrays(est_c)
            out[f"onset_f1_{cls}"] = mir_eval.transcription.precision_recall_f1_overlap(
                ri, rp, ei, ep, onset_tolerance=onset_tolerance, offset_ratio=None)[2]
    return {k: float(v) for k, v in out.items()}


def mean_metrics(rows: Sequence[dict[str, Any]], keys: Sequence[str]) -> dict[str, float | None]:
    """Mean of each key over rows, ignoring NaN; ``None`` when no row has a number."""
    means: dict[str, float | None] = {}
    for key in keys:
        values = np.array([r[key] for r in rows if r.get(key) is not None], dtype=float)
        values = values[~np.isnan(values)]
        means[key] = round(float(values.mean()), 6) if values.size else None
    return means


# --------------------------------------------------------------------- splits
def select_entries(index: dict, split: str) -> tuple[str, list[dict]]:
    """Entries of ``split``. When it is empty: the ``validation`` split; else the
    train tracks the trainer held out for validation (``data.select_split``:
    a deterministic 10 %; recorded as ``train_holdout``); else all of ``train``
    (recorded as ``train``: tracks the model was trained on). Returns the split
    used and its entries; each fallback is logged."""
    entries = index.get("entries", [])
    stem = index.get("stem", "?")
    chosen = [e for e in entries if e.get("split") == split]
    if chosen:
        return split, chosen
    candidates = [("validation", [e for e in entries if e.get("split") == "validation"])]
    if split != "train":
        from midi_extractor.index_io import select_split  # the trainer's own hold-out of train tracks

        candidates.append(("train_holdout", list(select_split(entries, "validation", f"index of {stem}"))))
    candidates.append(("train", [e for e in entries if e.get("split") == "train"]))
    for name, chosen in candidates:
        if chosen and name != split:
            note = " (the model was trained on these)" if name == "train" else ""
            log.warning("split %r of stem %s is empty; evaluating on %r instead: %d entries%s",
                        split, stem, name, len(chosen), note)
            return name, chosen
    raise ValueError(f"index for stem {stem!r} has no entries in {split!r}, validation or train "
                     f"({len(entries)} entries in all)")


# ----------------------------------------------------------------- evaluation
def _write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fields: list[str] = []
    for row in rows:
        fields.extend(k for k in row if k not in fields)
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: ("" if isinstance(v, float) and math.isnan(v) else
                                 round(v, 6) if isinstance(v, float) else v) for k, v in row.items()})


def plot_piano_roll(ref_notes: Sequence[Note], est_notes: Sequence[Note], path: str | Path, title: str = "") -> Path:
    """Reference (grey boxes) over estimate (red) as a PNG (matplotlib Agg)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(12, 4.5))
    for notes, colour, alpha, label in ((ref_notes, "0.45", 0.6, "reference"), (est_notes, "tab:red", 0.55, "estimate")):
        for i, n in enumerate(notes):
            ax.add_patch(matplotlib.patches.Rectangle((n.start_s, n.pitch - 0.4), max(n.end_s - n.start_s, 0.01),
                                                      0.8, color=colour, alpha=alpha, label=label if i == 0 else None))
    everything = [*ref_notes, *est_notes]
    if everything:
        ax.set_xlim(0, max(n.end_s for n in everything) + 0.1)
        ax.set_ylim(min(n.pitch for n in everything) - 2, max(n.pitch for n in everything) + 2)
        ax.legend(loc="upper right")
    ax.set_xlabel("time (s)")
    ax.set_ylabel("MIDI pitch")
    ax.set_title(title)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path


def tracking_enabled() -> bool:
    return os.environ.get("MIDI_EXTRACTOR_TRACKING", "1").strip().lower() not in ("0", "false", "no", "off")


def _run_id_from_summary(summary_path: Path | None) -> str | None:
    if summary_path is None or not summary_path.is_file():
        return None
    try:
        return json.loads(summary_path.read_text()).get("mlflow_run_id") or None
    except (OSError, json.JSONDecodeError, AttributeError):
        return None


def log_to_mlflow(stem: str, metrics: dict[str, Any], artifacts: Sequence[Path], *, experiment: str,
                  run_id: str | None = None, role: str | None = None) -> str | None:
    """Log evaluation figures and files to MLflow (``tracking.py``: its URI
    rules and ``MIDI_EXTRACTOR_TRACKING=0``): into run ``run_id`` (the training
    run) when given and reachable, else a new run tagged with the stem. Never
    raises; returns the run id or None."""
    if not tracking_enabled():
        log.info("MLflow tracking is off (MIDI_EXTRACTOR_TRACKING=0)")
        return None
    try:
        from midi_extractor import tracking

        tracker = tracking.resume_run(run_id) if run_id else tracking.Tracker()
        if not tracker.active:
            if run_id:
                log.warning("cannot continue MLflow run %s; logging the evaluation to a new run", run_id)
            tracker = tracking.start_run(experiment, f"evaluate-{stem}", tags={"stem": stem, "role": role or ""})
        if not tracker.active:
            return None
        tracker.set_tags({"stem": stem, "eval_split": str(metrics.get("split", ""))})
        tracker.log_metrics({k: v for k, v in metrics.items() if k != "split"}, step=0, flush=True)
        for path in map(Path, artifacts):
            for file in sorted(path.iterdir()) if path.is_dir() else [path]:
                if file.is_file():
                    tracker.log_artifact(file, f"evaluation/{path.name}" if path.is_dir() else "evaluation")
        tracker.end()
        return tracker.run_id
    except Exception as exc:  # noqa: BLE001 - tracking must never fail an evaluation
        log.warning("MLflow logging failed (non-fatal): %s", exc)
        return None


def evaluate(stem: str, index_path: str | Path, model_path: str | Path, split: str = "test",
             out_path: str | Path | None = None, params: Any = None, *, data_root: str | Path | None = None,
             tracks_out: str | Path | None = None, plots_dir: str | Path | None = None, n_plots: int = 3,
             summary_path: str | Path | None = None) -> dict[str, Any]:
    """Transcribe every entry of ``split`` of ``index_path`` with ``model_path``
    and score it against the entry's MIDI.

    ``data_root`` overrides the index's ``dataset_root``; ``tracks_out``
    defaults to ``<out stem>_tracks.csv`` beside ``out_path``; ``summary_path``
    defaults to ``summary.json`` beside the model (its ``mlflow_run_id`` is the
    run continued). Returns the contract-3 dict written to ``out_path``.
    """
    from midi_extractor.audio import AudioError, load_audio
    from midi_extractor.infer.engine import load_model, transcribe_array
    from midi_extractor.midi_io import notes_from_midi

    params = resolve_params(params)
    index_path = Path(index_path)
    index = json.loads(index_path.read_text())
    if index.get("stem", stem) != stem:
        raise ValueError(f"{index_path} indexes stem {index.get('stem')!r}, not {stem!r}")
    from midi_extractor.index_io import resolve_dataset_root

    root = resolve_dataset_root(index_path, data_root if data_root is not None else index.get("dataset_root", "."),
                                index.get("entries", []))
    used_split, entries = select_entries(index, split)
    loaded = load_model(model_path)
    fe, drum_classes = loaded.front_end, loaded.drum_classes
    dec = params.decoding
    rows: list[dict[str, Any]] = []
    plotted: list[Path] = []
    plots = Path(plots_dir) if plots_dir is not None else None
    if plots is not None:
        plots.mkdir(parents=True, exist_ok=True)
    for i, entry in enumerate(entries):
        audio_path, midi_path = root / entry["audio"], root / entry["midi"]
        name = f"{entry.get('track', '?')}/{entry.get('stem_id', '?')}"
        try:
            audio = load_audio(audio_path, fe.sample_rate_hz)
        except AudioError as exc:
            log.warning("skipping %s: %s", name, exc)
            continue
        est = transcribe_array(loaded, audio, onset_threshold=dec.onset_threshold,
                               frame_threshold=dec.frame_threshold, min_note_s=dec.min_note_s,
                               drum_note_s=dec.drum_note_s)
        ref = notes_from_midi(midi_path, drum_classes)
        row = {"track": name, "n_ref_notes": len(ref), "n_est_notes": len(est),
               **score_notes(ref, est, hop_s=fe.hop_s, drum_classes=drum_classes)}
        rows.append(row)
        if plots is not None and len(plotted) < n_plots:
            plotted.append(plot_piano_roll(ref, est, plots / f"{name.replace('/', '_')}.png",
                                           f"{stem} {name}: onset F1 {row['onset_f1']:.3f}"))
        log.info("%s %d/%d %s onset_f1=%.3f", stem, i + 1, len(entries), name, row["onset_f1"])
    if not rows:
        raise ValueError(f"no track of split {used_split!r} in {index_path} could be evaluated")
    keys = list(METRIC_KEYS) + [f"onset_f1_{c}" for c in drum_classes or ()]
    means = mean_metrics(rows, keys)
    metrics: dict[str, Any] = {"stem": stem, "split": used_split, "n_tracks": len(rows)}
    if used_split != split:
        metrics["requested_split"] = split
    metrics.update({k: (0.0 if means[k] is None and k in METRIC_KEYS else means[k]) for k in keys})
    artifacts: list[Path] = []
    if out_path is not None:
        out_path = Path(out_path)
        out_path.parent.mkdir(parents=True, exist_ok=True)
        out_path.write_text(json.dumps(metrics, indent=2) + "\n")
        artifacts.append(out_path)
        if tracks_out is None:
            tracks_out = out_path.with_name(f"{out_path.stem}_tracks.csv")
    if tracks_out is not None:
        _write_csv(Path(tracks_out), rows)
        artifacts.append(Path(tracks_out))
    if plots is not None:
        artifacts.append(plots)
    summary = Path(summary_path) if summary_path is not None else Path(model_path).with_name("summary.json")
    log_to_mlflow(stem, metrics, artifacts, experiment=params.tracking.experiment,
                  run_id=_run_id_from_summary(summary), role=tx.role_of(stem, params.switches))
    return metrics


# ------------------------------------------------------------------------ CLI
def _cmd_evaluate(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        metrics = evaluate(args.stem, args.index, args.model, args.split, args.out, args.params,
                           data_root=args.data, tracks_out=args.tracks_out, plots_dir=args.plots_dir,
                           summary_path=args.summary)
    except (ValueError, FileNotFoundError, KeyError) as exc:
        print(f"evaluate: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(metrics, indent=2))
    return 0


def add_cli(subparsers) -> None:
    p = subparsers.add_parser("evaluate", help="score a stem's model on a split of its index (mir_eval)")
    p.add_argument("--stem", required=True, choices=tx.STEM_NAMES)
    p.add_argument("--index", required=True, help="data/index/filtered_dataset_<stem>.json")
    p.add_argument("--model", required=True, help="models/<stem>/best.pt")
    p.add_argument("--split", default="test", help="test (default); empty -> validation -> train")
    p.add_argument("--out", required=True, help="metrics/<stem>.json")
    p.add_argument("--params", default=None, help="params.yaml (default: ./params.yaml when present)")
    p.add_argument("--data", default=None, help="dataset root (default: the index's dataset_root)")
    p.add_argument("--tracks-out", default=None, help="per-track CSV (default: <out>_tracks.csv)")
    p.add_argument("--plots-dir", default=None, help="folder for piano-roll PNGs")
    p.add_argument("--summary", default=None, help="training summary.json (default: beside --model)")
    p.set_defaults(func=_cmd_evaluate)
