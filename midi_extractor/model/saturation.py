"""Saturation: the signal a stem's model hears when its drive is on.

A sine sub bass has its pitch in one partial; models trained on instruments with harmonics
hear no note in it (``benchmarks/RESULTS.md``, "sine bass"). ``tanh(drive * x / peak)`` adds
odd harmonics at the same pitch, and costs nothing measurable on basses that have harmonics
already. A stem's drive is ``stems.<stem>.saturate`` (params; bass ships 1.5). ``evaluate``
writes it into the model's ``decoding.json`` (``saturate``), and every place that runs a
model on a whole signal applies it: ``transcribe`` (file, array, folder; ``--saturate``
overrides it), ``evaluate`` and training's validation. Training clips are left as they are.
"""
from __future__ import annotations

import math

import numpy as np

from midi_extractor.config.training import MAX_SATURATE


def saturated(x: np.ndarray, drive: float, peak: float | None = None) -> np.ndarray:
    """``tanh(drive * x / peak)`` (``peak`` None: ``x``'s own; a streamed file passes the whole
    file's), float32. ``drive`` 0 or silence: ``x`` unchanged."""
    peak = (float(np.max(np.abs(x))) if x.size else 0.0) if peak is None else float(peak)
    if drive == 0 or peak == 0.0:
        return x
    return np.tanh(drive * np.asarray(x, np.float32) / peak).astype(np.float32)


def check_saturate(drive: object) -> float:
    """``drive`` as a float, or ``ValueError``: a finite number, 0 (off) up to :data:`MAX_SATURATE`."""
    try:
        value = float("nan") if isinstance(drive, bool) else float(drive)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        value = float("nan")
    if not (math.isfinite(value) and 0.0 <= value <= MAX_SATURATE):
        raise ValueError(f"saturate must be a number from 0 (off) to {MAX_SATURATE:g}, got {drive!r}")
    return value
