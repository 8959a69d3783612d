"""Training loop: outputs, CLI overrides, params coercion, resume after SIGKILL, train-per-stem."""
from __future__ import annotations

import csv
import json
import math
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from helpers_data import TESTS
from helpers_training import REPO, tiny_params, tiny_params_yaml, write_sine_set
from midi_extractor.config import load_params


@pytest.fixture(autouse=True)
def _no_tracking(monkeypatch):
    monkeypatch.setenv("MIDI_EXTRACTOR_TRACKING", "0")


def _history(path: Path) -> list[dict]:
    with path.open() as f:
        return list(csv.DictReader(f))


# ---------------------------------------------------------------------- tests
def test_train_writes_checkpoints_summary_and_history(reference_run):
    import torch

    from midi_extractor.model.checkpoint import REQUIRED_KEYS, build_model, load_checkpoint

    out, summary = reference_run
    assert {p.name for p in out.iterdir()} >= {"best.pt", "last.pt", "summary.json", "history.csv"}
    assert not list(out.glob("*.tmp")) and not list(out.glob(".*.tmp"))
    assert summary["steps"] == 6 and summary["stem"] == "bass" and summary["role"] == "melodic"
    # device auto: the GPU where there is one (the reference run passes no device)
    assert summary["device"].split(":")[0] == ("cuda" if torch.cuda.is_available() else "cpu")
    assert summary["throughput_clips_per_s"] > 0
    assert summary["best_metric_name"] == "val_onset_f1" and summary["best_metric"] is not None
    assert json.loads((out / "summary.json").read_text())["steps"] == 6
    rows = _history(out / "history.csv")
    assert [int(r["step"]) for r in rows] == [1, 2, 3, 4, 5, 6]
    assert [r["val_onset_f1"] != "" for r in rows] == [False, True, False, True, False, True]
    assert float(rows[-1]["lr"]) < float(rows[1]["lr"])  # the schedule decays
    raw = torch.load(out / "last.pt", weights_only=True)  # plain types only
    assert set(REQUIRED_KEYS) <= set(raw) and raw["step"] == 6 and raw["epoch"] == 2
    assert raw["config"]["n_outputs"] == 88 and raw["config"]["drum_classes"] is None
    assert raw["config"]["train"]["lr"] == 3e-3 and raw["taxonomy_version"] == 1
    model = build_model(load_checkpoint(out / "best.pt"))
    assert not model.training
    audio = torch.zeros(1, 8000)
    assert model(audio)["onset"].shape == (1, 8000 // 256 + 1, 88)


def test_stem_settings_overrides_beat_params_and_lr_string_is_float(tmp_path):
    from midi_extractor.train.run import stem_settings

    path = tiny_params_yaml(tmp_path / "params.yaml")
    path.write_text(path.read_text().replace("lr: 0.003", "lr: 3e-05"))  # what `dvc exp run -S` writes
    assert "lr: 3e-05" in path.read_text()
    params = load_params(path)
    assert isinstance(params.stems["bass"].lr, float) and params.stems["bass"].lr == 3e-05
    s = stem_settings(params, "bass", epochs=7, lr=None, batch_size="3")
    assert (s.epochs, s.lr, s.batch_size, s.clip_seconds) == (7, 3e-05, 3, 1.0)
    assert stem_settings(params, "piano").role == "harmonic"  # not listed: defaults
    with pytest.raises(TypeError, match="bogus"):
        stem_settings(params, "bass", bogus=1)


def test_cli_flags_override_params_yaml(sine_index, tmp_path, monkeypatch, capsys):
    from midi_extractor.cli import main

    params = tiny_params_yaml(tmp_path / "params.yaml", lr=1e-2)
    out = tmp_path / "m"
    rc = main(["train", str(sine_index), "--stem", "bass", "--out-dir", str(out), "--params", str(params),
               "--epochs", "1", "--steps-per-epoch", "2", "--batch-size", "1", "--lr", "5e-4",
               "--val-interval", "5", "--device", "cpu", "--no-progress"])
    assert rc == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["steps"] == 2 and summary["params"]["batch_size"] == 1
    assert summary["params"]["lr"] == 5e-4 and summary["params"]["clip_seconds"] == 1.0  # from params.yaml
    assert '"steps": 2' in capsys.readouterr().out


_KILLER = """
import os, signal, sys
sys.path.insert(0, {tests!r})
from midi_extractor.train import outputs
real = outputs.save_checkpoint
def save_then_die(path, ckpt):
    real(path, ckpt)
    if str(path).endswith("last.pt"):
        os.kill(os.getpid(), signal.SIGKILL)
outputs.save_checkpoint = save_then_die
from helpers_training import tiny_params
from midi_extractor.train.run import train
train({index!r}, "bass", {out!r}, tiny_params(num_workers={workers}), log_every={log_every}, progress=False)
"""


@pytest.mark.parametrize("workers,log_every", [(0, 1), (0, 3)])
def test_resume_after_sigkill_continues_with_identical_losses(sine_index, reference_run, tmp_path, workers,
                                                              log_every):
    """Killed right after last.pt at step 2, then rerun: every history row matches the
    uninterrupted run's, also the loss row at step 3 that averages steps 1-3 across the kill
    (``log_every`` 3: the checkpoint carries the losses summed since the last row)."""
    from midi_extractor.train.run import train

    ref_dir, ref = reference_run  # num_workers does not change the data (checked by hand for 2 workers)
    if log_every != 1:
        ref_dir = tmp_path / "reference"
        ref = train(sine_index, "bass", ref_dir, tiny_params(), log_every=log_every, progress=False)
    out = tmp_path / "killed"
    env = {**os.environ, "MIDI_EXTRACTOR_TRACKING": "0"}
    code = _KILLER.format(tests=str(TESTS), index=str(sine_index), out=str(out), workers=workers,
                          log_every=log_every)
    proc = subprocess.run([sys.executable, "-c", code], env=env, cwd=tmp_path, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-3000:]
    from midi_extractor.model.checkpoint import load_checkpoint

    assert load_checkpoint(out / "last.pt")["step"] == 2
    resumed = train(sine_index, "bass", out, tiny_params(num_workers=workers), log_every=log_every, progress=False)
    assert resumed["resumed_from_step"] == 2 and resumed["steps"] == ref["steps"] == 6
    a, b = _history(ref_dir / "history.csv"), _history(out / "history.csv")
    steps = sorted({k for k in range(1, 7) if k % log_every == 0 or k % 2 == 0 or k == 6})
    assert [r["step"] for r in a] == [r["step"] for r in b] == [str(k) for k in steps]
    assert any(r["loss_total"] for r in b if r["step"] == "3")
    for ra, rb in zip(a, b):  # every loss, before and after the kill, matches the uninterrupted run
        for key in ("loss_total", "loss_onset", "loss_frame", "lr", "val_loss_total"):
            assert ra[key] == rb[key], (ra["step"], key, ra[key], rb[key])


def test_changed_settings_or_a_finished_run_do_not_resume(sine_index, tmp_path):
    from midi_extractor.train.run import train

    out = tmp_path / "m"
    train(sine_index, "bass", out, tiny_params(epochs=1, steps_per_epoch=2), log_every=1, progress=False)
    again = train(sine_index, "bass", out, tiny_params(epochs=1, steps_per_epoch=2, lr=1e-4), log_every=1,
                  progress=False)
    assert again["resumed_from_step"] is None and again["steps"] == 2
    done = train(sine_index, "bass", out, tiny_params(epochs=1, steps_per_epoch=2, lr=1e-4), log_every=1,
                 progress=False)
    assert done["resumed_from_step"] is None and done["steps"] == 2  # a finished run trains afresh


def test_train_per_stem_indexes_filters_and_trains(tmp_path, capsys):
    from midi_extractor.cli import main

    root = tmp_path / "set"
    write_sine_set(root, n_tracks=3)
    params = tiny_params_yaml(tmp_path / "params.yaml", epochs=1, steps_per_epoch=2)
    rc = main(["train-per-stem", "--dataset-root", str(root / "data"), "--stems", "bass", "--params", str(params),
               "--outdir", str(tmp_path / "models"), "--index-dir", str(tmp_path / "index"), "--batch-size", "1",
               "--no-progress"])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert (tmp_path / "index" / "filtered_dataset_bass.json").is_file()
    assert (tmp_path / "models" / "bass" / "best.pt").is_file()
    table = json.loads((tmp_path / "models" / "train_per_stem.json").read_text())
    assert table["bass"]["steps"] == 2
    header = next(i for i, line in enumerate(out.splitlines()) if line.split()[:3] == ["stem", "role", "steps"])
    assert out.splitlines()[header + 2].split()[0] == "bass"


def test_early_stopping_on_validation_f1(sine_index, tmp_path, monkeypatch):
    from midi_extractor.train import validation
    from midi_extractor.train.run import train

    figures = iter([0.5, 0.6, 0.6, 0.55, 0.6, 0.7])
    monkeypatch.setattr(validation, "score", lambda *a, **k: {"val_loss_total": 1.0, "val_onset_f1": next(figures)})
    out = tmp_path / "m"
    summary = train(sine_index, "bass", out, tiny_params(epochs=1, steps_per_epoch=6, val_interval=1,
                                                         early_stop_patience=2), log_every=1, progress=False)
    assert summary["stopped_early"] and summary["steps"] == 4 and summary["best_metric"] == 0.6
    from midi_extractor.model.checkpoint import load_checkpoint

    assert load_checkpoint(out / "best.pt")["step"] == 2 and load_checkpoint(out / "last.pt")["step"] == 4


def test_same_params_and_seed_give_identical_weights(sine_index, reference_run, tmp_path):
    """Determinism on one machine: a second run of the reference settings ends bit-identical."""
    import torch

    from midi_extractor.model.checkpoint import load_checkpoint
    from midi_extractor.train.run import train

    ref_dir, _ = reference_run
    train(sine_index, "bass", tmp_path / "again", tiny_params(), log_every=1, progress=False)
    a, b = load_checkpoint(ref_dir / "last.pt")["model"], load_checkpoint(tmp_path / "again" / "last.pt")["model"]
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_augmentation_on_the_device_trains_and_renders_every_batch(sine_index, tmp_path, monkeypatch):
    """``augment_on: device`` (the CUDA default) on a CPU: the loader hands source audio and
    draws, ``batch_augment`` renders each batch to the clip length before the model sees it."""
    from midi_extractor.train import loop
    from midi_extractor.train.run import train

    seen = []

    def spy(audio, rows, sample_rate_hz, n_out):
        out = real(audio, rows, sample_rate_hz, n_out)
        seen.append((tuple(audio.shape), tuple(out.shape)))
        return out

    real = loop.augment_batch
    monkeypatch.setattr(loop, "augment_batch", spy)
    summary = train(sine_index, "bass", tmp_path / "m", tiny_params(augment_on="device"), progress=False)
    assert summary["steps"] == 6 and len(seen) == 6
    assert all(src[1] > 8000 and out == (2, 8000) for src, out in seen)  # 1-s clips at 8 kHz
    rows = _history(tmp_path / "m" / "history.csv")
    losses = [float(r["loss_total"]) for r in rows if r["loss_total"]]
    assert losses and all(math.isfinite(v) for v in losses)


def test_augment_on_is_checked_at_load(tmp_path):
    from midi_extractor.config import ConfigError

    with pytest.raises(ConfigError, match=r"stems.bass.augment_on must be auto, loader or device, got 'gpu'"):
        load_params(tiny_params_yaml(tmp_path / "params.yaml", augment_on="gpu"))


@pytest.mark.parametrize("script", ["train", "pretrain"])
def test_stage_scripts_report_user_errors_in_one_line(tmp_path, script):
    """Under ``dvc repro`` a missing index is one line naming the file, rc 2, no traceback."""
    params = tiny_params_yaml(tmp_path / "params.yaml")
    args = (["--stem", "bass", "--index", str(tmp_path / "missing.json")] if script == "train" else
            ["--base", "pitched", "--prepared-dir", str(tmp_path / "prepared"), "--export", str(tmp_path / "b.pt")])
    proc = subprocess.run([sys.executable, str(REPO / "stages" / f"{script}.py"), "--params", str(params), *args,
                           "--out-dir", str(tmp_path / "out")], capture_output=True, text=True, cwd=tmp_path,
                          env={**os.environ, "MIDI_EXTRACTOR_TRACKING": "0"}, timeout=120)
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert lines[-1].startswith(f"{script}") and "not found" in lines[-1]
    assert ("missing.json" if script == "train" else "prepared") in lines[-1]
