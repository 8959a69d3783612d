"""Run a :class:`~midi_extractor.train.loop.Job` to the end: data loaders, device/AMP/DDP,
the MLflow tracker as a context, and the epoch loop built from the steps in ``loop``."""
from __future__ import annotations

import dataclasses
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

import torch

from midi_extractor.atomic import clean_stale_tmp, write_json
from midi_extractor.model.checkpoint import save_checkpoint
from midi_extractor.train import distributed as ddp
from midi_extractor.train.loop import (Job, State, build_state, checkpoint, load_base, loss_row, seed_everything,
                                       start_from_base, summary, train_step, try_resume, validate_and_save)

log = logging.getLogger(__name__)


class OutDirError(ValueError):
    """The output folder cannot be created or written to; the message names it."""


def check_writable(folder: Path) -> None:
    """Create ``folder`` and write and remove a probe file in it; raise :class:`OutDirError` if either fails."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".write-probe.{os.getpid()}.tmp"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise OutDirError(f"{folder}: output folder cannot be created or written ({exc.strerror or exc}); "
                          "nothing was trained") from exc


class _Keyed(torch.utils.data.Dataset):
    """Random clips keyed ``(epoch, item)`` so an item is the same whenever it is drawn."""

    def __init__(self, dataset):
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, key):
        epoch, item = key
        self.dataset.set_epoch(epoch)
        return self.dataset[item]


def epoch_loader(dataset, epoch: int, first_step: int, steps: int, batch: int, info: ddp.DistInfo,
                 workers: int, seed: int, pin: bool):
    """Batches of steps ``first_step..steps-1`` of ``epoch``; returns ``(loader, n_skip)``:
    with workers, the loader starts at a multiple of ``workers`` so each batch goes to the
    same worker as in an uninterrupted epoch; skip ``n_skip`` batches."""
    skip = first_step % workers if workers > 0 else 0
    start = first_step - skip
    global_batch = batch * info.world_size
    batches = [[(epoch, s * global_batch + info.rank * batch + j) for j in range(batch)] for s in range(start, steps)]
    generator = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    loader = torch.utils.data.DataLoader(_Keyed(dataset), batch_sampler=batches, num_workers=workers,
                                         generator=generator, pin_memory=pin, persistent_workers=False)
    return loader, skip


def augment_on_device(job: Job, device: torch.device) -> bool:
    """Whether the role's augmentation runs per batch on the device (``augment_on``;
    ``auto``: on CUDA, where a loader worker could not augment fast enough)."""
    return job.settings.augment_on == "device" or (job.settings.augment_on == "auto" and device.type == "cuda")


def datasets(job: Job, val_clips_per_track: int, on_device: bool = False):
    """Random augmented train clips and deterministic validation clips (None when the
    index has no validation tracks: best.pt then follows last.pt). ``on_device``: the
    train clips carry their augmentation for ``batch_augment`` instead."""
    from midi_extractor.index_io import DataError
    from midi_extractor.train.augment import AugmentPolicy
    from midi_extractor.train.clips import TranscriptionDataset

    s, fe = job.settings, job.params.features
    policy = AugmentPolicy.from_params(job.role_config.augment, job.role)
    train_ds = TranscriptionDataset(job.index_path, "train", fe, s.clip_seconds, job.drum_classes, policy, s.seed,
                                    deterministic=False, dataset_root=job.data_root, augment_on_device=on_device)
    try:
        val_ds = TranscriptionDataset(job.index_path, "validation", fe, s.clip_seconds, job.drum_classes, None,
                                      s.seed, deterministic=True, max_clips_per_track=val_clips_per_track,
                                      dataset_root=job.data_root)
    except DataError as exc:
        log.warning("no validation clips (%s); best.pt follows last.pt", exc)
        val_ds = None
    return train_ds, val_ds


def _cpu_threads(device: torch.device, workers: int) -> None:
    """On a CPU, one intra-op thread per core the loader workers leave free: a GRU step with
    more threads than free cores waits on busy ones (about 10x slower on a loaded 2-core box).
    OMP_NUM_THREADS, when set, wins."""
    if device.type != "cpu" or os.environ.get("OMP_NUM_THREADS"):
        return
    threads = max(1, (os.cpu_count() or 1) - workers)
    if threads != torch.get_num_threads():
        log.info("CPU training on %d thread(s) (%d core(s), %d loader worker(s))", threads, os.cpu_count(), workers)
        torch.set_num_threads(threads)


def _tracker(job: Job, state: State, info: ddp.DistInfo, device, amp_dtype, root: Path):
    from midi_extractor import tracking

    if not info.is_main:
        return tracking.Tracker()
    tags = {"stem": job.name, "role": job.role, "dataset": str(job.index_path), "dataset_root": str(root),
            "device": str(device), "world_size": info.world_size}
    tracker = tracking.start_run(job.params.tracking.experiment, f"train-{job.name}", tags, run_id=state.run_id)
    inner = ddp.unwrap(state.model)
    tracker.log_params({"stem": job.name, "role": job.role, "train": dataclasses.asdict(job.settings),
                        "features": dataclasses.asdict(job.params.features),
                        "model": dataclasses.asdict(job.params.model), "loss_weights": inner.loss_weights,
                        "n_outputs": inner.n_outputs, "base": str(job.init_from or ""),
                        "n_parameters": sum(p.numel() for p in inner.parameters()),
                        "world_size": info.world_size, "amp": str(amp_dtype)})
    return tracker


def _progress(job: Job, state: State, enabled: bool):
    """A tqdm bar on a terminal; elsewhere None (the log gets a line per validation)."""
    if not (enabled and sys.stderr.isatty()):
        return None
    from tqdm.auto import tqdm

    return tqdm(total=job.total_steps, initial=state.step, desc=f"train {job.name}", unit="step")


def fit(job: Job, *, device: str | None = "auto", resume: bool = True, log_every: int = 10,
        progress: bool = True, amp: bool | None = None, val_clips_per_track: int = 4,
        weights_out: str | Path | None = None) -> dict[str, Any]:
    """Train ``job`` into ``job.out_dir`` and return its summary (written to summary.json
    by rank 0). ``weights_out`` (tests): every rank saves its final state dict to
    ``str(weights_out).format(rank=rank)``."""
    t0 = time.time()
    info, dev = ddp.setup(device)
    if info.is_main:
        check_writable(job.out_dir)  # before any data is loaded: fail in seconds, not at the first validation
        for name in ("last.pt", "best.pt", "history.csv", "summary.json"):
            clean_stale_tmp(job.out_dir / name)  # left by a write that was killed
    # Trained GRUs produce subnormal floats that slow CPU arithmetic ~9x; flush them to zero
    # (a process-wide switch, set once here and in inference's model loading).
    torch.set_flush_denormal(True)
    _cpu_threads(dev, job.settings.num_workers)
    seed_everything(job.settings.seed)
    base = load_base(job) if job.init_from else None  # a wrong or unreadable base: refused before any data
    train_ds, val_ds = datasets(job, val_clips_per_track, augment_on_device(job, dev))
    use_amp = dev.type == "cuda" and (amp is None or bool(amp))
    amp_dtype = (torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16) if use_amp else None
    state = build_state(job, dev, amp_dtype)
    if not (resume and try_resume(state, job)) and base is not None:
        start_from_base(state, job, base)
    if info.enabled:  # a 0-weight head gets no gradient
        state.model = torch.nn.parallel.DistributedDataParallel(
            state.model, device_ids=[dev.index] if dev.type == "cuda" else None,
            find_unused_parameters=any(w == 0 for w in state.model.loss_weights.values()))
    val_loader = (torch.utils.data.DataLoader(val_ds, batch_size=job.settings.batch_size)
                  if val_ds is not None and info.is_main else None)
    tracker = _tracker(job, state, info, dev, amp_dtype, Path(job.data_root or train_ds.root))
    state.run_id = tracker.run_id
    _loop(state, job, train_ds, val_loader, info, dev, amp_dtype, tracker, log_every, progress)
    skipped = {**dict(getattr(train_ds, "bad_files", {}) or {}), **dict(getattr(val_ds, "bad_files", {}) or {})}
    result = summary(state, job, dev, amp_dtype, info.world_size, info.rank, time.time() - t0, skipped)
    if weights_out is not None:
        inner = ddp.unwrap(state.model)
        torch.save(inner.state_dict(), str(weights_out).format(rank=info.rank))
    if info.is_main:
        _finish(job, result, tracker)
    ddp.teardown(info)
    return result


def _loop(state: State, job: Job, train_ds, val_loader, info, dev, amp_dtype, tracker, log_every, progress):
    """The epoch loop: steps, a loss row every ``log_every`` steps, validation + checkpoints
    every ``val_interval`` steps and at the end, early stop broadcast to every rank."""
    s = job.settings
    bar = _progress(job, state, progress and info.is_main)
    tick = time.perf_counter()
    try:
        while state.step < job.total_steps and not state.stopped:
            epoch, first = divmod(state.step, s.steps_per_epoch)
            loader, skip = epoch_loader(train_ds, epoch, first, s.steps_per_epoch, s.batch_size, info,
                                        s.num_workers, s.seed, dev.type == "cuda")
            for k, batch in enumerate(loader):
                if k < skip:
                    continue
                train_step(state, job, batch, dev, amp_dtype)
                row = None
                if state.step % log_every == 0 or state.step == job.total_steps:
                    now = time.perf_counter()
                    state.train_time_s, tick = state.train_time_s + now - tick, now
                    row = loss_row(state, job, info.world_size)
                if bar is not None:
                    bar.update(1)
                if state.step % s.val_interval == 0 or state.step == job.total_steps:
                    stop = info.is_main and validate_and_save(state, job, val_loader, dev, amp_dtype, tracker, row,
                                                              info.world_size)
                    if info.is_main:
                        _log_validation(job, state)
                    state.stopped = ddp.broadcast_flag(info, stop, dev)
                    tick, row = time.perf_counter(), None
                if row is not None and info.is_main:
                    state.history.append(row)
                    tracker.log_metrics({k: v for k, v in row.items() if k not in ("step", "epoch")}, state.step)
                if state.stopped:
                    log.info("%s: early stop at step %d", job.name, state.step)
                    break
        if info.is_main and not job.best_path.is_file():  # no validation ran (zero steps)
            save_checkpoint(job.last_path, checkpoint(state, job, info.world_size))
            save_checkpoint(job.best_path, checkpoint(state, job, info.world_size))
    except BaseException:
        tracker.end("FAILED" if info.is_main else "FINISHED")
        ddp.teardown(info)
        raise
    finally:
        if bar is not None:
            bar.close()


def _log_validation(job: Job, state: State) -> None:
    v = state.last_val
    loss = state.history[-1].get("loss_total") if state.history else None
    log.info("%s step %d/%d: loss %s, val onset F1 %s", job.name, state.step, job.total_steps,
             f"{float(loss):.4f}" if loss is not None else "-",
             f"{v['val_onset_f1']:.3f}" if "val_onset_f1" in v else "-")


def _finish(job: Job, result: dict, tracker) -> None:
    write_json(job.out_dir / "summary.json", result, indent=2, default=str)
    tracker.log_metrics({"throughput_clips_per_s": result["throughput_clips_per_s"],
                         "wall_time_s": result["wall_time_s"]}, result["steps"], flush=True)
    tracker.log_artifact(job.out_dir / "summary.json")
    tracker.log_artifact(job.out_dir / "history.csv")
    tracker.log_checkpoint_ref(job.best_path, "best")
    tracker.end()
    best = result["best_metric"]
    log.info("%s: done in %.0f s, %d steps; best validation onset F1 %s at step %s -> %s", job.name,
             result["wall_time_s"], result["steps"], f"{best:.3f}" if best is not None else "-",
             result.get("best_step"), job.best_path)
