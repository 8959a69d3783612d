import json

from midi_extractor.evaluate.report import metrics_table


def test_table_has_a_row_per_stem_with_rounded_scores(tmp_path):
    (tmp_path / "bass.json").write_text(json.dumps(
        {"stem": "bass", "onset_f1": 0.71234, "onset_offset_f1": 0.5, "frame_f1": 0.8, "n_tracks": 4, "split": "test",
         "in_domain": {"onset_f1": 0.9}, "out_of_domain": {"onset_f1": 0.71234}}))
    (tmp_path / "drums.json").write_text(json.dumps({"stem": "drums", "onset_f1": 0.9}))
    lines = metrics_table(tmp_path).splitlines()
    assert lines[0].split() == ["stem", "onset_f1", "in_domain", "out_of_domain", "onset_offset_f1", "frame_f1",
                                "n_tracks", "split"]
    assert lines[1].split() == ["bass", "0.712", "0.900", "0.712", "0.500", "0.800", "4", "test"]
    assert lines[2].split() == ["drums", "0.900", "-", "-", "-", "-", "-", "-"]


def test_empty_folder(tmp_path):
    assert metrics_table(tmp_path) == f"no metrics in {tmp_path}"
