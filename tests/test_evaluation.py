"""evaluation: score_notes identities and agreement with mir_eval, split fallback."""
import math

import mir_eval
import numpy as np
import pytest

from midi_extractor import taxonomy as tx
from midi_extractor.decoding import Note
from midi_extractor.evaluation import METRIC_KEYS, mean_metrics, notes_to_frames, score_notes, select_entries
from midi_extractor.midi_io import notes_to_arrays

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


def test_split_falls_back_to_validation_then_train():
    index = {"stem": "bass", "entries": [{"split": "train", "track": "a"}, {"split": "validation", "track": "b"}]}
    assert select_entries(index, "test") == ("validation", [index["entries"][1]])
    assert select_entries(index, "train") == ("train", [index["entries"][0]])
    index["entries"].pop(1)
    assert select_entries(index, "test")[0] == "train"
    with pytest.raises(ValueError, match="no entries"):
        select_entries({"stem": "bass", "entries": []}, "test")
