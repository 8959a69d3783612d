"""model.thresholds: the grid from params, the sweep on activations, decoding.json."""
import json
from dataclasses import replace

import numpy as np
import pytest

from midi_extractor.config import DecodingConfig, FrontEndConfig
from midi_extractor.model import thresholds as th
from midi_extractor.model.decoding import Note

FE = FrontEndConfig()
HOP = FE.hop_s


def _track(pitch=60, start=10, length=8):
    """Onset 0.35 at the true onset and 0.25 at a false one; frame 0.45 while the note
    sounds, 0.35 for 6 frames after it."""
    n = 60
    probs = {k: np.zeros((n, FE.n_pitches), np.float32) for k in ("onset", "frame")}
    c = pitch - FE.min_midi
    probs["onset"][start, c] = 0.35
    probs["onset"][40, c + 2] = 0.25
    probs["frame"][start:start + length, c] = 0.45
    probs["frame"][start + length:start + length + 6, c] = 0.35
    probs["frame"][40:46, c + 2] = 0.9
    ref = [Note(start * HOP, (start + length) * HOP, pitch, 100)]
    return ref, probs


def test_sweep_picks_the_best_onset_then_offset_point():
    grid = th.grid_from_decoding(replace(DecodingConfig(), onset_threshold="auto", frame_threshold="auto"), False)
    assert grid.swept and len(grid.points) == 12
    decision = th.decide((t for t in (_track(), _track(64))), FE, None, grid)  # one track at a time
    assert (decision["onset_threshold"], decision["frame_threshold"]) == (0.3, 0.4)
    assert decision["chosen_on"] == "validation" and decision["validation_onset_f1"] == 1.0
    by_point = {(g["onset_threshold"], g["frame_threshold"]): g for g in decision["grid"]}
    assert by_point[(0.2, 0.4)]["onset_f1"] < 1.0  # the false onset
    assert by_point[(0.4, 0.4)]["onset_f1"] == 0.0
    assert by_point[(0.3, 0.3)]["onset_offset_f1"] == 0.0 and by_point[(0.3, 0.4)]["onset_offset_f1"] == 1.0


def test_fixed_numbers_are_kept_and_drums_sweep_onsets_only():
    fixed = th.grid_from_decoding(DecodingConfig(onset_threshold=0.3, frame_threshold=0.4), False)
    assert fixed.points == [(0.3, 0.4, None)] and not fixed.swept
    assert th.decide([_track()], FE, None, fixed)["chosen_on"] == "params"
    drums = th.grid_from_decoding(replace(DecodingConfig(), onset_threshold="auto", frame_threshold="auto"), True)
    assert drums.onset == th.DEFAULT_ONSET_GRID and drums.frame == (0.5,)
    custom = replace(DecodingConfig(), onset_threshold=None)
    custom.onset_grid = [0.1, 0.6]
    assert th.grid_from_decoding(custom, True).onset == (0.1, 0.6)
    one = DecodingConfig(onset_threshold=0.3, frame_threshold=0.4)
    one.onset_grid, one.frame_grid = [0.6], [0.45]  # a one-value grid fixes the threshold
    assert th.grid_from_decoding(one, False).points == [(0.6, 0.45, None)] and not th.grid_from_decoding(one, False).swept
    with pytest.raises(ValueError, match="onset_threshold: expected a number or 'auto', got 'high'"):
        replace(DecodingConfig(), onset_threshold="high")  # refused when the section is made
    with pytest.raises(ValueError, match="between 0 and 1"):
        replace(custom, onset_grid=[0.0, 1.5])


def test_a_grid_in_params_is_swept_and_its_number_is_the_fallback():
    dec = DecodingConfig(onset_threshold=0.3, frame_threshold=0.4)
    dec.onset_grid, dec.frame_grid = [0.2, 0.5], [0.3, 0.5]
    grid = th.grid_from_decoding(dec, False)
    assert grid.swept and grid.points == [(0.2, 0.3, None), (0.2, 0.5, None), (0.5, 0.3, None), (0.5, 0.5, None)]
    fallback = th.decide([], FE, None, grid)
    assert (fallback["onset_threshold"], fallback["frame_threshold"], fallback["chosen_on"]) == (0.3, 0.4, "default")


def test_no_validation_track_falls_back_to_the_grid_middle(tmp_path):
    grid = th.grid_from_decoding(replace(DecodingConfig(), onset_threshold="auto", frame_threshold="auto"), False)
    decision = th.decide([], FE, None, grid)
    assert decision["chosen_on"] == "default" and decision["validation_onset_f1"] is None
    assert (decision["onset_threshold"], decision["frame_threshold"]) == (0.4, 0.4)
    path = th.write_decoding(tmp_path / "models" / "bass" / "decoding.json", decision)
    assert json.loads(path.read_text()) == decision
    assert not list(path.parent.glob("*.tmp"))


def test_ties_go_to_the_first_grid_point():
    results = [{"onset_f1": 0.5, "onset_offset_f1": 0.2}, {"onset_f1": 0.5, "onset_offset_f1": 0.3},
               {"onset_f1": 0.5, "onset_offset_f1": 0.3}]
    assert th.choose(results) is results[1]


def _swell(pitch=60, spurious=False):
    """A note that reaches the frame head only (frame 0.95, no onset); with ``spurious``, the
    reference holds nothing there instead, and a real note with a clear onset sits elsewhere."""
    probs = {k: np.zeros((60, FE.n_pitches), np.float32) for k in ("onset", "frame")}
    c = pitch - FE.min_midi
    probs["frame"][10:30, c] = 0.95
    probs["onset"][45, c + 3] = 0.9
    probs["frame"][45:50, c + 3] = 0.9
    ref = [Note(45 * HOP, 50 * HOP, pitch + 3, 100)]
    return ref if spurious else ref + [Note(10 * HOP, 30 * HOP, pitch, 100)], probs


def test_validation_chooses_whether_the_frame_head_starts_notes():
    dec = DecodingConfig(onset_threshold=0.5, frame_threshold=0.5)
    dec.frame_note_grid = [0.8, 0.97]
    grid = th.grid_from_decoding(dec, False)
    assert grid.swept and grid.points == [(0.5, 0.5, None), (0.5, 0.5, 0.8), (0.5, 0.5, 0.97)]
    heard = th.decide([_swell(), _swell(64)], FE, None, grid)
    assert heard["frame_note_threshold"] == 0.8 and heard["validation_onset_f1"] == 1.0
    assert [g["onset_f1"] for g in heard["grid"]] == [0.6667, 1.0, 0.6667]   # 2 of 4 found, 4 of 4, 2 of 4
    spurious = th.decide([_swell(spurious=True)], FE, None, grid)
    assert spurious["frame_note_threshold"] is None and spurious["validation_onset_f1"] == 1.0
    assert th.decide([], FE, None, grid)["frame_note_threshold"] is None   # no validation: none
    drums = th.grid_from_decoding(dec, True)
    assert drums.frame_note == (None,) and len(drums.points) == 1


def test_a_frame_note_threshold_is_a_probability_or_null():
    assert th.grid_from_decoding(DecodingConfig(frame_note_threshold=0.9), False).points == [(0.3, 0.4, 0.9)]
    with pytest.raises(ValueError, match="frame_note_threshold: a number between 0 and 1 or null"):
        DecodingConfig(frame_note_threshold="auto").check("decoding")
    with pytest.raises(ValueError, match="frame_note_threshold must lie between 0 and 1"):
        DecodingConfig(frame_note_threshold=1.2).check("decoding")
    with pytest.raises(ValueError, match="frame_note_grid: thresholds must lie between 0 and 1"):
        DecodingConfig(frame_note_grid=[0.5, 1.0]).check("decoding")
