"""decoding: hand-built activations -> exact notes."""
import numpy as np
import pytest

from midi_extractor import taxonomy as tx
from midi_extractor.config import FrontEndConfig
from midi_extractor.model.decoding import Note, decode, decode_drums, decode_notes, pick_onsets

FE = FrontEndConfig(sample_rate_hz=100, hop_length=1, min_midi=60, max_midi=63)  # 1 frame = 10 ms, 4 pitches
HOP = FE.hop_s


def acts(T=20, P=4):
    return np.zeros((T, P), np.float32), np.zeros((T, P), np.float32), np.zeros((T, P), np.float32)


def test_pick_onsets_takes_the_peak_of_each_run():
    onset = np.array([[0.0, 0.6], [0.7, 0.9], [0.9, 0.2], [0.8, 0.0], [0.1, 0.6], [0.6, 0.6]], np.float32)
    assert pick_onsets(onset, 0.5) == [(1, 1), (2, 0), (4, 1), (5, 0)]
    assert pick_onsets(np.zeros((3, 2)), 0.5) == []


def test_one_note_with_frame_continuation_and_velocity():
    onset, frame, vel = acts()
    onset[3, 1] = 0.9
    frame[3:8, 1] = 0.8
    frame[8, 1] = 0.49  # below threshold: the note ends here
    frame[9:12, 1] = 0.9  # no onset: not a note
    vel[3, 1] = 0.5
    notes = decode_notes(onset, frame, vel, FE, 0.5, 0.5, 0.0)
    assert notes == [Note(3 * HOP, 8 * HOP, 61, 64)]


def test_repeated_onset_splits_a_sustained_pitch():
    onset, frame, vel = acts()
    onset[2, 0] = onset[6, 0] = 0.8
    frame[2:10, 0] = 0.9
    vel[2, 0], vel[6, 0] = 1.0, 0.0
    notes = decode_notes(onset, frame, vel, FE, 0.5, 0.5, 0.0)
    assert notes == [Note(2 * HOP, 6 * HOP, 60, 127), Note(6 * HOP, 10 * HOP, 60, 1)]


def test_thresholds_and_min_note_length():
    onset, frame, vel = acts()
    onset[1, 2] = 0.6; frame[1:3, 2] = 0.7  # 2 frames = 20 ms
    onset[10, 3] = 0.4; frame[10:18, 3] = 0.9  # onset below 0.5
    vel[:] = 0.8
    assert decode_notes(onset, frame, vel, FE, 0.5, 0.5, 0.0) == [Note(HOP, 3 * HOP, 62, 102)]
    assert decode_notes(onset, frame, vel, FE, 0.5, 0.5, 0.03) == []
    assert decode_notes(onset, frame, vel, FE, 0.5, 0.8, 0.0) == [Note(HOP, 2 * HOP, 62, 102)]  # 1 frame min
    assert decode_notes(onset, frame, vel, FE, 0.35, 0.5, 0.0) == [Note(HOP, 3 * HOP, 62, 102),
                                                                   Note(10 * HOP, 18 * HOP, 63, 102)]


def test_note_running_to_the_end_and_sorting():
    onset, frame, vel = acts(T=6)
    onset[4, 0] = onset[4, 3] = onset[0, 2] = 0.9
    frame[4:, 0] = frame[4:, 3] = 0.9
    notes = decode_notes(onset, frame, None, FE, 0.5, 0.5, 0.0)
    assert notes == [Note(0.0, HOP, 62, 100), Note(4 * HOP, 6 * HOP, 60, 100), Note(4 * HOP, 6 * HOP, 63, 100)]


def test_shape_mismatch_is_an_error():
    with pytest.raises(ValueError, match="frame"):
        decode_notes(np.zeros((5, 4)), np.zeros((5, 3)), None, FE)


def test_drums_use_class_pitch_and_fixed_length():
    classes = tx.STEM_DRUM_CLASSES["drums"]  # kick, snare, toms, other_perc
    onset = np.zeros((20, 4), np.float32)
    vel = np.full((20, 4), 0.5, np.float32)
    onset[2, 0] = 0.9; onset[3, 0] = 0.95  # one kick, peak at frame 3
    onset[10, 1] = 0.7
    notes = decode_drums(onset, vel, classes, FE, 0.5, 0.1)
    assert notes == [Note(3 * HOP, 3 * HOP + 0.1, 36, 64), Note(10 * HOP, 10 * HOP + 0.1, 38, 64)]
    assert decode({"onset": onset, "frame": onset, "velocity": vel}, FE, classes, drum_note_s=0.1) == notes
    with pytest.raises(ValueError, match="drum classes"):
        decode_drums(onset, vel, ("hihat",), FE)


def test_a_sustained_pitch_no_onset_started_is_a_note_when_the_frame_head_is_sure():
    onset, frame, vel = acts(T=30)
    frame[5:15, 1] = 0.95                       # a swell: the frame head hears it, the onset head does not
    frame[20:24, 2] = 0.6                       # a hesitant run: mean 0.6
    vel[5, 1] = 0.5
    assert decode_notes(onset, frame, vel, FE, 0.5, 0.5, 0.0) == []   # off by default
    assert decode_notes(onset, frame, vel, FE, 0.5, 0.5, 0.0, frame_note_threshold=0.9) == [
        Note(5 * HOP, 15 * HOP, 61, 64)]
    assert decode_notes(onset, frame, vel, FE, 0.5, 0.5, 0.0, frame_note_threshold=0.5) == [
        Note(5 * HOP, 15 * HOP, 61, 64), Note(20 * HOP, 24 * HOP, 62, 1)]  # velocity head 0 there
    assert decode_notes(onset, frame, vel, FE, 0.5, 0.5, 0.0, frame_note_threshold=0.96) == []
    assert decode_notes(onset, frame, vel, FE, 0.5, 0.5, 0.05, frame_note_threshold=0.5) == [
        Note(5 * HOP, 15 * HOP, 61, 64)]        # min_note_s holds for them too: the 40 ms run goes
    assert decode(dict(onset=onset, frame=frame, velocity=vel), FE, None, 0.5, 0.5, 0.0, 0.1, 0.9) == [
        Note(5 * HOP, 15 * HOP, 61, 64)]


def test_a_run_an_onset_started_is_not_a_second_note():
    onset, frame, vel = acts(T=40)
    onset[6, 0] = 0.9
    frame[4:16, 0] = 0.95                       # rises two frames before its onset: one note
    frame[20:25, 0] = 0.95                      # later, no onset: a note of its own
    frame[30:33, 3] = 0.95; onset[33, 3] = 0.9  # ends on the frame where an onset starts: that note's lead-in
    notes = decode_notes(onset, frame, None, FE, 0.5, 0.5, 0.0, frame_note_threshold=0.9)
    assert notes == [Note(6 * HOP, 16 * HOP, 60, 100), Note(20 * HOP, 25 * HOP, 60, 100),
                     Note(33 * HOP, 34 * HOP, 63, 100)]
