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


# ------------------------------------------------- a checkpoint knows what it is
def _params(**stems):
    from midi_extractor.config import Params, PretrainConfig, StemConfig

    return Params(stems={s: StemConfig(base=b) for s, b in stems.items()},
                  pretrain={"pitched": PretrainConfig(role="harmonic", stems=["bass", "piano"]),
                            "percussive": PretrainConfig(role="percussive", stems=["drums"], drum_stem="drums"),
                            "pitched2": PretrainConfig(role="harmonic", stems=["guitar"])})


def test_a_checkpoint_of_another_stem_or_role_is_refused_naming_both(tmp_path):
    from midi_extractor.model.checkpoint import CheckpointMismatch, Identity, check_fits

    drums = Identity("drums", "percussive", ("kick", "snare"))
    with pytest.raises(CheckpointMismatch) as err:
        check_fits(drums, "models/bass/best.pt", "bass")
    assert str(err.value) == ("models/bass/best.pt: checkpoint of stem 'drums' (percussive), "
                              "asked for stem 'bass' (pitched)")
    with pytest.raises(CheckpointMismatch, match=r"best.pt: checkpoint of stem 'piano' \(harmonic\), asked for "
                                                 r"stem 'other' \(harmonic; the fallback for 'guitar'\)$"):
        check_fits(Identity("piano", "harmonic"), "m/other/best.pt", "other", role="harmonic", fallback_for="guitar")
    with pytest.raises(CheckpointMismatch, match=r"stem 'bass' \(harmonic\), asked for stem 'bass' \(melodic\)$"):
        check_fits(Identity("bass", "harmonic"), "b.pt", "bass", role="melodic")
    with pytest.raises(CheckpointMismatch, match=r"stem 'bass' \(melodic, percussive outputs\)"):
        check_fits(Identity("bass", "melodic", ("kick",)), "b.pt", "bass")  # says bass, outputs drum classes
    check_fits(Identity.of(_ckpt(_model())), tmp_path / "best.pt", "bass", role="melodic")  # its own stem
    check_fits(Identity("bass", "harmonic"), "b.pt", "bass")  # no role asked: bass_role not compared


def test_a_base_serves_the_stems_of_its_kind_params_give_it(caplog):
    import logging

    from midi_extractor.model.checkpoint import CheckpointMismatch, Identity, check_fits

    pitched, kit = Identity("base-pitched", "harmonic"), Identity("base-percussive", "percussive", ("kick",))
    params = _params(bass="pitched", drums="percussive", guitar="pitched2", other="")
    with caplog.at_level(logging.WARNING, logger="midi_extractor.model.checkpoint"):
        for _ in range(2):
            check_fits(pitched, "bases/pitched.pt", "bass", role="melodic", params=params)  # role: not a base's
    assert caplog.text.count("bases/pitched.pt is the shared base 'pitched', not a model fine-tuned on bass") == 1
    check_fits(kit, "bases/percussive.pt", "high_percs", params=params)  # no base named for it: by kind
    check_fits(pitched, "bases/pitched.pt", "other", params=params)
    check_fits(pitched, "bases/pitched.pt", "piano")  # no params: by kind
    with pytest.raises(CheckpointMismatch, match=r"^bases/percussive.pt: checkpoint of shared base 'percussive' "
                                                 r"\(percussive\), asked for stem 'bass' \(melodic\)$"):
        check_fits(kit, "bases/percussive.pt", "bass", role="melodic", params=params)
    with pytest.raises(CheckpointMismatch, match="shared base 'pitched' .*asked for stem 'drums'"):
        check_fits(pitched, "bases/pitched.pt", "drums")
    with pytest.raises(CheckpointMismatch, match=r"asked for stem 'guitar' \(pitched\), whose params base is "
                                                 r"'pitched2'$"):
        check_fits(pitched, "bases/pitched.pt", "guitar", params=params)


def test_another_front_end_or_model_size_is_refused_naming_both():
    from midi_extractor.model.checkpoint import CheckpointMismatch, Identity, check_fits

    it = Identity.of(_ckpt(_model()))
    check_fits(it, "b.pt", "bass", front_end=FE, model_size="small")
    with pytest.raises(CheckpointMismatch, match=r"^b.pt: checkpoint of stem 'bass' \(melodic\) has front end "
                                                 r"sample_rate_hz=8000, n_mels=32, asked for stem 'bass' "
                                                 r"\(pitched\) with sample_rate_hz=16000, n_mels=64 "
                                                 r"\(params features\)$"):
        check_fits(it, "b.pt", "bass", front_end=dataclasses.replace(FE, sample_rate_hz=16000, n_mels=64))
    with pytest.raises(CheckpointMismatch, match=r"^b.pt: checkpoint of stem 'bass' \(melodic\) is model size "
                                                 r"'small', asked for stem 'bass' \(pitched\) at model size "
                                                 r"'harmonic' \(params model.size\)$"):
        check_fits(it, "b.pt", "bass", model_size="harmonic")
