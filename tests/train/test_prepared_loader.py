"""Training clips from a prepared layout (dataset/prepare.py -> train/clips.py): the same
labels and audio as from the 44.1 kHz source, and a prepared file that goes bad mid-run is
skipped with one warning instead of stopping the run."""
from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from midi_extractor.config import FrontEndConfig
from midi_extractor.dataset.prepare import prepare_index
from midi_extractor.index_io import DataError
from midi_extractor.train.augment import AugmentPolicy
from midi_extractor.train.clips import TranscriptionDataset

FE = FrontEndConfig()


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    """Three 44.1 kHz FLAC tracks (2 train, 1 validation) and one truncated halfway."""
    from helpers_data import write_track

    base = tmp_path_factory.mktemp("prepsrc")
    entries = []
    for k, split in enumerate(("train", "train", "validation", "train")):
        name = f"Track{k + 1:05d}"
        write_track(base / "data" / name, {"S00": {"program_num": 33, "n_notes": 8}}, sample_rate_hz=44100,
                    seconds=6.0, seed=k, ext="flac")
        entries.append({"track": name, "stem_id": "S00", "split": split,
                        "audio": f"{name}/stems/S00.flac", "midi": f"{name}/MIDI/S00.mid"})
    bad = base / "data" / "Track00004" / "stems" / "S00.flac"
    os.truncate(bad, bad.stat().st_size // 2)
    index = base / "filtered_dataset_bass.json"
    index.write_text(json.dumps({"stem": "bass", "dataset_root": str(base / "data"), "entries": entries}))
    return index


@pytest.fixture(scope="module")
def prepared_index(source, tmp_path_factory):
    out = tmp_path_factory.mktemp("prepout") / "bass"
    report = prepare_index(source, out, FE.sample_rate_hz)
    assert report["bad"] == 1 and any("Track00004" in k for k in report["bad_files"])
    return out / "index.json"


def test_validation_clips_match_the_source(source, prepared_index):
    kw = dict(deterministic=True, max_clips_per_track=3, cache_audio=False)
    raw = TranscriptionDataset(source, "validation", FE, 2.0, **kw)
    ready = TranscriptionDataset(prepared_index, "validation", FE, 2.0, **kw)
    assert ready.prepared and not raw.prepared and len(raw) == len(ready) == 3
    for i in range(3):
        a, b = raw[i], ready[i]
        for key in ("onset", "offset", "frame", "velocity"):
            assert torch.equal(a[key], b[key])
        assert torch.allclose(a["audio"], b["audio"], atol=1e-4)  # int16 storage


def test_random_clips_match_the_source_and_skip_the_truncated_file(source, prepared_index, caplog):
    """The truncated FLAC was left out by prepare; the source loader finds it while drawing."""
    policy = AugmentPolicy(role="melodic", gain_db=3.0, pitch_shift_semitones=1)
    ready = TranscriptionDataset(prepared_index, "train", FE, 2.0, None, policy, seed=1, clips_per_epoch=6)
    assert sorted(e["track"] for e in ready.entries) == ["Track00001", "Track00002"]
    items = [ready[i] for i in range(6)]
    assert all(it["audio"].shape == (2 * FE.sample_rate_hz,) and it["onset"].shape[1] == 88 for it in items)
    assert any(it["onset"].any() for it in items)


def test_a_prepared_file_gone_bad_mid_run_is_skipped(prepared_index, tmp_path, caplog):
    import shutil

    copy = tmp_path / "bass"
    shutil.copytree(prepared_index.parent, copy)
    ds = TranscriptionDataset(copy / "index.json", "train", FE, 2.0, seed=0, deterministic=False,
                              clips_per_epoch=20)
    victim = Path(ds.entries[0]["_audio"])
    victim.write_bytes(victim.read_bytes()[:100])  # cut inside the data: header says more frames
    with caplog.at_level(logging.WARNING, logger="midi_extractor.train.clips"):
        items = [ds[i] for i in range(20)]
    assert len(items) == 20
    found_now = {k: v for k, v in ds.bad_files.items() if not v.startswith("left out by prepare")}
    assert list(found_now) == [str(victim)]
    warnings = [r.getMessage() for r in caplog.records if str(victim) in r.getMessage()]
    assert len(warnings) == 1 and "skipping" in warnings[0]


def test_a_layout_prepared_at_another_rate_is_refused(prepared_index):
    with pytest.raises(DataError, match=r"prepared at 16000 Hz but the model reads 22050 Hz"):
        TranscriptionDataset(prepared_index, "train", FrontEndConfig(sample_rate_hz=22050), 2.0)


def test_prepared_reads_stay_small(prepared_index):
    """No audio cache and no parsed-MIDI cache on a prepared layout: memory per entry stays
    at the index row, whatever the set's size."""
    ds = TranscriptionDataset(prepared_index, "train", FE, 2.0, seed=0, deterministic=False, clips_per_epoch=10,
                              cache_audio=True)
    for i in range(10):
        ds[i]
    assert ds._audio is None and ds._notes == {}
    np.testing.assert_array_equal(ds.notes(0), ds.notes(0))


def test_device_mode_hands_int16_and_renders_the_prepared_clip(prepared_index):
    """Device mode on a prepared layout moves int16 through the loader; with nothing to
    augment the rendered clip equals the loader-side clip."""
    from midi_extractor.train.batch_augment import augment_batch, expand_rolls

    policy = AugmentPolicy(role="melodic")  # draws the identity
    kw = dict(seed=3, deterministic=False, clips_per_epoch=4)
    cpu = TranscriptionDataset(prepared_index, "train", FE, 2.0, None, policy, **kw)
    dev = TranscriptionDataset(prepared_index, "train", FE, 2.0, None, policy, augment_on_device=True, **kw)
    batch = torch.utils.data.default_collate([dev[i] for i in range(4)])
    assert batch["audio"].dtype == torch.int16
    rendered = augment_batch(batch["audio"], batch["augment"], FE.sample_rate_hz, 2 * FE.sample_rate_hz)
    batch.update(expand_rolls(batch))
    for i in range(4):
        ref = cpu[i]
        assert torch.equal(ref["onset"], batch["onset"][i])
        assert torch.allclose(ref["audio"], rendered[i], atol=1e-6)


def test_a_base_merges_prepared_indexes_of_several_stems(source, prepared_index, tmp_path):
    """pretrain's union of prepared indexes: entry paths re-rooted at the merged index's
    folder, which reads the same clips; mixing in a source index is refused."""
    from midi_extractor.config import ConfigError
    from midi_extractor.train.run import merge_indexes

    other = tmp_path / "prepared" / "piano"
    prepare_index(source, other, FE.sample_rate_hz)
    merged = merge_indexes([prepared_index, other / "index.json"], tmp_path / "base" / "index.json")
    data = json.loads(merged.read_text())
    assert data["prepared"]["sample_rate_hz"] == FE.sample_rate_hz
    assert [k for k in data["bad_files"] if "Track00004" in k]  # what prepare left out stays listed
    assert not any(Path(e["audio"]).is_absolute() for e in data["entries"])
    ds = TranscriptionDataset(merged, "validation", FE, 2.0, max_clips_per_track=1)
    single = TranscriptionDataset(prepared_index, "validation", FE, 2.0, max_clips_per_track=1)
    assert len(ds) == 2 and torch.equal(ds[0]["audio"], single[0]["audio"]) and torch.equal(ds[1]["audio"],
                                                                                             single[0]["audio"])
    with pytest.raises(ConfigError, match="mix prepared and source"):
        merge_indexes([prepared_index, source], tmp_path / "mixed.json")


def test_a_union_is_read_from_its_own_folder_whatever_the_current_one(source, prepared_index, tmp_path,
                                                                      monkeypatch):
    """A base's union of prepared folders that sit in different places (the pipeline's stems and
    songs written elsewhere): from a current folder where the first entry's relative path also
    exists, every entry is still read where the union points (before: the current folder won the
    probe and every other folder's entries were skipped as missing)."""
    from midi_extractor.index_io import read_index
    from midi_extractor.train.run import merge_indexes

    songs = tmp_path / "songs" / "piano"
    prepare_index(source, songs, FE.sample_rate_hz)
    union = merge_indexes([prepared_index, songs / "index.json"], tmp_path / "base" / "index.json")
    first = json.loads(union.read_text())["entries"][0]["audio"]
    decoy_cwd = tmp_path / "elsewhere" / "a" / "b" / "c"
    decoy_cwd.mkdir(parents=True)
    (decoy_cwd / first).parent.mkdir(parents=True, exist_ok=True)
    (decoy_cwd / first).write_bytes(b"not audio")
    monkeypatch.chdir(decoy_cwd)
    root, entries, _ = read_index(union)
    assert root == union.parent.resolve()
    assert all((root / e["audio"]).is_file() and (root / e["midi"]).is_file() for e in entries)
    ds = TranscriptionDataset(union, "train", FE, 2.0, max_clips_per_track=1)
    assert all(reason.startswith("left out by prepare") for reason in ds.bad_files.values())
    assert len(ds.entries) == len([e for e in entries if e["split"] == "train"]) == 4


def test_the_run_summary_lists_what_prepare_left_out(prepared_index, tmp_path, monkeypatch):
    """A training run on the prepared layout counts the truncated FLAC prepare skipped."""
    from midi_extractor.config import ModelConfig, Params, StemConfig
    from midi_extractor.train.run import train

    monkeypatch.setenv("MIDI_EXTRACTOR_TRACKING", "0")
    params = Params(features=FE, model=ModelConfig(size="small", conv_channels=8, rnn_units=8),
                    stems={"bass": StemConfig(role="melodic", epochs=1, steps_per_epoch=2, batch_size=2,
                                              clip_seconds=1.0, val_interval=2)})
    summary = train(prepared_index, "bass", tmp_path / "m", params, progress=False)
    skipped = summary["skipped_files"]
    assert summary["steps"] == 2 and len(skipped) == 1
    path, reason = next(iter(skipped.items()))
    assert "Track00004" in path and reason.startswith("left out by prepare:")
