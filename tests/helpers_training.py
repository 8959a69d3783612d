"""Tiny training settings and a tiny sine data set, shared by the train, pretrain, DDP, tracking,
log, CLI and DVC-fault tests: a 2-epoch x 3-step run of a small model on 8 kHz audio."""
from __future__ import annotations

import json
from pathlib import Path

from helpers_data import REPO, write_track
from midi_extractor.config import FrontEndConfig, ModelConfig, Params, StemConfig

__all__ = ["REPO", "TINY_FE", "TINY_MODEL", "tiny_params", "tiny_params_yaml", "write_sine_set"]

TINY_FE = {"sample_rate_hz": 8000, "hop_length": 256, "n_fft": 512, "n_mels": 32, "f_min_hz": 30.0,
           "f_max_hz": 3800.0, "min_midi": 21, "max_midi": 108}
TINY_MODEL = {"size": "small", "conv_channels": 16, "rnn_units": 8}


def tiny_params(**stem) -> Params:
    """Params with the tiny front end and model and one ``bass`` stem (``stem`` overrides its settings)."""
    settings = {"role": "melodic", "lr": 3e-3, "epochs": 2, "steps_per_epoch": 3, "batch_size": 2,
                "clip_seconds": 1.0, "val_interval": 2, **stem}
    return Params(features=FrontEndConfig(**TINY_FE), model=ModelConfig(**TINY_MODEL),
                  stems={"bass": StemConfig(**settings)})


def tiny_params_yaml(path: Path, **stem) -> Path:
    """The same tiny settings as a params.yaml (roles from the repository's file)."""
    import yaml

    base = yaml.safe_load((REPO / "params.yaml").read_text())
    base["features"] = dict(TINY_FE)
    base["model"] = dict(TINY_MODEL)
    base["stems"] = {"bass": {"role": "melodic", "lr": 3e-3, "epochs": 2, "steps_per_epoch": 3, "batch_size": 2,
                              "clip_seconds": 1.0, "val_interval": 2, **stem}}
    path.write_text(yaml.safe_dump(base, sort_keys=False))
    return path


def write_sine_set(root: Path, n_tracks: int = 3, seconds: float = 3.0, sr: int = 8000) -> Path:
    """``n_tracks`` Slakh-format tracks of sine bass with matching MIDI under ``root/data``
    and a contract-1 index ``root/filtered_dataset_bass.json`` (last track = validation)."""
    data = root / "data"
    entries = []
    for k in range(n_tracks):
        name = f"Track{k + 1:05d}"
        write_track(data / name, {"S00": {"program_num": 33, "n_notes": 6}}, sample_rate_hz=sr, seconds=seconds,
                    seed=k)
        entries.append({"track": name, "stem_id": "S00", "split": "validation" if k == n_tracks - 1 else "train",
                        "audio": f"{name}/stems/S00.wav", "midi": f"{name}/MIDI/S00.mid",
                        "metadata": {"program_num": 33, "is_drum": False, "role": "melodic"}})
    index = root / "filtered_dataset_bass.json"
    index.write_text(json.dumps({"stem": "bass", "taxonomy_version": 1, "dataset_root": str(data),
                                 "entries": entries, "dropped": {}}))
    return index
