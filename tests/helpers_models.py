"""Tiny untrained checkpoints (contract 2) of a small model on an 8 kHz front end, the decoding
settings written beside them, and a noisy test file: for the transcribe API, ONNX export and CLI
tests. The ``models`` fixture (a fresh copy with its decoding.json) is in conftest.py."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from midi_extractor.config import FrontEndConfig, ModelConfig
from midi_extractor.model.checkpoint import save_checkpoint
from midi_extractor.model.transcriber import create_model

FE = FrontEndConfig(sample_rate_hz=8000, hop_length=256, n_fft=512, n_mels=32, f_max_hz=3800.0)
DECODING = {"onset_threshold": 0.018, "frame_threshold": 0.012, "min_note_s": 0.1, "drum_note_s": 0.1,
            "chosen_on": "validation", "validation_onset_f1": 0.5}
KIT = ["kick", "snare", "toms", "hihat", "cymbal", "shaker", "other_perc"]
_TINY = ModelConfig(size="small", conv_channels=8, rnn_units=8)


def tiny_models(root: Path, stem="bass", seed=0) -> Path:
    """``root/<stem>/best.pt``: a randomly initialised small model (contract-2 checkpoint)."""
    torch.manual_seed(seed)
    model = create_model(FE, _TINY, FE.n_pitches, {})
    model.train()
    model(torch.randn(2, 4000))  # BatchNorm statistics off their defaults
    model.eval()
    save_checkpoint(root / stem / "best.pt", checkpoint_of(model, stem))
    return root


def checkpoint_of(model, stem: str = "bass") -> dict:
    """A contract-2 checkpoint of ``model`` (a melodic pitched ``stem``) at step 1."""
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    return {"model": model.state_dict(), "optimizer": opt.state_dict(), "scheduler": {}, "scaler": {},
            "step": 1, "epoch": 0, "best_metric": 0.0,
            "config": {**model.config_dict(), "drum_classes": None, "train": {}},
            "stem": stem, "role": "melodic", "taxonomy_version": 1}


def checkpoint_saying(path, stem, role, drum_classes=None):
    """A tiny untrained checkpoint at ``path`` whose ``stem``/``role``/drum classes are as given."""
    torch.manual_seed(0)
    n_outputs = len(drum_classes) if drum_classes else FE.n_pitches
    model = create_model(FE, _TINY, n_outputs, {}).eval()
    ckpt = {"model": model.state_dict(), "optimizer": {}, "scheduler": {}, "scaler": {}, "step": 1, "epoch": 0,
            "best_metric": 0.0, "config": {**model.config_dict(), "drum_classes": drum_classes, "train": {}},
            "stem": stem, "role": role, "taxonomy_version": 1}
    return save_checkpoint(path, ckpt)


def noisy_file(path, seconds=3.0, seed=1):
    """A 22.05 kHz mono WAV at ``path``: a gated 110 Hz tone under noise (returns ``path``)."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * 22050)) / 22050
    x = 0.3 * np.sin(2 * np.pi * 110 * t) * (np.sin(2 * np.pi * 2 * t) > 0) + 0.05 * rng.standard_normal(t.size)
    sf.write(path, x.astype(np.float32), 22050)
    return path
