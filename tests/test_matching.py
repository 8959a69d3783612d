"""matching: the one home of note matching, the onset tolerance, P/R/F1 and MIDI -> Hz."""
import mir_eval
import numpy as np
import pretty_midi
import pytest

from midi_extractor.matching import (NOTE_FIGURES, ONSET_TOLERANCE_S, f1_from_counts, match_counts, match_notes,
                                     midi_to_hz, notes_to_arrays, prf)
from midi_extractor.model.decoding import Note

NOTES = [Note(0.5, 1.0, 69, 90), Note(0.0, 0.25, 60, 100)]


def test_mir_eval_arrays():
    intervals, pitches, velocities = notes_to_arrays(NOTES)
    np.testing.assert_allclose(intervals, [[0.5, 1.0], [0.0, 0.25]])
    np.testing.assert_allclose(pitches, [440.0, pretty_midi.note_number_to_hz(60)])
    np.testing.assert_allclose(velocities, [90, 100])
    i, p, v = notes_to_arrays([])
    assert i.shape == (0, 2) and p.shape == (0,) and v.shape == (0,)
    zero = notes_to_arrays([Note(1.0, 1.0, 60, 80)])[0]
    assert zero[0, 1] > zero[0, 0]  # mir_eval needs positive durations


def test_midi_to_hz_is_pretty_midis_to_the_bit():
    pitches = np.arange(128)
    assert np.array_equal(midi_to_hz(pitches), pretty_midi.note_number_to_hz(pitches.astype(float)))
    assert midi_to_hz(69) == 440.0


def test_onset_tolerance_is_mir_evals_default():
    assert ONSET_TOLERANCE_S == 0.05


def test_match_notes_per_figure():
    est = [Note(0.53, 1.4, 69, 90), Note(0.01, 0.25, 60, 30)]  # 1st: offset off by 0.4 s; 2nd: velocity off
    m = match_notes(NOTES, est, NOTE_FIGURES)
    assert sorted(m["onset"]) == [(0, 0), (1, 1)]
    assert m["onset_offset"] == [(1, 1)]
    assert match_counts(NOTES, est, NOTE_FIGURES)["onset_offset"] == (1, 2, 2)
    assert match_notes(NOTES, [Note(0.56, 1.0, 69, 90)])["onset"] == []  # 60 ms late
    assert match_notes(NOTES, [Note(0.56, 1.0, 69, 90)], onset_tolerance=0.07)["onset"] == [(0, 0)]


def test_empty_sides_match_nothing():
    assert match_counts([], NOTES, NOTE_FIGURES) == {f: (0, 0, 2) for f in NOTE_FIGURES}
    assert match_notes(NOTES, [], ("onset",)) == {"onset": []}
    with pytest.raises(ValueError, match="unknown note figure"):
        match_notes(NOTES, NOTES, ("frame",))


def test_prf_and_pooled_f1_agree_with_mir_eval():
    ref, est = notes_to_arrays(NOTES)[:2], notes_to_arrays(NOTES[:1])[:2]
    p, r, f, _ = mir_eval.transcription.precision_recall_f1_overlap(*ref, *est, offset_ratio=None)
    assert prf(*match_counts(NOTES, NOTES[:1])["onset"]) == pytest.approx((p, r, f))
    assert f1_from_counts(1, 2, 1) == pytest.approx(f)
    assert prf(0, 0, 3) == (0.0, 0.0, 0.0) and f1_from_counts(0, 0, 0) == 0.0
