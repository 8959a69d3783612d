"""The training loop, top to bottom: :func:`fit` runs a :class:`~midi_extractor.train.state.Job`

    setup (device, output folder, data, state: fresh, from a base or resumed from last.pt)
    -> fine-tuning: validate the base at step 0 (best.pt is the base until a step beats it)
    -> for each step: train_step; a loss row every ``log_every`` steps;
       every ``val_interval`` steps and at the end: validate_and_save (history.csv, last.pt,
       best.pt when better, early stop)
    -> blend: the best step's weights mixed with the base's (stems.<stem>.base_blends), each
       validated; best.pt becomes a blend that beats it
    -> finish (summary.json, MLflow artifacts: train/outputs.py)

Each step: forward under autocast (AMP on CUDA only: bf16 when supported, else fp16 with a
GradScaler) -> backward -> ``scaler.unscale_`` -> ``clip_grad_norm_`` -> ``scaler.step`` ->
``scaler.update`` -> ``scheduler.step`` (linear warmup, then cosine). Validation is rank 0's,
on deterministic clips, at the best of the shipped onset grid (``decoding.onset_grid``, as
``evaluate`` chooses). Exact resumption and DDP: see :mod:`midi_extractor.train.run`.
"""
from __future__ import annotations

import dataclasses
import logging
import sys
import time
from pathlib import Path
from typing import Any

import torch

from midi_extractor.atomic import clean_stale_tmp
from midi_extractor.model.labels import HEADS
from midi_extractor.model.thresholds import Grid, grid_from_decoding
from midi_extractor.train import blend, data
from midi_extractor.train import distributed as ddp
from midi_extractor.train import outputs, validation
from midi_extractor.train.batch_augment import augment_batch, expand_rolls
from midi_extractor.train.state import (Job, State, TrainingError, build_state, checkpoint, load_base,
                                        seed_everything, start_from_base, try_resume)

log = logging.getLogger(__name__)


@dataclasses.dataclass
class Run:
    """What one call of :func:`fit` works with besides the :class:`State`."""

    job: Job
    info: ddp.DistInfo
    device: torch.device
    amp_dtype: Any
    train_ds: Any
    val_ds: Any
    val_loader: Any
    tracker: Any
    grid: Grid                      # the decoding thresholds evaluate chooses from: validation's too
    step_model: Any = None          # state.model, or its torch.compile'd twin (same parameters)
    first_step_s: float | None = None   # the first step's wall time: with compile, mostly compiling
    base_weights: dict | None = None    # the base as this model's state dict (fine-tuning only)


def fit(job: Job, *, device: str | None = "auto", resume: bool = True, log_every: int = 10,
        progress: bool = True, amp: bool | None = None, val_clips_per_track: int = 4,
        weights_out: str | Path | None = None) -> dict[str, Any]:
    """Train ``job`` into ``job.out_dir`` and return its summary (written to summary.json by
    rank 0). ``weights_out`` (tests): every rank saves its final state dict to
    ``str(weights_out).format(rank=rank)``."""
    t0 = time.time()
    state, run = setup(job, device, resume, amp, val_clips_per_track)
    try:
        loop(state, run, log_every, progress)
        blend.choose(state, run)
    except BaseException:
        run.tracker.end("FAILED" if run.info.is_main else "FINISHED")
        ddp.teardown(run.info)
        raise
    skipped = {**dict(getattr(run.train_ds, "bad_files", {}) or {}), **dict(getattr(run.val_ds, "bad_files", {}) or {})}
    result = outputs.summary(state, run, time.time() - t0, skipped)
    if weights_out is not None:
        torch.save(ddp.unwrap(state.model).state_dict(), str(weights_out).format(rank=run.info.rank))
    if run.info.is_main:
        outputs.finish(job, result, run.tracker)
    ddp.teardown(run.info)
    return result


# --------------------------------------------------------------------- setup
def setup(job: Job, device: str | None, resume: bool, amp: bool | None, val_clips_per_track: int):
    """Device, output folder (writable, room for checkpoints: before any data is loaded),
    data, the model's starting state, DDP wrapping and the tracker: ``(state, run)``."""
    info, dev = ddp.setup(device)
    if info.is_main:
        outputs.check_writable(job.out_dir)
        for name in ("last.pt", "best.pt", "history.csv", "summary.json"):
            clean_stale_tmp(job.out_dir / name)  # left by a write that was killed
    # Trained GRUs produce subnormal floats that slow CPU arithmetic ~9x; flush them to zero
    # (a process-wide switch, set once here and in inference's model loading).
    torch.set_flush_denormal(True)
    data.cpu_threads(dev, job.settings.num_workers)
    seed_everything(job.settings.seed)
    base = load_base(job) if job.init_from else None  # a wrong or unreadable base: refused before any data
    use_amp = dev.type == "cuda" and (amp is None or bool(amp))
    amp_dtype = (torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16) if use_amp else None
    state = build_state(job, dev, amp_dtype)  # datasets draw no global random numbers: the order is free
    if info.is_main:
        outputs.check_room(job.out_dir, sum(p.numel() for p in state.model.parameters()))
    train_ds, val_ds = data.datasets(job, val_clips_per_track, data.augment_on_device(job, dev))
    base_weights = start_from_base(state, job, base) if base is not None else None
    if resume:
        try_resume(state, job)  # last.pt's weights, when it is this run's, replace the base's
    if info.enabled:  # a 0-weight head gets no gradient
        state.model = torch.nn.parallel.DistributedDataParallel(
            state.model, device_ids=[dev.index] if dev.type == "cuda" else None,
            find_unused_parameters=any(state.model.loss_weights[h] == 0 for h in HEADS))
    val_loader = (torch.utils.data.DataLoader(val_ds, batch_size=job.settings.batch_size)
                  if val_ds is not None and info.is_main else None)
    grid = grid_from_decoding(job.params.decoding, bool(job.drum_classes))  # what evaluate chooses from
    run = Run(job, info, dev, amp_dtype, train_ds, val_ds, val_loader, None, grid, state.model,
              base_weights=base_weights)
    if data.compile_on(job, dev):
        run.step_model = torch.compile(state.model)  # checkpoints keep reading state.model: no _orig_mod keys
    run.tracker = _tracker(state, run, Path(job.data_root or train_ds.root))
    state.run_id = run.tracker.run_id
    return state, run


def _tracker(state: State, run: Run, root: Path):
    from midi_extractor import tracking

    job = run.job
    if not run.info.is_main:
        return tracking.Tracker()
    tags = {"stem": job.name, "role": job.role, "dataset": str(job.index_path), "dataset_root": str(root),
            "device": str(run.device), "world_size": run.info.world_size}
    tracker = tracking.start_run(job.params.tracking.experiment, f"train-{job.name}", tags, run_id=state.run_id)
    inner = ddp.unwrap(state.model)
    tracker.log_params({"stem": job.name, "role": job.role, "train": dataclasses.asdict(job.settings),
                        "features": dataclasses.asdict(job.front_end),
                        "model": dataclasses.asdict(job.params.model), "loss_weights": inner.loss_weights,
                        "n_outputs": inner.n_outputs, "base": str(job.init_from or ""),
                        "n_parameters": sum(p.numel() for p in inner.parameters()),
                        "world_size": run.info.world_size, "amp": str(run.amp_dtype)})
    return tracker


# ---------------------------------------------------------------------- loop
def loop(state: State, run: Run, log_every: int, progress: bool) -> None:
    """The epoch loop: steps, a loss row every ``log_every`` steps, validation + checkpoints
    every ``val_interval`` steps and at the end, early stop broadcast to every rank."""
    job, info, s = run.job, run.info, run.job.settings
    bar = _progress(job, state, progress and info.is_main)
    if (state.step == 0 and state.resumed_from is None and job.init_from is not None and info.is_main
            and run.val_loader is not None):  # a resume from step 0 has the base's row and best.pt already
        validate_and_save(state, run, None)  # the base itself is the checkpoint to beat: best.pt until it is
    tick = time.perf_counter()
    try:
        while state.step < job.total_steps and not state.stopped:
            epoch, first = divmod(state.step, s.steps_per_epoch)
            loader, skip = data.epoch_loader(run.train_ds, epoch, first, s.steps_per_epoch, s.batch_size, info,
                                             s.num_workers, s.seed, run.device.type == "cuda")
            for k, batch in enumerate(loader):
                if k < skip:
                    continue
                t_step = time.perf_counter() if run.first_step_s is None else None
                train_step(state, run, batch)
                if t_step is not None:
                    run.first_step_s = time.perf_counter() - t_step
                    log.info("%s: first step %.1f s%s", job.name, run.first_step_s,
                             " (torch.compile included)" if run.step_model is not state.model else "")
                row = None
                if state.step % log_every == 0 or state.step == job.total_steps:
                    now = time.perf_counter()
                    state.train_time_s, tick = state.train_time_s + now - tick, now
                    row = loss_row(state, run)
                if bar is not None:
                    bar.update(1)
                if state.step % s.val_interval == 0 or state.step == job.total_steps:
                    stop = info.is_main and validate_and_save(state, run, row)
                    state.stopped = ddp.broadcast_flag(info, stop, run.device)
                    tick, row = time.perf_counter(), None
                if row is not None and info.is_main:
                    state.history.append(row)
                    run.tracker.log_metrics({k: v for k, v in row.items() if k not in ("step", "epoch")}, state.step)
                if state.stopped:
                    log.info("%s: early stop at step %d", job.name, state.step)
                    break
        if info.is_main and not job.best_path.is_file():  # no validation ran (zero steps)
            ck = checkpoint(state, job, info.world_size)
            outputs.save(job.last_path, ck)
            outputs.save(job.best_path, ck)
    finally:
        if bar is not None:
            bar.close()


def _progress(job: Job, state: State, enabled: bool):
    """A tqdm bar on a terminal; elsewhere None (the log gets a line per validation)."""
    if not (enabled and sys.stderr.isatty()):
        return None
    from tqdm.auto import tqdm

    return tqdm(total=job.total_steps, initial=state.step, desc=f"train {job.name}", unit="step")


def train_step(state: State, run: Run, batch: dict) -> None:
    """One optimiser step; losses accumulate (as tensors, no device sync) in ``state.window``."""
    job, device, amp_dtype = run.job, run.device, run.amp_dtype
    inner = ddp.unwrap(state.model)
    batch = {k: (v.to(device, non_blocking=True) if torch.is_tensor(v) else v) for k, v in batch.items()}
    if "augment" in batch:  # the role's augmentation, drawn by the loader, rendered here on the device
        sr = job.front_end.sample_rate_hz
        batch["audio"] = augment_batch(batch["audio"], batch["augment"], sr, int(round(job.settings.clip_seconds * sr)))
        batch.update(expand_rolls(batch))
    with torch.autocast(device.type, dtype=amp_dtype or torch.float32, enabled=amp_dtype is not None):
        logits = run.step_model(batch["audio"])
        losses = inner.compute_losses(logits, batch)
    if not torch.isfinite(losses["total"]):
        raise TrainingError(f"{job.name}: non-finite loss at step {state.step + 1} "
                            f"({ {k: float(v.detach()) for k, v in losses.items()} }); sources in this batch: "
                            f"{', '.join(map(str, batch.get('source', []))) or 'unknown'}. "
                            f"{job.last_path} keeps the last good state")
    state.optimizer.zero_grad(set_to_none=True)
    state.scaler.scale(losses["total"]).backward()
    state.scaler.unscale_(state.optimizer)
    clip = job.settings.grad_clip if job.settings.grad_clip > 0 else float("inf")
    grad_norm = torch.nn.utils.clip_grad_norm_(inner.parameters(), clip)
    state.scaler.step(state.optimizer)
    state.scaler.update()
    state.scheduler.step()
    state.step += 1
    state.clips_done += batch["audio"].shape[0]
    for name, v in {**losses, "grad_norm": grad_norm}.items():
        state.window[name] = state.window.get(name, 0.0) + v.detach().float()
    state.window_n += 1


def loss_row(state: State, run: Run) -> dict:
    """The running-mean losses since the last row, as a history row."""
    world = run.info.world_size
    row = {"step": state.step, "epoch": (state.step - 1) // run.job.settings.steps_per_epoch,
           "lr": state.optimizer.param_groups[0]["lr"],
           **{(k if k == "grad_norm" else f"loss_{k}"): float(v) / state.window_n for k, v in state.window.items()},
           "clips_per_s": state.clips_done * world / state.train_time_s if state.train_time_s else 0.0}
    state.window, state.window_n = {}, 0
    return row


# --------------------------------------------------------- validate and save
def validate_and_save(state: State, run: Run, row: dict | None) -> bool:
    """Rank 0: validate, append the history row, write last.pt (and best.pt when better).
    Returns whether early stopping says stop."""
    job = run.job
    if run.val_loader is not None:
        model = ddp.unwrap(state.model)
        state.last_val = validation.score(model, run)
        improved, key = validation.is_better(state.last_val, state.best_key, job.tone_guard)
    else:
        state.last_val, improved, key = {}, True, None
    if improved:
        state.best_key, state.bad_validations, state.best_step = key, 0, state.step
        state.best_metric = state.last_val.get("val_onset_f1")
    else:
        state.bad_validations += 1
    patience = job.settings.early_stop_patience
    state.stopped = bool(patience and state.bad_validations >= patience)
    row = {**(row or {"step": state.step, "lr": state.optimizer.param_groups[0]["lr"]}), **state.last_val}
    state.history.append(row)  # history first: a kill before the checkpoint is trimmed on resume
    outputs.write_history(job.out_dir / "history.csv", state.history)
    run.tracker.log_metrics({k: v for k, v in row.items() if k not in ("step", "epoch")}, state.step, flush=True)
    ck = checkpoint(state, job, run.info.world_size)
    outputs.save(job.last_path, ck)
    if improved:
        outputs.save(job.best_path, ck)
    _log_validation(job, state, row)
    return state.stopped


def _log_validation(job: Job, state: State, row: dict) -> None:
    v = state.last_val
    loss = row.get("loss_total", state.history[-2].get("loss_total") if len(state.history) > 1 else None)
    log.info("%s step %d/%d: loss %s, val onset F1 %s", job.name, state.step, job.total_steps,
             f"{float(loss):.4f}" if loss is not None else "-",
             f"{v['val_onset_f1']:.3f}" if "val_onset_f1" in v else "-")
