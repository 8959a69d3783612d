"""Validation during training scores onsets at the best threshold of the shipped grid."""
import numpy as np
import pytest
import torch

from midi_extractor.config import FrontEndConfig
from midi_extractor.config import DecodingConfig
from midi_extractor.train.validation import validate

#: the thresholds the trainer validates: the repository's decoding grid
GRID = DecodingConfig(onset_grid=[0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5]).onset_candidates()

FE = FrontEndConfig(kind="logfreq")


class _Fixed:
    """A stand-in model whose predictions are the labels scaled to a fixed onset probability."""

    front_end = FE

    def __init__(self, onset_prob):
        self.onset_prob = onset_prob

    def eval(self):
        return self

    def train(self):
        return self

    def run_on_batch(self, batch):
        preds = {"onset": batch["onset"] * self.onset_prob, "frame": batch["frame"] * 0.9,
                 "velocity": batch["velocity"]}
        return preds, {"total": torch.tensor(0.1)}


def _batch():
    t, n = 100, 88
    onset, frame = torch.zeros(1, t, n), torch.zeros(1, t, n)
    for start, col in ((10, 20), (40, 30), (70, 25)):
        onset[0, start, col] = 1
        frame[0, start:start + 10, col] = 1
    return {"audio": torch.zeros(1, 512 * (t - 1)), "onset": onset, "frame": frame, "velocity": onset * 0.8}


@pytest.mark.parametrize("prob,threshold", [(0.12, 0.1), (0.45, 0.4), (0.9, 0.5)])
def test_f1_is_the_best_over_the_grid(prob, threshold):
    out = validate(_Fixed(prob), [_batch()], torch.device("cpu"), onset_thresholds=GRID)
    assert out["val_onset_f1"] == 1.0 and out["val_onset_threshold"] == threshold
    assert threshold in GRID


def test_onsets_below_every_threshold_score_zero():
    out = validate(_Fixed(0.01), [_batch()], torch.device("cpu"), onset_thresholds=GRID)
    assert out["val_onset_f1"] == 0.0 and out["val_onset_recall"] == 0.0
    assert np.isclose(out["val_loss_total"], 0.1)
