"""evaluate's outputs (issue 23 item 4): the folders of the metrics JSON, the per-track CSV,
decoding.json and the plots are checked writable before the model is loaded, and a write that
fails (a full disk) is one line naming the file, rc 2, with nothing half-written."""
from __future__ import annotations

import errno
import os

import pytest

from helpers_standin import FE, PITCHED, Graded, eval_index
from midi_extractor.cli import main
from midi_extractor.infer import engine


@pytest.fixture
def graded(monkeypatch, tmp_path) -> list:
    """load_model gives a stand-in bass model; returns the paths it was asked to load."""
    monkeypatch.setenv("MIDI_EXTRACTOR_TRACKING", "0")
    monkeypatch.chdir(tmp_path)  # no ./params.yaml: the built-in defaults
    loads = []

    def load(path, device=None, runtime="auto"):
        loads.append(path)
        return engine.LoadedModel(Graded(FE, FE.n_pitches), FE, None, "bass", path)

    monkeypatch.setattr(engine, "load_model", load)
    return loads


@pytest.mark.parametrize("option", ["--out", "--tracks-out", "--decoding-out", "--plots-dir"])
def test_an_output_that_cannot_be_written_is_one_line_before_the_model_loads(tmp_path, graded, capsys, option):
    index = eval_index(tmp_path, PITCHED[:3])
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    target = blocker / "sub" / ("plots" if option == "--plots-dir" else "x.json")
    folder = target if option == "--plots-dir" else target.parent
    assert main(["evaluate", "--stem", "bass", "--index", str(index), "--model", str(tmp_path / "best.pt"),
                 option, str(target)]) == 2
    assert capsys.readouterr().err.splitlines()[-1] == (
        f"evaluate: {folder}: output folder cannot be created or written (Not a directory, errno 20); "
        "nothing was half-written")
    assert graded == []  # refused before the model was loaded


def test_a_full_disk_while_writing_is_one_line_naming_the_file(tmp_path, graded, capsys, monkeypatch):
    index = eval_index(tmp_path, PITCHED[:3])
    out = tmp_path / "metrics"
    out.mkdir()
    (out / "bass.json").write_text('{"old": 1}\n')

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    assert main(["evaluate", "--stem", "bass", "--index", str(index), "--model", str(tmp_path / "best.pt"),
                 "--out", str(out / "bass.json")]) == 2
    assert capsys.readouterr().err.splitlines()[-1] == (
        f"evaluate: {out / 'bass.json'}: cannot be written (No space left on device, errno 28); "
        "nothing was half-written")
    assert graded and sorted(p.name for p in out.iterdir()) == ["bass.json"]  # no temp file left
    assert (out / "bass.json").read_text() == '{"old": 1}\n'  # the previous metrics, whole
