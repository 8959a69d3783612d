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
