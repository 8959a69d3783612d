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
    raw = _read_object(path)
    values = {}
    for name in _FIELDS:
        if raw.get(name) is not None:  # null (a drum model's frame_threshold): the default stays
            value = raw[name]
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ConfigError(f"{path}: {name} must be a number, got {value!r}")
            values[name] = float(value)
    return from_dict(DecodingConfig, values, where=f"{path}: ")  # validated as params' decoding section is


def read_saturate_file(path: str | Path) -> float:
    """The ``saturate`` drive in ``path`` (absent or ``null``: 0, off). Raises ``ConfigError``
    naming the file for an unreadable file or a drive that is not a number from 0 to 20."""
    from midi_extractor.model.saturation import MAX_SATURATE, check_saturate

    path = Path(path)
    value = _read_object(path).get("saturate")
    if value is None:
        return 0.0
    try:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"saturate must be a number from 0 (off) to {MAX_SATURATE:g}, got {value!r}")
        return check_saturate(value)
    except ValueError as exc:
        raise ConfigError(f"{path}: {exc}") from None


def read_model_decoding(checkpoint: str | Path) -> DecodingConfig:
    """Decoding settings of the model at ``checkpoint``: its ``decoding.json`` when
    present, else ``DecodingConfig()``."""
    path = decoding_path(checkpoint)
    return read_decoding_file(path) if path.is_file() else DecodingConfig()


def read_model_saturate(checkpoint: str | Path) -> float:
    """The drive of the model at ``checkpoint`` (:func:`read_saturate_file` of its
    ``decoding.json``; 0 without one)."""
    path = decoding_path(checkpoint)
    return read_saturate_file(path) if path.is_file() else 0.0


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
