"""slakh_layout.py: the three layouts of the real-data fixture and the flat layout's split."""
from __future__ import annotations

from collections import Counter

import pytest

from helpers_data import SLAKH_SAMPLE
from midi_extractor.dataset import slakh_layout

BABY = SLAKH_SAMPLE / "babyslakh_16k"
REDUX = SLAKH_SAMPLE / "slakh2100_flac_redux"
ONE_MIDI = BABY / "Track00007"


def test_layouts_are_detected():
    assert slakh_layout.detect_layout(BABY) == "flat"
    assert slakh_layout.detect_layout(REDUX) == "split"
    assert slakh_layout.detect_layout(ONE_MIDI) == "track"


def test_no_tracks_and_missing_root_name_the_folder(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match=r"empty: no Slakh-format tracks found"):
        slakh_layout.detect_layout(tmp_path / "empty")
    with pytest.raises(FileNotFoundError, match=r"nowhere: dataset root not found"):
        slakh_layout.detect_layout(tmp_path / "nowhere")


def test_flat_split_is_deterministic_and_follows_the_fractions():
    assert slakh_layout.flat_split("Track00001") == slakh_layout.flat_split("Track00001")
    counts = Counter(slakh_layout.flat_split(f"Track{k:05d}") for k in range(3000))
    assert set(counts) == set(slakh_layout.SPLIT_FRACTIONS)
    for split, frac in slakh_layout.SPLIT_FRACTIONS.items():
        assert abs(counts[split] / 3000 - frac) < 0.03, counts
    assert abs(sum(slakh_layout.SPLIT_FRACTIONS.values()) - 1.0) < 1e-9
