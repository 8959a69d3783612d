"""What a training run leaves behind and where: the output folder (checked writable, with room
for the checkpoints, before any data is loaded), checkpoint writes that turn a full disk into
one line, the ``history.csv`` curve, the RNG state a checkpoint carries for exact resumption,
and the data fingerprint that decides whether ``last.pt`` may be resumed."""
from __future__ import annotations

import csv
import hashlib
import json
import random
import shutil
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch

from midi_extractor import atomic
from midi_extractor.atomic import write_text
from midi_extractor.model.checkpoint import save_checkpoint

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
                  "val_onset_f1", "val_onset_threshold")


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
