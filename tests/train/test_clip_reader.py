"""clip_reader.py: whole tracks for evaluation and the dataset's reads (windows, notes, a
prepared layout's checks)."""
import numpy as np
import pytest

from helpers_data import sine_stem
from midi_extractor.config import FrontEndConfig
from midi_extractor.index_io import DataError
from midi_extractor.midi_notes import load_notes
from midi_extractor.train.clip_reader import ClipReader, full_track

FE = FrontEndConfig()
SR = FE.sample_rate_hz


def test_full_track_and_resampled_audio(tmp_path):
    sine_stem(tmp_path, "T44", 3.0, 45, sr=22050)  # not the model's rate: resampled on read
    entry = {"track": "T44", "audio": "T44/stems/S00.wav", "midi": "T44/MIDI/S00.mid"}
    out = full_track(entry, tmp_path, FE)
    assert out["audio"].shape == (3 * SR,)
    assert out["onset"].shape == (FE.n_frames(3 * SR), 88)
    assert out["onset"].sum() == len(out["notes"]) == 5
    assert out["track"] == "T44"


class _Reader(ClipReader):
    def __init__(self, entries, durations, audio=None, prepared=False):
        self.index_path, self.front_end, self.sr, self.drum_classes = "idx.json", FE, SR, None
        self.prepared, self.entries, self.durations, self._notes, self._audio = prepared, entries, durations, {}, audio


def test_windows_of_a_cached_track_are_zero_padded_past_its_end(tmp_path):
    sine_stem(tmp_path, "T1", 2.0, 45)
    entry = {"_audio": str(tmp_path / "T1/stems/S00.wav"), "_midi": str(tmp_path / "T1/MIDI/S00.mid")}
    full = np.arange(2 * SR, dtype=np.float32)
    cached = _Reader([entry], [2.0], audio={0: full})
    window = cached.read(0, 1.5, 1.0)
    assert window.shape == (SR,) and window.dtype == np.float32
    assert np.array_equal(window[:SR // 2], full[3 * SR // 2:]) and not window[SR // 2:].any()
    from_file = _Reader([entry], [2.0]).read(0, 0.5, 1.0)
    assert from_file.shape == (SR,) and np.abs(from_file).max() > 0.1
    assert np.array_equal(cached.notes(0), load_notes(entry["_midi"]))


def test_a_prepared_layout_for_another_rate_or_range_is_refused():
    reader = _Reader([], [])
    assert reader._check_prepared({}) is False
    assert reader._check_prepared({"prepared": {"sample_rate_hz": SR, "min_midi": FE.min_midi,
                                                "max_midi": FE.max_midi}}) is True
    with pytest.raises(DataError, match=f"idx.json: prepared at 8000 Hz but the model reads {SR} Hz"):
        reader._check_prepared({"prepared": {"sample_rate_hz": 8000}})
    with pytest.raises(DataError, match="notes prepared for MIDI 30-90"):
        reader._check_prepared({"prepared": {"sample_rate_hz": SR, "min_midi": 30, "max_midi": 90}})
