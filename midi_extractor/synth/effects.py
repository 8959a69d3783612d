"""Seeded random effect chains per stem type, with Spotify's ``pedalboard``.

:func:`random_chain` draws a chain for one stem of one track: each effect of
the stem type's menu (:data:`MENUS`) is used with its probability, with
parameters drawn from its ranges, in a fixed order (EQ and filters, drive,
compression, modulation, delay, reverb). ``strength`` (``params.yaml``
``dataset.effects``, 0-1) scales every probability and every wet/dry mix; 0 is
no effects at all. :func:`apply_chain` runs a chain over float32 mono audio;
none of the effects moves an onset (no look-ahead, no pre-delay), though delay
and reverb add tails and echoes after each note. A chain holds each effect as a
:class:`Effect` (the pedalboard class's name and its settings), not as a plugin: it
pickles, so a drawn chain can be applied in another process.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

# menus name effect kinds; every kind's effect (its settings drawn) comes from _BUILD below
#: stem -> effect menu kind
STEM_KIND = {"drums": "drums", "high_percs": "drums", "bass": "bass", "piano": "keys", "organ": "keys",
             "guitar": "guitar", "strings_ensemble": "strings", "synth_lead": "lead",
             "synth_pad_fx": "pad", "other": "other"}
#: kind -> ((effect, probability at strength 1), ...) in processing order
MENUS: dict[str, tuple[tuple[str, float], ...]] = {
    "drums": (("eq", 0.5), ("highpass", 0.2), ("compressor", 0.5), ("reverb", 0.4)),
    "bass": (("eq", 0.5), ("lowpass", 0.4), ("distortion", 0.15), ("compressor", 0.7), ("chorus", 0.1)),
    "keys": (("eq", 0.5), ("compressor", 0.4), ("chorus", 0.15), ("reverb", 0.7)),
    "guitar": (("eq", 0.5), ("highpass", 0.2), ("distortion", 0.45), ("compressor", 0.4), ("chorus", 0.3),
               ("delay", 0.15), ("reverb", 0.6)),
    "strings": (("eq", 0.5), ("chorus", 0.2), ("reverb", 0.8)),
    "lead": (("eq", 0.4), ("lowpass", 0.3), ("distortion", 0.2), ("chorus", 0.3), ("delay", 0.5),
             ("reverb", 0.5)),
    "pad": (("eq", 0.4), ("lowpass", 0.3), ("phaser", 0.2), ("chorus", 0.5), ("reverb", 0.8)),
    "other": (("eq", 0.5), ("compressor", 0.3), ("chorus", 0.2), ("reverb", 0.6)),
}


@dataclass(frozen=True)
class Effect:
    """One effect of a chain: a pedalboard plugin's class name and keyword arguments."""

    plugin: str
    settings: dict

    def build(self, pb):
        return getattr(pb, self.plugin)(**self.settings)


def _fx(plugin: str, **settings) -> Effect:
    return Effect(plugin, settings)


@dataclass
class Chain:
    """A drawn chain: its effects (in processing order) and their short names (for metadata.yaml)."""

    plugins: list[Effect]
    names: list[str]

    @property
    def label(self) -> str:
        return "+".join(self.names) if self.names else "none"


def _u(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(rng.uniform(lo, hi))


def _eq(rng, s, sr):
    kind = int(rng.integers(3))
    gain = _u(rng, -6, 6) * s
    if kind == 0:
        return _fx("LowShelfFilter", cutoff_frequency_hz=_u(rng, 80, 300), gain_db=gain)
    if kind == 1:
        return _fx("HighShelfFilter", cutoff_frequency_hz=min(_u(rng, 2000, 6000), 0.4 * sr), gain_db=gain)
    return _fx("PeakFilter", cutoff_frequency_hz=_u(rng, 200, min(4000, 0.4 * sr)), gain_db=gain, q=_u(rng, 0.5, 2))


_BUILD: dict[str, Callable] = {
    "eq": _eq,
    "highpass": lambda rng, s, sr: _fx("HighpassFilter", cutoff_frequency_hz=_u(rng, 30, 150)),
    "lowpass": lambda rng, s, sr: _fx("LowpassFilter", cutoff_frequency_hz=min(_u(rng, 1500, 7000), 0.45 * sr)),
    "distortion": lambda rng, s, sr: _fx("Distortion", drive_db=_u(rng, 6, 30) * s),
    "compressor": lambda rng, s, sr: _fx("Compressor", threshold_db=_u(rng, -24, -8), ratio=_u(rng, 2, 6),
                                                       attack_ms=_u(rng, 2, 20), release_ms=_u(rng, 50, 250)),
    "chorus": lambda rng, s, sr: _fx("Chorus", rate_hz=_u(rng, 0.3, 2.5), depth=_u(rng, 0.1, 0.5),
                                               centre_delay_ms=_u(rng, 5, 12), mix=_u(rng, 0.2, 0.5) * s),
    "phaser": lambda rng, s, sr: _fx("Phaser", rate_hz=_u(rng, 0.2, 1.5), depth=_u(rng, 0.3, 0.8),
                                               mix=_u(rng, 0.2, 0.5) * s),
    "delay": lambda rng, s, sr: _fx("Delay", delay_seconds=_u(rng, 0.12, 0.45), feedback=_u(rng, 0.0, 0.35),
                                             mix=_u(rng, 0.08, 0.25) * s),
    "reverb": lambda rng, s, sr: _fx("Reverb", room_size=_u(rng, 0.1, 0.8), damping=_u(rng, 0.2, 0.8),
                                               wet_level=_u(rng, 0.05, 0.3) * s, dry_level=1.0,
                                               width=1.0),
}


def _pedalboard():
    try:
        import pedalboard
    except ImportError as exc:  # a clear message instead of a traceback from deep inside synth
        raise ImportError(f"the effects of the generated data set need Spotify's pedalboard "
                          f"(pip install pedalboard): {exc}") from None
    return pedalboard


def random_chain(stem: str, rng: np.random.Generator, strength: float, sample_rate_hz: int) -> Chain:
    """A chain for one stem (a :data:`STEM_KIND` key) drawn with ``rng``; ``strength``
    0-1 scales probabilities and mixes (0: an empty chain, and ``rng`` is not used)."""
    if not 0.0 <= strength <= 1.0:
        raise ValueError(f"effects strength must be within 0-1, got {strength}")
    if strength == 0.0:
        return Chain([], [])
    plugins, names = [], []
    for name, p in MENUS[STEM_KIND.get(stem, "other")]:
        if rng.random() < p * strength:
            plugins.append(_BUILD[name](rng, strength, sample_rate_hz))
            names.append(name)
    return Chain(plugins, names)


def apply_chain(audio: np.ndarray, sample_rate_hz: int, chain: Chain) -> np.ndarray:
    """``audio`` (float32 mono, samples) through ``chain``; same length, float32."""
    if not chain.plugins:
        return audio
    pb = _pedalboard()
    board = pb.Pedalboard([effect.build(pb) for effect in chain.plugins])
    out = board(np.asarray(audio, np.float32)[None, :], float(sample_rate_hz), reset=True)
    return np.ascontiguousarray(out[0, : len(audio)], dtype=np.float32)
