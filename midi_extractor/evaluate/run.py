"""``evaluate``: choose decoding thresholds on validation, score the test split, record it.

1. The model runs once per validation track; the thresholds are chosen from a grid on
   those activations (``thresholds.py``) and written to ``decoding.json``
   (``--decoding-out``, normally ``models/<stem>/decoding.json``, beside the model).
   The model hears every track at the stem's drive (``stems.<stem>.saturate``, written to
   ``decoding.json`` too; ``model.saturation``).
2. Every test track is transcribed with them (``infer.engine.transcribe_array``, the
   public path) and scored against its MIDI (``tracks.py``, ``scoring.py``). Drum references keep
   every drum class (``taxonomy.DRUM_CLASSES``), not only the model's. Pitched references
   are the corrected notes training learnt from (``index_io.label_notes``: the entry's
   ``label_shift_semitones``, real Slakh bass -12; notes outside the model's MIDI range
   left out, logged with their count), under the filter's rule for labels that fit their
   audio (``index_io.fit_labels``: a track whose notes run over 1 s past its audio, or are
   implausibly dense, is skipped with a warning; ends a little past are trimmed). An entry
   path leaving the index's root (``index_io.inside_root``) is skipped with a warning too.
3. ``metrics/<stem>.json`` (atomic)::

       {"stem", "split", "domain": headline domain,
        "onset_f1", "onset_offset_f1", "frame_f1",      # headline = out_of_domain when it
        "n_tracks", "n_skipped",                         #   has tracks, else in_domain
        "decoding": {"onset_threshold", "frame_threshold", "frame_note_threshold",
                     "saturate", "chosen_on", "validation_onset_f1"},
        "in_domain": {block}, "out_of_domain": {block}}  # blocks: intervals.summarize

   The headline is the out-of-domain score when the test split has out-of-domain tracks
   (the number the issue targets and the one that tells models apart), else in-domain;
   ``domain`` says which. Every F1 is pooled over tracks (summed counts) with a bootstrap
   95 % interval over tracks (``intervals.py``). ``dvc metrics show`` shows the numbers and
   hides the lists (intervals, per-class / per-octave / per-source details).

   An index entry's ``domain`` (``in_domain`` | ``out_of_domain``; missing = in_domain)
   and ``plugin_name`` (the sound source) are read from the entry or its ``metadata``.
4. ``<out>_tracks.csv`` (atomic): one row a track, ``track`` a string id
   (``Track00012/S01``), ``domain``, ``plugin_name``, note counts, per-track F1s.
5. Piano rolls of every track, worst first (``plots.py``); a new MLflow run
   (``mlflow_log.py``); a closing log line with the figures that matter.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import sys
from pathlib import Path
from typing import Any

from midi_extractor import taxonomy as tx
from midi_extractor.atomic import OutputError
from midi_extractor.config import resolve_params
from midi_extractor.evaluate import intervals, plots
from midi_extractor.model import thresholds
from midi_extractor.evaluate.outputs import build_metrics, check_outputs_writable, closing_line, write_outputs
from midi_extractor.evaluate.tracks import choose_decoding, score_entries, select_entries
from midi_extractor.model.checkpoint import CheckpointError, check_fits

log = logging.getLogger(__name__)


# ------------------------------------------------------------------ evaluate
def evaluate(stem: str, index_path: str | Path, model_path: str | Path, split: str = "test",
             out_path: str | Path | None = None, params: Any = None, *, data_root: str | Path | None = None,
             tracks_out: str | Path | None = None, plots_dir: str | Path | None = None,
             max_plots: int = plots.DEFAULT_MAX_PLOTS, summary_path: str | Path | None = None,
             decoding_out: str | Path | None = None, n_resamples: int = intervals.N_RESAMPLES,
             device: str | None = None) -> dict[str, Any]:
    """Choose thresholds on validation, score ``split`` of ``index_path`` with
    ``model_path`` and write the outputs (module docstring). ``data_root`` overrides
    the index's ``dataset_root``; ``tracks_out`` defaults to ``<out>_tracks.csv``;
    ``summary_path`` (default ``summary.json`` beside the model) names the training
    run the MLflow run nests under; ``device`` (``cpu``, ``cuda[:N]``) is passed to
    ``load_model`` when given. Returns the metrics dict."""
    from midi_extractor.index_io import parse_index, resolve_dataset_root, select_split
    from midi_extractor.infer.engine import load_model

    params = resolve_params(params)
    index_path = Path(index_path)
    index = parse_index(index_path)
    if index.get("stem", stem) != stem:
        raise ValueError(f"{index_path} indexes stem {index.get('stem')!r}, not {stem!r}")
    root = resolve_dataset_root(index_path, data_root if data_root is not None else index.get("dataset_root", "."),
                                index.get("entries", []))
    used_split, entries = select_entries(index, split)
    check_outputs_writable(out_path, tracks_out, decoding_out, plots_dir)  # before the model runs
    # The checkpoint itself, never a model.onnx beside it: the metrics do not depend on whether
    # export@<stem> ran first (tests/infer/test_onnx_export.py holds the export to the checkpoint's notes).
    loaded = load_model(model_path, device, runtime="torch")
    check_fits(loaded.identity, model_path, stem, role=tx.role_of(stem, params.switches), params=params)
    if stem in params.stems:  # the drive the stem ships with (else the model's own decoding.json's)
        loaded = dataclasses.replace(loaded, saturate=params.stems[stem].saturate)
    drums = bool(loaded.drum_classes)
    grid = thresholds.grid_from_decoding(params.decoding, drums)
    if grid.swept or decoding_out is not None:
        validation = list(select_split(index.get("entries", []), "validation", str(index_path)))
        if used_split in ("validation", "train_holdout") and grid.swept:
            log.warning("%s: thresholds are chosen on the tracks being scored (no test split)", index_path)
        decoding = choose_decoding(validation, root, loaded, grid, str(index_path))
    else:
        decoding = thresholds.unchosen(grid)  # fixed thresholds, nothing to record: no validation pass
    decoding = {**decoding, "saturate": loaded.saturate}   # travels with the model (infer.settings)
    rows, skipped = score_entries(entries, root, loaded, decoding, str(index_path))
    if not rows:
        raise ValueError(f"no track of split {used_split!r} in {index_path} could be evaluated")
    metrics = build_metrics(stem, used_split, split, rows, skipped, decoding, drums=drums, n_resamples=n_resamples)
    artifacts = write_outputs(metrics, rows, decoding, out_path, tracks_out, decoding_out, plots_dir, max_plots,
                              drums)
    from midi_extractor.evaluate.mlflow_log import log_evaluation
    from midi_extractor.tracking import run_id_from_summary

    summary = Path(summary_path) if summary_path is not None else Path(model_path).with_name("summary.json")
    log_evaluation(stem, metrics, decoding, artifacts, experiment=params.tracking.experiment,
                   training_run_id=run_id_from_summary(summary), role=tx.role_of(stem, params.switches))
    log.info("%s", closing_line(stem, metrics, decoding, out_path))
    return metrics


# ------------------------------------------------------------------------ CLI
def _cmd_evaluate(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        metrics = evaluate(args.stem, args.index, args.model, args.split, args.out, args.params,
                           data_root=args.data, tracks_out=args.tracks_out, plots_dir=args.plots_dir,
                           max_plots=args.max_plots, summary_path=args.summary, decoding_out=args.decoding_out,
                           device=args.device)
    except (ValueError, FileNotFoundError, KeyError, OutputError) as exc:
        print(f"evaluate: {exc}", file=sys.stderr)
        # a model that is not this stem's, an output that cannot be written: the user's error
        return 2 if isinstance(exc, (CheckpointError, OutputError)) else 1
    print(json.dumps(metrics, indent=2))
    return 0


def add_arguments(p: argparse.ArgumentParser, *, stage: bool = False) -> None:
    """The evaluate options (the CLI's and the ``evaluate@<stem>`` stage's)."""
    p.add_argument("--stem", required=True, choices=tx.STEM_NAMES)
    p.add_argument("--index", required=True, help="filtered index JSON (data/index/filtered_dataset_<stem>.json)")
    p.add_argument("--model", required=True, help="checkpoint (models/<stem>/best.pt)")
    p.add_argument("--split", default="test", help="split to score (default test; empty -> validation -> train)")
    p.add_argument("--out", required=stage, help="metrics JSON (metrics/<stem>.json)")
    p.add_argument("--params", required=stage, default=None, help="params.yaml (default: ./params.yaml if present)")
    p.add_argument("--data", default=None, help="dataset root (default: the index's dataset_root)")
    p.add_argument("--tracks-out", default=None, help="per-track CSV (default: <out>_tracks.csv)")
    p.add_argument("--plots-dir", default=None, help="folder for piano-roll PNGs (worst tracks first)")
    p.add_argument("--max-plots", type=int, default=plots.DEFAULT_MAX_PLOTS, help="most PNGs to draw (default 12)")
    p.add_argument("--summary", default=None, help="training summary.json (default: beside --model)")
    p.add_argument("--device", default=None, help="cpu (default), cuda or cuda:N")
    p.add_argument("--decoding-out", default=None,
                   help="write the thresholds chosen on validation here (models/<stem>/decoding.json)")


def add_cli(subparsers) -> None:
    p = subparsers.add_parser(
        "evaluate", help="choose decoding thresholds on validation and score a stem's model on its test split",
        description="Choose decoding thresholds on the validation split, transcribe the test split and score "
                    "it with mir_eval (in-domain and out-of-domain, bootstrap intervals); writes metrics JSON, "
                    "a per-track CSV, piano rolls and a new MLflow run.")
    add_arguments(p)
    p.set_defaults(func=_cmd_evaluate)
