"""Two-process gloo DDP on CPU: both ranks end with identical weights; rank 0 alone writes."""
from __future__ import annotations

import os
import socket
from pathlib import Path

import torch
import torch.multiprocessing as mp

from helpers_data import TESTS


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
    from helpers_training import tiny_params

    summary = train(index, "bass", out, tiny_params(epochs=1, steps_per_epoch=3, val_interval=3, seed=rank * 0),
                    device="cpu", log_every=1, progress=False, weights_out=weights)
    assert summary["world_size"] == world and summary["rank"] == rank


def test_two_process_gloo_ddp_ends_with_identical_weights(tmp_path):
    from helpers_training import write_sine_set

    index = write_sine_set(tmp_path / "set", n_tracks=3, seconds=2.0)
    out = tmp_path / "models" / "bass"
    weights = str(tmp_path / "rank{rank}.pt")
    mp.spawn(_worker, args=(2, _free_port(), str(index), str(out), weights, str(TESTS)),
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


def test_torchrun_trains_two_cpu_ranks_on_a_prepared_layout(tmp_path):
    """The GPU box's command on CPUs: ``torchrun --nproc_per_node 2 ... train`` (gloo) on a
    prepared layout, one loader worker per rank, augmentation rendered per batch."""
    import json
    import shutil
    import subprocess
    import sys

    from midi_extractor.dataset.prepare import prepare_index
    from helpers_training import tiny_params_yaml, write_sine_set

    index = write_sine_set(tmp_path / "set", n_tracks=3, seconds=2.0)
    prepare_index(index, tmp_path / "prepared", 8000)
    params = tiny_params_yaml(tmp_path / "params.yaml", epochs=1, steps_per_epoch=3, val_interval=3,
                              augment_on="device", num_workers=1)
    out = tmp_path / "models" / "bass"
    torchrun = shutil.which("torchrun") or str(Path(sys.executable).with_name("torchrun"))
    env = {**os.environ, "MIDI_EXTRACTOR_TRACKING": "0", "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([torchrun, "--standalone", "--nproc_per_node", "2", "-m", "midi_extractor", "train",
                           str(tmp_path / "prepared" / "index.json"), "--stem", "bass", "--out-dir", str(out),
                           "--params", str(params), "--device", "cpu", "--no-progress"],
                          capture_output=True, text=True, env=env, timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["world_size"] == 2 and summary["steps"] == 3 and summary["skipped_files"] == {}
    ckpt = torch.load(out / "last.pt", weights_only=True)
    assert ckpt["train_state"]["global_batch"] == 4 and ckpt["config"]["train"]["augment_on"] == "device"


def test_a_single_process_run_is_rank_0_of_1_and_every_collective_is_a_no_op(monkeypatch):
    """Without torchrun (WORLD_SIZE unset or 1) no process group is joined: rank 0 is the main
    process, the flag is its own, barrier and teardown do nothing, and unwrap returns the model."""
    from midi_extractor.train import distributed

    monkeypatch.delenv("WORLD_SIZE", raising=False)
    info, device = distributed.setup("cpu")
    assert (info.rank, info.world_size, info.enabled, info.is_main, info.initialised_here) == (0, 1, False, True, False)
    assert device == torch.device("cpu") and not torch.distributed.is_initialized()
    assert distributed.broadcast_flag(info, True, device) is True
    assert distributed.broadcast_flag(info, False, device) is False
    distributed.barrier(info)
    distributed.teardown(info)
    model = torch.nn.Linear(2, 2)
    assert distributed.unwrap(model) is model
    monkeypatch.setenv("WORLD_SIZE", "1")
    assert distributed.setup("cpu")[0] == distributed.DistInfo()


def test_runs_claim_different_gpus_and_a_dead_claim_is_free_again(tmp_path, monkeypatch):
    """``dvc queue start -j 2`` on two GPUs: each training process claims a GPU no live run
    holds (a lock file per GPU); a third finds none; a claim dies with its process."""
    import subprocess
    import sys

    from midi_extractor.train import distributed as ddp

    monkeypatch.setenv("MIDI_EXTRACTOR_GPU_LOCKS", str(tmp_path))
    try:
        assert ddp.claim_gpu(2) == 0
        holder = subprocess.Popen([sys.executable, "-c", "from midi_extractor.train import distributed as d; "
                                   "import sys, time; print(d.claim_gpu(2), flush=True); time.sleep(30)"],
                                  stdout=subprocess.PIPE, text=True, env={**__import__("os").environ})
        assert holder.stdout.readline().strip() == "1"   # the other process got the free one
        assert ddp.claim_gpu(2) is None                  # both taken
        holder.kill()
        holder.wait()
        assert ddp.claim_gpu(2) == 1                     # the dead process's claim is free again
        assert (tmp_path / "midi-extractor-gpu1.lock").read_text().strip() == str(__import__("os").getpid())
    finally:
        ddp.release_gpus()
