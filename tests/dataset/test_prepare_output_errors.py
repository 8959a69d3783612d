"""prepare's outputs (issue 23 item 4): the out folder is checked writable before anything is
decoded, and a full disk met while writing an array is one line naming the file (was: a
traceback "OSError: 529200 requested and 403392 written", naming no file), rc 2, with no
half-written or temporary file left."""
from __future__ import annotations

import json
import os

import numpy as np
import pytest

from helpers_data import write_track
from midi_extractor.cli import main


@pytest.fixture(scope="module")
def index(tmp_path_factory):
    base = tmp_path_factory.mktemp("prep")
    entries = []
    for track in ("Track00001", "Track00002"):
        write_track(base / "data" / track, {"S00": {"program_num": 33}}, seconds=2.0)
        entries.append({"track": track, "stem_id": "S00", "split": "train", "audio": f"{track}/stems/S00.wav",
                        "midi": f"{track}/MIDI/S00.mid", "metadata": {"program_num": 33, "is_drum": False}})
    path = base / "dataset_bass.json"
    path.write_text(json.dumps({"stem": "bass", "dataset_root": str(base / "data"), "entries": entries}))
    return path


def _prepare(index, out, *extra: str) -> int:
    return main(["prepare", "--index", str(index), "--out-dir", str(out), "--sample-rate", "16000",
                 "--splits", "train,validation", *extra])


@pytest.mark.parametrize("jobs", ["1", "2"])  # 2: the error crosses the process pool whole
def test_a_full_disk_while_writing_an_array_is_one_line_naming_it(index, tmp_path, capsys, monkeypatch, jobs):
    from midi_extractor.dataset import prepare_entry

    def full(f, array, **kwargs):
        raise OSError("529200 requested and 403392 written")  # numpy's own words, no errno

    monkeypatch.setattr(np.lib.format, "write_array", full)
    monkeypatch.setattr(prepare_entry, "load_audio", lambda *a, **k: np.full(32000, 0.1, np.float32))
    out = tmp_path / "prep"
    assert _prepare(index, out, "--jobs", jobs) == 2
    assert capsys.readouterr().err.splitlines()[-1] == (
        f"prepare: {out / 'audio/Track00001/S00.npy'}: cannot be written (529200 requested and 403392 written; "
        "a full disk?); nothing was half-written")
    assert [p for p in out.rglob("*") if p.is_file()] == []  # no array, no temp file, no index.json


def test_an_out_dir_that_cannot_be_written_is_one_line_before_decoding(index, tmp_path, capsys, monkeypatch):
    from midi_extractor.dataset import prepare_entry

    decoded = []
    monkeypatch.setattr(prepare_entry, "load_audio", lambda *a, **k: decoded.append(a) or np.zeros(10, np.float32))
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    assert _prepare(index, blocker / "prep") == 2
    assert capsys.readouterr().err.splitlines()[-1] == (
        f"prepare: {blocker / 'prep'}: output folder cannot be created or written (Not a directory, errno 20); "
        "nothing was half-written")
    assert decoded == []


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into a 0555 folder anyway")
def test_a_read_only_out_dir_is_one_line(index, tmp_path, capsys):
    out = tmp_path / "prep"
    out.mkdir()
    out.chmod(0o555)
    try:
        assert _prepare(index, out) == 2
    finally:
        out.chmod(0o755)
    assert capsys.readouterr().err.splitlines()[-1].startswith(f"prepare: {out}: output folder cannot be created or written "
                                              "(Permission denied")
    assert list(out.iterdir()) == []
