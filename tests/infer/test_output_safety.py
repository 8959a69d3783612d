"""transcribe's outputs (issue 23 items 4 and 6): checked before any compute (a folder that
cannot be written, a file already there without --overwrite, another run writing the same
file: one line, rc 2, the model never runs), and a write that fails (a full disk) is one line
naming the file, rc 2, nothing half-written. The model is a stand-in (``_run_one``): these
are the CLI's checks, not the transcription."""
from __future__ import annotations

import errno
import os
import subprocess
import sys
from pathlib import Path

import pretty_midi
import pytest

from midi_extractor.cli import main
from midi_extractor.infer import cli as infer_cli
from midi_extractor.infer.api import Transcription
from midi_extractor.model.decoding import Note


@pytest.fixture
def runs(monkeypatch, tmp_path) -> list[Path]:
    """Stand in for the model: each input 'transcribes' to one bass note; returns the inputs run."""
    done: list[Path] = []

    def fake_run_one(args, source, params, tempo, device):
        done.append(Path(source))
        pm = pretty_midi.PrettyMIDI()
        inst = pretty_midi.Instrument(program=33, name="bass")
        inst.notes.append(pretty_midi.Note(90, 40, 0.1, 0.5))
        pm.instruments.append(inst)
        return Transcription({"bass": [Note(0.1, 0.5, 40, 90)]}, pm, 1.0, 120.0), None

    monkeypatch.setattr(infer_cli, "_run_one", fake_run_one)
    (tmp_path / "bass.wav").write_bytes(b"")  # never read: the stand-in does not open it
    return done


def _argv(tmp_path: Path, *extra: str) -> list[str]:
    return ["transcribe", str(tmp_path / "bass.wav"), "-o", str(tmp_path / "out"), "--no-tempo", *extra]


def _notes(path: Path) -> list[tuple[int, float]]:
    return [(n.pitch, round(n.start, 3)) for i in pretty_midi.PrettyMIDI(str(path)).instruments for n in i.notes]


def test_an_existing_output_is_refused_unless_overwrite(tmp_path, runs, capsys):
    target = tmp_path / "out" / "bass.mid"
    target.parent.mkdir()
    target.write_bytes(b"the user's own file")
    assert main(_argv(tmp_path)) == 2
    assert capsys.readouterr().err == f"transcribe: {target} exists; pass --overwrite to replace it\n"
    assert target.read_bytes() == b"the user's own file" and runs == []  # refused before the model ran
    assert main(_argv(tmp_path, "--overwrite")) == 0
    assert _notes(target) == [(40, 0.1)] and len(runs) == 1
    csv = tmp_path / "out" / "bass.notes.csv"
    csv.write_text("old\n")  # a side file counts too
    assert main(_argv(tmp_path, "--save-note-events")) == 2
    assert capsys.readouterr().err.startswith(f"transcribe: {target} exists")  # the MIDI, named first
    target.unlink()
    assert main(_argv(tmp_path, "--save-note-events")) == 2
    assert capsys.readouterr().err == f"transcribe: {csv} exists; pass --overwrite to replace it\n"
    assert csv.read_text() == "old\n" and len(runs) == 1


def test_a_second_run_writing_the_same_file_is_refused_naming_the_pid(tmp_path, runs, capsys):
    target = tmp_path / "out" / "bass.mid"
    target.parent.mkdir()
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time\nfrom midi_extractor.atomic import exclusive_output\n"
         "with exclusive_output(sys.argv[1]):\n    print('held', flush=True)\n    time.sleep(60)\n", str(target)],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        assert main(_argv(tmp_path)) == 2
        assert capsys.readouterr().err == (f"transcribe: {target} is being written by another run "
                                           f"(pid {holder.pid}); wait for it or write elsewhere\n")
        assert runs == [] and not target.exists()
    finally:
        holder.kill()  # SIGKILL: its lock file stays, but the kernel releases the lock
        holder.wait()
    assert (tmp_path / "out" / ".bass.mid.lock").exists()
    assert main(_argv(tmp_path)) == 0
    assert _notes(target) == [(40, 0.1)]
    assert not (tmp_path / "out" / ".bass.mid.lock").exists()  # removed on exit


def test_an_output_folder_that_cannot_be_written_is_one_line_before_compute(tmp_path, runs, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    assert main(["transcribe", str(tmp_path / "bass.wav"), "-o", str(blocker / "sub")]) == 2
    err = capsys.readouterr().err
    assert err == (f"transcribe: {blocker / 'sub'}: output folder cannot be created or written (Not a directory, "
                   "errno 20); nothing was half-written\n")
    assert runs == []


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into a 0555 folder anyway")
def test_a_read_only_output_folder_is_one_line_before_compute(tmp_path, runs, capsys):
    out = tmp_path / "out"
    out.mkdir()
    out.chmod(0o555)
    try:
        assert main(_argv(tmp_path)) == 2
    finally:
        out.chmod(0o755)
    assert capsys.readouterr().err.startswith(f"transcribe: {out}: output folder cannot be created or written "
                                              "(Permission denied")
    assert runs == [] and list(out.iterdir()) == []


def test_a_full_disk_while_writing_is_one_line_naming_the_file_and_leaves_nothing(tmp_path, runs, capsys,
                                                                                  monkeypatch):
    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    assert main(_argv(tmp_path)) == 2
    target = tmp_path / "out" / "bass.mid"
    assert capsys.readouterr().err == (f"transcribe: {target}: cannot be written (No space left on device, "
                                       "errno 28); nothing was half-written\n")
    assert len(runs) == 1 and not (tmp_path / "out").exists()  # no MIDI, temp file, lock, nor the folder made


def test_a_full_disk_in_export_is_one_line_rc_2(tmp_path, monkeypatch, capsys):
    from midi_extractor.infer import onnx_export

    def full(path):
        raise OSError(errno.ENOSPC, "No space left on device", str(Path(path).with_name("model.onnx")))

    monkeypatch.setattr(onnx_export, "export_onnx", full)
    (tmp_path / "bass").mkdir()
    assert main(["export", "--models-dir", str(tmp_path), "--stem", "bass"]) == 2
    assert capsys.readouterr().err == (f"export: {tmp_path / 'bass' / 'model.onnx'}: No space left on device "
                                       "(errno 28)\n")


def test_a_bug_is_still_a_traceback(tmp_path, monkeypatch):
    from midi_extractor.infer import onnx_export

    def broken(path):
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(onnx_export, "export_onnx", broken)
    with pytest.raises(OSError, match="Input/output error"):
        main(["export", "--models-dir", str(tmp_path), "--stem", "bass"])


def test_export_checks_its_folder_before_loading_the_checkpoint(tmp_path, monkeypatch, capsys):
    """A read-only models folder, simulated (root writes anyway): the probe file cannot be made."""
    import tempfile

    from midi_extractor.model import checkpoint

    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system")

    loaded = []
    monkeypatch.setattr(checkpoint, "load_checkpoint", lambda path: loaded.append(path))
    monkeypatch.setattr(tempfile, "mkstemp", read_only)
    (tmp_path / "bass").mkdir()
    (tmp_path / "bass" / "best.pt").write_bytes(b"")
    assert main(["export", "--models-dir", str(tmp_path), "--stem", "bass"]) == 2
    assert capsys.readouterr().err == (f"export: {tmp_path / 'bass'}: output folder cannot be created or written "
                                       "(Read-only file system, errno 30); nothing was half-written\n")
    assert loaded == []


def test_export_of_a_stem_without_a_checkpoint_names_the_path_once(tmp_path, capsys):
    (tmp_path / "bass").mkdir()
    assert main(["export", "--models-dir", str(tmp_path), "--stem", "bass"]) == 1
    err = capsys.readouterr().err
    assert err.count(str(tmp_path / "bass" / "best.pt")) == 1 and "checkpoint not found" in err
