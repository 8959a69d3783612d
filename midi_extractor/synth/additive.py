"""Procedural timbres: pitched parts played by additive synthesis, a sound source with no file.

The training pool holds three pitched SoundFonts, so a model hears three pianos, three string
sections. :class:`Timbre` is drawn at random for a part (:func:`draw_timbre`), in the manner of its
GM family: how the harmonics fall off (``slope``, odd-harmonic weight, per-harmonic jitter),
inharmonicity (piano and guitar strings), an attack and either a decay whose rate grows with
the harmonic (struck and plucked families) or a sustain with vibrato (bowed, blown, synths),
unison voices detuned by a few cents, a noise burst at the onset. Every part of every track
sounds different, so a model trained on them learns pitch from harmonic structure rather than
from one instrument's spectrum (domain randomisation). Velocity sets loudness and brightness.
A share of the bass family's parts are sub basses, nearly sines (:data:`SUB_BASS_SHARE`).

:meth:`Timbre.render` mixes ``(start_s, end_s, pitch, velocity)`` notes into a float32 buffer;
everything is drawn from the generator it is given, so the same generator gives the same audio.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

#: GM families (program // 8) whose notes decay while held: piano, chromatic percussion, guitar, bass
STRUCK = frozenset({0, 1, 3, 4})
#: GM families that swell in slowly: strings, ensemble, pads
SLOW = frozenset({5, 6, 11})
MAX_HARMONICS = 40
#: this share of the GM bass family's parts (program // 8 == 4) is a sub bass: a sine, or one whose
#: upper harmonics sit 24-54 dB (the second) and more (the third) down, as an 808 through light
#: saturation. A sub's pitch is in one partial alone, which other timbres never teach
SUB_BASS_SHARE = 0.35
#: a sub bass's ``slope`` range: harmonic h at h ** -slope
SUB_BASS_SLOPE = (4.0, 9.0)
RELEASE_FLOOR_S = 0.03


@dataclass(frozen=True)
class Timbre:
    """One drawn instrument. Units in names; ``harmonic_db`` is each harmonic's level
    (harmonic 1 first) before the slope, ``decay_per_s`` the fundamental's decay rate
    (0: sustained), ``decay_growth`` how much faster harmonic ``h`` decays (``1 + g (h - 1)``)."""

    slope: float               # amplitude of harmonic h ~ h ** -slope
    harmonic_db: tuple[float, ...]
    odd_only_db: float         # extra attenuation of even harmonics (clarinet, square waves)
    inharmonicity: float       # f_h = h f0 sqrt(1 + B h^2)
    attack_s: float
    decay_per_s: float
    decay_growth: float
    sustain: float             # level a sustained note settles to after its attack
    release_s: float
    vibrato_hz: float
    vibrato_cents: float
    detune_cents: tuple[float, ...]   # one entry per unison voice
    noise_level: float         # onset noise burst, relative to the note's peak
    brightness_per_velocity: float    # how much softer notes lose their upper harmonics

    def render(self, notes, n_samples: int, rate_hz: int, rng: np.random.Generator) -> np.ndarray:
        """``notes`` mixed into ``n_samples`` at ``rate_hz`` (float32, unnormalised)."""
        out = np.zeros(n_samples, np.float64)
        for start_s, end_s, pitch, velocity in notes:
            at = int(round(start_s * rate_hz))
            if at >= n_samples:
                continue
            held = max(1, int(round((end_s - start_s) * rate_hz)))
            length = min(n_samples - at, held + int(self.release_s * rate_hz))
            voice = self._note(pitch, velocity / 127.0, held, length, rate_hz, rng)
            out[at:at + length] += voice
        return out.astype(np.float32)

    def _note(self, pitch: int, velocity: float, held: int, length: int, rate_hz: int,
              rng: np.random.Generator) -> np.ndarray:
        t = np.arange(length) / rate_hz
        f0 = 440.0 * 2.0 ** ((pitch - 69) / 12.0)
        h = np.arange(1, MAX_HARMONICS + 1, dtype=np.float64)
        freqs = h * f0 * np.sqrt(1.0 + self.inharmonicity * h ** 2)
        keep = freqs < 0.45 * rate_hz
        h, freqs = h[keep], freqs[keep]
        slope = self.slope + self.brightness_per_velocity * (1.0 - velocity)
        level_db = np.asarray(self.harmonic_db[:len(h)]) - np.where(h % 2 == 0, self.odd_only_db, 0.0)
        amps = h ** -slope * 10.0 ** (level_db / 20.0)
        vibrato = 1.0 + (2.0 ** (self.vibrato_cents / 1200.0) - 1.0) * np.sin(2 * np.pi * self.vibrato_hz * t)
        tone = np.zeros(length)
        for cents in self.detune_cents:
            phase = 2 * np.pi * np.cumsum(vibrato) / rate_hz * 2.0 ** (cents / 1200.0)   # of a 1 Hz tone
            phases = rng.uniform(0, 2 * np.pi, len(h))
            if self.decay_per_s > 0:   # struck: each harmonic decays, the upper ones faster
                rates = self.decay_per_s * (1.0 + self.decay_growth * (h - 1))
                env_h = np.exp(-np.outer(t, rates))
                tone += (np.sin(np.outer(phase, freqs) + phases) * env_h) @ amps
            else:
                tone += np.sin(np.outer(phase, freqs) + phases) @ amps
        tone /= len(self.detune_cents)
        tone *= self._envelope(t, held, rate_hz)
        if self.noise_level > 0:
            burst = min(length, int(0.02 * rate_hz))
            tone[:burst] += (rng.standard_normal(burst) * np.exp(-np.arange(burst) / (0.004 * rate_hz))
                             * self.noise_level * float(np.abs(amps).sum()))
        return tone * velocity ** 1.5

    def _envelope(self, t: np.ndarray, held: int, rate_hz: int) -> np.ndarray:
        attack = np.clip(t / max(self.attack_s, 1e-3), 0.0, 1.0)
        env = attack if self.decay_per_s > 0 else attack * (self.sustain + (1 - self.sustain) * np.exp(
            -np.clip(t - self.attack_s, 0, None) * 4.0))
        if len(t) > held:
            env = env.copy()
            env[held:] *= np.exp(-np.arange(len(t) - held) / (max(self.release_s, RELEASE_FLOOR_S) / 5.0 * rate_hz))
        return env


def draw_timbre(program: int, rng: np.random.Generator) -> Timbre:
    """A random instrument in the manner of GM ``program``'s family (see the module docstring);
    for the bass family, a sub bass (:data:`SUB_BASS_SHARE`) once in a while."""
    timbre = _draw_family_timbre(program, rng)
    if program // 8 == 4 and rng.random() < SUB_BASS_SHARE:   # drawn after: other families' draws unchanged
        timbre = _as_sub_bass(timbre, rng)
    return timbre


def draw_sub_bass(rng: np.random.Generator) -> Timbre:
    """A sub bass (the ``SubBass`` source): a synth bass's envelope, nearly a sine."""
    return _as_sub_bass(_draw_family_timbre(38, rng), rng)


def _as_sub_bass(timbre: Timbre, rng: np.random.Generator) -> Timbre:
    return replace(timbre, slope=float(rng.uniform(*SUB_BASS_SLOPE)), odd_only_db=0.0, inharmonicity=0.0,
                   noise_level=0.0, detune_cents=(0.0,))


def _draw_family_timbre(program: int, rng: np.random.Generator) -> Timbre:
    family = program // 8
    struck, slow = family in STRUCK, family in SLOW
    voices = int(rng.integers(2, 4)) if (slow or family in (10, 2) and rng.random() < 0.5) else 1
    spread = rng.uniform(3.0, 15.0)
    return Timbre(
        slope=float(rng.uniform(0.6, 2.2)),
        harmonic_db=tuple(float(x) for x in rng.normal(0.0, 4.0, MAX_HARMONICS)),
        odd_only_db=float(rng.choice([0.0, 0.0, 0.0, rng.uniform(6.0, 30.0)])),
        inharmonicity=float(10 ** rng.uniform(-5, -3.3)) if family in (0, 3) else 0.0,
        attack_s=float(rng.uniform(0.05, 0.35) if slow else rng.uniform(0.001, 0.012) if struck
                       else rng.uniform(0.005, 0.08)),
        decay_per_s=float(rng.uniform(0.4, 4.0)) if struck else 0.0,
        decay_growth=float(rng.uniform(0.05, 0.6)),
        sustain=float(rng.uniform(0.5, 1.0)),
        release_s=float(rng.uniform(0.05, 0.6 if slow else 0.3)),
        vibrato_hz=float(rng.uniform(4.0, 7.0)),
        vibrato_cents=0.0 if struck else float(rng.choice([0.0, rng.uniform(3.0, 25.0)])),
        detune_cents=tuple(float(c) for c in (np.linspace(-spread, spread, voices) if voices > 1 else [0.0])),
        noise_level=float(rng.choice([0.0, rng.uniform(0.02, 0.3)])) if struck else 0.0,
        brightness_per_velocity=float(rng.uniform(0.0, 1.0)),
    )
