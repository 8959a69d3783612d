"""Blending the fine-tune with its base after the last step (train/blend.py): the weights mixed,
the choice made on validation, best.pt, the summary and history.csv written accordingly."""
from __future__ import annotations

import csv
import dataclasses
import json

import pytest
import torch

from helpers_training import tiny_params, tiny_params_yaml, write_sine_set
from midi_extractor.config import ConfigError, PretrainConfig, load_params
from midi_extractor.model.checkpoint import load_checkpoint
from midi_extractor.train import validation
from midi_extractor.train.blend import blend_weights


@pytest.fixture(autouse=True)
def _no_tracking(monkeypatch):
    monkeypatch.setenv("MIDI_EXTRACTOR_TRACKING", "0")


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    """A tiny pitched base (``best.pt``) and the bass index it fine-tunes on."""
    from midi_extractor.train.run import pretrain

    index = write_sine_set(tmp_path_factory.mktemp("data"), n_tracks=2)
    params = tiny_params(epochs=1, steps_per_epoch=2)
    params.pretrain = {"pitched": PretrainConfig(**{**dataclasses.asdict(params.stems["bass"]),
                                                    "stems": ["bass"], "role": "harmonic"})}
    out = tmp_path_factory.mktemp("base")
    with pytest.MonkeyPatch.context() as m:
        m.setenv("MIDI_EXTRACTOR_TRACKING", "0")
        pretrain("pitched", [index], out, params, log_every=1, progress=False)
    return params, index, out / "best.pt"


def _fine_tune(base, tmp_path, monkeypatch, loop_f1s, blend_f1s, blends=(0.5,)):
    """Fine-tune 4 steps (validations at 0, 2, 4 score ``loop_f1s``; the blends ``blend_f1s``);
    returns the summary, the weights each loop validation saw and the weights each blend's did."""
    from midi_extractor.train.run import train

    params, index, base_pt = base
    weights, scores = [], iter([*loop_f1s, *blend_f1s])   # the loop validates first, then the blends

    def fake(model, run):
        weights.append({k: v.detach().clone() for k, v in model.state_dict().items()})
        return {"val_loss_total": 1.0, "val_onset_f1": next(scores)}

    monkeypatch.setattr(validation, "score", fake)
    summary = train(index, "bass", tmp_path / "bass", params, init_from=base_pt, epochs=1, steps_per_epoch=4,
                    lr=0.5, val_interval=2, log_every=1, progress=False, base_blends=list(blends))
    return summary, weights[:len(loop_f1s)], weights[len(loop_f1s):]


def _history(tmp_path):
    with (tmp_path / "bass" / "history.csv").open() as f:
        return list(csv.DictReader(f))


def test_blend_weights_mixes_floats_and_keeps_counters():
    fine = {"w": torch.tensor([1.0, 3.0]), "n": torch.tensor(7)}
    base = {"w": torch.tensor([3.0, -1.0]), "n": torch.tensor(2)}
    out = blend_weights(fine, base, 0.25)
    assert out["w"].tolist() == [2.5, 0.0] and out["n"].item() == 7


def test_blend_weights_names_a_tensor_whose_shape_differs():
    with pytest.raises(ValueError, match="cannot blend w: shape \\(2,\\) against the base's \\(3,\\)"):
        blend_weights({"w": torch.zeros(2)}, {"w": torch.zeros(3)}, 0.5)


def test_a_blend_that_validates_better_becomes_best_pt(base, tmp_path, monkeypatch):
    summary, seen, tried = _fine_tune(base, tmp_path, monkeypatch, [0.5, 0.6, 0.55], [0.58, 0.7], (0.25, 0.75))
    base_w, step2 = seen[0], seen[1]
    assert summary["best_step"] == 2 and summary["base_blend"] == 0.75 and summary["best_metric"] == 0.7
    best = load_checkpoint(tmp_path / "bass" / "best.pt")
    want = {k: 0.75 * v + 0.25 * base_w[k] if v.is_floating_point() else v for k, v in step2.items()}
    assert best["base_blend"] == 0.75 and best["step"] == 2 and best["best_metric"] == 0.7
    for k in want:
        torch.testing.assert_close(best["model"][k], want[k])
        torch.testing.assert_close(tried[1][k], want[k])
    assert not torch.equal(best["model"]["onset_head.weight"], step2["onset_head.weight"])
    last = load_checkpoint(tmp_path / "bass" / "last.pt")   # the last step's own weights
    assert all(torch.equal(last["model"][k], seen[2][k]) for k in seen[2])
    rows = _history(tmp_path)
    assert [(r["step"], r["base_blend"], r["val_onset_f1"]) for r in rows if r["base_blend"]] == [
        ("4", "0.25", "0.58"), ("4", "0.75", "0.7")]
    assert summary["final_losses"]["loss_total"] > 0   # the losses come from the last step, not a blend's row
    written = json.loads((tmp_path / "bass" / "summary.json").read_text())
    assert written["base_blend"] == 0.75


def test_blends_that_validate_worse_leave_the_best_step(base, tmp_path, monkeypatch):
    summary, seen, tried = _fine_tune(base, tmp_path, monkeypatch, [0.5, 0.6, 0.55], [0.59])
    assert summary["best_step"] == 2 and summary["base_blend"] is None and summary["best_metric"] == 0.6
    best = load_checkpoint(tmp_path / "bass" / "best.pt")
    assert "base_blend" not in best and all(torch.equal(best["model"][k], seen[1][k]) for k in seen[1])
    assert len(tried) == 1 and [r["base_blend"] for r in _history(tmp_path)][-1] == "0.5"


def test_no_blend_is_tried_when_the_base_validates_best(base, tmp_path, monkeypatch):
    summary, seen, tried = _fine_tune(base, tmp_path, monkeypatch, [0.8, 0.6, 0.55], [0.9])
    assert summary["best_step"] == 0 and summary["base_blend"] is None and tried == []


@pytest.mark.parametrize("value", [0.0, 1.0, 1.5])
def test_base_blends_outside_0_1_are_refused_naming_the_key(tmp_path, value):
    with pytest.raises(ConfigError, match=r"stems\.bass\.base_blends\[1\] must be within 0-1"):
        load_params(tiny_params_yaml(tmp_path / "params.yaml", base_blends=[0.5, value]))


def test_the_train_command_takes_several_blends(tmp_path, capsys):
    from midi_extractor.cli import main

    rc = main(["train", str(tmp_path / "missing.json"), "--stem", "bass", "--out-dir", str(tmp_path / "m"),
               "--params", str(tiny_params_yaml(tmp_path / "p.yaml")), "--base-blends", "0.5,2"])
    err = capsys.readouterr().err
    assert rc == 2 and "stems.bass.base_blends[1] must be within 0-1" in err and "got 2.0" in err


def test_a_blend_flag_that_is_not_numbers_is_refused_naming_the_flag(tmp_path, capsys):
    from midi_extractor.cli import main

    with pytest.raises(SystemExit):
        main(["train", str(tmp_path / "i.json"), "--stem", "bass", "--out-dir", str(tmp_path / "m"),
              "--base-blends", "half"])
    assert "argument --base-blends: invalid comma-separated numbers value: 'half'" in capsys.readouterr().err
