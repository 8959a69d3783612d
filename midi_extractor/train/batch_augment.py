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
  ``[n_src, stretch_rate, resample_rate, gain_db, noise_db, eq_hz, eq_low_db, eq_high_db, scale]``,
  ``noise_db``/``eq_hz`` NaN when off; int16 audio reads as ``q * scale / 32768``;
* ``onset``, ``offset``, ``frame``: ``(B, T, N)`` uint8 0/1 and ``velocity`` uint8
  MIDI velocity (:func:`compact_rolls`; a quarter of float32's bytes to collate
  and pass between processes): :func:`expand_rolls` gives back the float32 rolls
  of :mod:`midi_extractor.model.labels` exactly.

:func:`augment_batch` returns ``(B, n_out)``. Per clip: phase-vocoder tempo
change (``stretch_rate``: ``augment.stretch_tensor``, the CPU path's own transform), then in
one FFT a band-limited speed change (``resample_rate``: the spectrum is cut or
zero-extended, so any real rate is exact) and the EQ tilt (the one-pole split's
complex response, as ``augment._tilt``), then gain and white noise (from
``generator``). Differences to the CPU path (:func:`augment.apply_audio`):
the speed change is an FFT resampler instead of soxr (circular at the clip's
edges) and the tilt is applied as a frequency response instead of a causal
filter run; both leave the labels' timing untouched.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from midi_extractor.prepared import INT16_SCALE
from midi_extractor.train.augment import AugmentPolicy, Draw, stretch_tensor

#: columns of an ``augment`` row
FIELDS = ("n_src", "stretch_rate", "resample_rate", "gain_db", "noise_db", "eq_hz", "eq_low_db", "eq_high_db",
          "scale")
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
    return np.array([n_src, draw.stretch_rate, draw.resample_rate, draw.gain_db, noise, corner, low, high, scale],
                    dtype=np.float32)


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


def _tilt_response(n_out: int, sample_rate_hz: int, corner_hz: float, low_db: float, high_db: float,
                   device) -> torch.Tensor:
    """Complex response ``(n_out // 2 + 1,)`` of ``augment._tilt``: low part of a one-pole
    split times ``low_db``, the rest times ``high_db``."""
    p = math.exp(-2.0 * math.pi * corner_hz / sample_rate_hz)
    w = 2.0 * math.pi * torch.arange(n_out // 2 + 1, device=device, dtype=torch.float64) / n_out
    low = (1.0 - p) / (1.0 - p * torch.exp(-1j * w))
    g_low, g_high = 10 ** (low_db / 20), 10 ** (high_db / 20)
    return (low * g_low + (1.0 - low) * g_high).to(torch.complex64)


def _speed_and_tilt(x: torch.Tensor, rate: float, n_out: int, sample_rate_hz: int,
                    eq: tuple[float, float, float] | None) -> torch.Tensor:
    """``x`` played ``rate`` times faster (band-limited FFT resampling) and EQ-tilted,
    cut or zero-padded to ``n_out`` samples."""
    if rate == 1.0 and eq is None:
        y = x
    else:
        m = max(2, int(round(len(x) / rate)))
        spec = torch.fft.rfft(x)
        bins = m // 2 + 1
        spec = spec[:bins] if spec.shape[0] >= bins else torch.nn.functional.pad(spec, (0, bins - spec.shape[0]))
        if eq is not None:
            spec = spec * _tilt_response(m, sample_rate_hz, *eq, device=x.device)
        y = torch.fft.irfft(spec, n=m) * (m / len(x))
    if len(y) >= n_out:
        return y[:n_out]
    return torch.nn.functional.pad(y, (0, n_out - len(y)))


def augment_batch(audio: torch.Tensor, augment: torch.Tensor, sample_rate_hz: int, n_out: int,
                  generator: torch.Generator | None = None) -> torch.Tensor:
    """Render a device-mode batch: ``audio`` ``(B, S_src)``, ``augment`` ``(B, N_FIELDS)``
    -> ``(B, n_out)`` float32 on ``audio``'s device (see the module docstring)."""
    rows = augment.detach().cpu().double().numpy()
    out = []
    for x, row in zip(audio, rows):
        n_src, stretch, rate, gain_db, noise_db, eq_hz, eq_low, eq_high, scale = row.tolist()
        y = x[: int(n_src)].float()
        if x.dtype == torch.int16:
            y = y * (scale / INT16_SCALE)
        if stretch != 1.0:
            y = stretch_tensor(y, stretch)
        eq = None if math.isnan(eq_hz) else (eq_hz, eq_low, eq_high)
        y = _speed_and_tilt(y, rate, n_out, sample_rate_hz, eq)
        if gain_db:
            y = y * 10 ** (gain_db / 20)
        if not math.isnan(noise_db):
            noise = torch.randn(n_out, generator=generator, device=generator.device if generator else "cpu")
            y = y + noise.to(y.device) * 10 ** (noise_db / 20)
        out.append(y)
    return torch.stack(out).float()
