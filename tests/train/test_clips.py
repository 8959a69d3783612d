import dataclasses
import json
import shutil
import logging
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from helpers_data import sine_stem
from midi_extractor import taxonomy as tx
from midi_extractor.config import FrontEndConfig
from midi_extractor.index_io import DataError, load_index, select_split
from midi_extractor.train.clips import TranscriptionDataset

FE = FrontEndConfig()
SR = FE.sample_rate_hz


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
        sine_stem(base / "data" / "generated", t, 6.0, 40 + k)
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
    shutil.copytree(root / tracks[0], tmp_path / tracks[0])  # inside the index's root: paths may not leave it
    good = data["entries"][:0] + [{"track": tracks[0], "split": "train", "audio": f"{tracks[0]}/stems/S00.wav",
                                   "midi": f"{tracks[0]}/MIDI/S00.mid"},
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


def test_drum_clips_and_augmentation(tmp_path):
    for k in range(2):
        sine_stem(tmp_path / "r", f"D{k}", 4.0, 0, drums=True)
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


def test_a_raw_index_stem_whose_notes_run_past_its_audio_is_skipped_naming_it(tmp_path, caplog):
    """Training from a source (unprepared) index applies prepare's label-fit rule: a stem whose
    MIDI runs 5 s past its 2-s audio is left out as a bad file, its problem named."""
    import pretty_midi

    sine_stem(tmp_path, "Good", 2.0, 45)
    sine_stem(tmp_path, "Long", 2.0, 45)
    sine_stem(tmp_path, "Val", 2.0, 45)
    pm = pretty_midi.PrettyMIDI(str(tmp_path / "Long/MIDI/S00.mid"))
    pm.instruments[0].notes.append(pretty_midi.Note(90, 50, 6.5, 7.0))
    pm.write(str(tmp_path / "Long/MIDI/S00.mid"))
    entries = [{"track": t, "stem_id": "S00", "split": s, "audio": f"{t}/stems/S00.wav", "midi": f"{t}/MIDI/S00.mid"}
               for t, s in (("Good", "train"), ("Long", "train"), ("Val", "validation"))]
    idx = tmp_path / "index.json"
    idx.write_text(json.dumps({"stem": "bass", "dataset_root": str(tmp_path), "entries": entries}))
    with caplog.at_level(logging.WARNING):
        ds = TranscriptionDataset(idx, "train", FE, 1.0, None, None, seed=0, deterministic=True)
    assert [e["track"] for e in ds.entries] == ["Good"]
    (problem,) = ds.bad_files.values()
    assert "notes run to 7.00 s but the audio lasts 2.00 s" in problem


def test_clips_longer_than_every_training_track_are_said_once(tmp_path, caplog):
    """clip_seconds 5 over tracks of 2 s: one warning naming the stem, the clip length, the longest
    track and the key to set; a clip that fits says nothing."""
    from helpers_training import tiny_params, write_sine_set
    from midi_extractor.train import data
    from midi_extractor.train.state import Job

    index = write_sine_set(tmp_path / "sines", n_tracks=3, seconds=2.0)  # 2 train tracks, 1 validation
    said_for_5 = ("bass: clip_seconds 5 is longer than every training track (the longest of 2 is 2.00 s): each "
                  "clip is a whole track padded with silence; set stems.bass.clip_seconds to 2.0 or less")
    for clip_s, want in ((5.0, [said_for_5]), (1.0, [])):
        params = tiny_params(clip_seconds=clip_s)
        job = Job("bass", "melodic", params.stems["bass"], params.role("bass"), params, index, tmp_path / "out")
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="midi_extractor"):
            data.datasets(job, val_clips_per_track=1)
        assert [r.getMessage() for r in caplog.records if "clip_seconds" in r.getMessage()] == want


def test_a_policy_with_bleed_over_an_index_without_it_is_said_once(tmp_path, caplog):
    """bleed_db set (the shipped melodic role) but no entry prepared with its song: one warning
    naming the index and how to prepare it; without bleed_db nothing."""
    from helpers_training import tiny_params, write_sine_set
    from midi_extractor.train import data
    from midi_extractor.train.state import Job

    index = write_sine_set(tmp_path / "sines", n_tracks=3, seconds=2.0)
    params = tiny_params(clip_seconds=1.0)
    for bleed_db, want in ((10.0, 1), (None, 0)):
        role = dataclasses.replace(params.role("bass"),
                                   augment=dataclasses.replace(params.role("bass").augment, bleed_db=bleed_db))
        job = Job("bass", "melodic", params.stems["bass"], role, params, index, tmp_path / "out")
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="midi_extractor"):
            data.datasets(job, val_clips_per_track=1)
        said = [r.getMessage() for r in caplog.records if "bleed" in r.getMessage()]
        assert len(said) == want
        if want:
            assert said[0].startswith(f"{index}: augment.bleed_db is 10 but no training entry has its song's bleed")
            assert "dvc repro prepare@<stem>" in said[0]
