"""What a training run leaves behind and where: the output folder (checked writable, with room
for the checkpoints, before any data is loaded), checkpoint writes that turn a full disk into
one line, the ``history.csv`` curve, the RNG state a checkpoint carries for exact resumption,
the data fingerprint that decides whether ``last.pt`` may be resumed, and the run's
``summary.json`` with its closing log line (:func:`summary`, :func:`finish`)."""
from __future__ import annotations

import csv
import dataclasses
import hashlib
import json
import logging
import random
import shutil
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch

from midi_extractor import atomic
from midi_extractor.atomic import write_json, write_text
from midi_extractor.model.checkpoint import save_checkpoint
from midi_extractor.train import distributed as ddp

log = logging.getLogger(__name__)

#: checkpoint bytes per model parameter: weights + AdamW's two moments, float32, plus slack
CHECKPOINT_BYTES_PER_PARAM = 16
#: checkpoints a run may hold on disk at once: last.pt, best.pt and one temporary copy
CHECKPOINTS_AT_ONCE = 3


class OutDirError(ValueError):
    """The output folder cannot be created or written to, or has no room; the message names it."""


def check_writable(folder: Path) -> None:
    """``atomic.check_writable`` (a probe file), then create ``folder``; either failing raises
    :class:`OutDirError` naming it (training's own error type: nothing was trained)."""
    try:
        atomic.check_writable(folder)
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:  # atomic.OutputError included
        raise OutDirError(f"{folder}: output folder cannot be created or written ({exc.strerror or exc}); "
                          "nothing was trained") from exc


def check_room(folder: Path, n_parameters: int) -> None:
    """Raise :class:`OutDirError` when ``folder``'s disk cannot hold the run's checkpoints
    (:data:`CHECKPOINTS_AT_ONCE` of about ``n_parameters * CHECKPOINT_BYTES_PER_PARAM`` bytes)."""
    need = CHECKPOINTS_AT_ONCE * n_parameters * CHECKPOINT_BYTES_PER_PARAM + (1 << 20)
    free = shutil.disk_usage(folder).free
    if free < need:
        raise OutDirError(f"{folder}: {free / 1e6:.1f} MB free, the checkpoints need about {need / 1e6:.1f} MB; "
                          "nothing was trained")


def save(path: Path, ckpt: Mapping[str, Any]) -> None:
    """:func:`~midi_extractor.model.checkpoint.save_checkpoint`, with a failed write (a full disk,
    a folder gone read-only; torch reports the former as a RuntimeError) raised as one
    :class:`OutDirError` naming ``path``. The earlier ``path`` is left intact."""
    try:
        save_checkpoint(path, ckpt)
    except (OSError, RuntimeError) as exc:
        free = shutil.disk_usage(path.parent).free if path.parent.is_dir() else 0
        raise OutDirError(f"{path}: checkpoint could not be written ({str(exc).splitlines()[0][:120]}; "
                          f"{free / 1e6:.1f} MB free); the previous {path.name} is intact and a rerun "
                          f"resumes from last.pt") from exc

HISTORY_FIELDS = ("step", "epoch", "lr", "loss_total", "loss_onset", "loss_offset", "loss_frame", "loss_velocity",
                  "grad_norm", "clips_per_s", "val_loss_total", "val_onset_precision", "val_onset_recall",
                  "val_onset_f1", "val_onset_threshold", "val_frame_threshold", "val_frame_note_threshold",
                  "val_tone_wrong_frames", "val_tone_wrong_onsets", "base_blend")


def write_history(path: Path, rows: list[dict]) -> None:
    """Write ``rows`` as ``history.csv`` (columns :data:`HISTORY_FIELDS`), atomically."""
    import io

    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=HISTORY_FIELDS, extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    for row in rows:
        w.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()})
    try:
        write_text(path, buf.getvalue())
    except OSError as exc:
        raise OutDirError(f"{path}: could not be written ({exc.strerror or exc}); training stopped, "
                          "last.pt keeps the last good state") from exc


def read_history(path: Path, up_to_step: int) -> list[dict]:
    """Rows of ``history.csv`` up to ``up_to_step`` (a resumed run continues the curve)."""
    if not path.is_file():
        return []
    with path.open() as f:
        rows = [{k: v for k, v in r.items() if v not in ("", None)} for r in csv.DictReader(f)]
    return [r for r in rows if int(float(r.get("step", 0))) <= up_to_step]


def fingerprint(config: dict, index_path: Path) -> str:
    """Hash of the model/training config (workers aside) and the index file's bytes."""
    from midi_extractor.index_io import DataError

    train = {k: v for k, v in config["train"].items() if k != "num_workers"}
    try:
        digest = hashlib.sha256(index_path.read_bytes()).hexdigest()
    except FileNotFoundError:
        raise DataError(f"{index_path}: index file not found") from None
    blob = json.dumps({**config, "train": train, "index_sha256": digest},
                      sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def rng_state() -> dict:
    """torch, numpy, python (and CUDA) RNG states as checkpoint-safe values."""
    np_state = np.random.get_state()
    state = {"torch": torch.get_rng_state(), "numpy_keys": torch.from_numpy(np_state[1].astype(np.int64)),
             "numpy_pos": int(np_state[2]), "python": list(random.getstate()[1]),
             "python_version": int(random.getstate()[0])}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    np.random.set_state(("MT19937", state["numpy_keys"].numpy().astype(np.uint32), state["numpy_pos"], 0, 0.0))
    random.setstate((state["python_version"], tuple(state["python"]), None))
    if "cuda" in state and torch.cuda.is_available() and len(state["cuda"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(state["cuda"])


def summary(state: Any, run: Any, wall_s: float, bad_files: dict[str, str] | None = None) -> dict[str, Any]:
    """What ``summary.json`` says about the run (``state``, ``run``: train.state.State, train.loop.Run)."""
    job, device, world = run.job, run.device, run.info.world_size
    inner = ddp.unwrap(state.model)
    steps = [r for r in state.history if "base_blend" not in r]  # the blends' rows (train/blend.py) hold no loss
    final = {k: float(v) for k, v in steps[-1].items() if k.startswith("loss_")} if steps else {}
    return {"stem": job.name, "role": job.role, "steps": state.step, "total_steps": job.total_steps,
            "epochs_completed": state.step / job.settings.steps_per_epoch, "stopped_early": state.stopped,
            "best_metric_name": "val_onset_f1", "best_metric": state.best_metric, "best_step": state.best_step,
            "base_blend": state.base_blend,
            "final_losses": final, "final_validation": state.last_val,
            "throughput_clips_per_s": state.clips_done * world / state.train_time_s if state.train_time_s else 0.0,
            "wall_time_s": wall_s, "device": str(device),
            "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
            "world_size": world, "amp": str(run.amp_dtype) if run.amp_dtype else None,
            "resumed_from_step": state.resumed_from, "base": str(job.init_from) if job.init_from else None,
            "n_parameters": sum(p.numel() for p in inner.parameters()), "mlflow_run_id": state.run_id,
            "compiled": run.step_model is not state.model, "first_step_s": run.first_step_s,
            "rank": run.info.rank, "skipped_files": {str(k): str(v) for k, v in (bad_files or {}).items()},
            "checkpoints": {"best": str(job.best_path), "last": str(job.last_path)},
            "params": {**dataclasses.asdict(job.settings), "model": dataclasses.asdict(job.params.model)}}


def finish(job: Any, result: dict, tracker: Any) -> None:
    """Rank 0: summary.json, the tracker's last metrics and artifacts, one closing log line."""
    write_json(job.out_dir / "summary.json", result, indent=2, default=str)
    tracker.log_metrics({"throughput_clips_per_s": result["throughput_clips_per_s"],
                         "wall_time_s": result["wall_time_s"]}, result["steps"], flush=True)
    tracker.log_artifact(job.out_dir / "summary.json")
    tracker.log_artifact(job.out_dir / "history.csv")
    tracker.log_checkpoint_ref(job.best_path, "best")
    tracker.end()
    best = result["best_metric"]
    blend = result.get("base_blend")
    log.info("%s: done in %.0f s, %d steps; best validation onset F1 %s at step %s%s -> %s", job.name,
             result["wall_time_s"], result["steps"], f"{best:.3f}" if best is not None else "-",
             result.get("best_step"), f" blended {blend:.2f} with the base" if blend is not None else "",
             job.best_path)
