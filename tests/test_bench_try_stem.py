"""benchmarks/try_stem.py: overrides land where their dotted keys say, typed as numbers, a typo is
refused by name; the printed line is computed from the run's files."""
import csv
import json

import pytest

from helpers_data import script_module


@pytest.fixture(scope="module")
def bench():
    return script_module("benchmarks/try_stem.py")


def test_overrides_set_nested_keys_as_numbers_and_leave_the_input(bench):
    params = {"stems": {"piano": {"lr": 3.0e-4, "loss_weights": {"octave": 4}}}, "dataset": {"root": "data"}}
    out = bench.overridden(params, ["stems.piano.lr=2e-3", "stems.piano.loss_weights.octave=8"])
    assert out["stems"]["piano"]["lr"] == pytest.approx(0.002)
    assert isinstance(out["stems"]["piano"]["lr"], float)
    assert out["stems"]["piano"]["loss_weights"]["octave"] == 8
    assert params["stems"]["piano"]["lr"] == 3.0e-4   # a copy


@pytest.mark.parametrize("item, message", [("stems.piano.lrr=1e-3", "stems.piano.lrr: no such key"),
                                           ("stems.violin.lr=1e-3", "stems.violin.lr: no such key"),
                                           ("stems.piano.lr", "expected key=value")])
def test_a_typo_is_refused_by_name(bench, item, message):
    with pytest.raises(ValueError, match=message):
        bench.overridden({"stems": {"piano": {"lr": 3.0e-4}}}, [item])


def test_the_printed_line_comes_from_the_runs_files(bench, tmp_path):
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "summary.json").write_text(json.dumps({"best_metric": 0.88, "best_step": 250}))
    (tmp_path / "metrics.json").write_text(json.dumps({"onset_f1": 0.95, "decoding": {"validation_onset_f1": 0.89}}))
    with open(tmp_path / "tracks.csv", "w", newline="") as f:
        w = csv.DictWriter(f, ["track", "domain", "onset_f1"])
        w.writeheader()
        w.writerows([{"track": "a", "domain": "out_of_domain", "onset_f1": 0.9},
                     {"track": "b", "domain": "out_of_domain", "onset_f1": 0.8},
                     {"track": "c", "domain": "in_domain", "onset_f1": 0.1}])
    line = bench.figures(tmp_path)
    assert "validation 0.88 (step 250, blend None)" in line
    assert "at the chosen decoding 0.89" in line
    assert "pooled 0.95, mean over 2 tracks 0.8500" in line
