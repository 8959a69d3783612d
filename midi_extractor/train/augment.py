"""Training-time augmentation of one clip, per role (``params.yaml`` ``roles.<role>.augment``).

Keys of the policy (all optional; a missing key switches that part off):

``gain_db`` (float, dB)
    uniform gain in ``[-gain_db, +gain_db]``.
``pitch_shift_semitones`` (int)
    pitched roles only: an integer shift ``k`` uniform in ``[-n, n]``, done as a
    speed change by resampling (``2 ** (k / 12)`` faster: pitch *and* tempo
    move, as on a tape). The labels follow exactly: roll columns move by ``k``
    and note times are divided by the speed. Percussive stems never
    pitch-shift (the key is ignored for them, with a warning).
``time_stretch`` (float, fraction)
    tempo factor uniform in ``[1 - t, 1 + t]``, labels scaled the same. For
    pitched roles a phase vocoder (tempo only, pitch kept; applied to
    ``stretch_prob`` of the clips, it is the dearest step, ~10 ms per 4 s);
    for percussive roles a plain resampling speed change (drum classes do not
    depend on pitch, and resampling keeps transients sharp).
``noise_db`` (float, dBFS)
    white noise at an RMS level uniform in ``[noise_db - 20, noise_db]``, on
    ``noise_prob`` of the clips.
``eq_db`` (float, dB; default off)
    a random spectral tilt: a one-pole split at a random corner (200-4000 Hz)
    with the low and high parts scaled by independent gains in
    ``[-eq_db, +eq_db]``. Justification: timbre differences between renderings
    (SoundFonts, mixes) are what generalises worst (docs: PITFALLS), and a
    tilt is nearly free.
``stretch_prob``, ``noise_prob`` (float, default 0.5)
    how often those steps happen.

Use: ``draw = policy.draw(rng)``; read ``draw.source_seconds(clip_s)`` seconds
of source audio from the clip's start; ``y = apply_audio(x, draw, sr, n_out, rng)``;
labels ``labels.rolls_from_midi(..., start_s=offset, time_scale=draw.time_scale,
transpose=draw.transpose)``.
"""
from __future__ import annotations

import dataclasses

import logging
import math
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

from midi_extractor.config import AugmentConfig

log = logging.getLogger(__name__)

KNOWN_KEYS = tuple(f.name for f in dataclasses.fields(AugmentConfig))


@dataclass(frozen=True)
class Draw:
    """One clip's random choices.

    ``transpose``: semitones added to pitches; ``resample_rate``: speed change
    done by resampling (source seconds per output second); ``stretch_rate``:
    phase-vocoder tempo change (source seconds per output second);
    ``gain_db``; ``noise_db`` (None: no noise); ``eq``: ``(corner_hz, low_db,
    high_db)`` or None.
    """

    transpose: int = 0
    resample_rate: float = 1.0
    stretch_rate: float = 1.0
    gain_db: float = 0.0
    noise_db: float | None = None
    eq: tuple[float, float, float] | None = None

    @property
    def time_scale(self) -> float:
        """Source seconds per output second (``rolls_from_midi(time_scale=...)``)."""
        return self.resample_rate * self.stretch_rate

    def source_seconds(self, clip_seconds: float) -> float:
        """Seconds of source audio that make ``clip_seconds`` of output."""
        return clip_seconds * self.time_scale

    @property
    def is_identity(self) -> bool:
        return self == Draw()


@dataclass
class AugmentPolicy(AugmentConfig):
    """A role's :class:`~midi_extractor.config.AugmentConfig` (the same fields, one
    definition) and the role it is for; build with :meth:`from_params`."""

    role: str = "melodic"

    @classmethod
    def from_params(cls, augment: Mapping[str, Any] | AugmentConfig | None, role: str) -> "AugmentPolicy":
        """From ``roles.<role>.augment`` (a :class:`~midi_extractor.config.AugmentConfig`, or
        a mapping of its fields). Unknown keys raise ``ValueError``."""
        if dataclasses.is_dataclass(augment):
            augment = {f.name: getattr(augment, f.name) for f in dataclasses.fields(AugmentConfig)}
        augment = dict(augment or {})
        unknown = sorted(set(augment) - set(KNOWN_KEYS))
        if unknown:
            raise ValueError(f"roles.{role}.augment: unknown key(s) {', '.join(unknown)}; "
                             f"known: {', '.join(KNOWN_KEYS)}")
        shift = int(round(float(augment.get("pitch_shift_semitones", 0) or 0)))
        if role == "percussive" and shift:
            log.warning("roles.percussive.augment.pitch_shift_semitones=%s ignored: percussive stems "
                        "never pitch-shift", shift)
            shift = 0
        noise = augment.get("noise_db")
        return cls(role=role, gain_db=abs(float(augment.get("gain_db", 0) or 0)),
                   pitch_shift_semitones=abs(shift),
                   time_stretch=abs(float(augment.get("time_stretch", 0) or 0)),
                   noise_db=None if noise is None else float(noise),
                   eq_db=abs(float(augment.get("eq_db", 0) or 0)),
                   stretch_prob=float(augment.get("stretch_prob", 0.5)),
                   noise_prob=float(augment.get("noise_prob", 0.5)))

    @property
    def percussive(self) -> bool:
        return self.role == "percussive"

    def draw(self, rng: np.random.Generator) -> Draw:
        """Random choices for one clip."""
        k = int(rng.integers(-self.pitch_shift_semitones, self.pitch_shift_semitones + 1)) \
            if self.pitch_shift_semitones and not self.percussive else 0
        resample_rate = 2.0 ** (k / 12.0)
        stretch_rate = 1.0
        if self.time_stretch and rng.random() < self.stretch_prob:
            tempo = float(rng.uniform(1.0 - self.time_stretch, 1.0 + self.time_stretch))
            if self.percussive:
                resample_rate *= tempo
            else:
                stretch_rate = tempo
        gain = float(rng.uniform(-self.gain_db, self.gain_db)) if self.gain_db else 0.0
        noise = None
        if self.noise_db is not None and rng.random() < self.noise_prob:
            noise = float(rng.uniform(self.noise_db - 20.0, self.noise_db))
        eq = None
        if self.eq_db:
            eq = (float(math.exp(rng.uniform(math.log(200.0), math.log(4000.0)))),
                  float(rng.uniform(-self.eq_db, self.eq_db)), float(rng.uniform(-self.eq_db, self.eq_db)))
        return Draw(k, resample_rate, stretch_rate, gain, noise, eq)


def _fit(x: np.ndarray, n: int) -> np.ndarray:
    if len(x) == n:
        return x
    out = np.zeros(n, dtype=np.float32)
    out[: min(n, len(x))] = x[:n]
    return out


def speed_change(x: np.ndarray, rate: float, sample_rate_hz: int) -> np.ndarray:
    """Play ``x`` ``rate`` times faster (pitch and tempo) by resampling; the
    result has about ``len(x) / rate`` samples."""
    if rate == 1.0:
        return x
    import soxr

    return soxr.resample(x, sample_rate_hz * rate, sample_rate_hz, quality="HQ").astype(np.float32, copy=False)


def stretch_tensor(t, rate: float, n_fft: int = 1024, hop: int = 256):
    """Tempo ``rate`` times faster, pitch kept: a phase vocoder on a 1-D float tensor (any
    device); ``round(len / rate)`` samples. The one implementation for both the per-clip
    CPU path (:func:`time_stretch`) and the per-batch device path (``batch_augment``)."""
    import torch
    import torchaudio.functional as AF

    window = torch.hann_window(n_fft, device=t.device)
    spec = torch.stft(t, n_fft, hop, window=window, return_complex=True)
    advance = torch.linspace(0, math.pi * hop, n_fft // 2 + 1, device=t.device)[..., None]
    stretched = AF.phase_vocoder(spec, rate, advance)
    return torch.istft(stretched, n_fft, hop, window=window, length=int(round(len(t) / rate)))


def time_stretch(x: np.ndarray, rate: float, n_fft: int = 1024, hop: int = 256) -> np.ndarray:
    """Tempo ``rate`` times faster, pitch kept (:func:`stretch_tensor` on one CPU thread);
    about ``len(x) / rate`` samples."""
    if rate == 1.0:
        return x
    import torch

    # one intra-op thread: these small ops gain little from two, and on a shared
    # 2-core machine two OpenMP threads waiting on a busy core run ~10x slower
    # (DataLoader workers are single-threaded already; this covers num_workers=0)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        y = stretch_tensor(torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)), rate, n_fft, hop)
    finally:
        torch.set_num_threads(threads)
    return y.numpy().astype(np.float32, copy=False)


def _tilt(x: np.ndarray, sample_rate_hz: int, corner_hz: float, low_db: float, high_db: float) -> np.ndarray:
    from scipy.signal import lfilter

    p = math.exp(-2.0 * math.pi * corner_hz / sample_rate_hz)
    low = lfilter([1.0 - p], [1.0, -p], x).astype(np.float32)
    return (low * 10 ** (low_db / 20) + (x - low) * 10 ** (high_db / 20)).astype(np.float32)


def apply_audio(x: np.ndarray, draw: Draw, sample_rate_hz: int, n_out: int,
                rng: np.random.Generator) -> np.ndarray:
    """Augmented clip of exactly ``n_out`` samples from ``draw.source_seconds``
    worth of source audio ``x`` (float32 mono)."""
    y = np.asarray(x, dtype=np.float32)
    y = time_stretch(y, draw.stretch_rate)
    y = speed_change(y, draw.resample_rate, sample_rate_hz)
    y = _fit(y, n_out)
    if draw.eq is not None:
        y = _tilt(y, sample_rate_hz, *draw.eq)
    if draw.gain_db:
        y = y * np.float32(10 ** (draw.gain_db / 20))
    if draw.noise_db is not None:
        y = y + rng.standard_normal(n_out).astype(np.float32) * np.float32(10 ** (draw.noise_db / 20))
    return y.astype(np.float32, copy=False)
