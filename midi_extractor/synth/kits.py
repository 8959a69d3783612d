"""Sampled drum kits in Hydrogen's format (Debian's ``hydrogen-drumkits``: a folder per kit
holding ``drumkit.xml`` and its samples), read and played as a sound source of the generated
set, beside the SoundFonts.

A kit's instruments carry names, not General MIDI keys (``Kick``, ``Snare Jazz``, ``Hi Hat
Closed``, ``c#4 - crash``), so each is given a GM drum class from its name (:func:`classify`;
unnamed or unknown instruments are left out), and a GM key is played by the instrument whose
name fits it best (:data:`KEY_WORDS`: a closed hat for 42, a pedal hat for 44, an open one
for 46; else the first instrument of the key's class). Velocity picks the layer
(``min``..``max`` of velocity / 127) and scales it linearly, as Hydrogen does.

:func:`read_kit` gives a :class:`Kit`; ``Kit.keys`` are the GM keys it can play (for
:func:`midi_extractor.synth.sources.remap_drum_notes`); ``Kit.render(notes, n, rate)`` mixes the
samples, resampled to ``rate``, mono.
"""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from midi_extractor import taxonomy as tx

#: name words -> GM drum class, tried in this order (``snare roll`` is a snare, ``ride bell`` a cymbal)
CLASS_WORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("hihat", ("hi hat", "hihat", "hi-hat", "hh", "hat")),
    ("cymbal", ("crash", "ride", "splash", "china", "cymbal", "cup")),
    ("kick", ("kick", "bass drum", "bassdrum", "bd")),
    ("toms", ("tom",)),
    ("snare", ("snare", "stick", "rim", "clap")),
    ("shaker", ("shaker", "maraca", "tambourine", "cabasa")),
    ("other_perc", ("cowbell", "conga", "bongo", "woodblock", "clave", "agogo", "timbale", "guiro")),
)
#: words that make an instrument the best fit for a GM key (the key's class decides the rest)
KEY_WORDS: dict[int, tuple[str, ...]] = {
    37: ("stick", "rim click", "side"), 39: ("clap",), 38: ("snare",), 40: ("rimshot", "snare"),
    42: ("closed",), 44: ("pedal",), 46: ("open",),
    49: ("crash",), 57: ("crash",), 51: ("ride",), 59: ("ride",), 53: ("bell", "cup"), 55: ("splash",),
    52: ("china",), 54: ("tambourine",), 70: ("maraca",), 56: ("cowbell",),
    41: ("floor", "low"), 43: ("floor", "low"), 45: ("low", "mid"), 47: ("mid",), 48: ("hi", "high"),
    50: ("hi", "high"),
}
#: words that keep an instrument out of a key even when its class fits (a choke is not a hit)
NOT_A_HIT = ("choke", "swish", "roll", "flink")


class KitError(RuntimeError):
    """A kit folder that cannot be used (no drumkit.xml, unreadable XML or samples)."""


@dataclass
class Layer:
    file: Path
    min_velocity: float
    max_velocity: float
    gain: float


@dataclass
class Instrument:
    name: str
    drum_class: str
    gain: float
    layers: list[Layer] = field(default_factory=list)


def classify(name: str) -> str | None:
    """The GM drum class an instrument name reads as, or None (unnamed, a number, an effect)."""
    words = " " + re.sub(r"[^a-z0-9#]+", " ", name.lower()) + " "
    for drum_class, keys in CLASS_WORDS:
        if any(f" {k} " in words or (len(k) > 3 and k in words) for k in keys):
            return drum_class
    return None


def _float(node: ET.Element, tag: str, default: float) -> float:
    text = node.findtext(tag)
    try:
        return float(text) if text is not None else default
    except ValueError:
        return default


def _layers(node: ET.Element, folder: Path) -> list[Layer]:
    """An instrument's layers (any nesting: Hydrogen 0.9.7 puts them in an
    ``instrumentComponent``), or its lone ``filename`` (older kits)."""
    out = [Layer(folder / layer.findtext("filename", ""), _float(layer, "min", 0.0), _float(layer, "max", 1.0),
                 _float(layer, "gain", 1.0))
           for layer in node.iter("layer") if layer.findtext("filename")]
    if not out and node.findtext("filename"):
        out = [Layer(folder / node.findtext("filename", ""), 0.0, 1.0, 1.0)]
    return [layer for layer in out if layer.file.is_file()]


@dataclass
class Kit:
    name: str
    folder: Path
    instruments: list[Instrument]
    by_key: dict[int, Instrument] = field(init=False)

    def __post_init__(self) -> None:
        self.by_key = {}
        for drum_class, keys in tx.DRUM_CLASSES.items():
            able = [i for i in self.instruments if i.drum_class == drum_class]
            hits = [i for i in able if not any(w in i.name.lower() for w in NOT_A_HIT)] or able
            for key in keys:
                words = KEY_WORDS.get(key, ())
                fit = [i for i in hits if any(w in i.name.lower() for w in words)]
                if fit or hits:
                    self.by_key[key] = (fit or hits)[0]

    @property
    def keys(self) -> frozenset[int]:
        return frozenset(self.by_key)

    def render(self, notes: list[tuple], n_samples: int, sample_rate_hz: int) -> np.ndarray:
        """``notes`` (start_s, end_s, GM key, velocity) as float32 mono audio of ``n_samples``;
        a key the kit lacks is silent (remap notes first)."""
        out = np.zeros(n_samples, np.float64)
        for start_s, _end, key, velocity in notes:
            inst = self.by_key.get(int(key))
            at = int(round(start_s * sample_rate_hz))
            if inst is None or at >= n_samples:
                continue
            v = min(max(float(velocity) / 127.0, 0.0), 1.0)
            layer = next((lay for lay in inst.layers if lay.min_velocity <= v <= lay.max_velocity), inst.layers[-1])
            sample = _sample(layer.file, sample_rate_hz)[: n_samples - at]
            out[at: at + len(sample)] += sample * (v * layer.gain * inst.gain)
        return out.astype(np.float32)


@lru_cache(maxsize=512)
def _sample(path: Path, sample_rate_hz: int) -> np.ndarray:
    """One sample file as float64 mono at ``sample_rate_hz`` (cached: kits reuse a few files)."""
    import soundfile as sf
    import soxr

    try:
        data, rate = sf.read(str(path), dtype="float64", always_2d=True)
    except Exception as exc:  # noqa: BLE001 - any unreadable sample names its file
        raise KitError(f"{path}: unreadable sample ({exc})") from None
    mono = data.mean(axis=1)
    return soxr.resample(mono, rate, sample_rate_hz) if rate != sample_rate_hz else mono


@lru_cache(maxsize=64)
def read_kit(folder: str | Path) -> Kit:
    """The kit in ``folder`` (its ``drumkit.xml``); instruments with no drum class or no
    readable layer are left out. :class:`KitError` when the file is missing or broken."""
    folder = Path(folder)
    xml = folder / "drumkit.xml"
    try:
        root = ET.parse(xml).getroot()
    except (OSError, ET.ParseError) as exc:
        raise KitError(f"{xml}: cannot read the kit ({exc})") from None
    root_tag = root.tag.split("}")[0] + "}" if root.tag.startswith("{") else ""
    for node in root.iter():  # drop any XML namespace, so find() sees plain tags
        node.tag = node.tag.replace(root_tag, "") if root_tag else node.tag
    instruments = []
    for node in root.iter("instrument"):
        name = (node.findtext("name") or "").strip()
        drum_class = classify(name)
        layers = _layers(node, folder)
        if drum_class and layers:
            layers.sort(key=lambda lay: lay.min_velocity)
            instruments.append(Instrument(name, drum_class, _float(node, "volume", 1.0) * _float(node, "gain", 1.0),
                                          layers))
    return Kit((root.findtext("name") or folder.name).strip(), folder, instruments)
