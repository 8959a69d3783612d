"""Checkpoints: round trip rebuilds the same model, atomic writes, clear errors."""
from __future__ import annotations

import argparse
import dataclasses

import pytest
import torch

from midi_extractor.model.checkpoint import CheckpointError, build_model, file_sha256, load_checkpoint, save_checkpoint
from midi_extractor.config import FrontEndConfig, ModelConfig
from midi_extractor.model.transcriber import Transcriber, create_model

FE = FrontEndConfig(sample_rate_hz=8000, hop_length=256, n_fft=512, n_mels=32, f_max_hz=3800.0)


def _ckpt(model: Transcriber, step: int = 3) -> dict:
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda k: 1.0)
    return {"model": model.state_dict(), "optimizer": opt.state_dict(), "scheduler": sched.state_dict(),
            "scaler": torch.amp.GradScaler("cuda", enabled=False).state_dict(), "step": step, "epoch": 0,
            "best_metric": 0.5, "config": {**model.config_dict(), "drum_classes": None,
                                           "train": {"lr": 1e-3, "loss_weights": {}}},
            "stem": "bass", "role": "melodic", "taxonomy_version": 1}


def _model(seed: int = 0) -> Transcriber:
    torch.manual_seed(seed)
    model = create_model(FE, ModelConfig(size="small", conv_channels=16, rnn_units=8), FE.n_pitches,
                        {"onset": 2.0, "offset": 0.5})
    model.train()
    model(torch.randn(2, 4000))  # move the BatchNorm running stats off their defaults
    return model.eval()


def test_round_trip_rebuilds_an_identical_model(tmp_path):
    model = _model()
    path = save_checkpoint(tmp_path / "sub" / "best.pt", _ckpt(model))
    raw = torch.load(path, weights_only=True)
    assert raw["step"] == 3 and raw["config"]["front_end"] == dataclasses.asdict(FE)
    rebuilt = build_model(load_checkpoint(path))
    assert not rebuilt.training and rebuilt.loss_weights == model.loss_weights
    x = torch.randn(1, 8000)
    with torch.no_grad():
        a, b = model(x), rebuilt(x)
    for head in ("onset", "offset", "frame", "velocity"):
        assert torch.equal(a[head], b[head])


def test_failed_write_leaves_the_previous_file_intact(tmp_path, monkeypatch):
    path = tmp_path / "last.pt"
    save_checkpoint(path, _ckpt(_model(), step=1))
    before = file_sha256(path)

    def broken_save(obj, f, *args, **kwargs):
        f.write(b"PK\x03\x04 half a zip")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(path, _ckpt(_model(), step=2))
    monkeypatch.undo()
    assert file_sha256(path) == before and load_checkpoint(path)["step"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["last.pt"]  # no temp file left behind


def test_missing_and_corrupt_checkpoints_name_the_file(tmp_path):
    with pytest.raises(CheckpointError, match="nope.pt: checkpoint not found"):
        load_checkpoint(tmp_path / "nope.pt")
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"\x00garbage" * 10)
    with pytest.raises(CheckpointError, match="bad.pt: not a readable checkpoint"):
        load_checkpoint(bad)
    partial = tmp_path / "partial.pt"
    torch.save({"model": {}, "step": 1}, partial)
    with pytest.raises(CheckpointError, match="partial.pt: checkpoint lacks optimizer"):
        load_checkpoint(partial)


def test_unsafe_pickles_are_refused(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({**_ckpt(_model()), "extra": argparse.Namespace(a=1)}, path)
    with pytest.raises(CheckpointError, match="evil.pt"):
        load_checkpoint(path)


def test_checkpoints_get_the_umask_mode_like_every_other_output(tmp_path):
    import os
    import stat

    old = os.umask(0o022)
    os.umask(old)
    path = save_checkpoint(tmp_path / "best.pt", _ckpt(_model()))
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~old  # was 0600 (mkstemp's mode)
