"""What an evaluation writes: the metrics dict, the per-track CSV and the closing line.

See ``run.py`` for the layout of ``metrics/<stem>.json`` and the CSV.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from midi_extractor.atomic import write_csv
from midi_extractor.evaluate import intervals

DOMAINS = ("in_domain", "out_of_domain")
HEADLINE = ("onset_f1", "onset_offset_f1", "frame_f1")


def build_metrics(stem: str, used_split: str, requested: str, rows: list[dict], skipped: int,
                  decoding: dict, *, drums: bool, n_resamples: int = intervals.N_RESAMPLES) -> dict[str, Any]:
    """The metrics dict of the module docstring."""
    blocks = {d: intervals.summarize([r for r in rows if r["domain"] == d], drums=drums, n_resamples=n_resamples)
              for d in DOMAINS}
    headline = "out_of_domain" if blocks["out_of_domain"]["n_tracks"] else "in_domain"
    metrics: dict[str, Any] = {"stem": stem, "split": used_split}
    if used_split != requested:
        metrics["requested_split"] = requested
    metrics["domain"] = headline
    metrics.update({k: blocks[headline].get(k, 0.0) for k in HEADLINE})
    metrics.update(n_tracks=len(rows), n_skipped=skipped)
    metrics["decoding"] = {k: decoding.get(k) for k in
                           ("onset_threshold", "frame_threshold", "frame_note_threshold", "saturate", "chosen_on",
                            "validation_onset_f1")}
    metrics.update(blocks)
    return metrics


def write_tracks_csv(path: str | Path, rows: list[dict], drum_classes: tuple[str, ...] = ()) -> Path:
    """One row a track (module docstring), atomically; drum stems add ``onset_f1_<class>``
    for each class the reference or the estimate of some track has."""
    from midi_extractor.evaluate.scoring import METRIC_KEYS
    from midi_extractor.matching import prf

    fields = ["track", "domain", "plugin_name", "n_ref_notes", "n_est_notes", *METRIC_KEYS,
              *(f"onset_f1_{c}" for c in drum_classes)]
    out_rows = []
    for row in sorted(rows, key=lambda r: (DOMAINS.index(r["domain"]), r["track"])):
        out = {k: row.get(k) for k in fields[:5]}
        out["plugin_name"] = out["plugin_name"] or ""
        out.update({k: round(row[k], 6) for k in METRIC_KEYS})
        for c in drum_classes:
            tp, n_ref, n_est = row["counts"]["groups"].get(c, (0, 0, 0))
            out[f"onset_f1_{c}"] = "" if n_ref + n_est == 0 else round(prf(tp, n_ref, n_est)[2], 6)
        out_rows.append(out)
    return write_csv(path, out_rows, fields)


def check_outputs_writable(out_path: Any, tracks_out: Any, decoding_out: Any, plots_dir: Any) -> None:
    """Probe the folder of each file output given (``plots_dir``: the folder itself) with
    ``atomic.check_writable``, before the model runs; raises ``atomic.OutputError`` naming
    the first that fails."""
    from midi_extractor.atomic import check_writable

    folders = [Path(p).parent for p in (out_path, tracks_out, decoding_out) if p is not None]
    for folder in dict.fromkeys(folders + ([Path(plots_dir)] if plots_dir is not None else [])):
        check_writable(folder)


def write_outputs(metrics: dict, rows: list[dict], decoding: dict, out_path: Any, tracks_out: Any,
                  decoding_out: Any, plots_dir: Any, max_plots: int, drums: bool) -> list[Path]:
    """Write whichever outputs were asked for; returns their paths (for MLflow)."""
    from midi_extractor.atomic import write_json
    from midi_extractor.evaluate import plots
    from midi_extractor.model import thresholds
    from midi_extractor.evaluate.scoring import ALL_DRUM_CLASSES

    artifacts: list[Path] = []
    if decoding_out is not None:
        artifacts.append(thresholds.write_decoding(decoding_out, decoding))
    if out_path is not None:
        artifacts.append(write_json(out_path, metrics, indent=2))
        if tracks_out is None:
            tracks_out = Path(out_path).with_name(f"{Path(out_path).stem}_tracks.csv")
    if tracks_out is not None:
        classes = tuple(c for c in ALL_DRUM_CLASSES if any(c in r["counts"]["groups"] for r in rows)) if drums else ()
        artifacts.append(write_tracks_csv(tracks_out, rows, classes))
    if plots_dir is not None:
        plots.plot_tracks(rows, plots_dir, metrics["stem"], drums=drums, max_plots=max_plots)
        artifacts.append(Path(plots_dir))
    return artifacts


def _interval(block: dict) -> str:
    if not block.get("n_tracks"):
        return "no tracks"
    low, high = block["ci95"]["onset_f1"]
    return (f"{block['onset_f1']:.3f} [{low:.3f}, {high:.3f}] "
            f"({block['n_tracks']} tracks, {block['n_ref_notes']} notes)")


def closing_line(stem: str, metrics: dict, decoding: dict, out_path: Any) -> str:
    """The line a stage ends with: thresholds, both domains' onset F1 with intervals, metrics path."""
    val = decoding.get("validation_onset_f1")
    chosen = f"chosen on {decoding['chosen_on']}" + (f", validation onset F1 {val:.3f}" if val is not None else "")
    frame_note = decoding.get("frame_note_threshold")
    frame_notes = "none" if frame_note is None else f"{frame_note:.2f}"
    return (f"evaluate {stem}: onset threshold {decoding['onset_threshold']:.2f}, frame threshold "
            f"{decoding['frame_threshold']:.2f}, frame notes {frame_notes} ({chosen}); {metrics['split']} onset F1 in-domain "
            f"{_interval(metrics['in_domain'])}, out-of-domain {_interval(metrics['out_of_domain'])}; "
            f"metrics -> {out_path if out_path is not None else '(not written)'}")


def flat_metrics(metrics: dict[str, Any]) -> dict[str, float]:
    """Every number of a metrics dict under one flat name, for MLflow: the headline
    (``onset_f1``...), ``validation_onset_f1``, and per domain ``<domain>.onset_f1``,
    ``<domain>.onset_f1_ci95_low``/``_high``, ``<domain>.onset_precision``,
    ``<domain>.onset_f1_<class>``, ``<domain>.recall_<class>``, ``<domain>.recall_octave_<k>``,
    ``<domain>.source.<name>.onset_f1`` ..."""
    out: dict[str, float] = {k: float(metrics[k]) for k in (*HEADLINE, "n_tracks", "n_skipped") if k in metrics}
    dec = metrics.get("decoding", {})
    for key in ("onset_threshold", "frame_threshold", "frame_note_threshold", "validation_onset_f1"):
        if isinstance(dec.get(key), (int, float)):
            out[key if key.startswith("validation") else f"decoding.{key}"] = float(dec[key])
    for domain in DOMAINS:
        block, pre = metrics.get(domain, {}), f"{domain}."
        out.update({pre + k: float(v) for k, v in block.items() if isinstance(v, (int, float))})
        out.update({f"{pre}onset_f1_{c}": float(v) for c, v in block.get("onset_f1_by_class", {}).items()})
        for fig, (low, high) in block.get("ci95", {}).items():
            out[f"{pre}{fig}_ci95_low"], out[f"{pre}{fig}_ci95_high"] = float(low), float(high)
        for fig, (p, r) in block.get("precision_recall", {}).items():
            out[f"{pre}{fig}_precision"], out[f"{pre}{fig}_recall"] = float(p), float(r)
        out.update({f"{pre}recall_{c['class']}": float(c["recall"]) for c in block.get("by_class", [])})
        out.update({f"{pre}recall_octave_{o['octave']}": float(o["recall"]) for o in block.get("by_octave", [])})
        for src in block.get("by_source", []):
            out.update({f"{pre}source.{src['source']}.{k}": float(src[k])
                        for k in ("onset_f1", "frame_f1", "n_tracks")})
    return out
