"""Checkpoints (contract 2 of docs/ARCHITECTURE.md): save atomically, load
safely, rebuild the model from the file alone.

A checkpoint is a dict of plain values and tensors that loads with
``torch.load(path, weights_only=True)``: ``model`` (state dict), ``optimizer``,
``scheduler``, ``scaler``, ``step``, ``epoch``, ``best_metric``, ``config``
(``front_end``, ``model``, ``n_outputs``, ``drum_classes`` or None,
``loss_weights``, ``train``), ``stem``, ``role``, ``taxonomy_version``. The
trainer adds ``train_state`` (RNG states, data position, MLflow run id) for
exact resumption; readers may ignore it.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping

from midi_extractor.atomic import atomic_open, file_sha256  # noqa: F401  (file_sha256: the checkpoint reference)

REQUIRED_KEYS = ("model", "optimizer", "scheduler", "scaler", "step", "epoch", "best_metric", "config",
                 "stem", "role", "taxonomy_version")
CONFIG_KEYS = ("front_end", "model", "n_outputs", "drum_classes", "loss_weights", "train")


class CheckpointError(ValueError):
    """A checkpoint that is missing, unreadable or not by the contract; the message names the file."""


def save_checkpoint(path: str | Path, ckpt: Mapping[str, Any]) -> Path:
    """Write ``ckpt`` to ``path`` atomically (``atomic.atomic_open``: a temporary file in
    the same folder, fsync'ed, given the umask's mode like every other output, then
    ``os.replace``; the folder is fsync'ed after). A failure at any point leaves an
    existing ``path`` untouched. Returns the path."""
    import torch

    path = Path(path)
    with atomic_open(path, "wb") as f:
        torch.save(dict(ckpt), f)
    try:  # make the rename itself durable
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError:
        pass
    return path


def load_checkpoint(path: str | Path, map_location: Any = "cpu") -> dict[str, Any]:
    """Load a checkpoint with ``torch.load(weights_only=True)``. Raises
    :class:`CheckpointError` naming the file when it is missing, corrupt or
    lacks contract keys."""
    import torch

    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint not found")
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # noqa: BLE001 - truncated zip, pickle error, unsafe global ...
        raise CheckpointError(f"{path}: not a readable checkpoint ({type(exc).__name__}: {exc})") from None
    if not isinstance(ckpt, dict):
        raise CheckpointError(f"{path}: not a checkpoint dict (got {type(ckpt).__name__})")
    missing = [k for k in REQUIRED_KEYS if k not in ckpt]
    if missing:
        raise CheckpointError(f"{path}: checkpoint lacks {', '.join(missing)}")
    if not isinstance(ckpt["config"], dict) or "n_outputs" not in ckpt["config"]:
        raise CheckpointError(f"{path}: checkpoint config lacks n_outputs")
    return ckpt


def build_model(ckpt: Mapping[str, Any]):
    """The :class:`~midi_extractor.model.transcriber.Transcriber` of a checkpoint dict, weights
    loaded, in eval mode, on the CPU (move it with ``.to(device)``)."""
    from midi_extractor.model.transcriber import Transcriber

    model = Transcriber.from_config(ckpt["config"])
    model.load_state_dict(ckpt["model"])
    return model.eval()


def export_weights(src: str | Path, out: str | Path) -> Path:
    """A weights-only copy of checkpoint ``src`` at ``out`` (optimizer, scheduler, scaler and
    RNG state dropped; the config that rebuilds the model kept): what a shipped base is."""
    ckpt = load_checkpoint(src)
    slim = {**{k: ckpt[k] for k in REQUIRED_KEYS}, "optimizer": {}, "scheduler": {}, "scaler": {},
            "train_state": {}}
    return save_checkpoint(out, slim)
