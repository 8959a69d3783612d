"""evaluate.outputs: the per-track CSV (in-domain first, rounded scores, a drum class column
blank where a track has none of it), the metrics' headline domain, the closing line, and the
flat names MLflow logs."""
import csv

import pytest

from midi_extractor.evaluate import outputs
from midi_extractor.evaluate.scoring import METRIC_KEYS


def _row(track, domain, f1, plugin="TimGM6mb", groups=None):
    return {"track": track, "domain": domain, "plugin_name": plugin, "n_ref_notes": 4, "n_est_notes": 5,
            **{k: f1 for k in METRIC_KEYS}, "counts": {"groups": groups or {}}}


def test_the_tracks_csv_lists_in_domain_first_with_rounded_scores(tmp_path):
    rows = [_row("T3/S01", "out_of_domain", 0.5), _row("T2/S01", "in_domain", 1 / 3, plugin=None),
            _row("T1/S01", "in_domain", 1.0)]
    path = outputs.write_tracks_csv(tmp_path / "metrics" / "bass_tracks.csv", rows)
    read = list(csv.DictReader(path.open()))
    assert [(r["track"], r["domain"]) for r in read] == [("T1/S01", "in_domain"), ("T2/S01", "in_domain"),
                                                         ("T3/S01", "out_of_domain")]
    assert read[1]["plugin_name"] == "" and read[1]["onset_f1"] == "0.333333" and read[0]["onset_f1"] == "1.0"
    assert list(read[0]) == ["track", "domain", "plugin_name", "n_ref_notes", "n_est_notes", *METRIC_KEYS]
    assert not list(path.parent.glob("*.tmp"))


def test_drum_class_columns_are_blank_without_notes_of_the_class(tmp_path):
    rows = [_row("T1/S01", "in_domain", 0.5, groups={"kick": (2, 2, 2), "snare": (1, 2, 2)})]
    path = outputs.write_tracks_csv(tmp_path / "drums_tracks.csv", rows, ("kick", "snare", "toms"))
    row = next(csv.DictReader(path.open()))
    assert (row["onset_f1_kick"], row["onset_f1_snare"], row["onset_f1_toms"]) == ("1.0", "0.5", "")


def _block(n_tracks, f1=0.0):
    if not n_tracks:
        return {"n_tracks": 0, "n_ref_notes": 0}
    return {"n_tracks": n_tracks, "n_ref_notes": 10 * n_tracks, "onset_f1": f1, "onset_offset_f1": f1 / 2,
            "frame_f1": f1, "ci95": {"onset_f1": [f1 - 0.1, f1 + 0.05]}, "precision_recall": {"onset": [0.9, 0.8]},
            "by_octave": [{"octave": "4", "recall": 0.75}], "by_source": [{"source": "OPL3", "onset_f1": f1,
                                                                           "frame_f1": f1, "n_tracks": n_tracks}]}


def test_the_closing_line_names_both_domains_and_the_metrics_file():
    decoding = {"onset_threshold": 0.3, "frame_threshold": 0.4, "chosen_on": "validation", "validation_onset_f1": 0.9}
    metrics = {"split": "test", "in_domain": _block(2, 0.8), "out_of_domain": _block(0)}
    line = outputs.closing_line("bass", metrics, decoding, "metrics/bass.json")
    assert line == ("evaluate bass: onset threshold 0.30, frame threshold 0.40, frame notes none (chosen on "
                    "validation, validation "
                    "onset F1 0.900); test onset F1 in-domain 0.800 [0.700, 0.850] (2 tracks, 20 notes), "
                    "out-of-domain no tracks; metrics -> metrics/bass.json")
    unwritten = outputs.closing_line("bass", metrics, {**decoding, "validation_onset_f1": None}, None)
    assert "(chosen on validation)" in unwritten and unwritten.endswith("metrics -> (not written)")
    framed = outputs.closing_line("strings_ensemble", metrics, {**decoding, "frame_note_threshold": 0.9}, None)
    assert "frame threshold 0.40, frame notes 0.90 (chosen on validation" in framed


def test_flat_metrics_name_every_number_once():
    metrics = {"onset_f1": 0.6, "onset_offset_f1": 0.3, "frame_f1": 0.6, "n_tracks": 3, "n_skipped": 0,
               "decoding": {"onset_threshold": 0.3, "frame_threshold": 0.4, "chosen_on": "validation",
                            "validation_onset_f1": 0.9},
               "in_domain": _block(1, 0.8), "out_of_domain": _block(2, 0.6)}
    flat = outputs.flat_metrics(metrics)
    assert flat["onset_f1"] == 0.6 and flat["decoding.onset_threshold"] == 0.3 and flat["validation_onset_f1"] == 0.9
    assert flat["out_of_domain.onset_f1"] == 0.6 and flat["in_domain.n_tracks"] == 1.0
    assert flat["out_of_domain.onset_f1_ci95_low"] == pytest.approx(0.5)
    assert (flat["in_domain.onset_precision"], flat["in_domain.onset_recall"]) == (0.9, 0.8)
    assert flat["in_domain.recall_octave_4"] == 0.75 and flat["out_of_domain.source.OPL3.n_tracks"] == 2.0
    assert all(isinstance(v, float) for v in flat.values()) and "chosen_on" not in str(list(flat))
