import json
import logging
import re
from pathlib import Path

import numpy as np
import pretty_midi
import pytest
import soundfile as sf
import torch

from midi_extractor import taxonomy as tx
from midi_extractor.config import FrontEndConfig
from midi_extractor.index_io import DataError, load_index, select_split
from midi_extractor.train.clips import TranscriptionDataset, full_track

FE = FrontEndConfig()
SR = FE.sample_rate_hz


def _track(root: Path, name: str, seconds: float, pitch0: int, sr: int = SR, drums: bool = False):
    """A Slakh-format stem: a note every 0.5 s (sines, or clicks for drums)."""
    (root / name / "stems").mkdir(parents=True, exist_ok=True)
    (root / name / "MIDI").mkdir(parents=True, exist_ok=True)
    pm = pretty_midi.PrettyMIDI()
    inst = pretty_midi.Instrument(0 if drums else 33, is_drum=drums)
    n = int(seconds * sr)
    t = np.arange(n) / sr
    y = np.zeros(n, np.float32)
    for k, start in enumerate(np.arange(0.25, seconds - 0.3, 0.5)):
        pitch = (36, 38)[k % 2] if drums else pitch0 + (k % 5)
        inst.notes.append(pretty_midi.Note(90, pitch, float(start), float(start + 0.3)))
        on = (t >= start) & (t < start + 0.3)
        f = 200.0 if drums else pretty_midi.note_number_to_hz(pitch)
        y += (0.3 * on * np.sin(2 * np.pi * f * t)).astype(np.float32)
    pm.instruments.append(inst)
    pm.write(str(root / name / "MIDI" / "S00.mid"))
    sf.write(str(root / name / "stems" / "S00.wav"), y, sr)


def _index(path: Path, root: str, tracks, split_of=lambda k: "train"):
    entries = [{"track": t, "stem_id": "S00", "split": split_of(k), "audio": f"{t}/stems/S00.wav",
                "midi": f"{t}/MIDI/S00.mid", "metadata": {"role": "melodic"}} for k, t in enumerate(tracks)]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"stem": "bass", "taxonomy_version": 1, "dataset_root": root, "entries": entries}))
    return path


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    base = tmp_path_factory.mktemp("ds")
    tracks = [f"Track{k:05d}" for k in range(1, 13)]
    for k, t in enumerate(tracks):
        _track(base / "data" / "generated", t, 6.0, 40 + k)
    # written from the project folder: root relative to the CWD then
    idx = _index(base / "data" / "index" / "filtered_dataset_bass.json", "data/generated", tracks)
    return base, idx, tracks


def test_random_training_clips(dataset):
    base, idx, _ = dataset
    ds = TranscriptionDataset(idx, "train", FE, 2.0, None, None, seed=1)  # CWD is elsewhere: found via the index
    assert not ds.deterministic
    item = ds[0]
    s = 2 * SR
    assert item["audio"].shape == (s,) and item["audio"].dtype == torch.float32
    for k in ("onset", "offset", "frame", "velocity"):
        assert item[k].shape == (FE.n_frames(s), 88) and item[k].dtype == torch.float32
    assert item["onset"].sum() > 0
    assert torch.equal(ds[0]["audio"], item["audio"])  # item = f(seed, epoch, index)
    assert not torch.equal(ds[1]["audio"], item["audio"])
    ds.set_epoch(1)
    assert not torch.equal(ds[0]["audio"], item["audio"])  # fresh clips each epoch
    loader = torch.utils.data.DataLoader(ds, batch_size=4)
    batch = next(iter(loader))
    assert batch["audio"].shape == (4, s) and batch["onset"].shape == (4, FE.n_frames(s), 88)


def test_clip_audio_matches_its_labels(dataset):
    """The label onsets of a clip fall where the clip's audio starts a note."""
    _, idx, _ = dataset
    ds = TranscriptionDataset(idx, "validation", FE, 2.0, None, None, seed=0, cache_audio=False)
    for i in range(3):
        item = ds[i]
        audio, onset = item["audio"].numpy(), item["onset"].numpy()
        for f in np.flatnonzero(onset.any(axis=1)):
            c = int(f * FE.hop_length)
            assert np.abs(audio[c + 400: c + 1200]).max() > 0.1      # sounding just after
            assert np.abs(audio[max(c - 1200, 0): max(c - 400, 0)]).max(initial=0) < 1e-3  # silent before


def test_validation_fallback_and_deterministic_clips(dataset, caplog):
    _, idx, tracks = dataset
    with caplog.at_level(logging.WARNING):
        val = TranscriptionDataset(idx, "validation", FE, 2.0, None, None, seed=0)
    assert "validation split is empty" in caplog.text
    train = TranscriptionDataset(idx, "train", FE, 2.0, None, None, seed=0)
    val_tracks = {e["track"] for e in val.entries}
    assert val_tracks and not val_tracks & {e["track"] for e in train.entries}
    assert val_tracks | {e["track"] for e in train.entries} == set(tracks)
    assert val.deterministic and len(val) == 3 * len(val.entries)  # 6 s tracks, 2 s clips
    assert [c[1] for c in val.clips[:3]] == [0.0, 2.0, 4.0]
    a, b = val[1], val[1]
    assert all(torch.equal(a[k], b[k]) for k in a)
    capped = TranscriptionDataset(idx, "validation", FE, 2.0, None, None, seed=0, max_clips_per_track=1)
    assert len(capped) == len(val.entries)
    with caplog.at_level(logging.WARNING):
        test = TranscriptionDataset(idx, "test", FE, 2.0, None, None, seed=0)
    assert "test split is empty" in caplog.text and len(test) == len(val)


def test_select_split_uses_listed_splits():
    entries = [{"track": "a", "split": "train"}, {"track": "b", "split": "validation"},
               {"track": "c", "split": "test"}, {"track": "d", "split": "omitted"}]
    assert [e["track"] for e in select_split(entries, "train")] == ["a"]
    assert [e["track"] for e in select_split(entries, "validation")] == ["b"]
    assert [e["track"] for e in select_split(entries, "test")] == ["c"]
    with pytest.raises(ValueError):
        select_split(entries, "dev")


def test_cached_and_windowed_reads_agree(dataset):
    _, idx, _ = dataset
    cached = TranscriptionDataset(idx, "validation", FE, 2.0, None, None, cache_audio=True)
    windowed = TranscriptionDataset(idx, "validation", FE, 2.0, None, None, cache_audio=False)
    assert cached._audio is not None and windowed._audio is None
    for i in range(len(cached)):
        a, b = cached[i], windowed[i]
        assert np.allclose(a["audio"].numpy(), b["audio"].numpy(), atol=1e-6)
        assert torch.equal(a["onset"], b["onset"])


def test_roots_relative_to_cwd_or_absolute(dataset, monkeypatch, tmp_path):
    base, idx, tracks = dataset
    monkeypatch.chdir(base)
    root, _ = load_index(idx)
    assert root == (base / "data" / "generated").resolve()
    absolute = _index(tmp_path / "elsewhere" / "abs.json", str(base / "data" / "generated"), tracks[:3],
                      lambda k: "validation" if k == 2 else "train")
    assert len(TranscriptionDataset(absolute, "train", FE, 1.0, None, None).entries) == 2
    moved = _index(tmp_path / "moved.json", "not/here", tracks[:3], lambda k: "validation" if k == 2 else "train")
    ds = TranscriptionDataset(moved, "validation", FE, 1.0, None, None, dataset_root=base / "data" / "generated")
    assert len(ds.entries) == 1 and ds[0]["audio"].shape == (SR,)
    missing = _index(tmp_path / "x" / "missing.json", "no/such/root", tracks[:1])
    with pytest.raises(DataError, match="no/such/root"):
        TranscriptionDataset(missing, "train", FE, 1.0, None, None)


def test_bad_entries_are_skipped_with_a_warning(dataset, tmp_path, caplog):
    base, _, tracks = dataset
    root = base / "data" / "generated"
    data = {"stem": "bass", "dataset_root": str(root), "entries": [
        {"track": tracks[0], "split": "train", "audio": f"{tracks[0]}/stems/S00.wav", "midi": f"{tracks[0]}/MIDI/S00.mid"},
        {"track": "Gone", "split": "train", "audio": "Gone/stems/S00.wav", "midi": "Gone/MIDI/S00.mid"},
        {"track": "NoAudio", "split": "train", "audio": None, "midi": f"{tracks[0]}/MIDI/S00.mid"},
        {"track": tracks[1], "split": "validation", "audio": f"{tracks[1]}/stems/S00.wav",
         "midi": f"{tracks[1]}/MIDI/S00.mid"},
    ]}
    idx = tmp_path / "bad.json"
    idx.write_text(json.dumps(data))
    with caplog.at_level(logging.WARNING):
        ds = TranscriptionDataset(idx, "train", FE, 1.0, None, None)
    assert len(ds.entries) == 1 and caplog.text.count("skipping") == 2
    assert set(ds.bad_files) == {str(root / "Gone/MIDI/S00.mid"), str(root / tracks[0] / "MIDI/S00.mid")}
    data["entries"] = data["entries"][1:3]
    idx.write_text(json.dumps(data))
    with pytest.raises(DataError, match="no usable entries"):
        TranscriptionDataset(idx, "train", FE, 1.0, None, None)
    # an unreadable MIDI: random clips skip the entry, naming the file
    bad_midi = tmp_path / "broken"
    (bad_midi / "stems").mkdir(parents=True)
    (bad_midi / "MIDI").mkdir()
    sf.write(str(bad_midi / "stems" / "S00.wav"), np.zeros(SR, np.float32), SR)
    (bad_midi / "MIDI" / "S00.mid").write_bytes(b"MThd\x00")
    good = data["entries"][:0] + [{"track": tracks[0], "split": "train", "audio": str(root / tracks[0] / "stems/S00.wav"),
                                   "midi": str(root / tracks[0] / "MIDI/S00.mid")},
                                  {"track": "broken", "split": "train", "audio": "broken/stems/S00.wav",
                                   "midi": "broken/MIDI/S00.mid"},
                                  {"track": "v", "split": "validation", "audio": "broken/stems/S00.wav",
                                   "midi": "broken/MIDI/S00.mid"}]
    idx.write_text(json.dumps({"dataset_root": str(tmp_path), "entries": good}))
    ds = TranscriptionDataset(idx, "train", FE, 0.5, None, None, seed=3)
    with caplog.at_level(logging.WARNING):
        for i in range(12):
            assert ds[i]["audio"].shape == (SR // 2,)
    assert "S00.mid" in caplog.text and list(ds.bad_files) == [str(tmp_path / "broken/MIDI/S00.mid")]


def test_full_track_and_resampled_audio(tmp_path):
    _track(tmp_path, "T44", 3.0, 45, sr=22050)  # not the model's rate: resampled on read
    entry = {"track": "T44", "audio": "T44/stems/S00.wav", "midi": "T44/MIDI/S00.mid"}
    out = full_track(entry, tmp_path, FE)
    assert out["audio"].shape == (3 * SR,)
    assert out["onset"].shape == (FE.n_frames(3 * SR), 88)
    assert out["onset"].sum() == len(out["notes"]) == 5
    assert out["track"] == "T44"


def test_drum_clips_and_augmentation(tmp_path):
    for k in range(2):
        _track(tmp_path / "r", f"D{k}", 4.0, 0, drums=True)
    idx = _index(tmp_path / "i.json", str(tmp_path / "r"), ["D0", "D1"])
    classes = tx.STEM_DRUM_CLASSES["drums"]
    policy = {"gain_db": 6.0, "pitch_shift_semitones": 2, "time_stretch": 0.1, "noise_db": -40.0}
    ds = TranscriptionDataset(idx, "train", FE, 2.0, classes, policy, seed=0)
    assert ds.augment.percussive and ds.augment.pitch_shift_semitones == 0
    for i in range(6):
        item = ds[i]
        assert item["onset"].shape == (FE.n_frames(2 * SR), len(classes))
        hits = item["onset"].numpy()
        assert set(np.flatnonzero(hits.any(axis=0))) <= {classes.index("kick"), classes.index("snare")}


def _truncated_flac(path: Path, seconds: float = 8.0, keep: float = 0.5) -> Path:
    """A real FLAC (a loud note every 0.5 s) with its bytes cut: the header still declares the full length."""
    t = np.arange(int(seconds * SR)) / SR
    y = (0.3 * np.sin(2 * np.pi * 110 * t) * ((t % 0.5) < 0.3)).astype(np.float32)
    y += 0.01 * np.random.default_rng(0).standard_normal(y.size).astype(np.float32)
    sf.write(str(path), y, SR)
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    return path


@pytest.fixture()
def damaged(tmp_path):
    """One good 8 s stem and the Slakh-scale bad cases of issues 14/15."""
    root = tmp_path / "data"
    _track(root, "Good", 8.0, 40)
    for name in ("Cut", "Empty", "Header", "NoMidi", "Nan"):
        _track(root, name, 8.0, 45)
    (root / "Good" / "stems" / "S00.wav").rename(root / "Good" / "stems" / "S00.flac")  # WAV bytes, any ext
    _truncated_flac(root / "Cut" / "stems" / "S00.flac")
    (root / "Empty" / "stems" / "S00.flac").write_bytes(b"")  # 0-length stem
    sf.write(str(root / "Header" / "stems" / "S00.wav"), np.zeros((0, 1), np.float32), SR)  # header, 0 frames
    y = sf.read(str(root / "Nan" / "stems" / "S00.wav"), dtype="float32")[0]
    y[SR * 4: SR * 6] = np.nan
    sf.write(str(root / "Nan" / "stems" / "S00.wav"), y, SR, subtype="FLOAT")
    audio = {"Good": "stems/S00.flac", "Cut": "stems/S00.flac", "Empty": "stems/S00.flac",
             "Header": "stems/S00.wav", "NoMidi": "stems/S00.wav", "Nan": "stems/S00.wav"}
    entries = [{"track": t, "stem_id": "S00", "split": split, "audio": f"{t}/{a}",
                "midi": None if t == "NoMidi" else f"{t}/MIDI/S00.mid"}
               for split in ("train", "validation") for t, a in audio.items()]
    idx = tmp_path / "filtered_dataset_bass.json"
    idx.write_text(json.dumps({"stem": "bass", "dataset_root": str(root), "entries": entries}))
    return root, idx


def test_one_bad_file_never_stops_training(damaged, caplog):
    """Issue 14 item 3 / issue 15: a FLAC cut halfway, a 0-byte stem, a 0-frame stem,
    audio without MIDI and NaN samples: each skipped with one warning naming it,
    clips redrawn from the good stem, every file listed in ``bad_files``."""
    root, idx = damaged
    with caplog.at_level(logging.WARNING):
        ds = TranscriptionDataset(idx, "train", FE, 1.0, None, None, seed=0, cache_audio=False,
                                  clips_per_epoch=40)
        assert [e["track"] for e in ds.entries] == ["Good", "Cut", "Nan"]  # headers look fine
        for k in range(40):
            assert ds[k]["audio"].shape == (SR,)
    bad = ds.bad_files
    cut, nan = str(root / "Cut/stems/S00.flac"), str(root / "Nan/stems/S00.wav")
    assert set(bad) == {cut, nan, str(root / "Empty/stems/S00.flac"), str(root / "Header/stems/S00.wav"),
                        str(root / "NoMidi/stems/S00.wav")}
    assert "lost sync" in bad[cut] and re.search(r"^\d+ NaN and 0 infinite samples in frames \d+-\d+", bad[nan])
    assert "empty file (0 bytes)" in bad[str(root / "Empty/stems/S00.flac")]
    assert "no audio frames" in bad[str(root / "Header/stems/S00.wav")]
    assert "needs both audio and midi" in bad[str(root / "NoMidi/stems/S00.wav")]
    for path in bad:
        assert caplog.text.count(path) == 1, path  # one warning per file
    assert ds[0]["audio"].shape == (SR,) and len(ds.bad_files) == 5


def test_bad_files_found_in_loader_workers_reach_the_main_process(damaged):
    _, idx = damaged
    ds = TranscriptionDataset(idx, "train", FE, 1.0, None, None, seed=0, cache_audio=False, clips_per_epoch=32)
    loader = torch.utils.data.DataLoader(ds, batch_size=8, num_workers=2)
    assert sum(len(b["audio"]) for b in loader) == 32
    assert {Path(p).parent.parent.name for p in ds.bad_files} == {"Cut", "Nan", "Empty", "Header", "NoMidi"}


def test_validation_drops_bad_files_once_at_construction(damaged):
    root, idx = damaged
    for cache in (False, True):
        val = TranscriptionDataset(idx, "validation", FE, 2.0, None, None, cache_audio=cache)
        assert [e["track"] for e in val.entries] == ["Good"] and len(val) == 4
        assert str(root / "Cut/stems/S00.flac") in val.bad_files
        assert all(val[k]["audio"].shape == (2 * SR,) for k in range(len(val)))
    short = TranscriptionDataset(idx, "validation", FE, 2.0, None, None, cache_audio=False, max_clips_per_track=1)
    assert {e["track"] for e in short.entries} == {"Good", "Cut", "Nan"}  # the first 2 s decode


def test_every_entry_bad_is_a_data_error_naming_the_index(damaged, tmp_path):
    root, idx = damaged
    data = json.loads(idx.read_text())
    data["entries"] = [e for e in data["entries"] if e["track"] in ("Cut", "Nan") and e["split"] == "train"]
    only_bad = tmp_path / "only_bad.json"
    only_bad.write_text(json.dumps(data))
    ds = TranscriptionDataset(only_bad, "train", FE, 1.0, None, None, seed=0, cache_audio=False,
                              clips_per_epoch=50)
    with pytest.raises(DataError, match=r"only_bad\.json: every entry of split 'train' is unreadable"):
        for k in range(50):
            ds[k]
    data["entries"] = [dict(e, track="Empty", audio="Empty/stems/S00.flac") for e in data["entries"]]
    only_bad.write_text(json.dumps(data))
    with pytest.raises(DataError, match=r"only_bad\.json: no usable entries in split 'train'.*Empty"):
        TranscriptionDataset(only_bad, "train", FE, 1.0, None, None)
