"""The role's augmentation applied to a whole batch on the training device (GPU).

A loader worker that augments each clip on the CPU spends 45-60 ms on a 20-s
pitched clip (the phase vocoder alone ~70 ms when drawn), far more than it
takes to read the clip from a prepared array (<1 ms): with
``augment_on: device`` the worker only *draws* the clip's augmentation
(:meth:`AugmentPolicy.draw`, so the labels are computed exactly as before),
reads the source audio it needs and hands both on; :func:`augment_batch` then
renders the audio in the training process, on the batch's device.

Batch contract (what :class:`~midi_extractor.train.clips.TranscriptionDataset`
yields in device mode, stacked by the default collate):

* ``audio``: ``(B, S_src)`` source audio, zero-padded to the policy's longest
  source clip (:func:`source_samples`): float32, or int16 as stored in a
  prepared layout (half the bytes through the loader; the float conversion
  happens here);
* ``augment``: ``(B, N_FIELDS)`` float32 rows of :func:`encode`:
  ``[n_src, stretch_rate, resample_rate, gain_db, noise_db, eq_hz, eq_low_db, eq_high_db, scale, noise_seed,
  timbre_0 .. timbre_7, lowpass_hz]``, ``noise_db``/``eq_hz``/``timbre_0``/``lowpass_hz`` NaN when off; int16 audio reads as ``q * scale / 32768``;
* ``onset``, ``offset``, ``frame``: ``(B, T, N)`` uint8 0/1 and ``velocity`` uint8
  MIDI velocity (:func:`compact_rolls`; a quarter of float32's bytes to collate
  and pass between processes): :func:`expand_rolls` gives back the float32 rolls
  of :mod:`midi_extractor.model.labels` exactly.

:func:`augment_batch` returns ``(B, n_out)``: each clip rendered by
:func:`midi_extractor.train.augment.render`, the loader's own renderer, so the device path
and the CPU path give the same audio for the same draw (float tolerance).
"""
from __future__ import annotations

import math

import numpy as np
import torch

from midi_extractor.prepared import INT16_SCALE
from midi_extractor.train.augment import TIMBRE_NODES, AugmentPolicy, Draw, render

#: columns of an ``augment`` row
FIELDS = ("n_src", "stretch_rate", "resample_rate", "gain_db", "noise_db", "eq_hz", "eq_low_db", "eq_high_db",
          "scale", "noise_seed") + tuple(f"timbre_{i}" for i in range(TIMBRE_NODES)) + ("lowpass_hz",)
N_FIELDS = len(FIELDS)


def source_samples(policy: AugmentPolicy | None, clip_seconds: float, sample_rate_hz: int) -> int:
    """Samples of the longest source clip a policy can ask for (the padded width of ``audio``)."""
    scale = 1.0
    if policy is not None:
        shift = 0 if policy.percussive else policy.pitch_shift_semitones
        scale = 2.0 ** (shift / 12.0) * (1.0 + policy.time_stretch)
    return int(math.ceil(clip_seconds * scale * sample_rate_hz)) + 1


def encode(draw: Draw, n_src: int, scale: float = 1.0) -> np.ndarray:
    """One clip's :class:`Draw` as an ``augment`` row (float32, ``N_FIELDS``); ``scale``:
    of int16 audio (a prepared entry's ``scale``)."""
    corner, low, high = draw.eq if draw.eq is not None else (math.nan, 0.0, 0.0)
    noise = math.nan if draw.noise_db is None else draw.noise_db
    timbre = draw.timbre if draw.timbre is not None else (math.nan,) + (0.0,) * (TIMBRE_NODES - 1)
    lowpass = math.nan if draw.lowpass_hz is None else draw.lowpass_hz
    return np.array([n_src, draw.stretch_rate, draw.resample_rate, draw.gain_db, noise, corner, low, high, scale,
                     draw.noise_seed, *timbre, lowpass], dtype=np.float32)


def decode_row(row: np.ndarray) -> tuple[int, float, Draw]:
    """``(n_src, scale, draw)`` of an ``augment`` row (the inverse of :func:`encode`; the
    draw's ``transpose`` is not carried: the labels were made from it already)."""
    n_src, stretch, rate, gain_db, noise_db, eq_hz, eq_low, eq_high, scale, seed = (float(v) for v in row[:10])
    timbre = tuple(float(v) for v in row[10:10 + TIMBRE_NODES])
    lowpass = float(row[10 + TIMBRE_NODES])
    draw = Draw(0, rate, stretch, gain_db, None if math.isnan(noise_db) else noise_db,
                None if math.isnan(eq_hz) else (eq_hz, eq_low, eq_high), int(seed),
                None if math.isnan(timbre[0]) else timbre, lowpass_hz=None if math.isnan(lowpass) else lowpass)
    return int(n_src), scale, draw


def compact_rolls(rolls: dict[str, np.ndarray]) -> dict[str, torch.Tensor]:
    """float32 label rolls as uint8: 0/1 rolls as they are, velocity as ``round(v * 127)``."""
    out = {k: torch.from_numpy(rolls[k].astype(np.uint8)) for k in ("onset", "offset", "frame")}
    out["velocity"] = torch.from_numpy(np.rint(rolls["velocity"] * 127.0).astype(np.uint8))
    return out


def expand_rolls(batch: dict) -> dict[str, torch.Tensor]:
    """The float32 rolls of a batch of :func:`compact_rolls` (identical to ``labels``'s)."""
    out = {k: batch[k].float() for k in ("onset", "offset", "frame")}
    out["velocity"] = (batch["velocity"].double() / 127.0).float()
    return out


def augment_batch(audio: torch.Tensor, augment: torch.Tensor, sample_rate_hz: int, n_out: int) -> torch.Tensor:
    """Render a device-mode batch: ``audio`` ``(B, S_src)``, ``augment`` ``(B, N_FIELDS)``
    -> ``(B, n_out)`` float32 on ``audio``'s device (see the module docstring)."""
    out = []
    for x, row in zip(audio, augment.detach().cpu().double().numpy()):
        n_src, scale, draw = decode_row(row)
        y = x[:n_src].float()
        if x.dtype == torch.int16:
            y = y * (scale / INT16_SCALE)
        out.append(render(y, draw, sample_rate_hz, n_out))
    return torch.stack(out).float()
