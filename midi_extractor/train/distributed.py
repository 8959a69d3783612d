"""DistributedDataParallel helpers for ``midi-extractor train`` under ``torchrun``.

``torchrun --nproc-per-node N`` sets ``WORLD_SIZE``/``RANK``/``LOCAL_RANK``;
:func:`setup` then joins the process group (NCCL on GPUs, gloo on CPU). Rank 0
alone writes checkpoints, logs and MLflow. :func:`teardown` calls
``dist.barrier()`` before ``destroy_process_group`` (gloo sometimes aborts at
exit without it; see PITFALLS.md).
"""
from __future__ import annotations

import datetime
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


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
            dev = torch.device("cuda", info.local_rank if info.enabled else torch.cuda.current_device())
        else:
            dev = torch.device(device)
    else:
        dev = torch.device("cpu")
    return info, dev


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
