import json
from pathlib import Path

import pytest

from midi_extractor.atomic import write_json


def test_writes_json_with_newline_and_creates_the_folder(tmp_path):
    path = write_json(tmp_path / "a" / "b.json", {"x": [1, 2]}, indent=2)
    assert path.read_text() == json.dumps({"x": [1, 2]}, indent=2) + "\n"
    assert not (tmp_path / "a" / "b.json.tmp").exists()


def test_a_failed_write_leaves_the_previous_file(tmp_path):
    path = write_json(tmp_path / "s.json", {"ok": 1})
    with pytest.raises(TypeError):
        write_json(path, {"bad": object()})
    assert json.loads(path.read_text()) == {"ok": 1}
    assert write_json(path, {"p": tmp_path}, default=str).read_text().count(str(tmp_path)) == 1


def test_no_temp_file_stays_and_mode_follows_the_umask(tmp_path):
    import os
    import stat

    from midi_extractor.atomic import write_csv, write_text

    write_text(tmp_path / "t.txt", "hello")
    path = write_csv(tmp_path / "h.csv", [{"step": 1, "loss": 0.5, "extra": "x"}, {"step": 2}], ["step", "loss"])
    assert path.read_text().splitlines() == ["step,loss", "1,0.5", "2,"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["h.csv", "t.txt"]
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE((tmp_path / "t.txt").stat().st_mode) == 0o666 & ~umask


def test_an_exception_inside_atomic_open_keeps_the_old_file(tmp_path):
    from midi_extractor.atomic import atomic_open, write_text

    write_text(tmp_path / "m.mid", "old")
    with pytest.raises(RuntimeError):
        with atomic_open(tmp_path / "m.mid", "wb") as f:
            f.write(b"partial")
            raise RuntimeError("killed mid-write")
    assert (tmp_path / "m.mid").read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["m.mid"]


def test_stale_temp_files_of_a_killed_write_are_cleaned(tmp_path, caplog):
    """Issue 14 item 6: a kill between write and rename leaves a temp file; the
    cleanup the writer runs on start removes it (and only its target's)."""
    import os
    import subprocess
    import sys
    import time

    from midi_extractor.atomic import clean_stale_tmp, clean_stale_tmp_in

    target = tmp_path / "best.pt"
    code = ("import os, sys, time\n"
            "from midi_extractor.atomic import atomic_open\n"
            f"with atomic_open({str(target)!r}, 'wb') as f:\n"
            "    f.write(b'x' * 1000); f.flush(); print('written', flush=True); time.sleep(60)\n")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True,
                            cwd=str(tmp_path), env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])})
    assert proc.stdout.readline().strip() == "written"
    proc.kill()
    proc.wait()
    left = list(tmp_path.glob(".best.pt.*.tmp"))
    assert len(left) == 1 and not target.exists()
    (tmp_path / "history.csv.tmp").write_text("old fixed-name temp")
    other = tmp_path / ".other.json.x1.tmp"
    other.write_text("{}")
    assert clean_stale_tmp(target, older_than_s=3600) == []  # too young: maybe a live writer
    with caplog.at_level("WARNING"):
        assert clean_stale_tmp(target) == left
    assert "stale temporary file" in caplog.text and other.exists()
    assert clean_stale_tmp(tmp_path / "history.csv") == [tmp_path / "history.csv.tmp"]
    assert clean_stale_tmp_in(tmp_path) == [other]
    assert clean_stale_tmp(tmp_path / "no" / "such") == []
