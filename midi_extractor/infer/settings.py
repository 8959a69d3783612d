"""Decoding settings that travel with a model: ``models/<stem>/decoding.json``.

The evaluate stage chooses the thresholds on the stem's validation split and
writes them beside the checkpoint::

    models/bass/best.pt
    models/bass/decoding.json   {"onset_threshold": 0.3, "frame_threshold": 0.4,
                                 "min_note_s": 0.05, "drum_note_s": 0.1,
                                 "frame_note_threshold": null, ...}

Every entry point (``infer.api.transcribe()``, the ``transcribe`` command from any
folder, the folder -> multi-track path, ``evaluate``) decodes with these values
unless its caller overrides one; a missing file means ``config.DecodingConfig``'s
defaults. The file also holds the drive the model hears its input at (``saturate``,
``stems.<stem>.saturate``: :mod:`midi_extractor.model.saturation`; absent: 0, off). Keys
other than these (provenance such as ``chosen_on``, scores, the grid) are ignored, and so
is a field that is ``null``. The working directory's ``params.yaml`` is never read here.
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import fields
from pathlib import Path
from typing import Any

from midi_extractor.config import ConfigError, DecodingConfig, from_dict, replace

DECODING_FILE = "decoding.json"
_FIELDS = tuple(f.name for f in fields(DecodingConfig))


def decoding_path(checkpoint: str | Path) -> Path:
    """``decoding.json`` beside a checkpoint file."""
    return Path(checkpoint).parent / DECODING_FILE


def read_decoding_file(path: str | Path) -> DecodingConfig:
    """The decoding settings in ``path``; fields it lacks keep their defaults.
    Raises ``ConfigError`` (naming the file) for unreadable JSON, a non-object
    or a value that is not a valid number."""
    path = Path(path)
    return _decoding_of(_read_object(path), path)


def read_model_decoding(checkpoint: str | Path) -> DecodingConfig:
    """Decoding settings of the model at ``checkpoint``: its ``decoding.json`` when
    present, else ``DecodingConfig()``."""
    return read_model_settings(checkpoint)[0]


def read_model_settings(checkpoint: str | Path) -> tuple[DecodingConfig, float]:
    """``(decoding settings, drive)`` of the model at ``checkpoint``, from one read of its
    ``decoding.json``; without one, ``DecodingConfig()`` and 0 (off). The drive (``saturate``;
    absent or ``null``: 0) must be a number from 0 to 20, or ``ConfigError`` names the file."""
    path = decoding_path(checkpoint)
    if not path.is_file():
        return DecodingConfig(), 0.0
    raw = _read_object(path)
    return _decoding_of(raw, path), _saturate_of(raw, path)


def _decoding_of(raw: dict, path: Path) -> DecodingConfig:
    values = {}
    for name in _FIELDS:
        if raw.get(name) is not None:  # null (a drum model's frame_threshold): the default stays
            value = raw[name]
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ConfigError(f"{path}: {name} must be a number, got {value!r}")
            values[name] = float(value)
    return from_dict(DecodingConfig, values, where=f"{path}: ")  # validated as params' decoding section is


def _saturate_of(raw: dict, path: Path) -> float:
    from midi_extractor.model.saturation import MAX_SATURATE, check_saturate

    value = raw.get("saturate")
    if value is None:
        return 0.0
    if not isinstance(value, (int, float)):   # "1.5" would parse: a file holds numbers
        raise ConfigError(f"{path}: saturate must be a number from 0 (off) to {MAX_SATURATE:g}, got {value!r}")
    try:
        return check_saturate(value)          # refuses a bool, a negative or too large drive
    except ValueError as exc:
        raise ConfigError(f"{path}: {exc}") from None


def _read_object(path: Path) -> dict:
    try:
        raw = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{path}: not a readable decoding file ({exc})") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a JSON object of decoding settings, got {type(raw).__name__}")
    return raw


#: the override that switches a model's frame notes off (``frame_note_threshold="off"``)
OFF = "off"
#: the settings a decoding uses (the grids only choose them)
SETTINGS = ("onset_threshold", "frame_threshold", "min_note_s", "drum_note_s", "frame_note_threshold")


def pinned(values: Mapping[str, Any]) -> dict[str, Any]:
    """The :data:`SETTINGS` in ``values`` (resolved already, or a ``decoding.json``'s content) as
    overrides that reproduce them whatever the model's: a ``frame_note_threshold`` of ``None``
    (no frame notes) becomes :data:`OFF`, which :func:`with_overrides` reads as none, not as
    "the model's"."""
    out = {k: values[k] for k in SETTINGS if k in values}
    if "frame_note_threshold" in out and out["frame_note_threshold"] is None:
        out["frame_note_threshold"] = OFF
    return out


def with_overrides(base: DecodingConfig, **overrides: float | str | None) -> DecodingConfig:
    """``base`` with each override that is not ``None`` applied (and checked);
    ``frame_note_threshold=OFF`` ("off") decodes without frame notes."""
    unknown = sorted(set(overrides) - set(_FIELDS))
    if unknown:
        raise TypeError(f"unknown decoding setting(s): {', '.join(unknown)}")
    changed = {k: (None if k == "frame_note_threshold" and v == OFF else float(v))
               for k, v in overrides.items() if v is not None}
    return replace(base, "decoding override: ", **changed) if changed else base
