"""What a training run leaves behind besides checkpoints: the ``history.csv`` curve, the RNG
state a checkpoint carries for exact resumption, and the data fingerprint that decides
whether ``last.pt`` may be resumed."""
from __future__ import annotations

import csv
import hashlib
import json
import random
from pathlib import Path

import numpy as np
import torch

from midi_extractor.atomic import write_text

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
    write_text(path, buf.getvalue())


def read_history(path: Path, up_to_step: int) -> list[dict]:
    """Rows of ``history.csv`` up to ``up_to_step`` (a resumed run continues the curve)."""
    if not path.is_file():
        return []
    with path.open() as f:
        rows = [{k: v for k, v in r.items() if v not in ("", None)} for r in csv.DictReader(f)]
    return [r for r in rows if int(float(r.get("step", 0))) <= up_to_step]


def fingerprint(config: dict, index_path: Path) -> str:
    """Hash of the model/training config (workers aside) and the index file's bytes."""
    train = {k: v for k, v in config["train"].items() if k != "num_workers"}
    blob = json.dumps({**config, "train": train, "index_sha256": hashlib.sha256(index_path.read_bytes()).hexdigest()},
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
