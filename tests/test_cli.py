"""The midi-extractor command line: plain help for every command, one spelling per
option, output plans that refuse collisions, and logging configured once."""
from __future__ import annotations

import logging
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from midi_extractor import __version__
from midi_extractor.cli import COMMANDS, build_parser, configure_logging, main, plain
from midi_extractor.infer.cli import PlanError, plan_outputs


def _command_parsers():
    parser = build_parser()
    sub = next(a for a in parser._actions if hasattr(a, "choices") and isinstance(a.choices, dict))
    return sub.choices


def test_every_command_has_plain_help_and_a_description():
    parsers = _command_parsers()
    assert set(parsers) == set(COMMANDS)
    for name, parser in parsers.items():
        text = parser.format_help()
        assert parser.description, f"{name} has no description"
        for markup in (":func:", ":class:", ":mod:", ":data:", "``"):
            assert markup not in text, f"{name} help shows {markup}"
    assert plain("see :func:`midi_extractor.audio.load_audio` and ``x.mid``") == "see load_audio() and x.mid"


def test_one_spelling_per_option_old_ones_still_parse():
    parsers = _command_parsers()
    assert "--outdir" not in parsers["train-per-stem"].format_help()
    assert "--out-dir" in parsers["train-per-stem"].format_help()
    args = build_parser(["train-per-stem"]).parse_args(
        ["train-per-stem", "--dataset-root", "d", "--stems", "bass", "--outdir", "x"])
    assert args.outdir == "x"
    assert build_parser(["transcribe"]).parse_args(["transcribe", "a.wav", "--out", "o"]).out == "o"
    assert build_parser(["transcribe"]).parse_args(["transcribe", "a.wav", "--out-dir", "o"]).out == "o"
    assert "--out " not in parsers["transcribe"].format_help()


def test_version_and_python_dash_m(capsys):
    with pytest.raises(SystemExit):
        main(["--version"])
    assert __version__ in capsys.readouterr().out
    done = subprocess.run([sys.executable, "-m", "midi_extractor", "--version"], capture_output=True, text=True)
    assert done.returncode == 0 and __version__ in done.stdout


def test_outputs_written_twice_are_an_error_naming_both(tmp_path, capsys):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    a, b = tmp_path / "a" / "bass.wav", tmp_path / "b" / "bass.flac"
    for path in (a, b):
        sf.write(path, np.zeros(1600, np.float32), 16000)
    out = tmp_path / "out"
    assert main(["transcribe", str(a), str(b), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"{a} and {b} would both be written to {out / 'bass.mid'}" in err
    assert not out.exists()
    assert main(["transcribe", str(a), str(b), "-o", str(tmp_path / "x.mid")]) == 2
    assert "names one MIDI file but 2 inputs were given" in capsys.readouterr().err
    assert not (tmp_path / "x.mid").exists()
    assert plan_outputs([a], tmp_path / "x.mid") == [(a, tmp_path / "x.mid")]
    assert plan_outputs([a, tmp_path / "song"], out) == [(a, out / "bass.mid"), (tmp_path / "song", out / "song.mid")]
    with pytest.raises(PlanError, match="would both be written"):
        plan_outputs([a, a], out)


def test_logging_is_configured_once_and_third_party_info_is_quiet(capsys):
    configure_logging(0)
    configure_logging(0)  # a second call replaces the handler, no double lines
    logging.getLogger("matplotlib.font_manager").info("font cache noise")
    logging.getLogger("mlflow.tracking").info("mlflow noise")
    logging.getLogger("midi_extractor.infer.api").info("our progress")
    logging.getLogger("midi_extractor.infer.api").debug("our detail")
    err = capsys.readouterr().err
    assert "noise" not in err and err.count("our progress") == 1 and "our detail" not in err
    configure_logging(1)
    logging.getLogger("midi_extractor.infer.api").debug("our detail")
    assert "our detail" in capsys.readouterr().err
    configure_logging(0)


# ------------------------------------------------- a checkpoint knows what it is
def test_evaluate_refuses_another_stems_checkpoint_and_takes_the_base_of_its_stem(tmp_path, capsys, monkeypatch):
    """``evaluate --stem bass`` with a drums checkpoint: one line, rc 2, nothing written (was: bass metrics
    scored by drum classes, rc 0). The shared base params give bass (benchmarks/compare_peers.py) is scored."""
    import json

    from helpers_standin import PITCHED, eval_index
    from helpers_models import KIT, checkpoint_saying

    monkeypatch.setenv("MIDI_EXTRACTOR_TRACKING", "0")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "params.yaml").write_text(
        "pretrain:\n  pitched: {stems: [bass], role: harmonic}\n  percussive: {stems: [drums], role: percussive}\n"
        "stems:\n  bass: {role: melodic, base: pitched}\n"
        "decoding: {onset_threshold: 0.02, frame_threshold: 0.02}\n")
    index = eval_index(tmp_path, PITCHED[:3])
    drums = checkpoint_saying(tmp_path / "models" / "bass" / "best.pt", "drums", "percussive", KIT)
    kit = checkpoint_saying(tmp_path / "bases" / "percussive.pt", "base-percussive", "percussive", KIT)
    pitched = checkpoint_saying(tmp_path / "bases" / "pitched.pt", "base-pitched", "harmonic")
    for model, what in ((drums, "stem 'drums' (percussive)"), (kit, "shared base 'percussive' (percussive)")):
        out = tmp_path / f"{model.stem}.json"
        assert main(["evaluate", "--stem", "bass", "--index", str(index), "--model", str(model),
                     "--out", str(out)]) == 2
        err = capsys.readouterr().err
        assert err.splitlines()[-1] == f"evaluate: {model}: checkpoint of {what}, asked for stem 'bass' (melodic)"
        assert "Traceback" not in err and not out.exists()
    assert main(["evaluate", "--stem", "bass", "--index", str(index), "--model", str(pitched),
                 "--out", "base.json"]) == 0
    assert json.loads((tmp_path / "base.json").read_text())["stem"] == "bass"
    assert f"{pitched} is the shared base 'pitched', not a model fine-tuned on bass" in capsys.readouterr().err


def test_train_init_from_a_wrong_checkpoint_is_one_line_rc_2_before_any_data(tmp_path, capsys, monkeypatch):
    """``train --init-from``: missing, random bytes, another stem's base, another front end: one line, rc 2,
    before the data is read (was: a traceback, rc 1, after loading)."""
    import dataclasses

    from midi_extractor.config import FrontEndConfig, ModelConfig
    from midi_extractor.model.checkpoint import save_checkpoint
    from midi_extractor.model.transcriber import create_model
    from midi_extractor.train import data
    from helpers_training import TINY_FE, TINY_MODEL, tiny_params_yaml
    from helpers_models import KIT, checkpoint_saying

    def no_data(*args, **kwargs):
        raise AssertionError("the data was read before the base was checked")

    monkeypatch.setattr(data, "datasets", no_data)
    monkeypatch.setenv("MIDI_EXTRACTOR_TRACKING", "0")
    params = tiny_params_yaml(tmp_path / "params.yaml")
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"\x00random" * 64)
    kit = checkpoint_saying(tmp_path / "percussive.pt", "base-percussive", "percussive", KIT)
    fe = dataclasses.replace(FrontEndConfig(**TINY_FE), n_mels=48)
    model = create_model(fe, ModelConfig(**TINY_MODEL), fe.n_pitches, {})
    other_fe = save_checkpoint(tmp_path / "pitched48.pt", {
        "model": model.state_dict(), "optimizer": {}, "scheduler": {}, "scaler": {}, "step": 1, "epoch": 0,
        "best_metric": 0.0, "config": {**model.config_dict(), "drum_classes": None}, "stem": "base-pitched",
        "role": "harmonic", "taxonomy_version": 1})
    cases = [(tmp_path / "missing.pt", "checkpoint not found"),
             (garbage, "not a readable checkpoint (UnpicklingError: Unsupported operand 0)"),  # was pages
             (kit, "checkpoint of shared base 'percussive' (percussive), asked for stem 'bass' (melodic)"),
             (other_fe, "checkpoint of shared base 'pitched' (harmonic) has front end n_mels=48, asked for stem "
                        "'bass' (melodic) with n_mels=32 (params features)")]
    for path, message in cases:
        rc = main(["train", str(tmp_path / "index.json"), "--stem", "bass", "--out-dir", str(tmp_path / "m"),
                   "--params", str(params), "--init-from", str(path), "--no-progress"])
        lines = capsys.readouterr().err.splitlines()
        assert rc == 2 and lines[-1] == f"midi-extractor train: error: {path}: {message}", lines
        assert not any("Traceback" in line for line in lines)
    assert not (tmp_path / "m" / "best.pt").exists()
