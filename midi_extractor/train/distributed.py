"""DistributedDataParallel helpers for ``midi-extractor train`` under ``torchrun``.

``torchrun --nproc-per-node N`` sets ``WORLD_SIZE``/``RANK``/``LOCAL_RANK``;
:func:`setup` then joins the process group (NCCL on GPUs, gloo on CPU). Rank 0
alone writes checkpoints, logs and MLflow. :func:`teardown` calls
``dist.barrier()`` before ``destroy_process_group`` (gloo sometimes aborts at
exit without it; see PITFALLS.md).

A single-process run on a machine with several GPUs (``device`` auto or ``cuda``) claims one
that no other run holds (:func:`claim_gpu`: an exclusive ``flock`` on a lock file per GPU,
held while the process lives), so ``dvc queue start -j <GPUs>`` spreads queued experiments
over the GPUs, one each, without ``CUDA_VISIBLE_DEVICES`` juggling.
"""
from __future__ import annotations

import datetime
import fcntl
import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.distributed as dist

log = logging.getLogger(__name__)
#: open lock files of the GPUs this process holds (kept open: closing one releases its claim)
_CLAIMS: list = []


@dataclass
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    initialised_here: bool = False

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def setup(device: str | None = None) -> tuple[DistInfo, torch.device]:
    """Join the process group when launched by torchrun (or already joined);
    returns the rank info and this process's device (``device``: ``auto``/None,
    ``cpu``, ``cuda``, ``cuda:N``)."""
    info = DistInfo()
    want_cuda = (device in (None, "auto") and torch.cuda.is_available()) or str(device).startswith("cuda")
    if dist.is_available() and dist.is_initialized():
        info = DistInfo(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", 0)))
    elif int(os.environ.get("WORLD_SIZE", "1")) > 1:
        backend = "nccl" if want_cuda else "gloo"
        local = int(os.environ.get("LOCAL_RANK", 0))
        if want_cuda:
            torch.cuda.set_device(local)
        dist.init_process_group(backend, timeout=datetime.timedelta(minutes=30))
        info = DistInfo(dist.get_rank(), dist.get_world_size(), local, True)
    if want_cuda:
        if device in (None, "auto", "cuda") or info.enabled:
            index = info.local_rank if info.enabled else _free_gpu()
            dev = torch.device("cuda", index)
        else:
            dev = torch.device(device)
    else:
        dev = torch.device("cpu")
    return info, dev


def _free_gpu() -> int:
    n = torch.cuda.device_count()
    if n < 2:
        return torch.cuda.current_device()
    index = claim_gpu(n)
    if index is None:
        log.warning("all %d GPUs are claimed by other runs; sharing GPU 0", n)
        return 0
    torch.cuda.set_device(index)
    log.info("claimed GPU %d of %d (lock files in %s)", index, n, lock_dir())
    return index


def lock_dir() -> Path:
    """Where GPU claims live: ``$MIDI_EXTRACTOR_GPU_LOCKS``, else the temp folder."""
    return Path(os.environ.get("MIDI_EXTRACTOR_GPU_LOCKS") or tempfile.gettempdir())


def claim_gpu(n_gpus: int) -> int | None:
    """The first of GPUs ``0 .. n_gpus - 1`` that no live process has claimed, now claimed by
    this one until it exits (or :func:`release_gpus`); None when every GPU is taken. A
    claim of a process that died is free again: the kernel drops its lock."""
    folder = lock_dir()
    folder.mkdir(parents=True, exist_ok=True)
    for index in range(n_gpus):
        f = open(folder / f"midi-extractor-gpu{index}.lock", "a+")
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.close()
            continue
        f.seek(0)
        f.truncate()
        f.write(f"{os.getpid()}\n")
        f.flush()
        _CLAIMS.append(f)
        return index
    return None


def release_gpus() -> None:
    """Drop this process's GPU claims."""
    while _CLAIMS:
        _CLAIMS.pop().close()


def barrier(info: DistInfo) -> None:
    if info.enabled:
        dist.barrier()


def broadcast_flag(info: DistInfo, value: bool, device: torch.device) -> bool:
    """Rank 0's boolean, on every rank."""
    if not info.enabled:
        return value
    dev = device if dist.get_backend() == "nccl" else torch.device("cpu")
    t = torch.tensor([1 if value else 0], dtype=torch.int32, device=dev)
    dist.broadcast(t, src=0)
    return bool(t.item())


def teardown(info: DistInfo) -> None:
    if info.initialised_here and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def unwrap(model: torch.nn.Module) -> torch.nn.Module:
    """The model inside a ``DistributedDataParallel`` wrapper (the model itself otherwise)."""
    return model.module if isinstance(model, torch.nn.parallel.DistributedDataParallel) else model
