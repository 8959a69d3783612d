"""train.bad_files: bad files never stop a run. A FLAC cut halfway, a 0-byte stem, a 0-frame stem,
audio without MIDI and NaN samples are each skipped with one warning naming the file, listed in
``bad_files`` (also when a DataLoader worker found them), dropped once at construction for
validation, and a split with nothing usable left is a DataError naming the index."""
import json
import logging
import re
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from helpers_data import sine_stem
from midi_extractor.config import FrontEndConfig
from midi_extractor.index_io import DataError
from midi_extractor.train.clips import TranscriptionDataset

FE = FrontEndConfig()
SR = FE.sample_rate_hz


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
    sine_stem(root, "Good", 8.0, 40)
    for name in ("Cut", "Empty", "Header", "NoMidi", "Nan"):
        sine_stem(root, name, 8.0, 45)
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
