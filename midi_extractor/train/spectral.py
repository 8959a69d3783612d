"""The spectral responses of the augmentation (:mod:`midi_extractor.train.augment`): each is
an ``(n // 2 + 1,)`` complex64 gain on an ``n``-point rFFT at ``sample_rate_hz``, built in
float64 on ``device`` (torch), multiplied into a clip's spectrum by ``augment.speed_and_tilt``."""
from __future__ import annotations

import math

#: the timbre envelope's nodes: this many, octave-spaced from TIMBRE_LOW_HZ (55 Hz .. 7,040 Hz)
TIMBRE_NODES = 8
TIMBRE_LOW_HZ = 55.0
#: the low-pass passes up to ``ratio`` x the top note's fundamental (``ratio`` uniform in the
#: first two) and falls (raised cosine) to nothing by the third x it, below its second harmonic
LOWPASS_RATIOS = (1.05, 1.5, 1.9)


def tilt_response(n: int, sample_rate_hz: int, corner_hz: float, low_db: float, high_db: float, device=None):
    """Complex response ``(n // 2 + 1,)`` of the EQ tilt on an ``n``-point rFFT: the low part
    of a one-pole split at ``corner_hz`` times ``low_db``, the rest times ``high_db``."""
    import torch

    p = math.exp(-2.0 * math.pi * corner_hz / sample_rate_hz)
    w = 2.0 * math.pi * torch.arange(n // 2 + 1, device=device, dtype=torch.float64) / n
    low = (1.0 - p) / (1.0 - p * torch.exp(-1j * w))
    g_low, g_high = 10 ** (low_db / 20), 10 ** (high_db / 20)
    return (low * g_low + (1.0 - low) * g_high).to(torch.complex64)


def timbre_response(n: int, sample_rate_hz: int, gains_db, device=None):
    """Real (zero-phase) response ``(n // 2 + 1,)`` of the timbre envelope on an ``n``-point
    rFFT: ``gains_db`` at the octave-spaced nodes ``TIMBRE_LOW_HZ * 2**i``, linear in dB
    along log2(frequency) between them, the end gains held beyond the ends."""
    import torch

    gains = torch.tensor(gains_db, dtype=torch.float64, device=device)
    hz = torch.arange(n // 2 + 1, device=device, dtype=torch.float64) * (sample_rate_hz / n)
    octaves = torch.log2(hz.clamp(min=TIMBRE_LOW_HZ) / TIMBRE_LOW_HZ).clamp(max=len(gains_db) - 1)
    lo = octaves.floor().long().clamp(max=len(gains_db) - 2)
    frac = octaves - lo
    db = gains[lo] * (1.0 - frac) + gains[lo + 1] * frac
    return (10.0 ** (db / 20.0)).to(torch.complex64)


def lowpass_response(n: int, sample_rate_hz: int, pass_hz: float, device=None):
    """Real (zero-phase) response ``(n // 2 + 1,)`` on an ``n``-point rFFT: 1 up to ``pass_hz``,
    a raised cosine down to 0 at ``pass_hz * LOWPASS_RATIOS[2] / LOWPASS_RATIOS[1]`` (at most
    the top note's ``LOWPASS_RATIOS[2]`` x fundamental, below its second harmonic), 0 above."""
    import torch

    stop_hz = pass_hz * LOWPASS_RATIOS[2] / LOWPASS_RATIOS[1]
    hz = torch.arange(n // 2 + 1, device=device, dtype=torch.float64) * (sample_rate_hz / n)
    frac = ((hz - pass_hz) / (stop_hz - pass_hz)).clamp(0.0, 1.0)
    return (0.5 * (1.0 + torch.cos(math.pi * frac))).to(torch.complex64)
