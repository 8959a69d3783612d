"""The training loop's output faults (train/loop.py with train/outputs.py): a disk without room
for the checkpoints is refused before any data is loaded, and a checkpoint write that fails
mid-run (a full disk: torch raises a RuntimeError) is one line naming the file, rc 2, with the
previous last.pt intact."""
from __future__ import annotations

import os
import shutil
from collections import namedtuple

import pytest

from helpers_training import tiny_params_yaml, write_sine_set

Usage = namedtuple("Usage", "total used free")


@pytest.fixture()
def sines(tmp_path, monkeypatch):
    monkeypatch.setenv("MIDI_EXTRACTOR_TRACKING", "0")
    return write_sine_set(tmp_path / "sines", n_tracks=2, seconds=1.0)


def _train(index, out_dir, params):
    from midi_extractor.cli import main

    return main(["train", str(index), "--stem", "bass", "--out-dir", str(out_dir), "--params", str(params),
                 "--no-progress", "--epochs", "1", "--steps-per-epoch", "4", "--val-interval", "2"])


def test_no_room_for_the_checkpoints_is_refused_before_data_is_loaded(sines, tmp_path, monkeypatch, capsys):
    import midi_extractor.train.data as data_module
    import midi_extractor.train.outputs as outputs_module

    monkeypatch.setattr(outputs_module.shutil, "disk_usage", lambda _p: Usage(10**9, 10**9 - 4096, 4096))

    def no_data(*_a, **_k):
        raise AssertionError("data was loaded before the free-space check")

    monkeypatch.setattr(data_module, "datasets", no_data)
    out_dir = tmp_path / "models" / "bass"
    rc = _train(sines, out_dir, tiny_params_yaml(tmp_path / "params.yaml"))
    err = capsys.readouterr().err
    assert rc == 2
    assert f"{out_dir}: 0.0 MB free, the checkpoints need about" in err and "nothing was trained" in err
    assert "Traceback" not in err and not (out_dir / "last.pt").exists()


def test_a_full_disk_mid_run_is_one_line_and_keeps_the_last_checkpoint(sines, tmp_path, monkeypatch, capsys):
    import torch

    import midi_extractor.train.outputs as outputs_module

    real = outputs_module.save_checkpoint
    written = []

    def fill_up(path, ckpt):
        if written:  # the second checkpoint write finds the disk full, as torch reports it
            raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 512 vs 418")
        written.append(path)
        return real(path, ckpt)

    monkeypatch.setattr(outputs_module, "save_checkpoint", fill_up)
    out_dir = tmp_path / "models" / "bass"
    rc = _train(sines, out_dir, tiny_params_yaml(tmp_path / "params.yaml"))
    err = capsys.readouterr().err
    assert rc == 2
    failed = out_dir / ("best.pt" if written[0].name == "last.pt" else "last.pt")
    line = next(x for x in err.splitlines() if "checkpoint could not be written" in x)
    assert str(failed) in line and "unexpected pos" in line and "MB free" in line
    assert "Traceback" not in err
    kept = torch.load(out_dir / "last.pt", weights_only=True)  # the step-2 checkpoint, whole
    assert kept["step"] == 2
    assert not [p for p in os.listdir(out_dir) if p.endswith(".tmp")]


def test_check_room_asks_for_three_checkpoints(tmp_path, monkeypatch):
    from midi_extractor.train.outputs import CHECKPOINT_BYTES_PER_PARAM, OutDirError, check_room

    need = 3 * 1000 * CHECKPOINT_BYTES_PER_PARAM + (1 << 20)
    monkeypatch.setattr(shutil, "disk_usage", lambda _p: Usage(10**9, 0, need))
    check_room(tmp_path, 1000)  # exactly enough
    monkeypatch.setattr(shutil, "disk_usage", lambda _p: Usage(10**9, 0, need - 1))
    with pytest.raises(OutDirError, match=str(tmp_path)):
        check_room(tmp_path, 1000)


def test_compile_is_off_on_a_cpu_by_default_and_the_first_step_is_timed(sines, tmp_path):
    from helpers_training import tiny_params
    from midi_extractor.train.run import train

    summary = train(sines, "bass", tmp_path / "m", tiny_params(epochs=1, steps_per_epoch=2), progress=False,
                    device="cpu")  # a CPU run also where a GPU is present (device auto would pick it)
    assert summary["compiled"] is False and summary["first_step_s"] > 0


def test_compile_on_runs_the_steps_through_the_compiled_twin_and_saves_plain_weights(sines, tmp_path,
                                                                                  monkeypatch):
    """``compile: on``: every training step goes through torch.compile's module, which shares
    the model's parameters, while checkpoints are written from the model itself (no
    ``_orig_mod.`` keys) and the summary says so."""
    import torch

    from helpers_training import tiny_params
    from midi_extractor.model.checkpoint import load_checkpoint
    from midi_extractor.train.run import train

    calls = []

    class Twin(torch.nn.Module):  # what torch.compile returns: a wrapper holding the module
        def __init__(self, model):
            super().__init__()
            self._orig_mod = model

        def forward(self, audio):
            calls.append(tuple(audio.shape))
            return self._orig_mod(audio)

    monkeypatch.setattr(torch, "compile", lambda model, **_k: Twin(model))
    out = tmp_path / "m"
    summary = train(sines, "bass", out, tiny_params(epochs=1, steps_per_epoch=3, compile="on"), progress=False)
    assert summary["compiled"] is True and len(calls) == 3  # the steps; validation uses the model itself
    keys = set(load_checkpoint(out / "best.pt")["model"])
    assert keys and not any(k.startswith("_orig_mod") for k in keys)


def test_compile_setting_is_checked_at_load(tmp_path):
    from midi_extractor.config import ConfigError, load_params

    with pytest.raises(ConfigError, match=r"stems\.bass\.compile must be auto, on or off, got 'fast'"):
        load_params(tiny_params_yaml(tmp_path / "params.yaml", compile="fast"))
