"""Training-time augmentation of one clip, per role (``params.yaml`` ``roles.<role>.augment``).

Keys of the policy (all optional; a missing key switches that part off):

``gain_db`` (float, dB)
    uniform gain in ``[-gain_db, +gain_db]``.
``pitch_shift_semitones`` (int)
    pitched roles only: an integer shift ``k`` uniform in ``[-n, n]``, done as a
    speed change by band-limited FFT resampling (``2 ** (k / 12)`` faster: pitch
    *and* tempo move, as on a tape). The labels follow exactly: roll columns move by ``k``
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
``timbre_db`` (float, dB; default off)
    a random timbre: a smooth spectral envelope through :data:`TIMBRE_NODES` gains, one
    at each octave-spaced node from :data:`TIMBRE_LOW_HZ` up (55 Hz to 7,040 Hz), each
    uniform in ``[-timbre_db, +timbre_db]``, linear in dB between nodes along
    log-frequency (flat beyond the ends), zero phase. Where the tilt changes the balance
    of lows and highs, this reweights a note's harmonics against each other (its
    fundamental against its octave and twelfth), which is what separates one
    SoundFont's piano from another's.
``lowpass_prob`` (float, default 0: off)
    pitched roles only: on this share of the clips, a zero-phase low-pass just above the
    clip's highest note (``LOWPASS_RATIOS`` x its fundamental, falling to nothing below
    its second harmonic), so the top note sounds as a sine and every note keeps only the
    partials below that: sub basses, sine leads, flutes. Without it a pure sine bass line
    comes back with no notes (``benchmarks/pure_tones.py``). The cut-off is set once the
    clip's labels are known (:meth:`Draw.with_lowpass`).
``bleed_db`` (float, dB; default None: off)
    the other instruments of the clip's song leaking in, as a source separator leaves a stem:
    the entry's bleed (:mod:`midi_extractor.dataset.bleed`, stored by prepare at the stem's RMS)
    added at a signal-to-bleed ratio uniform in ``[bleed_db, bleed_db + BLEED_SPAN_DB]``, on
    ``bleed_prob`` of the clips, before every other step (the reader mixes it:
    :meth:`~midi_extractor.train.clip_reader.ClipReader.with_bleed`). Entries without bleed
    (an index prepared without it, a track with one category) train as they are.
``stretch_prob``, ``noise_prob``, ``bleed_prob`` (float, default 0.5)
    how often those steps happen.

Use: ``draw = policy.draw(rng)``; read ``draw.source_seconds(clip_s)`` seconds
of source audio from the clip's start; ``y = apply_audio(x, draw, sr, n_out)``;
labels ``labels.rolls_from_midi(..., start_s=offset, time_scale=draw.time_scale,
transpose=draw.transpose)``.

One renderer, :func:`render` (torch, any device), serves both places the audio is
augmented: a loader worker on the CPU (:func:`apply_audio`, per clip) and the training
device (:func:`midi_extractor.train.batch_augment.augment_batch`, per batch), so a CUDA run
and a CPU run of the same params train on the same audio.
"""
from __future__ import annotations

import dataclasses

import logging
import math
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

from midi_extractor.config import AugmentConfig
from midi_extractor.matching import midi_to_hz
from midi_extractor.train.spectral import (LOWPASS_RATIOS, TIMBRE_LOW_HZ, TIMBRE_NODES, lowpass_response,  # noqa: F401
                                           tilt_response, timbre_response)

log = logging.getLogger(__name__)

KNOWN_KEYS = tuple(f.name for f in dataclasses.fields(AugmentConfig))
#: noise seeds are drawn below this (exact in a float32 ``augment`` row)
NOISE_SEEDS = 1 << 24
#: the drawn signal-to-bleed ratio spans ``bleed_db`` to this much above it (dB)
BLEED_SPAN_DB = 20.0


@dataclass(frozen=True)
class Draw:
    """One clip's random choices.

    ``transpose``: semitones added to pitches; ``resample_rate``: speed change
    done by resampling (source seconds per output second); ``stretch_rate``:
    phase-vocoder tempo change (source seconds per output second);
    ``gain_db``; ``noise_db`` (None: no noise); ``eq``: ``(corner_hz, low_db,
    high_db)`` or None; ``noise_seed``: seeds the noise (below 2**24, so a float32 row
    carries it exactly); ``timbre``: the :data:`TIMBRE_NODES` envelope gains (dB) or None;
    ``lowpass_ratio``: drawn, the low-pass's pass edge over the top note's fundamental, and
    ``lowpass_hz`` that edge once the clip's notes are known (None: no low-pass); ``bleed_db``:
    the signal-to-bleed ratio the reader mixes the song's other stems at (None: none).
    """

    transpose: int = 0
    resample_rate: float = 1.0
    stretch_rate: float = 1.0
    gain_db: float = 0.0
    noise_db: float | None = None
    eq: tuple[float, float, float] | None = None
    noise_seed: int = 0
    timbre: tuple[float, ...] | None = None
    lowpass_ratio: float | None = None
    lowpass_hz: float | None = None
    bleed_db: float | None = None

    def with_lowpass(self, top_pitch: int | None) -> "Draw":
        """The draw with its low-pass set above ``top_pitch`` (MIDI, after any transpose: the
        output's pitch), or without one when there is no low-pass or the clip has no note."""
        if self.lowpass_ratio is None:
            return self
        if top_pitch is None:
            return dataclasses.replace(self, lowpass_ratio=None, lowpass_hz=None)
        return dataclasses.replace(self, lowpass_hz=self.lowpass_ratio * midi_to_hz(top_pitch))

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
                   timbre_db=abs(float(augment.get("timbre_db", 0) or 0)),
                   stretch_prob=float(augment.get("stretch_prob", 0.5)),
                   noise_prob=float(augment.get("noise_prob", 0.5)),
                   lowpass_prob=0.0 if role == "percussive" else float(augment.get("lowpass_prob", 0) or 0),
                   bleed_db=None if augment.get("bleed_db") is None else abs(float(augment["bleed_db"])),
                   bleed_prob=float(augment.get("bleed_prob", 0.5)))

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
        noise, noise_seed = None, 0
        if self.noise_db is not None and rng.random() < self.noise_prob:
            noise = float(rng.uniform(self.noise_db - 20.0, self.noise_db))
            noise_seed = int(rng.integers(0, NOISE_SEEDS))
        eq = None
        if self.eq_db:
            eq = (float(math.exp(rng.uniform(math.log(200.0), math.log(4000.0)))),
                  float(rng.uniform(-self.eq_db, self.eq_db)), float(rng.uniform(-self.eq_db, self.eq_db)))
        timbre = None
        if self.timbre_db:  # drawn last: the draws before it are those of a policy without it
            timbre = tuple(float(g) for g in rng.uniform(-self.timbre_db, self.timbre_db, TIMBRE_NODES))
        lowpass = None  # after the timbre, for the same reason
        if self.lowpass_prob and rng.random() < self.lowpass_prob:
            lowpass = float(rng.uniform(*LOWPASS_RATIOS[:2]))
        bleed = None  # last of all, for the same reason
        if self.bleed_db is not None and rng.random() < self.bleed_prob:
            bleed = float(rng.uniform(self.bleed_db, self.bleed_db + BLEED_SPAN_DB))
        return Draw(k, resample_rate, stretch_rate, gain, noise, eq, noise_seed, timbre, lowpass, bleed_db=bleed)


def stretch_tensor(t, rate: float, n_fft: int = 1024, hop: int = 256):
    """Tempo ``rate`` times faster, pitch kept: a phase vocoder on a 1-D float tensor (any
    device); ``round(len / rate)`` samples."""
    import torch
    import torchaudio.functional as AF

    window = torch.hann_window(n_fft, device=t.device)
    spec = torch.stft(t, n_fft, hop, window=window, return_complex=True)
    advance = torch.linspace(0, math.pi * hop, n_fft // 2 + 1, device=t.device)[..., None]
    stretched = AF.phase_vocoder(spec, rate, advance)
    return torch.istft(stretched, n_fft, hop, window=window, length=int(round(len(t) / rate)))


def speed_and_tilt(x, rate: float, n_out: int, sample_rate_hz: int, eq: tuple[float, float, float] | None,
                   timbre: tuple[float, ...] | None = None, lowpass_hz: float | None = None):
    """``x`` (1-D tensor) played ``rate`` times faster (band-limited FFT resampling: the
    spectrum is cut or zero-extended, so any real rate is exact), EQ-tilted, given the
    ``timbre`` envelope (:func:`timbre_response`) and low-passed (:func:`lowpass_response`),
    cut or zero-padded to ``n_out`` samples."""
    import torch

    if rate == 1.0 and eq is None and timbre is None and lowpass_hz is None:
        y = x
    else:
        m = max(2, int(round(len(x) / rate)))
        spec = torch.fft.rfft(x)
        bins = m // 2 + 1
        spec = spec[:bins] if spec.shape[0] >= bins else torch.nn.functional.pad(spec, (0, bins - spec.shape[0]))
        if eq is not None:
            spec = spec * tilt_response(m, sample_rate_hz, *eq, device=x.device)
        if timbre is not None:
            spec = spec * timbre_response(m, sample_rate_hz, timbre, device=x.device)
        if lowpass_hz is not None:
            spec = spec * lowpass_response(m, sample_rate_hz, lowpass_hz, device=x.device)
        y = torch.fft.irfft(spec, n=m) * (m / len(x))
    if len(y) >= n_out:
        return y[:n_out]
    return torch.nn.functional.pad(y, (0, n_out - len(y)))


def render(x, draw: Draw, sample_rate_hz: int, n_out: int):
    """The augmented clip, ``(n_out,)`` float32 on ``x``'s device, from source audio ``x``
    (1-D float tensor, ``draw.source_seconds`` worth): phase-vocoder tempo change, then in one
    FFT the speed change, the EQ tilt, the timbre envelope and the low-pass, then gain and white noise (seeded by
    ``draw.noise_seed``, drawn on the CPU so every device adds the same noise)."""
    import torch

    y = x.float()
    if draw.stretch_rate != 1.0:
        y = stretch_tensor(y, draw.stretch_rate)
    y = speed_and_tilt(y, draw.resample_rate, n_out, sample_rate_hz, draw.eq, draw.timbre, draw.lowpass_hz)
    if draw.gain_db:
        y = y * 10 ** (draw.gain_db / 20)
    if draw.noise_db is not None:
        noise = torch.randn(n_out, generator=torch.Generator().manual_seed(int(draw.noise_seed)))
        y = y + noise.to(y.device) * 10 ** (draw.noise_db / 20)
    return y.float()


def apply_audio(x: np.ndarray, draw: Draw, sample_rate_hz: int, n_out: int) -> np.ndarray:
    """:func:`render` of one clip on the CPU, numpy in and out (float32 mono), on one
    intra-op thread (a loader worker's share of a small machine)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        y = render(torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)), draw, sample_rate_hz, n_out)
    finally:
        torch.set_num_threads(threads)
    return y.numpy()
