"""What a training run is and what it holds: a :class:`Job` (what to train: settings, data,
outputs), a :class:`State` (model, optimiser, counters: what a checkpoint carries), and the
ways a state begins: fresh (:func:`build_state`), from a base (:func:`start_from_base`) or
from ``last.pt`` (:func:`try_resume`); :func:`checkpoint` is the inverse of the last.
The loop that runs them is :mod:`midi_extractor.train.loop`.
"""
from __future__ import annotations

import dataclasses
import logging
import math
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from midi_extractor import taxonomy as tx
from midi_extractor.config import FrontEndConfig, Params, RoleConfig, StemConfig
from midi_extractor.model.checkpoint import CheckpointError, Identity, check_fits, load_checkpoint
from midi_extractor.model.transcriber import create_model
from midi_extractor.train import distributed as ddp
from midi_extractor.train import outputs

log = logging.getLogger(__name__)


class TrainingError(RuntimeError):
    """Training cannot go on (e.g. a non-finite loss); the message says why and where."""


@dataclass
class Job:
    """What to train. ``name`` is the stem (or the pretrain base) the run is for; ``front_end``
    the one it trains at (``Params.front_end`` of the stem, ``Params.base_front_end`` of a base;
    default ``params.features``). ``tone_guard``: a pitched base's, see
    :func:`midi_extractor.train.validation.is_better`."""

    name: str
    role: str
    settings: StemConfig
    role_config: RoleConfig
    params: Params
    index_path: Path
    out_dir: Path
    drum_classes: list[str] | None = None
    data_root: str | Path | None = None
    init_from: Path | None = None
    front_end: FrontEndConfig | None = None
    tone_guard: bool = False   # the best step must hear plain harmonic tones (validation.is_better)

    def __post_init__(self) -> None:
        if self.front_end is None:
            self.front_end = self.params.features

    @property
    def total_steps(self) -> int:
        return self.settings.epochs * self.settings.steps_per_epoch

    @property
    def last_path(self) -> Path:
        return self.out_dir / "last.pt"

    @property
    def best_path(self) -> Path:
        return self.out_dir / "best.pt"


@dataclass
class State:
    """Model, optimiser and everything else that changes as training runs."""

    model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: Any
    scaler: Any
    config: dict
    fingerprint: str
    step: int = 0
    best_key: tuple | None = None
    best_metric: float | None = None
    best_step: int | None = None
    bad_validations: int = 0
    history: list[dict] = field(default_factory=list)
    resumed_from: int | None = None
    run_id: str | None = None
    stopped: bool = False
    last_val: dict = field(default_factory=dict)
    clips_done: int = 0
    train_time_s: float = 0.0
    window: dict = field(default_factory=dict)
    window_n: int = 0
    base_blend: float | None = None   # the weight of the fine-tune in best.pt when a blend won (train/blend.py)


def lr_factor(step: int, total: int, warmup: int, floor: float = 0.02) -> float:
    """Linear warmup over ``warmup`` steps, then cosine down to ``floor``."""
    if step < warmup:
        return (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return floor + (1.0 - floor) * 0.5 * (1.0 + math.cos(math.pi * progress))


# --------------------------------------------------------------------- build
def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def build_state(job: Job, device: torch.device, amp_dtype) -> State:
    """A fresh model, AdamW (over the heads alone when ``train_layers`` is ``heads``: the trunk is
    frozen), warmup+cosine schedule and (fp16 only) a GradScaler."""
    s, fe = job.settings, job.front_end
    n_outputs = len(job.drum_classes) if job.drum_classes else fe.n_pitches
    model = create_model(fe, job.params.model, n_outputs, job.role_config).to(device)
    config = {**model.config_dict(), "drum_classes": job.drum_classes, "train": dataclasses.asdict(s),
              "base": str(job.init_from) if job.init_from else None}
    if s.train_layers == "heads":
        for module in model.trunk_modules():
            module.requires_grad_(False)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=s.lr, weight_decay=1e-4)
    warmup = max(1, min(200, job.total_steps // 20))
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda k: lr_factor(k, job.total_steps, warmup))
    scaler = torch.amp.GradScaler("cuda", enabled=amp_dtype == torch.float16)
    return State(model, optimizer, scheduler, scaler, config, outputs.fingerprint(config, job.index_path))


def load_base(job: Job) -> dict:
    """The checkpoint ``job.init_from``, refused (``CheckpointMismatch``, one line) unless it
    fits the job (``checkpoint.check_fits``): the stem's own checkpoint of its role, or a
    shared base of its kind that params do not rule out, at params' front end and model size."""
    ck = load_checkpoint(job.init_from)
    stems = getattr(job.settings, "stems", None)   # a base (pretrain.<name>) starting from a checkpoint
    stem = stems[0] if stems and job.name not in tx.STEMS else job.name
    check_fits(Identity.of(ck), job.init_from, stem, role=job.role, front_end=job.front_end,
               model_size=job.params.model.size, params=job.params, say_base=False)
    return ck


def start_from_base(state: State, job: Job, ck: dict | None = None) -> dict[str, torch.Tensor]:
    """Fine-tuning: load the base checkpoint's weights (``ck``, else :func:`load_base`) and return
    them as this model's state dict (what :mod:`midi_extractor.train.blend` mixes back in).
    Output rows are mapped by drum class name when the base's classes differ from this model's
    (a kit base feeding a ``high_percs`` model); pitched bases map one to one."""
    ck = ck if ck is not None else load_base(job)
    weights = dict(ck["model"])
    base_classes = ck.get("config", {}).get("drum_classes")
    model = ddp.unwrap(state.model)
    own = model.state_dict()
    if job.drum_classes and base_classes and list(base_classes) != list(job.drum_classes):
        rows = [list(base_classes).index(c) for c in job.drum_classes]
        weights = model.map_class_weights(weights, rows, len(base_classes))
    mismatched = [k for k, v in weights.items() if k in own and v.shape != own[k].shape]
    if mismatched:
        raise CheckpointError(f"{job.init_from}: base weights do not fit {job.name}'s model ({mismatched[:3]}...)")
    model.load_state_dict({k: weights.get(k, v) for k, v in own.items()})
    log.info("%s: fine-tuning from %s (step %s)", job.name, job.init_from, ck.get("step"))
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def try_resume(state: State, job: Job) -> bool:
    """Continue from ``last.pt`` when it was written by this very config and data and did
    not finish; otherwise clear the outputs of an earlier run and start afresh."""
    ck = None
    if job.last_path.is_file():
        try:
            ck = load_checkpoint(job.last_path)
        except CheckpointError as exc:
            log.warning("cannot resume: %s; starting afresh", exc)
    ts = (ck or {}).get("train_state") or {}
    if ck is not None and ts.get("fingerprint") != state.fingerprint:
        # the usual case after a params change (dvc exp run -S ...): said, not warned about
        log.info("%s is from other settings or data than this run's; training from the start", job.last_path)
        ck = None
    elif ck is not None and (ts.get("stopped") or int(ck["step"]) >= job.total_steps):
        log.info("%s is a finished run; training afresh", job.last_path)  # e.g. `dvc repro` after a code change
        ck = None
    if ck is None:
        for stale in (job.best_path, job.out_dir / "history.csv"):
            stale.unlink(missing_ok=True)  # persisted by DVC for resumption; not ours to keep now
        return False
    state.model.load_state_dict(ck["model"])
    state.optimizer.load_state_dict(ck["optimizer"])
    state.scheduler.load_state_dict(ck["scheduler"])
    if ck["scaler"]:
        state.scaler.load_state_dict(ck["scaler"])
    state.step = state.resumed_from = int(ck["step"])
    state.best_metric, state.best_key, state.best_step = ck["best_metric"], ts.get("best_key"), ts.get("best_step")
    state.bad_validations, state.run_id = int(ts.get("bad_validations", 0)), ts.get("mlflow_run_id")
    # the losses summed since the last history row: the first row after a resume is the one an
    # uninterrupted run writes (older checkpoints lack them: that row then averages fewer steps)
    state.window, state.window_n = dict(ts.get("loss_window") or {}), int(ts.get("window_n", 0))
    state.clips_done, state.train_time_s = int(ts.get("clips_done", 0)), float(ts.get("train_time_s", 0.0))
    outputs.set_rng_state(ts["rng"])
    state.history = outputs.read_history(job.out_dir / "history.csv", state.step)
    log.info("resuming %s from %s at step %d of %d", job.name, job.last_path, state.step, job.total_steps)
    return True


def checkpoint(state: State, job: Job, world_size: int) -> dict:
    """Contract 2: everything :func:`try_resume` and inference need."""
    model = ddp.unwrap(state.model)
    return {"model": model.state_dict(), "optimizer": state.optimizer.state_dict(),
            "scheduler": state.scheduler.state_dict(), "scaler": state.scaler.state_dict(), "step": state.step,
            "epoch": state.step // job.settings.steps_per_epoch, "best_metric": state.best_metric,
            "config": state.config, "stem": job.name, "role": job.role, "taxonomy_version": tx.TAXONOMY_VERSION,
            "train_state": {"fingerprint": state.fingerprint, "rng": outputs.rng_state(), "best_key": state.best_key,
                            "best_step": state.best_step,
                            "bad_validations": state.bad_validations, "mlflow_run_id": state.run_id,
                            "stopped": state.stopped, "global_batch": job.settings.batch_size * world_size,
                            "loss_window": {k: float(v) for k, v in state.window.items()},
                            "window_n": state.window_n, "clips_done": state.clips_done,
                            "train_time_s": state.train_time_s}}
