"""Shared base models: pretrain on the union of indexes, fine-tune a stem from it (drum rows
mapped by class), the checks that reject settings no training can use, and a non-finite
loss that stops training with a message."""
from __future__ import annotations

import csv
import dataclasses
import json

import pytest
import torch

from midi_extractor import taxonomy as tx
from midi_extractor.config import ConfigError, PretrainConfig, load_params
from midi_extractor.model.checkpoint import load_checkpoint
from helpers_training import REPO, tiny_params, tiny_params_yaml, write_sine_set


@pytest.fixture(autouse=True)
def _no_tracking(monkeypatch):
    monkeypatch.setenv("MIDI_EXTRACTOR_TRACKING", "0")


@pytest.fixture(scope="module")
def two_indexes(tmp_path_factory):
    a = write_sine_set(tmp_path_factory.mktemp("a"), n_tracks=2)
    data = json.loads(a.read_text())
    b = a.with_name("filtered_dataset_piano.json")
    b.write_text(json.dumps({**data, "stem": "piano"}))
    return a, b


def test_pretrain_trains_on_the_union_and_a_stem_fine_tunes_from_it(two_indexes, tmp_path):
    from midi_extractor.train.run import pretrain, train

    params = tiny_params(epochs=1, steps_per_epoch=2)
    params.pretrain = {"pitched": PretrainConfig(**{**dataclasses.asdict(params.stems["bass"]),
                                                    "stems": ["bass", "piano"], "role": "harmonic"})}
    base = pretrain("pitched", two_indexes, tmp_path / "base", params, log_every=1, progress=False)
    union = json.loads((tmp_path / "base" / "index.json").read_text())["entries"]
    assert len(union) == 4 and {e["source_index"] for e in union} == {p.name for p in two_indexes}
    assert base["steps"] == 2 and base["stem"] == "base-pitched"
    rows = list(csv.DictReader((tmp_path / "base" / "history.csv").open()))
    validated = [r for r in rows if r["val_onset_f1"]]
    assert validated and all(r["val_tone_wrong_frames"].isdigit() and r["val_tone_wrong_onsets"].isdigit()
                             for r in validated)   # model/tone_check at every validation
    base_weights = load_checkpoint(tmp_path / "base" / "best.pt")["model"]

    # zero steps of fine-tuning would be rejected; one step with lr ~0 keeps the base's weights
    tuned = train(two_indexes[0], "bass", tmp_path / "bass", params, init_from=tmp_path / "base" / "best.pt",
                  epochs=1, steps_per_epoch=1, lr=1e-12, log_every=1, progress=False)
    assert tuned["base"].endswith("best.pt")
    weights = load_checkpoint(tmp_path / "bass" / "best.pt")["model"]
    key = "onset_head.weight"
    assert torch.allclose(weights[key], base_weights[key], atol=1e-6)


def test_only_a_pitched_base_trains_with_the_tone_guard(two_indexes, tmp_path, monkeypatch):
    from midi_extractor.train import loop, run

    jobs = []
    monkeypatch.setattr(loop, "fit", lambda job, **kw: jobs.append(job) or {"rank": 1})
    params = tiny_params()
    params.pretrain = {"pitched": PretrainConfig(stems=["bass"], role="harmonic"),
                       "percussive": PretrainConfig(stems=["drums"], role="percussive", drum_stem="drums")}
    run.pretrain("pitched", two_indexes[:1], tmp_path / "p", params)
    run.pretrain("percussive", two_indexes[:1], tmp_path / "d", params)
    assert [(j.name, j.tone_guard) for j in jobs] == [("base-pitched", True), ("base-percussive", False)]


def test_drum_rows_are_mapped_by_class_from_a_kit_base(tmp_path):
    from midi_extractor.train.state import Job, build_state, checkpoint, start_from_base
    from midi_extractor.model.checkpoint import save_checkpoint

    params = tiny_params()
    kit, high = list(tx.MODEL_DRUM_CLASSES["drums"]), list(tx.MODEL_DRUM_CLASSES["high_percs"])
    index = tmp_path / "i.json"
    index.write_text("{}")
    base_job = Job("base-percussive", "percussive", params.stems["bass"], params.role("bass"), params, index, tmp_path,
                   kit)  # a shared base's checkpoint says so (model.checkpoint.check_fits)
    base = build_state(base_job, torch.device("cpu"), None)
    with torch.no_grad():
        base.model.onset_head.bias.copy_(torch.arange(len(kit), dtype=torch.float32))
    save_checkpoint(tmp_path / "base.pt", checkpoint(base, base_job, world_size=1))
    job = dataclasses.replace(base_job, name="high_percs", drum_classes=high, init_from=tmp_path / "base.pt")
    state = build_state(job, torch.device("cpu"), None)
    start_from_base(state, job)
    assert state.model.onset_head.bias.tolist() == [float(kit.index(c)) for c in high]


def test_kit_model_outputs_every_drum_class():
    assert set(tx.MODEL_DRUM_CLASSES["drums"]) == set(tx.DRUM_CLASSES)
    assert set(tx.MODEL_DRUM_CLASSES["high_percs"]) == {"hihat", "cymbal", "shaker"}


@pytest.mark.parametrize("field, value, message", [
    ("epochs", 0, "epochs must be >= 1"), ("val_interval", 0, "val_interval must be >= 1"),
    ("lr", -1.0, "lr must be > 0"), ("batch_size", 0, "batch_size must be >= 1")])
def test_settings_no_training_can_use_are_rejected_at_load(tmp_path, field, value, message):
    path = tiny_params_yaml(tmp_path / "params.yaml", **{field: value})
    with pytest.raises(ConfigError, match=f"stems.bass.{message}"):
        load_params(path)


def test_cli_user_error_is_one_line_and_rc_2(tmp_path, capsys):
    from midi_extractor.cli import main

    rc = main(["train", str(tmp_path / "missing.json"), "--stem", "bass", "--out-dir", str(tmp_path / "m"),
               "--params", str(tiny_params_yaml(tmp_path / "p.yaml")), "--epochs", "0"])
    err = capsys.readouterr().err
    assert rc == 2 and "epochs must be >= 1" in err and "Traceback" not in err


def test_non_finite_loss_stops_training_with_a_message(two_indexes, tmp_path, monkeypatch):
    from midi_extractor.model import transcriber
    from midi_extractor.train.state import TrainingError
    from midi_extractor.train.run import train

    real = transcriber.Transcriber.compute_losses

    def poisoned(self, logits, batch):
        losses = real(self, logits, batch)
        losses["total"] = losses["total"] * float("nan")
        return losses

    monkeypatch.setattr(transcriber.Transcriber, "compute_losses", poisoned)
    with pytest.raises(TrainingError, match="non-finite loss at step 1"):
        train(two_indexes[0], "bass", tmp_path / "m", tiny_params(), progress=False)
    assert not (tmp_path / "m" / "best.pt").exists()


def test_a_fresh_run_clears_a_stale_best_checkpoint(two_indexes, tmp_path):
    from midi_extractor.train.run import train

    out = tmp_path / "m"
    out.mkdir()
    (out / "best.pt").write_bytes(b"stale from another run")
    (out / "history.csv").write_text("step\n999\n")
    train(two_indexes[0], "bass", out, tiny_params(epochs=1, steps_per_epoch=2), log_every=1, progress=False)
    assert load_checkpoint(out / "best.pt")["step"] == 2
    assert "999" not in (out / "history.csv").read_text()


def test_params_yaml_bases_exist_for_every_stem_that_names_one():
    params = load_params(REPO / "params.yaml")
    for name, stem in params.stems.items():
        assert not stem.base or stem.base in params.pretrain, name


def test_a_harmonic_kit_base_feeds_a_high_percs_model_class_by_class(tmp_path):
    """The harmonic drum head's class-shaped layers (output rows, the frame stack's onset and
    offset inputs) are cut to high_percs' classes: its onset, offset and velocity logits are the
    base's class columns (frames also read the dropped classes' onsets in the base, so only
    their input weights are compared)."""
    from midi_extractor.config import ModelConfig
    from midi_extractor.model.checkpoint import save_checkpoint
    from midi_extractor.train.state import Job, build_state, checkpoint, start_from_base

    params = tiny_params()
    params.model = ModelConfig(size="harmonic")
    params.features = dataclasses.replace(params.features, kind="logfreq")
    kit, high = list(tx.MODEL_DRUM_CLASSES["drums"]), list(tx.MODEL_DRUM_CLASSES["high_percs"])
    index = tmp_path / "i.json"
    index.write_text("{}")
    base_job = Job("base-percussive", "percussive", params.stems["bass"], params.role("bass"), params, index, tmp_path,
                   kit)
    torch.manual_seed(0)
    base = build_state(base_job, torch.device("cpu"), None)
    save_checkpoint(tmp_path / "base.pt", checkpoint(base, base_job, world_size=1))
    job = dataclasses.replace(base_job, name="high_percs", drum_classes=high, init_from=tmp_path / "base.pt")
    state = build_state(job, torch.device("cpu"), None)
    start_from_base(state, job)
    audio = torch.randn(1, 16000) * 0.1
    with torch.no_grad():
        want = base.model.eval()(audio)
        got = state.model.eval()(audio)
    cols = [kit.index(c) for c in high]
    for head in ("onset", "offset", "velocity"):
        torch.testing.assert_close(got[head], want[head][..., cols])
    w_base, w_own = base.model.head.frame_inp.weight, state.model.head.frame_inp.weight
    hidden, n = w_own.shape[1] - 2 * len(high), len(kit)
    keep = list(range(hidden)) + [hidden + c for c in cols] + [hidden + n + c for c in cols]
    assert torch.equal(w_own, w_base[:, keep])


def test_a_fine_tune_that_never_beats_its_base_ships_the_base(two_indexes, tmp_path, monkeypatch):
    """Fine-tuning validates the base at step 0: when no later validation beats it, best.pt
    holds the base's own weights (step 0), and history.csv starts with the base's row."""
    from midi_extractor.train import validation
    from midi_extractor.train.run import pretrain, train

    params = tiny_params(epochs=1, steps_per_epoch=2)
    params.pretrain = {"pitched": PretrainConfig(**{**dataclasses.asdict(params.stems["bass"]),
                                                    "stems": ["bass", "piano"], "role": "harmonic"})}
    pretrain("pitched", two_indexes, tmp_path / "base", params, log_every=1, progress=False)
    base_weights = load_checkpoint(tmp_path / "base" / "best.pt")["model"]
    figures = iter([0.8, 0.5, 0.4])  # the base, then two worse validations
    monkeypatch.setattr(validation, "score", lambda *a, **k: {"val_loss_total": 1.0, "val_onset_f1": next(figures)})
    tuned = train(two_indexes[0], "bass", tmp_path / "bass", params, init_from=tmp_path / "base" / "best.pt",
                  epochs=1, steps_per_epoch=4, lr=0.5, val_interval=2, log_every=1, progress=False)
    assert tuned["best_step"] == 0 and tuned["best_metric"] == 0.8 and tuned["steps"] == 4
    best = load_checkpoint(tmp_path / "bass" / "best.pt")
    assert best["step"] == 0 and all(torch.equal(best["model"][k], base_weights[k]) for k in base_weights)
    assert not torch.equal(load_checkpoint(tmp_path / "bass" / "last.pt")["model"]["onset_head.weight"],
                           base_weights["onset_head.weight"])
    rows = (tmp_path / "bass" / "history.csv").read_text().splitlines()
    assert rows[1].startswith("0,") and "0.8" in rows[1]


def test_a_fine_tune_killed_after_validating_its_base_resumes_without_a_second_base_row(two_indexes, tmp_path,
                                                                                        monkeypatch):
    """Killed between the base's step-0 validation and the first step: the rerun resumes from
    last.pt (step 0) and neither validates the base again nor writes a second step-0 row."""
    from midi_extractor.train import loop, validation
    from midi_extractor.train.run import pretrain, train

    params = tiny_params(epochs=1, steps_per_epoch=2)
    params.pretrain = {"pitched": PretrainConfig(**{**dataclasses.asdict(params.stems["bass"]),
                                                    "stems": ["bass", "piano"], "role": "harmonic"})}
    pretrain("pitched", two_indexes, tmp_path / "base", params, log_every=1, progress=False)
    calls = []
    monkeypatch.setattr(validation, "score",
                        lambda *a, **k: calls.append(1) or {"val_loss_total": 1.0, "val_onset_f1": 0.5})

    def killed(*a, **k):
        raise KeyboardInterrupt

    kwargs = dict(init_from=tmp_path / "base" / "best.pt", epochs=1, steps_per_epoch=2, val_interval=2,
                  log_every=1, progress=False)
    with monkeypatch.context() as m:
        m.setattr(loop, "train_step", killed)
        with pytest.raises(KeyboardInterrupt):
            train(two_indexes[0], "bass", tmp_path / "bass", params, **kwargs)
    assert len(calls) == 1 and load_checkpoint(tmp_path / "bass" / "last.pt")["step"] == 0
    tuned = train(two_indexes[0], "bass", tmp_path / "bass", params, **kwargs)
    assert tuned["resumed_from_step"] == 0 and tuned["steps"] == 2 and len(calls) == 2
    steps = [r.split(",")[0] for r in (tmp_path / "bass" / "history.csv").read_text().splitlines()[1:]]
    assert steps.count("0") == 1 and steps[-1] == "2"


@pytest.fixture(scope="module")
def shipped_base(two_indexes, tmp_path_factory):
    """A tiny pitched base exported as a shipped ``bases/pitched.pt`` would be, and its params."""
    from midi_extractor.train.run import pretrain

    params = tiny_params(epochs=1, steps_per_epoch=1)
    params.pretrain = {"pitched": PretrainConfig(**{**dataclasses.asdict(params.stems["bass"]),
                                                    "stems": ["bass"], "role": "harmonic"})}
    out = tmp_path_factory.mktemp("shipped")
    with pytest.MonkeyPatch.context() as m:
        m.setenv("MIDI_EXTRACTOR_TRACKING", "0")
        pretrain("pitched", two_indexes[:1], out / "run", params, export=out / "pitched.pt", log_every=1,
                 progress=False)
    return params, out / "pitched.pt"


def test_rebuild_auto_keeps_a_fitting_shipped_base_on_generated_data_only(shipped_base, tmp_path):
    from midi_extractor.config import ModelConfig
    from midi_extractor.train.run import why_train_base

    params, shipped = shipped_base
    assert params.dataset.kind == "generated" and params.pretrain["pitched"].rebuild == "auto"
    assert why_train_base("pitched", params, shipped) is None
    assert why_train_base("pitched", params, tmp_path / "gone.pt") == f"{tmp_path / 'gone.pt'}: not found"
    real = dataclasses.replace(params, dataset=dataclasses.replace(params.dataset, kind="redux"))
    assert "dataset.kind is redux" in why_train_base("pitched", real, shipped)
    bigger = dataclasses.replace(params, model=ModelConfig(**{**dataclasses.asdict(params.model), "size": "paper"}))
    reason = why_train_base("pitched", bigger, shipped)
    assert reason.startswith(f"{shipped}: ") and "paper" in reason


def test_rebuild_true_always_trains_and_false_never_does(shipped_base, tmp_path):
    from midi_extractor.model.checkpoint import CheckpointError
    from midi_extractor.train.run import why_train_base

    params, shipped = shipped_base
    for value, expected in ((True, "pretrain.pitched.rebuild is true"), (False, None)):
        cfg = dataclasses.replace(params.pretrain["pitched"], rebuild=value)
        set_to = dataclasses.replace(params, pretrain={"pitched": cfg},
                                     dataset=dataclasses.replace(params.dataset, kind="slakh2100"))
        assert why_train_base("pitched", set_to, shipped) == expected
    with pytest.raises(CheckpointError, match=r"gone\.pt: not found; pretrain\.pitched\.rebuild is false"):
        why_train_base("pitched", set_to, tmp_path / "gone.pt")


@pytest.mark.parametrize("value, expected", [("auto", "auto"), ("true", True), (False, False)])
def test_rebuild_takes_auto_true_or_false(value, expected):
    assert PretrainConfig(stems=["bass"], role="harmonic", rebuild=value).rebuild == expected


def test_rebuild_refuses_anything_else():
    from midi_extractor.config import Params, from_dict

    with pytest.raises(ConfigError, match=r"pretrain.pitched.rebuild must be auto, true or false, got 'sometimes'"):
        from_dict(Params, {"pretrain": {"pitched": {"stems": ["bass"], "role": "harmonic", "rebuild": "sometimes"}}})


def test_the_pretrain_stage_keeps_the_shipped_base_untouched_and_names_a_missing_one(shipped_base, tmp_path):
    import os
    import subprocess
    import sys

    import yaml

    params_yaml = tiny_params_yaml(tmp_path / "params.yaml")
    data = yaml.safe_load(params_yaml.read_text())
    data["pretrain"] = {"pitched": {"stems": ["bass"], "role": "harmonic", "rebuild": "auto"}}
    params_yaml.write_text(yaml.safe_dump(data))
    before = shipped_base[1].read_bytes()

    def stage(export):
        return subprocess.run([sys.executable, str(REPO / "stages" / "pretrain.py"), "--params", str(params_yaml),
                               "--base", "pitched", "--prepared-dir", str(tmp_path / "none"), "--out-dir",
                               str(tmp_path / "run"), "--export", str(export)], capture_output=True, text=True,
                              cwd=tmp_path, timeout=120, env={**os.environ, "MIDI_EXTRACTOR_TRACKING": "0"})

    kept = stage(shipped_base[1])
    assert kept.returncode == 0, kept.stderr
    assert kept.stdout.strip() == (f"pretrain-pitched: kept the shipped {shipped_base[1]} (pretrain.pitched.rebuild: "
                                   f"auto; set it true to train the base here)")
    assert shipped_base[1].read_bytes() == before and not (tmp_path / "run").exists()
    data["pretrain"]["pitched"]["rebuild"] = False
    params_yaml.write_text(yaml.safe_dump(data))
    refused = stage(tmp_path / "gone.pt")
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    assert refused.stderr.strip().splitlines()[-1] == (f"pretrain-pitched: {tmp_path / 'gone.pt'}: not found; "
                                                       f"pretrain.pitched.rebuild is false, so it is not trained here")
    unknown = subprocess.run([sys.executable, str(REPO / "stages" / "pretrain.py"), "--params", str(params_yaml),
                              "--base", "orchestral", "--prepared-dir", str(tmp_path / "none"), "--out-dir",
                              str(tmp_path / "run"), "--export", str(tmp_path / "o.pt")], capture_output=True,
                             text=True, cwd=tmp_path, timeout=120, env={**os.environ, "MIDI_EXTRACTOR_TRACKING": "0"})
    assert unknown.returncode == 2 and "Traceback" not in unknown.stderr
    assert unknown.stderr.strip().splitlines()[-1] == "pretrain-orchestral: no pretrain.orchestral in params (listed: pitched)"
    assert not (tmp_path / "o.pt").exists()


def test_a_base_continues_from_its_init_checkpoint_and_refuses_one_that_does_not_fit(two_indexes, tmp_path):
    """pretrain.<base>.init_from: the base starts from that checkpoint (validated at step 0 as a
    fine-tune's base is); a checkpoint that does not fit (the shipped kit base) is refused, naming it."""
    from midi_extractor.model.checkpoint import CheckpointError
    from midi_extractor.train.run import pretrain

    params = tiny_params(epochs=1, steps_per_epoch=2)
    cfg = PretrainConfig(**{**dataclasses.asdict(params.stems["bass"]), "stems": ["bass", "piano"],
                            "role": "harmonic"})
    params.pretrain = {"pitched": cfg}
    pretrain("pitched", two_indexes, tmp_path / "first", params, log_every=1, progress=False)
    start = load_checkpoint(tmp_path / "first" / "best.pt")["model"]
    params.pretrain = {"pitched": dataclasses.replace(cfg, init_from=str(tmp_path / "first" / "best.pt"),
                                                      lr=1e-12, steps_per_epoch=1)}
    again = pretrain("pitched", two_indexes, tmp_path / "again", params, log_every=1, progress=False)
    assert again["base"].endswith("first/best.pt") and again["stem"] == "base-pitched"
    history = (tmp_path / "again" / "history.csv").read_text().splitlines()
    assert history[1].startswith("0,")                        # the starting point validated at step 0
    weights = load_checkpoint(tmp_path / "again" / "best.pt")["model"]
    assert torch.allclose(weights["onset_head.weight"], start["onset_head.weight"], atol=1e-6)

    drums = tiny_params(epochs=1, steps_per_epoch=1)
    drums.pretrain = {"pitched": dataclasses.replace(cfg, init_from=str(REPO / "bases" / "percussive.pt"))}
    with pytest.raises(CheckpointError, match=r"percussive\.pt"):
        pretrain("pitched", two_indexes, tmp_path / "wrong", drums, log_every=1, progress=False)


def test_a_base_ships_its_best_or_its_last_step_as_params_say(two_indexes, tmp_path):
    """pretrain.<base>.ships: best exports best.pt's weights, last exports last.pt's; another word is refused."""
    from midi_extractor.config import Params, from_dict
    from midi_extractor.train.run import pretrain

    params = tiny_params(epochs=1, steps_per_epoch=2)
    cfg = PretrainConfig(**{**dataclasses.asdict(params.stems["bass"]), "stems": ["bass", "piano"],
                            "role": "harmonic"})
    params.pretrain = {"pitched": cfg}
    pretrain("pitched", two_indexes, tmp_path / "first", params, log_every=1, progress=False)
    weights = lambda path: load_checkpoint(path)["model"]  # noqa: E731
    same = lambda a, b: all(torch.equal(a[k], b[k]) for k in a)  # noqa: E731
    for ships in ("best", "last"):   # from a trained start, a large step ends worse: best.pt is step 0
        params.pretrain = {"pitched": dataclasses.replace(cfg, init_from=str(tmp_path / "first" / "best.pt"),
                                                          lr=0.5, steps_per_epoch=2, ships=ships)}
        pretrain("pitched", two_indexes, tmp_path / ships, params, export=tmp_path / f"{ships}.pt", log_every=1,
                 progress=False)
        best, last = weights(tmp_path / ships / "best.pt"), weights(tmp_path / ships / "last.pt")
        assert not same(best, last)
        assert same(weights(tmp_path / f"{ships}.pt"), best if ships == "best" else last)
    with pytest.raises(ConfigError, match="pretrain.pitched.ships must be best or last, got 'first'"):
        from_dict(Params, {"pretrain": {"pitched": {"stems": ["bass"], "role": "harmonic", "ships": "first"}}})


def test_a_base_at_its_own_rate_trains_and_fine_tunes_there_and_a_base_at_another_rate_is_refused(two_indexes,
                                                                                                  tmp_path):
    """pretrain.<base>.sample_rate_hz: the base and its stems train at features scaled to that rate
    (the 8 kHz sine tracks read at 16 kHz, frames as long in seconds); a base made at features' own
    rate does not fit a stem of that base, and the refusal names the rate."""
    from midi_extractor.model.checkpoint import CheckpointError
    from midi_extractor.train.run import pretrain, train

    params = tiny_params(epochs=1, steps_per_epoch=1)
    cfg = PretrainConfig(**{**dataclasses.asdict(params.stems["bass"]), "stems": ["bass", "piano"],
                            "role": "harmonic", "sample_rate_hz": 16000})
    params.pretrain = {"pitched": cfg}
    params.stems["bass"].base = "pitched"
    pretrain("pitched", two_indexes, tmp_path / "base16", params, log_every=1, progress=False)
    for name in ("base16", "bass"):
        if name == "bass":
            train(two_indexes[0], "bass", tmp_path / "bass", params, init_from=tmp_path / "base16" / "best.pt",
                  log_every=1, progress=False)
        fe = load_checkpoint(tmp_path / name / "best.pt")["config"]["front_end"]
        assert (fe["sample_rate_hz"], fe["hop_length"], fe["n_fft"]) == (16000, 512, 1024), name
        assert fe["f_max_hz"] == pytest.approx(7600.0), name

    params.pretrain = {"pitched": dataclasses.replace(cfg, sample_rate_hz=None)}
    pretrain("pitched", two_indexes, tmp_path / "base8", params, log_every=1, progress=False)
    params.pretrain = {"pitched": cfg}
    with pytest.raises(CheckpointError, match=r"sample_rate_hz=8000.*sample_rate_hz=16000"):
        train(two_indexes[0], "bass", tmp_path / "wrong", params, init_from=tmp_path / "base8" / "best.pt",
              log_every=1, progress=False)


def test_the_shipped_kit_base_fits_the_kit_stems_at_32_khz_and_the_earlier_kit_bases_do_not():
    """params.yaml renders the generated set at 32 kHz and gives the kit base that rate and a
    2048-sample STFT: the shipped bases/percussive.pt fits drums and high_percs there; the earlier
    GPU base (16 kHz, bases/percussive_gpu16k.pt) and the 4096-sample one (bases/percussive_n4096.pt)
    are refused, naming what differs."""
    from midi_extractor.model.checkpoint import CheckpointError, Identity, check_fits

    params = load_params(REPO / "params.yaml")
    shipped = REPO / "bases" / "percussive.pt"
    earlier = {"percussive_gpu16k.pt": "sample_rate_hz=16000.*sample_rate_hz=32000",
               "percussive_n4096.pt": "n_fft=4096.*n_fft=2048"}
    for stem in ("drums", "high_percs"):
        fe = params.front_end(stem)
        assert (fe.sample_rate_hz, fe.n_fft) == (32000, 2048) and params.front_end("bass").sample_rate_hz == 16000
        check_fits(Identity.of(load_checkpoint(shipped)), shipped, stem, front_end=fe, model_size=params.model.size,
                   params=params, say_base=False)
        for name, message in earlier.items():
            path = REPO / "bases" / name
            with pytest.raises(CheckpointError, match=message):
                check_fits(Identity.of(load_checkpoint(path)), path, stem, front_end=fe,
                           model_size=params.model.size, params=params, say_base=False)


def test_train_layers_heads_freezes_the_bases_trunk_and_trains_the_heads(two_indexes, tmp_path):
    from midi_extractor.config import ModelConfig
    from midi_extractor.train.run import pretrain, train

    params = tiny_params(epochs=1, steps_per_epoch=2)
    params.model = ModelConfig(size="harmonic")
    params.features = dataclasses.replace(params.features, kind="logfreq")
    params.pretrain = {"pitched": PretrainConfig(**{**dataclasses.asdict(params.stems["bass"]),
                                                    "stems": ["bass", "piano"], "role": "harmonic"})}
    pretrain("pitched", two_indexes, tmp_path / "base", params, log_every=1, progress=False)
    base = load_checkpoint(tmp_path / "base" / "last.pt")["model"]
    tuned = {}
    for layers in ("heads", "all"):
        train(two_indexes[0], "bass", tmp_path / layers, params, init_from=tmp_path / "base" / "last.pt",
              epochs=1, steps_per_epoch=2, lr=1e-2, train_layers=layers, base_blends=[],
              log_every=1, progress=False)
        tuned[layers] = load_checkpoint(tmp_path / layers / "last.pt")
    trunk = [k for k in base if k.split(".")[0] in ("stem", "to_semitones", "blocks")]
    heads = [k for k in base if k.startswith("head.")]
    assert trunk and heads
    frozen = tuned["heads"]["model"]
    assert all(torch.equal(frozen[k], base[k]) for k in trunk)
    assert any(not torch.equal(frozen[k], base[k]) for k in heads)
    assert any(not torch.equal(tuned["all"]["model"][k], base[k]) for k in trunk)
    assert tuned["heads"]["config"]["train"]["train_layers"] == "heads"


def test_train_layers_is_checked_at_load_and_an_architecture_without_a_trunk_is_refused(two_indexes, tmp_path):
    from midi_extractor.train.run import train

    path = tiny_params_yaml(tmp_path / "params.yaml", train_layers="trunk")
    with pytest.raises(ConfigError, match="stems.bass.train_layers must be all or heads, got 'trunk'"):
        load_params(path)
    with pytest.raises(ValueError, match="model.size 'small' has no trunk apart from its heads"):
        train(two_indexes[0], "bass", tmp_path / "m", tiny_params(), train_layers="heads", progress=False)
