"""evaluation scoring: score_notes identities and agreement with mir_eval, counts that pool over
tracks, drum classes and octaves."""
import math

import mir_eval
import numpy as np
import pytest

from midi_extractor import taxonomy as tx
from midi_extractor.model.decoding import Note
from midi_extractor.evaluate.scoring import (METRIC_KEYS, mean_metrics, notes_to_frames, octave_of, score_notes,
                                             track_counts)
from midi_extractor.matching import notes_to_arrays

rng = np.random.default_rng(0)
REF = sorted(Note(float(s), float(s + d), int(p), int(v)) for s, d, p, v in zip(
    np.round(rng.uniform(0, 10, 40), 3), np.round(rng.uniform(0.1, 0.8, 40), 3),
    rng.integers(40, 80, 40), rng.integers(30, 120, 40)))


def shifted(notes, dt):
    return [Note(n.start_s + dt, n.end_s + dt, n.pitch, n.velocity) for n in notes]


def test_reference_against_itself_is_perfect():
    scores = score_notes(REF, REF)
    for key in METRIC_KEYS:
        assert scores[key] == pytest.approx(1.0), key


def test_shifted_copy_matches_mir_eval_exactly():
    est = shifted(REF, 0.1)
    scores = score_notes(REF, est, hop_s=0.01)
    ri, rp, rv = notes_to_arrays(REF)
    ei, ep, ev = notes_to_arrays(est)
    on = mir_eval.transcription.precision_recall_f1_overlap(ri, rp, ei, ep, offset_ratio=None)
    assert (scores["onset_precision"], scores["onset_recall"], scores["onset_f1"]) == tuple(map(float, on[:3]))
    assert scores["onset_offset_f1"] == float(mir_eval.transcription.precision_recall_f1_overlap(ri, rp, ei, ep)[2])
    assert scores["onset_offset_velocity_f1"] == float(
        mir_eval.transcription_velocity.precision_recall_f1_overlap(ri, rp, rv, ei, ep, ev)[2])
    n = int(math.ceil(max(n.end_s for n in est) / 0.01)) + 1
    mp = mir_eval.multipitch.metrics(*notes_to_frames(REF, 0.01, n), *notes_to_frames(est, 0.01, n))
    assert scores["frame_precision"] == float(mp[0]) and scores["frame_recall"] == float(mp[1])
    assert scores["onset_f1"] == 0.0  # 100 ms is outside the 50 ms window
    assert 0.0 < scores["frame_f1"] < 1.0


def test_small_shift_within_tolerance_keeps_onsets():
    assert score_notes(REF, shifted(REF, 0.03))["onset_f1"] == 1.0


def test_empty_estimate_scores_zero():
    scores = score_notes(REF, [])
    assert all(scores[k] == 0.0 for k in METRIC_KEYS)


def test_drum_classes_score_separately():
    kick, snare = tx.DRUM_CLASS_PITCH["kick"], tx.DRUM_CLASS_PITCH["snare"]
    ref = [Note(t, t + 0.1, kick, 100) for t in (0.0, 1.0, 2.0)] + [Note(0.5, 0.6, snare, 100)]
    est = [Note(t, t + 0.1, kick, 100) for t in (0.0, 1.0, 2.0)] + [Note(1.5, 1.6, snare, 100)]
    scores = score_notes(ref, est, drum_classes=tx.STEM_DRUM_CLASSES["drums"])
    assert scores["onset_f1_kick"] == 1.0 and scores["onset_f1_snare"] == 0.0
    assert math.isnan(scores["onset_f1_toms"])
    assert scores["onset_f1"] == pytest.approx(0.75)
    means = mean_metrics([scores, {**scores, "onset_f1_toms": 0.5}], ["onset_f1_kick", "onset_f1_toms"])
    assert means == {"onset_f1_kick": 1.0, "onset_f1_toms": 0.5}


def test_counts_give_mir_eval_figures_and_frame_cells():
    est = shifted(REF, 0.03)[5:] + [Note(20.0, 20.5, 60, 90)]
    counts = track_counts(REF, est, hop_s=0.01)
    tp, n_ref, n_est = counts["onset"]
    assert (n_ref, n_est) == (40, 36) and tp == 35
    scores = score_notes(REF, est, hop_s=0.01)
    assert scores["onset_precision"] == tp / n_est and scores["onset_recall"] == tp / n_ref
    n = int(math.ceil(20.5 / 0.01)) + 1
    mp = mir_eval.multipitch.metrics(*notes_to_frames(REF, 0.01, n), *notes_to_frames(est, 0.01, n))
    ftp, fref, fest = counts["frame"]
    assert (ftp / fest, ftp / fref) == (float(mp[0]), float(mp[1]))


def test_octaves_are_c_octaves():
    assert [octave_of(p) for p in (21, 23, 24, 35, 36, 59, 60, 108)] == ["0", "0", "1", "1", "2", "3", "4", "8"]
    ref = [Note(0.0, 0.5, 28, 100), Note(1.0, 1.5, 69, 100), Note(2.0, 2.5, 71, 100)]  # E1, A4, B4
    groups = track_counts(ref, ref[1:])["groups"]
    assert groups == {"1": [0, 1, 0], "4": [2, 2, 2]}


def test_drum_groups_cover_every_class_of_the_reference():
    hat, kick = tx.DRUM_CLASS_PITCH["hihat"], tx.DRUM_CLASS_PITCH["kick"]
    ref = [Note(0.0, 0.1, kick, 100), Note(0.5, 0.6, hat, 100), Note(1.0, 1.1, hat, 100)]
    est = [Note(0.0, 0.1, kick, 100)]  # a model that has no hi-hat output
    counts = track_counts(ref, est, drums=True)
    assert counts["groups"] == {"kick": [1, 1, 1], "hihat": [0, 2, 0]}
    assert counts["onset"] == (1, 3, 1)


def test_drum_hits_heard_with_another_class_are_counted_as_confusions():
    hat, shaker, kick, snare = (tx.DRUM_CLASS_PITCH[c] for c in ("hihat", "shaker", "kick", "snare"))
    ref = [Note(0.0, 0.1, kick, 100), Note(0.5, 0.6, hat, 100), Note(1.0, 1.1, hat, 100), Note(1.5, 1.6, hat, 100)]
    est = [Note(0.01, 0.1, kick, 100), Note(0.52, 0.6, shaker, 100), Note(1.0, 1.1, snare, 100),
           Note(1.2, 1.3, snare, 100), Note(1.58, 1.7, hat, 100)]   # the last is 80 ms late: no hit
    counts = track_counts(ref, est, drums=True)
    assert counts["onset"] == (1, 4, 5)
    assert counts["onset_any_class"] == (3, 4, 5)
    assert counts["confusions"] == {"hihat>shaker": 1, "hihat>snare": 1}
    assert "onset_any_class" not in track_counts(REF, REF)


