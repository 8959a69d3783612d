"""evaluate.intervals: pooled F1, seeded bootstrap intervals over tracks, domain blocks."""
import numpy as np

from midi_extractor.evaluate.intervals import bootstrap_f1, summarize


def _row(onset, frame=(0, 0, 0), groups=None, plugin="A", any_class=None, confusions=None):
    return {"counts": {"onset": onset, "onset_offset": onset, "onset_offset_velocity": onset, "frame": frame,
                       "groups": groups or {}, "onset_any_class": any_class or onset,
                       "confusions": confusions or {}}, "plugin_name": plugin}


def test_pooled_f1_weighs_tracks_by_their_notes():
    rows = [_row((9, 10, 10)), _row((0, 1, 1))]
    block = summarize(rows, drums=False)
    assert block["onset_f1"] == round(2 * 9 / 22, 4)  # not the mean of per-track F1 (0.45)
    assert block["n_tracks"] == 2 and block["n_ref_notes"] == 11


def test_bootstrap_is_seeded_and_brackets_the_pooled_score():
    rng = np.random.default_rng(1)
    counts = np.array([[tp, 20, 20] for tp in rng.integers(5, 20, 30)])
    low, high = bootstrap_f1(counts)
    assert bootstrap_f1(counts) == [low, high]
    pooled = 2 * counts[:, 0].sum() / (counts[:, 1].sum() + counts[:, 2].sum())
    assert low < pooled < high and high - low < 0.2
    assert bootstrap_f1(counts, seed=5) != [low, high]


def test_one_track_has_a_zero_width_interval_and_no_tracks_an_empty_block():
    assert bootstrap_f1(np.array([[3, 4, 4]])) == [0.75, 0.75]
    assert summarize([], drums=True) == {"n_tracks": 0, "n_ref_notes": 0}


def test_blocks_break_down_by_class_octave_and_source():
    drums = summarize([_row((1, 3, 1), groups={"kick": [1, 1, 1], "hihat": [0, 2, 0], "toms": [0, 0, 1]},
                            plugin="kitA"),
                       _row((2, 2, 2), groups={"kick": [2, 2, 2]}, plugin="kitB")], drums=True)
    assert drums["onset_f1_by_class"] == {"kick": 1.0, "hihat": 0.0}  # taxonomy order, reference classes only
    assert drums["by_class"][1] == {"class": "hihat", "n_ref_notes": 2, "onset_f1": 0.0, "ci95": [0.0, 0.0],
                                    "precision": 0.0, "recall": 0.0}
    assert drums["by_source"][0] == {"source": "kitA", "n_tracks": 1, "n_ref_notes": 3, "onset_f1": 0.5,
                                     "frame_f1": 0.0}
    assert drums["precision_recall"]["onset"] == [1.0, 0.6]
    assert set(drums["ci95"]) == {"onset_f1", "onset_offset_f1", "frame_f1"} and "by_octave" not in drums
    pitched = summarize([_row((2, 3, 2), groups={"0": [1, 1, 1], "4": [1, 2, 2], "10": [0, 0, 1]})], drums=False)
    assert pitched["by_octave"] == [{"octave": "0", "pitches": "A0-B0", "n_ref_notes": 1, "recall": 1.0},
                                    {"octave": "4", "pitches": "C4-B4", "n_ref_notes": 2, "recall": 0.5}]
    assert [s["source"] for s in pitched["by_source"]] == ["A"] and "onset_f1_by_class" not in pitched


def test_dvc_sees_the_scores_and_not_the_details():
    """dvc metrics show flattens dicts and drops lists: the visible keys of a block are its scores."""
    block = summarize([_row((1, 3, 1), groups={"kick": [1, 1, 1]})], drums=True)

    def visible(d, prefix=""):
        out = set()
        for k, v in d.items():
            out |= visible(v, f"{prefix}{k}.") if isinstance(v, dict) else ({prefix + k} if not isinstance(v, list)
                                                                            else set())
        return out

    assert visible(block) == {"n_tracks", "n_ref_notes", "onset_f1", "onset_offset_f1", "onset_offset_velocity_f1",
                              "frame_f1", "onset_f1_by_class.kick", "onset_any_class_f1"}


def test_drum_blocks_say_which_hits_were_heard_with_the_wrong_class():
    block = summarize([_row((1, 4, 4), groups={"kick": [1, 1, 1], "hihat": [0, 3, 0]}, any_class=(4, 4, 4),
                            confusions={"hihat>shaker": 2, "hihat>snare": 1}),
                       _row((2, 2, 3), groups={"kick": [2, 2, 2]}, any_class=(2, 2, 3),
                            confusions={"hihat>snare": 1})], drums=True)
    assert block["onset_f1"] == round(2 * 3 / 13, 4)
    assert block["onset_any_class_f1"] == round(2 * 6 / 13, 4)
    assert block["confusions"] == [{"reference": "hihat", "transcribed": "shaker", "n": 2},
                                   {"reference": "hihat", "transcribed": "snare", "n": 2}]
    assert "onset_any_class_f1" not in summarize([_row((1, 1, 1))], drums=False)
