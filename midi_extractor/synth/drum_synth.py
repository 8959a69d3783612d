"""Procedural drum kits: a kit drawn for every drum part, a sound source with no file.

The sampled kits and SoundFonts of the training pool hold a handful of hi-hats and fewer shakers,
so a model learns those samples rather than what makes a hat a hat. :func:`draw_kit` draws a
:class:`SynthKit` whose every GM drum key is a voice synthesised from oscillators and filtered
noise, in the manner of analogue drum machines and of the instrument's physics:

- kick: a sine whose pitch falls, a click; snare: a tone and band-passed noise (or a clap's
  bursts); toms: a falling sine tuned by key;
- hi-hat: metallic (square oscillators at inharmonic ratios, as the TR-808 does) mixed with
  noise, high-passed, a near-instant attack; closed and pedal short, open long and choked by
  the next hat;
- cymbals: many inharmonic partials and noise, seconds long (ride bell: fewer, louder partials);
- shakers: band-passed noise through a cloud of grains (beads), an attack drawn from sharp
  (0.5 ms) to swelling (30 ms), often two shakes; tambourine: jingles (high damped partials) over it;
- other percussion: tuned hits with a pitch drop (congas, bongos, timbales), metal (cowbell,
  agogo, triangle), short clicks (claves, woodblocks), a scrape (guiro).

Every value is drawn from the generator :func:`draw_kit` is given, and each hit from the one
:meth:`SynthKit.render` is given, so the same generators give the same audio. Velocity sets the
level. Units in names; audio is float mono at the rate asked for.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.signal import butter, sosfilt

from midi_extractor import taxonomy as tx

#: the TR-808's six hat oscillators as ratios of the lowest (205.3, 304.4, 369.6, 522.7, 540, 800 Hz)
METAL_RATIOS = (1.0, 1.483, 1.800, 2.546, 2.630, 3.897)
OPEN_KEYS = frozenset({46})
PEDAL_KEYS = frozenset({44})
CHOKE_FADE_S = 0.005
MAX_CYMBAL_S = 4.0


@dataclass(frozen=True)
class SynthKit:
    """One drawn kit: ``params[class]`` the drawn values of a drum class's voice, ``gain_db[class]``
    its level in the mix."""

    params: dict[str, dict[str, float]]
    gain_db: dict[str, float]

    @property
    def keys(self) -> frozenset[int]:
        return frozenset(k for keys in tx.DRUM_CLASSES.values() for k in keys)

    def render(self, notes, n_samples: int, sample_rate_hz: int, rng: np.random.Generator) -> np.ndarray:
        """``notes`` (start_s, end_s, GM key, velocity) as float32 mono audio of ``n_samples``.
        An open hat stops (a 5-ms fade) where the next hat of the part starts."""
        out = np.zeros(n_samples, np.float64)
        notes = sorted(notes, key=lambda n: n[0])
        hat_starts = [int(round(n[0] * sample_rate_hz)) for n in notes if tx.drum_class(int(n[2])) == "hihat"]
        for start_s, _end, key, velocity in notes:
            at = int(round(start_s * sample_rate_hz))
            if at >= n_samples:
                continue
            drum_class = tx.drum_class(int(key))
            hit = self.voice(int(key), sample_rate_hz, rng)[: n_samples - at]
            if int(key) in OPEN_KEYS:
                hit = _choke(hit, next((s - at for s in hat_starts if s > at), None), sample_rate_hz)
            level = (min(max(float(velocity), 1.0), 127.0) / 127.0) ** 1.5 * 10 ** (self.gain_db[drum_class] / 20)
            out[at: at + len(hit)] += hit * level
        return out.astype(np.float32)

    def voice(self, key: int, rate_hz: int, rng: np.random.Generator) -> np.ndarray:
        """One hit of GM drum ``key`` at full level, peak about 1."""
        drum_class = tx.drum_class(key)
        p = self.params[drum_class]
        hit = VOICES[drum_class](p, key, rate_hz, rng)
        return hit / max(float(np.max(np.abs(hit))), 1e-9)


def draw_kit(rng: np.random.Generator) -> SynthKit:
    """A kit with every drum class's voice drawn (module docstring)."""
    u = rng.uniform
    params = {
        "kick": {"f0_hz": u(40, 70), "sweep": u(1.5, 4.0), "sweep_s": u(0.015, 0.06), "decay_s": u(0.15, 0.5),
                 "click": u(0.0, 0.5)},
        "snare": {"tone_hz": u(150, 260), "noise_lo_hz": u(800, 2500), "noise_hi_hz": u(6000, 12000),
                  "decay_s": u(0.08, 0.3), "tone": u(0.1, 0.6), "clap": float(u() < 0.25)},
        "toms": {"low_hz": u(70, 110), "high_hz": u(180, 320), "decay_s": u(0.2, 0.6), "sweep": u(1.0, 1.6)},
        "hihat": {"base_hz": u(150, 450), "jitter": u(0.0, 0.15), "noise": u(0.0, 0.5), "cut_hz": u(5000, 10000),
                  "closed_s": u(0.015, 0.07), "open_s": u(0.25, 0.9), "ratios": rng.integers(1 << 30)},
        "cymbal": {"n_partials": int(rng.integers(10, 30)), "lo_hz": u(300, 800), "hi_hz": u(6000, 12000),
                   "noise": u(0.2, 0.8), "cut_hz": u(1500, 5000), "decay_s": u(0.8, 2.5),
                   "seed": rng.integers(1 << 30)},
        "shaker": {"lo_hz": u(2000, 5000), "hi_hz": u(7000, 14000), "grains_per_s": u(300, 3000),
                   "attack_s": float(np.exp(u(np.log(0.0005), np.log(0.03)))),   # sharp to swelling
                   "decay_s": u(0.04, 0.18), "shakes": float(rng.integers(1, 3)), "gap_s": u(0.01, 0.04),
                   "jingle_hz": u(4000, 10000)},
        "other_perc": {"tone_hz": u(150, 500), "metal_hz": u(450, 900), "decay_s": u(0.06, 0.3),
                       "click_hz": u(900, 2800)},
    }
    gain_db = {c: float(u(-8.0, 0.0)) for c in tx.DRUM_CLASSES}
    return SynthKit(params, gain_db)


# ----------------------------------------------------------------- building blocks
def _t(duration_s: float, rate_hz: int) -> np.ndarray:
    return np.arange(int(duration_s * rate_hz)) / rate_hz


def _envelope(t: np.ndarray, attack_s: float, decay_s: float) -> np.ndarray:
    """A raised-cosine rise over ``attack_s``, then an exponential fall (``decay_s`` to 1/e)."""
    rise = 0.5 - 0.5 * np.cos(np.pi * np.clip(t / max(attack_s, 1e-4), 0.0, 1.0))
    return rise * np.exp(-np.maximum(t - attack_s, 0.0) / decay_s)


def _band(x: np.ndarray, rate_hz: int, lo_hz: float, hi_hz: float | None) -> np.ndarray:
    """``x`` band-passed ``lo_hz``-``hi_hz``, or high-passed at ``lo_hz`` where ``hi_hz`` is
    ``None`` or too near the Nyquist rate."""
    nyquist_hz = 0.45 * rate_hz
    if hi_hz is not None and hi_hz < nyquist_hz:
        sos = butter(2, [lo_hz, hi_hz], "bandpass", fs=rate_hz, output="sos")
    else:
        sos = butter(2, min(lo_hz, nyquist_hz * 0.9), "highpass", fs=rate_hz, output="sos")
    return sosfilt(sos, x)


def _sweep_sine(t: np.ndarray, rate_hz: int, f0_hz: float, ratio: float, sweep_s: float) -> np.ndarray:
    """A sine falling from ``ratio x f0_hz`` to ``f0_hz`` (time constant ``sweep_s``)."""
    freq_hz = f0_hz * (1.0 + (ratio - 1.0) * np.exp(-t / sweep_s))
    return np.sin(2 * np.pi * np.cumsum(freq_hz) / rate_hz)


def _squares(t: np.ndarray, freqs_hz, rng: np.random.Generator) -> np.ndarray:
    return sum(np.sign(np.sin(2 * np.pi * f * t + rng.uniform(0, 2 * np.pi))) for f in freqs_hz) / len(freqs_hz)


def _choke(hit: np.ndarray, stop: int | None, rate_hz: int) -> np.ndarray:
    if stop is None or stop >= len(hit):
        return hit
    fade = max(int(CHOKE_FADE_S * rate_hz), 1)
    out = hit[: stop + fade].copy()
    out[stop: stop + fade] *= np.linspace(1.0, 0.0, len(out) - stop)
    return out


# ----------------------------------------------------------------- voices, one a drum class
def _kick(p, key, rate_hz, rng):
    t = _t(p["decay_s"] * 4, rate_hz)
    body = _sweep_sine(t, rate_hz, p["f0_hz"] * (0.9 if key == 35 else 1.0), p["sweep"], p["sweep_s"])
    click = _band(rng.standard_normal(len(t)), rate_hz, 1500, 8000) * np.exp(-t / 0.004)
    return body * _envelope(t, 0.001, p["decay_s"]) + p["click"] * click


def _snare(p, key, rate_hz, rng):
    t = _t(p["decay_s"] * 4, rate_hz)
    if key == 37:   # side stick: a short woody click
        return _band(rng.standard_normal(len(t)), rate_hz, 1500, 5000) * np.exp(-t / 0.01)
    noise = _band(rng.standard_normal(len(t)), rate_hz, p["noise_lo_hz"], p["noise_hi_hz"])
    if key == 39 or p["clap"]:   # a clap: three or four bursts 8-15 ms apart, then a tail
        bursts = sum(np.exp(-np.maximum(t - k * 0.011, 0) / 0.004) * (t >= k * 0.011) for k in range(4))
        return noise * (bursts + 0.5 * _envelope(t, 0.03, p["decay_s"]))
    tone = np.sin(2 * np.pi * p["tone_hz"] * t) * np.exp(-t / 0.06)
    return p["tone"] * tone + noise * _envelope(t, 0.001, p["decay_s"])


def _tom(p, key, rate_hz, rng):
    keys = tx.DRUM_CLASSES["toms"]
    pos = keys.index(key) / (len(keys) - 1) if key in keys else 0.5
    f0 = p["low_hz"] * (p["high_hz"] / p["low_hz"]) ** pos
    t = _t(p["decay_s"] * 4, rate_hz)
    return _sweep_sine(t, rate_hz, f0, p["sweep"], 0.05) * _envelope(t, 0.001, p["decay_s"])


def _hat(p, key, rate_hz, rng):
    decay = p["open_s"] if key in OPEN_KEYS else p["closed_s"] * (1.3 if key in PEDAL_KEYS else 1.0)
    t = _t(decay * 5, rate_hz)
    ratios = np.array(METAL_RATIOS) * (1 + p["jitter"] * np.random.default_rng(p["ratios"]).uniform(-1, 1, 6))
    metal = _squares(t, p["base_hz"] * ratios, rng)
    mix = (1 - p["noise"]) * metal + p["noise"] * rng.standard_normal(len(t)) * 0.5
    return _band(mix, rate_hz, p["cut_hz"], None) * _envelope(t, 0.0005, decay)


def _cymbal(p, key, rate_hz, rng):
    layout = np.random.default_rng(p["seed"] + key)
    bell = key == 53
    n = max(p["n_partials"] // 3, 4) if bell else p["n_partials"]
    freqs = np.exp(layout.uniform(np.log(p["lo_hz"] * (2 if bell else 1)), np.log(p["hi_hz"]), n))
    decay = p["decay_s"] * (0.6 if key in (51, 59, 53) else 1.0) * (0.4 if key == 55 else 1.0)
    t = _t(min(decay * 2.5, MAX_CYMBAL_S), rate_hz)
    partials = sum(np.sin(2 * np.pi * f * t + layout.uniform(0, 6.3)) * np.exp(-t * (1 + f / 4000) / decay)
                   for f in freqs) / np.sqrt(n)
    noise = rng.standard_normal(len(t)) * _envelope(t, 0.002, decay * 0.5) * (0.2 if bell else p["noise"])
    return _band(partials + noise, rate_hz, p["cut_hz"] * (0.5 if bell else 1.0), None)


def _shaker(p, key, rate_hz, rng):
    decay = p["decay_s"] * (0.6 if key == 69 else 1.0)
    t = _t(decay * 5 + p["gap_s"] * 2, rate_hz)
    grains = (rng.random(len(t)) < p["grains_per_s"] / rate_hz) * rng.uniform(0.3, 1.0, len(t))
    cloud = np.convolve(grains, np.exp(-np.arange(int(0.002 * rate_hz) + 1) / (0.0006 * rate_hz)))[: len(t)]
    noise = _band(rng.standard_normal(len(t)) * (0.3 + cloud), rate_hz, p["lo_hz"], p["hi_hz"])
    env = _envelope(t, p["attack_s"], decay)
    if p["shakes"] > 1:   # the beads hit the far wall too
        shift = int(p["gap_s"] * rate_hz)
        env = env + 0.6 * np.concatenate([np.zeros(shift), env[: len(t) - shift]])
    out = noise * env
    if key == 54:   # tambourine: jingles over the shake
        jingles = sum(np.sin(2 * np.pi * p["jingle_hz"] * r * t + rng.uniform(0, 6.3)) for r in (1.0, 1.13, 1.41, 1.62))
        out = out + 0.5 * jingles * env * np.exp(-t / 0.15)
    return out


def _other(p, key, rate_hz, rng):
    t = _t(p["decay_s"] * 4, rate_hz)
    if key in (56, 67, 68, 80, 81):   # cowbell, agogo, triangle: metal
        f = p["metal_hz"] * (4 if key in (80, 81) else 1) * (1.2 if key == 67 else 1.0)
        decay = p["decay_s"] * (5 if key == 81 else 1)
        t = _t(decay * 4, rate_hz)
        return _band(_squares(t, (f, f * 1.48), rng), rate_hz, f * 0.7, f * 4) * _envelope(t, 0.001, decay)
    if key in (73, 74):   # guiro: a scrape of ticks
        ticks = (np.sin(2 * np.pi * 40 * t) > 0.9) * rng.standard_normal(len(t))
        return _band(ticks, rate_hz, 2000, 8000) * _envelope(t, 0.01, p["decay_s"])
    if key in (75, 76, 77):   # claves, woodblocks: a short high click
        f = p["click_hz"] * (1.3 if key in (75, 76) else 1.0)
        return np.sin(2 * np.pi * f * t) * np.exp(-t / 0.02)
    f0 = p["tone_hz"] * 2 ** ((key - 63) / 12)   # congas, bongos, timbales, cuica: tuned by key
    return _sweep_sine(t, rate_hz, f0, 1.3, 0.02) * _envelope(t, 0.001, p["decay_s"])


VOICES = {"kick": _kick, "snare": _snare, "toms": _tom, "hihat": _hat, "cymbal": _cymbal,
          "shaker": _shaker, "other_perc": _other}
