"""train.outputs: history.csv written and read back up to a step (a resumed run continues the
curve), the run's fingerprint (what makes a run resumable), and RNG state that restores the same
draws."""
import csv
import random

import numpy as np
import pytest
import torch

from midi_extractor.index_io import DataError
from midi_extractor.train import outputs


def test_history_is_written_and_read_back_up_to_a_step(tmp_path):
    rows = [{"step": k, "epoch": 0, "lr": 1e-3 / 3, "loss_total": 1.0 / k, "not_a_column": "x"} for k in (1, 2, 3)]
    rows[1]["val_onset_f1"] = 0.5
    path = tmp_path / "history.csv"
    outputs.write_history(path, rows)
    with path.open() as f:
        header = next(csv.reader(f))
    assert tuple(header) == outputs.HISTORY_FIELDS
    back = outputs.read_history(path, up_to_step=2)
    assert [r["step"] for r in back] == ["1", "2"]
    assert back[0]["lr"] == "0.000333333" and back[1]["loss_total"] == "0.5"  # six significant digits
    assert back[1]["val_onset_f1"] == "0.5" and "val_onset_f1" not in back[0]  # empty cells left out
    assert outputs.read_history(tmp_path / "none.csv", 10) == []


def test_the_fingerprint_follows_the_settings_and_the_index_but_not_the_workers(tmp_path):
    index = tmp_path / "index.json"
    index.write_text('{"entries": []}')
    config = {"model": {"size": "small"}, "train": {"lr": 1e-3, "num_workers": 0}}
    base = outputs.fingerprint(config, index)
    assert outputs.fingerprint({**config, "train": {"lr": 1e-3, "num_workers": 4}}, index) == base
    assert outputs.fingerprint({**config, "train": {"lr": 2e-3, "num_workers": 0}}, index) != base
    index.write_text('{"entries": [1]}')
    assert outputs.fingerprint(config, index) != base
    with pytest.raises(DataError, match=r"gone\.json: index file not found"):
        outputs.fingerprint(config, tmp_path / "gone.json")


def test_rng_state_restores_the_same_draws():
    state = outputs.rng_state()
    first = (torch.rand(3), np.random.rand(3), random.random())
    torch.rand(5), np.random.rand(5), random.random()  # the run moves on
    outputs.set_rng_state(state)
    again = (torch.rand(3), np.random.rand(3), random.random())
    assert torch.equal(first[0], again[0]) and np.array_equal(first[1], again[1]) and first[2] == again[2]
