"""Tracks finished (effects, files) in worker processes while the main process renders: the same
files however many workers."""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from midi_extractor.synth import generate, songs, workers
from midi_extractor.synth.fluid import SynthError
from midi_extractor.synth.render import Report, StemSkipped

_finish_track = workers.finish_track


def _digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def _finish_noting_pid(track):
    """finish_track, leaving the finishing process's id beside the track's folder."""
    done = _finish_track(track)
    (track.out_dir / f"{track.name}.pid").write_text(str(os.getpid()))
    return done


def test_no_worker_or_two_write_the_same_bytes_and_workers_write_them(tmp_path, monkeypatch):
    """Six tracks (train, validation, both test domains, effects on) finished in this process and by
    two forked workers: byte-identical trees, and the workers' tracks were written by other processes."""
    monkeypatch.setattr(workers, "finish_track", _finish_noting_pid)
    kw = dict(tracks=6, seconds=2.0, seed=5, progress=False, validation_tracks=1, test_tracks=2)
    here = generate.generate_dataset(tmp_path / "here", **kw, workers=0)
    forked = generate.generate_dataset(tmp_path / "forked", **kw, workers=2)

    pids = lambda root: {p.read_text() for p in root.glob("*.pid")}  # noqa: E731
    assert pids(tmp_path / "here") == {str(os.getpid())}
    assert len(pids(tmp_path / "forked")) >= 1 and str(os.getpid()) not in pids(tmp_path / "forked")
    assert [p.relative_to(tmp_path / "here") for p in here] == [p.relative_to(tmp_path / "forked") for p in forked]
    a, b = _digest(tmp_path / "here"), _digest(tmp_path / "forked")
    assert sum(k.endswith(".flac") for k in a) >= 12 and a.keys() == b.keys()
    assert {k: v for k, v in a.items() if not k.endswith(".pid")} == {k: v for k, v in b.items() if not k.endswith(".pid")}
    report = json.loads((tmp_path / "forked" / generate.REPORT_NAME).read_text())
    assert sum(report["tracks"].values()) == 6 and report["tracks"]["test/out_of_domain"] == 1
    assert report["stems_by_source"] == json.loads((tmp_path / "here" / generate.REPORT_NAME).read_text())["stems_by_source"]


def test_worker_count():
    assert workers.worker_count(0, 50) == 0
    assert workers.worker_count(8, 3) == 3            # never more workers than tracks
    assert workers.worker_count(None, 3) == 0         # too few tracks to fork for
    assert workers.worker_count(None, 1000) == len(os.sched_getaffinity(0)) - 1   # every core, the renderer's one
    with pytest.raises(SynthError, match="workers must be 0 or more, got -1"):
        workers.worker_count(-1, 10)


def test_a_bad_worker_count_is_refused_before_anything_is_written(tmp_path):
    with pytest.raises(SynthError, match="workers must be 0 or more, got -2"):
        generate.generate_dataset(tmp_path / "d", 2, 2.0, 0, progress=False, workers=-2)
    assert not list((tmp_path / "d").rglob("*.flac"))


def test_reports_merge_counts_and_keep_skips_in_order():
    part = songs.Part("bass", 33, False, [(0.0, 0.5, 40, 90)], (0.2, 0.3))
    a, b = Report(), Report()
    a.add_track("train", "in_domain")
    b.add_track("train", "in_domain")
    b.add_track("test", "out_of_domain")
    a.skip("Track00001", "S00", part, "OPL3_FM", StemSkipped("silent", "first"))
    b.skip("Track00002", "S01", part, "TimGM6mb", StemSkipped("no_source", "second"))
    b.dropped_notes = 3
    a.merge(b)
    got = a.as_dict()
    assert got["tracks"] == {"test/out_of_domain": 1, "train/in_domain": 2}
    assert [s["message"] for s in got["skipped"]] == ["first", "second"]
    assert got["skipped_by_reason"] == {"no_source": 1, "silent": 1} and got["dropped_notes"] == 3


def test_the_synth_command_takes_a_worker_count(tmp_path, capsys, monkeypatch):
    from midi_extractor import cli

    monkeypatch.setattr(workers, "finish_track", _finish_noting_pid)
    out = tmp_path / "set"
    rc = cli.main(["synth", "--out", str(out), "--tracks", "2", "--seconds", "2", "--seed", "1", "--workers", "1",
                   "--quiet"])
    assert rc == 0 and "wrote 2 tracks" in capsys.readouterr().out
    assert len(list(out.glob("*/Track*/stems/*.flac"))) >= 4
    pids = {p.read_text() for p in out.glob("*.pid")}
    assert pids and str(os.getpid()) not in pids      # finished by the worker
    rc = cli.main(["synth", "--out", str(tmp_path / "bad"), "--tracks", "2", "--seconds", "2", "--workers", "-1"])
    assert rc == 2 and "synth: workers must be 0 or more, got -1" in capsys.readouterr().err
