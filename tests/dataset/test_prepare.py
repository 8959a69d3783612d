"""The prepare step (dataset/prepare.py) and the prepared layout's readers (prepared.py):
tiny 44.1 kHz stems prepared at 16 kHz, bad inputs skipped with one warning each, reruns
skip what is there, the written index loads from any folder."""
from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import numpy as np
import pretty_midi
import pytest
import soundfile as sf

from midi_extractor import prepared
from midi_extractor.audio import AudioError, load_audio
from midi_extractor.cli import main
from midi_extractor.dataset.prepare import prepare_index
from midi_extractor.index_io import DataError, entry_paths, load_index, select_split
from midi_extractor.midi_notes import MidiError, load_notes

SRC_HZ, HZ, SECONDS = 44100, 16000, 3.0
GOOD = {("T1", "S00"), ("T1", "S01"), ("T4", "S00")}
BAD = {"T2/stems/S00.flac": "truncated", "T2/stems/S01.wav": "0-length",
       "T3/MIDI/S00.mid": "no MIDI", "T3/MIDI/S01.mid": "unreadable MIDI"}


def _sine(freq_hz: float, amp: float, seconds: float = SECONDS, hz: int = SRC_HZ) -> np.ndarray:
    t = np.arange(round(seconds * hz)) / hz
    return (amp * np.sin(2 * np.pi * freq_hz * t)).astype(np.float32)


def _midi(path: Path, pitches: list[int]) -> None:
    pm = pretty_midi.PrettyMIDI()
    inst = pretty_midi.Instrument(program=33)
    for k, p in enumerate(pitches):
        inst.notes.append(pretty_midi.Note(90 - k, p, 0.5 * k + 0.1, 0.5 * k + 0.4))
    pm.instruments.append(inst)
    path.parent.mkdir(parents=True, exist_ok=True)
    pm.write(str(path))


def _entry(track: str, stem_id: str, audio: str, split: str = "train") -> dict:
    return {"track": track, "stem_id": stem_id, "split": split, "audio": f"{track}/stems/{audio}",
            "midi": f"{track}/MIDI/{stem_id}.mid", "metadata": {"program_num": 33}}


@pytest.fixture(scope="module")
def src(tmp_path_factory) -> Path:
    """An index over: 3 good stems (one louder than full scale), a truncated FLAC, a
    0-length stem, a stem without MIDI, an unreadable MIDI, and a test-split stem."""
    base = tmp_path_factory.mktemp("src")
    root = base / "data"
    for t in ("T1", "T2", "T3", "T4", "T5"):
        (root / t / "stems").mkdir(parents=True)
    # A4 = 440 Hz, stereo FLAC at 44.1 kHz
    sf.write(root / "T1/stems/S00.flac", np.stack([_sine(440, 0.5)] * 2, axis=1), SRC_HZ)
    _midi(root / "T1/MIDI/S00.mid", [69, 72, 76])
    # peak 1.6: float WAV (FLAC would clip)
    sf.write(root / "T1/stems/S01.wav", _sine(220, 1.6), SRC_HZ, subtype="FLOAT")
    _midi(root / "T1/MIDI/S01.mid", [57])
    # truncated halfway
    sf.write(root / "T2/stems/S00.flac", _sine(330, 0.5, 4.0) + 0.01 * np.random.default_rng(0).standard_normal(
        int(4.0 * SRC_HZ)).astype(np.float32), SRC_HZ)
    flac = root / "T2/stems/S00.flac"
    os.truncate(flac, flac.stat().st_size // 2)
    _midi(root / "T2/MIDI/S00.mid", [64])
    # 0-length stem
    sf.write(root / "T2/stems/S01.wav", np.zeros(0, np.float32), SRC_HZ)
    _midi(root / "T2/MIDI/S01.mid", [64])
    # audio without MIDI
    sf.write(root / "T3/stems/S00.flac", _sine(330, 0.5), SRC_HZ)
    # unreadable MIDI
    sf.write(root / "T3/stems/S01.flac", _sine(330, 0.5), SRC_HZ)
    (root / "T3/MIDI").mkdir(parents=True, exist_ok=True)
    (root / "T3/MIDI/S01.mid").write_bytes(b"MThd this is not MIDI")
    # validation and test
    sf.write(root / "T4/stems/S00.flac", _sine(110, 0.3, 2.0), SRC_HZ)
    _midi(root / "T4/MIDI/S00.mid", [45, 47])
    sf.write(root / "T5/stems/S00.flac", _sine(110, 0.3, 1.0), SRC_HZ)
    _midi(root / "T5/MIDI/S00.mid", [45])
    entries = [_entry("T1", "S00", "S00.flac"), _entry("T1", "S01", "S01.wav"),
               _entry("T2", "S00", "S00.flac"), _entry("T2", "S01", "S01.wav"),
               _entry("T3", "S00", "S00.flac"), _entry("T3", "S01", "S01.flac"),
               _entry("T4", "S00", "S00.flac", "validation"), _entry("T5", "S00", "S00.flac", "test")]
    index = {"stem": "bass", "taxonomy_version": 1, "dataset_root": "data", "entries": entries,
             "dropped": {}}
    (base / "index.json").write_text(json.dumps(index))
    return base / "index.json"


@pytest.fixture(scope="module")
def prep(src, tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("prep") / "bass"
    return out, prepare_index(src, out, HZ)


def _by_key(index_path: Path) -> tuple[Path, dict]:
    root, entries = load_index(index_path)
    return root, {(e["track"], e["stem_id"]): e for e in entries}


def test_sine_comes_back_at_its_pitch_and_length(prep):
    out, _ = prep
    root, entries = _by_key(out / "index.json")
    assert set(entries) == GOOD
    e = entries[("T1", "S00")]
    audio, _ = entry_paths(e, root)
    assert e["frames"] == prepared.n_frames(audio) == round(SECONDS * HZ)
    x = prepared.read_window(audio, 0, e["frames"], e["scale"])
    assert x.dtype == np.float32 and x.shape == (int(SECONDS * HZ),)
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    peak_hz = np.argmax(spectrum) * HZ / len(x)
    assert abs(peak_hz - 440.0) < 2.0
    assert abs(float(np.abs(x).max()) - 0.5) < 2e-3


def test_window_at_an_offset_equals_the_full_read(prep, src):
    out, _ = prep
    root, entries = _by_key(out / "index.json")
    e = entries[("T1", "S00")]
    full = load_audio(Path(src).parent / "data" / e["source_audio"], HZ)
    start, n = 12345, 20000
    x = prepared.read_window(root / e["audio"], start, n, e["scale"])
    np.testing.assert_allclose(x, full[start: start + n], atol=1e-3)


def test_notes_equal_load_notes(prep, src):
    out, _ = prep
    root, entries = _by_key(out / "index.json")
    for e in entries.values():
        want = load_notes(Path(src).parent / "data" / e["source_midi"])
        got = prepared.load_note_array(root / e["midi"])
        assert got.dtype == np.float64 and got.shape == want.shape
        np.testing.assert_array_equal(got, want)


def test_scale_keeps_a_peak_above_full_scale(prep):
    out, _ = prep
    root, entries = _by_key(out / "index.json")
    e = entries[("T1", "S01")]
    assert e["scale"] > 1.5
    x = prepared.read_window(root / e["audio"], 0, e["frames"], e["scale"])
    assert abs(float(np.abs(x).max()) - 1.6) < 2e-3
    assert entries[("T1", "S00")]["scale"] == 1.0


def test_bad_inputs_are_skipped_with_one_warning_each(src, tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="midi_extractor"):
        report = prepare_index(src, tmp_path / "out", HZ)
    assert (report["entries"], report["prepared"], report["skipped"], report["bad"]) == (7, 3, 0, 4)
    assert set(report["bad_files"]) == set(BAD)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    for rel in BAD:
        assert sum(rel in w for w in warnings) == 1, (rel, warnings)
    assert len(warnings) == len(BAD)
    written = json.loads((tmp_path / "out" / "index.json").read_text())
    assert written["bad_files"] == report["bad_files"]
    assert "truncated" in report["bad_files"]["T2/stems/S00.flac"] or "corrupt" in report["bad_files"][
        "T2/stems/S00.flac"]
    assert report["audio_s"] == pytest.approx(2 * SECONDS + 2.0, abs=1e-3)
    assert not (tmp_path / "out" / "audio" / "T2").exists() or not any((tmp_path / "out" / "audio" / "T2").iterdir())


def test_index_fields_and_splits(prep, src):
    out, report = prep
    data = json.loads((out / "index.json").read_text())
    assert prepared.is_prepared(data) and not prepared.is_prepared(json.loads(src.read_text()))
    assert data["prepared"] == {"format": prepared.FORMAT, "sample_rate_hz": HZ, "source_index": str(src),
                                "splits": ["train", "validation"], "min_midi": 21, "max_midi": 108}
    assert report["out_of_range_notes"] == 0
    assert data["dataset_root"] == "." and data["stem"] == "bass" and data["dropped"] == {}
    assert report["index"] == str(out / "index.json")
    e = data["entries"][0]
    assert (e["audio"], e["midi"]) == ("audio/T1/S00.npy", "notes/T1/S00.npy")
    assert e["metadata"] == {"program_num": 33} and e["source_audio"] == "T1/stems/S00.flac"
    _, entries = load_index(out / "index.json")
    assert [x["track"] for x in select_split(entries, "validation")] == ["T4"]
    assert ("T5", "S00") not in {(x["track"], x["stem_id"]) for x in entries}  # test split not asked


def test_rerun_skips_what_is_there_and_resumes(src, tmp_path):
    out = tmp_path / "out"
    prepare_index(src, out, HZ)
    first = (out / "index.json").read_bytes()
    npy = out / "audio/T1/S00.npy"
    mtime = npy.stat().st_mtime_ns
    # a killed run: one entry without its marker, a stale temporary file
    (out / prepared.marker_relpath("T1", "S01")).unlink()
    (out / "audio/T1/.S01.npy.abc123.tmp").write_bytes(b"half")
    report = prepare_index(src, out, HZ)
    assert (report["prepared"], report["skipped"], report["bad"]) == (1, 2, 4)
    assert npy.stat().st_mtime_ns == mtime
    assert not (out / "audio/T1/.S01.npy.abc123.tmp").exists()
    assert (out / "index.json").read_bytes() == first
    # another rate is not "already there"
    report = prepare_index(src, tmp_path / "out", 8000)
    assert report["prepared"] == 3 and prepared.n_frames(npy) == int(SECONDS * 8000)


def test_cli_index_loads_from_another_folder(src, prep, tmp_path, monkeypatch, capsys):
    out = tmp_path / "cli_out"
    assert main(["prepare", "--index", str(src), "--out-dir", str(out), "--sample-rate", str(HZ),
                 "--jobs", "2"]) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert (report["prepared"], report["bad"]) == (3, 4) and report["wall_s"] >= 0
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    root, entries = load_index(out / "index.json")
    assert root == out.resolve()
    for e in entries:
        audio, midi = entry_paths(e, root)
        assert audio.is_file() and midi.is_file()
    # same entries as the in-process run with jobs=1
    assert entries == load_index(prep[0] / "index.json")[1]
    monkeypatch.chdir(out.parent)  # relative paths as given, from the parent folder
    assert load_index(Path("cli_out/index.json"))[0] == out.resolve()


def test_cli_errors_are_one_line(tmp_path, capsys):
    assert main(["prepare", "--index", str(tmp_path / "nope.json"), "--out-dir", str(tmp_path / "o"),
                 "--sample-rate", "16000"]) == 2
    assert "nope.json" in capsys.readouterr().err
    assert main(["prepare", "--index", str(tmp_path / "nope.json"), "--out-dir", str(tmp_path / "o"),
                 "--sample-rate", "16000", "--splits", "train,bogus"]) == 2


def test_nothing_left_names_the_index(src, tmp_path):
    data = json.loads(src.read_text())
    data["entries"] = [e for e in data["entries"] if e["track"] in ("T2", "T3")]
    data["dataset_root"] = str(src.parent / "data")
    bad_index = tmp_path / "only_bad.json"
    bad_index.write_text(json.dumps(data))
    with pytest.raises(DataError, match="only_bad.json"):
        prepare_index(bad_index, tmp_path / "out", HZ)
    assert not (tmp_path / "out" / "index.json").exists()


def test_read_window_pads_and_refuses_bad_files(tmp_path):
    path = tmp_path / "a.npy"
    q = np.arange(-50, 50, dtype=np.int16) * 300
    np.save(path, q)
    assert prepared.n_frames(path) == 100
    x = prepared.read_window(path, 90, 20, 2.0)
    np.testing.assert_allclose(x[:10], q[90:] * 2.0 / 32768, rtol=0, atol=1e-7)
    assert x.shape == (20,) and not x[10:].any()
    y = prepared.read_window(path, -5, 10)
    assert not y[:5].any() and np.allclose(y[5:], q[:5] / 32768)
    assert not prepared.read_window(path, 200, 7).any() and prepared.read_window(path, 0, 0).shape == (0,)
    with pytest.raises(AudioError, match="missing.npy"):
        prepared.read_window(tmp_path / "missing.npy", 0, 10)
    with pytest.raises(AudioError, match="missing.npy"):
        prepared.n_frames(tmp_path / "missing.npy")
    cut = tmp_path / "cut.npy"
    cut.write_bytes(path.read_bytes()[:150])
    for call in (lambda: prepared.read_window(cut, 0, 10), lambda: prepared.n_frames(cut)):
        with pytest.raises(AudioError, match="cut.npy"):
            call()
    np.save(tmp_path / "f.npy", q.astype(np.float32))
    with pytest.raises(AudioError, match="int16"):
        prepared.read_window(tmp_path / "f.npy", 0, 10)
    with pytest.raises(MidiError, match="missing.npy"):
        prepared.load_note_array(tmp_path / "missing.npy")
    with pytest.raises(MidiError, match="a.npy"):
        prepared.load_note_array(path)


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc")
def test_readers_keep_nothing_open(prep):
    out, _ = prep
    root, entries = _by_key(out / "index.json")
    before = len(os.listdir("/proc/self/fd"))
    for k in range(300):
        e = list(entries.values())[k % 3]
        prepared.read_window(root / e["audio"], k * 7, 4000, e["scale"])
        prepared.load_note_array(root / e["midi"])
    assert len(os.listdir("/proc/self/fd")) <= before


def test_stems_below_the_models_rate_are_said_once_per_stem(src, tmp_path, caplog):
    """BabySlakh-like 16 kHz drum stems prepared for the 32 kHz kit base: one warning for the
    stem, naming the rates and the band the model will never hear (the rate from the index's
    metadata, as build-index writes it); an index without that metadata is read from the files'
    headers (44.1 kHz stems prepared at 48 kHz)."""
    root = tmp_path / "baby"
    entries = []
    for track in ("T1", "T2", "T3"):
        (root / track / "stems").mkdir(parents=True)
        sf.write(root / track / "stems" / "S00.wav", _sine(440, 0.5, 2.0, 16000), 16000)
        _midi(root / track / "MIDI" / "S00.mid", [36, 38])
        entries.append({**_entry(track, "S00", "S00.wav"),
                        "metadata": {"program_num": 0, "is_drum": True, "sample_rate_hz": 16000}})
    index = tmp_path / "dataset_drums.json"
    index.write_text(json.dumps({"stem": "drums", "dataset_root": str(root), "entries": entries}))
    with caplog.at_level(logging.WARNING, logger="midi_extractor"):
        prepare_index(index, tmp_path / "drums", 32000)
        prepare_index(index, tmp_path / "drums16", 16000)  # at the files' own rate: nothing to say
    said = [r.getMessage() for r in caplog.records if "below the" in r.getMessage()]
    assert said == [f"{index}: 3 of 3 entries of stem drums are sampled at 16000 Hz, below the 32000 Hz its "
                    f"model hears: upsampled, they hold nothing above 8000 Hz (where hats and shakers sound), so "
                    f"the model learns silence there; use a copy of the data at 32000 Hz or more if there is one"]
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="midi_extractor"):
        prepare_index(src, tmp_path / "bass48", 48000)
    said = [r.getMessage() for r in caplog.records if "below the" in r.getMessage()]
    assert len(said) == 1 and ("7 of 7 entries of stem bass are sampled at 44100 Hz, below the 48000 Hz its model "
                               "hears: upsampled, they hold nothing above 22050 Hz, so") in said[0]
