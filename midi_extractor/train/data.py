"""The training data as the loop consumes it: the train and validation clip sets of a
:class:`~midi_extractor.train.state.Job`, and per-epoch loaders whose batches depend only on
``(seed, epoch, step)`` (so a resumed run draws what an uninterrupted one would)."""
from __future__ import annotations

import logging
import math
import os

import torch

from midi_extractor.train import distributed as ddp
from midi_extractor.train.state import Job

log = logging.getLogger(__name__)


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


def compile_on(job: Job, device: torch.device) -> bool:
    """Whether the training step runs under ``torch.compile`` (``compile``; ``auto``: on CUDA,
    where it halves a step of the GPU-size model; a CPU run would spend longer compiling than
    it saves)."""
    return job.settings.compile == "on" or (job.settings.compile == "auto" and device.type == "cuda")


def datasets(job: Job, val_clips_per_track: int, on_device: bool = False):
    """Random augmented train clips and deterministic validation clips (None when the
    index has no validation tracks: best.pt then follows last.pt). ``on_device``: the
    train clips carry their augmentation for ``batch_augment`` instead."""
    from midi_extractor.index_io import DataError
    from midi_extractor.train.augment import AugmentPolicy
    from midi_extractor.train.clips import TranscriptionDataset

    s, fe = job.settings, job.front_end
    policy = AugmentPolicy.from_params(job.role_config.augment, job.role)
    train_ds = TranscriptionDataset(job.index_path, "train", fe, s.clip_seconds, job.drum_classes, policy, s.seed,
                                    deterministic=False, dataset_root=job.data_root, augment_on_device=on_device)
    warn_if_clips_outlast_tracks(job, train_ds.durations)
    if policy.bleed_db is not None and not any(e.get("bleed") for e in train_ds.entries):
        log.warning("%s: augment.bleed_db is %g but no training entry has its song's bleed: they train without it "
                    "(prepare the index with bleed: `dvc repro prepare@<stem>`, `midi-extractor prepare --bleed`)",
                    job.index_path, policy.bleed_db)
    try:
        val_ds = TranscriptionDataset(job.index_path, "validation", fe, s.clip_seconds, job.drum_classes, None,
                                      s.seed, deterministic=True, max_clips_per_track=val_clips_per_track,
                                      dataset_root=job.data_root, bleed_twins=policy.bleed_db is not None)
    except DataError as exc:
        log.warning("no validation clips (%s); best.pt follows last.pt", exc)
        val_ds = None
    return train_ds, val_ds


def warn_if_clips_outlast_tracks(job: Job, durations) -> None:
    """One warning when ``clip_seconds`` is longer than every training track: each clip is then a
    whole track padded with silence (the model learns silence, a batch costs the longer clip)."""
    longest = max(durations, default=0.0)
    if longest < job.settings.clip_seconds:
        key = f"pretrain.{job.name[5:]}" if job.name.startswith("base-") else f"stems.{job.name}"
        log.warning("%s: clip_seconds %g is longer than every training track (the longest of %d is %.2f s): each "
                    "clip is a whole track padded with silence; set %s.clip_seconds to %.1f or less",
                    job.name, job.settings.clip_seconds, len(durations), longest, key, math.floor(longest * 10) / 10)


def cpu_threads(device: torch.device, workers: int) -> None:
    """On a CPU, one intra-op thread per core the loader workers leave free: a GRU step with
    more threads than free cores waits on busy ones (about 10x slower on a loaded 2-core box).
    OMP_NUM_THREADS, when set, wins."""
    if device.type != "cpu" or os.environ.get("OMP_NUM_THREADS"):
        return
    threads = max(1, (os.cpu_count() or 1) - workers)
    if threads != torch.get_num_threads():
        log.info("CPU training on %d thread(s) (%d core(s), %d loader worker(s))", threads, os.cpu_count(), workers)
        torch.set_num_threads(threads)
