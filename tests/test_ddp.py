"""Two-process gloo DDP on CPU: both ranks end with identical weights; rank 0 alone writes."""
from __future__ import annotations

import os
import socket
from pathlib import Path

import torch
import torch.multiprocessing as mp


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank: int, world: int, port: int, index: str, out: str, weights: str, tests: str) -> None:
    import sys

    sys.path.insert(0, tests)
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), WORLD_SIZE=str(world), RANK=str(rank),
                      LOCAL_RANK=str(rank), MIDI_EXTRACTOR_TRACKING="0")
    torch.set_num_threads(1)
    from midi_extractor.train.run import train
    from test_training import tiny_params

    summary = train(index, "bass", out, tiny_params(epochs=1, steps_per_epoch=3, val_interval=3, seed=rank * 0),
                    device="cpu", log_every=1, progress=False, weights_out=weights)
    assert summary["world_size"] == world and summary["rank"] == rank


def test_two_process_gloo_ddp_ends_with_identical_weights(tmp_path):
    from test_training import write_sine_set

    index = write_sine_set(tmp_path / "set", n_tracks=3, seconds=2.0)
    out = tmp_path / "models" / "bass"
    weights = str(tmp_path / "rank{rank}.pt")
    mp.spawn(_worker, args=(2, _free_port(), str(index), str(out), weights, str(Path(__file__).parent)),
             nprocs=2, join=True)
    a = torch.load(weights.format(rank=0), weights_only=True)
    b = torch.load(weights.format(rank=1), weights_only=True)
    names = [n for n, v in a.items() if v.is_floating_point() and "running" not in n]
    assert names and all(torch.equal(a[n], b[n]) for n in names)  # parameters; BN stats stay per rank
    assert (out / "last.pt").is_file() and (out / "summary.json").is_file()
    import json

    summary = json.loads((out / "summary.json").read_text())
    assert summary["world_size"] == 2 and summary["steps"] == 3
    ckpt = torch.load(out / "last.pt", weights_only=True)
    assert ckpt["train_state"]["global_batch"] == 4
    assert all(torch.equal(ckpt["model"][n], a[n]) for n in names)
