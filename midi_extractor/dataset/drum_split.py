"""Is a drum stem the core kit (``drums``) or high percussion only (``high_percs``)?

Slakh marks every drum track ``is_drum: true`` / ``program_num: 128``; the
taxonomy splits drums into two stems. :func:`classify_audio` decides from the
stem's AUDIO with four cues, each a vote for ``high_percs``:

* ``low_ratio``  -- share of energy below ``low_hz`` (kick, toms, snare body):
  a kit has plenty, hats/cymbals/shakers almost none;
* ``centroid_hz`` -- median spectral centroid of the active frames;
* ``rolloff_hz`` -- median 85 % spectral roll-off of the active frames;
* ``flatness`` -- median spectral flatness of the active frames (noisy tails
  of cymbals and shakers are flat, drum bodies are tonal-ish).

``transient_db`` (95th-percentile-to-median frame level: transient-to-sustain)
is measured and reported too; it has a threshold but no vote by default
(``transient_vote: 0``): on generated tracks it overlaps completely between
kits and hats (open hats and crashes sustain like a kit). The low band is by
far the strongest cue, so its vote weighs 3 and ``high_percs`` needs it plus
one other (``min_votes: 4``).

The thresholds live in :class:`DrumSplitConfig`; ``params.yaml`` section
``index.drum_split`` overrides any of them. :func:`truth_from_midi` gives the
reference answer from the notes (taxonomy drum classes).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from midi_extractor import taxonomy as tx
from midi_extractor.audio import AudioError, audio_info, load_audio
from midi_extractor.config import DrumSplitConfig, from_dict
from midi_extractor.midi_notes import read_midi

DRUMS, HIGH_PERCS = "drums", "high_percs"


def config_from_params(values: dict[str, Any] | DrumSplitConfig | None) -> DrumSplitConfig:
    """``params.yaml``'s ``index.drum_split`` as a :class:`~midi_extractor.config.DrumSplitConfig`
    (a mapping is coerced and checked as the params file's section is; an unknown key raises
    :class:`~midi_extractor.config.ConfigError` naming it and the known keys)."""
    if isinstance(values, DrumSplitConfig):
        return values
    return from_dict(DrumSplitConfig, dict(values or {}), where="index.drum_split")


# ----------------------------------------------------------------- features
def audio_features(x: np.ndarray, sample_rate_hz: int, config: DrumSplitConfig | None = None) -> dict[str, float]:
    """The cues of the module docstring for a mono signal. ``peak_db`` is the
    loudest frame's level (dBFS); the others are NaN when nothing is active."""
    cfg = config or DrumSplitConfig()
    n_fft, hop = 1024, 256
    x = np.asarray(x, dtype=np.float32)
    if len(x) < n_fft:
        x = np.pad(x, (0, n_fft - len(x)))
    n = 1 + (len(x) - n_fft) // hop
    frames = np.lib.stride_tricks.as_strided(x, (n, n_fft), (x.strides[0] * hop, x.strides[0]))
    spec = np.abs(np.fft.rfft(frames * np.hanning(n_fft).astype(np.float32), axis=1)) ** 2
    power = spec.sum(axis=1)
    level_db = 10 * np.log10(power / (np.hanning(n_fft) ** 2).sum() / n_fft * 2 + 1e-20)
    peak_db = float(level_db.max())
    nan = float("nan")
    feats = {"peak_db": peak_db, "low_ratio": nan, "centroid_hz": nan, "rolloff_hz": nan,
             "flatness": nan, "transient_db": nan}
    if peak_db < cfg.silence_db:
        return feats
    active = level_db >= peak_db - cfg.active_db
    s = spec[active]
    freqs = np.fft.rfftfreq(n_fft, 1.0 / sample_rate_hz)
    total = s.sum()
    feats["low_ratio"] = float(s[:, freqs < cfg.low_hz].sum() / total)
    p = s.sum(axis=1, keepdims=True) + 1e-20
    feats["centroid_hz"] = float(np.median((s * freqs).sum(axis=1) / p[:, 0]))
    cum = np.cumsum(s, axis=1) / p
    feats["rolloff_hz"] = float(np.median(freqs[np.argmax(cum >= 0.85, axis=1)]))
    logmean = np.mean(np.log(s + 1e-20), axis=1)
    feats["flatness"] = float(np.median(np.exp(logmean) / (s.mean(axis=1) + 1e-20)))
    feats["transient_db"] = float(np.percentile(level_db[active], 95) - np.median(level_db[active]))
    return feats


def votes(features: dict[str, float], config: DrumSplitConfig | None = None) -> float:
    """Weighted votes for ``high_percs`` (see the module docstring)."""
    cfg = config or DrumSplitConfig()
    f = features
    return (cfg.low_vote * float(f["low_ratio"] < cfg.low_ratio_max)
            + cfg.centroid_vote * float(f["centroid_hz"] > cfg.centroid_min_hz)
            + cfg.rolloff_vote * float(f["rolloff_hz"] > cfg.rolloff_min_hz)
            + cfg.flatness_vote * float(f["flatness"] > cfg.flatness_min)
            + cfg.transient_vote * float(f["transient_db"] < cfg.transient_db_max))


def classify_audio(x: np.ndarray, sample_rate_hz: int,
                   config: DrumSplitConfig | None = None) -> tuple[str | None, dict[str, float]]:
    """``(stem or None, features)``; None when the audio is too quiet to tell."""
    cfg = config or DrumSplitConfig()
    feats = audio_features(x, sample_rate_hz, cfg)
    if np.isnan(feats["low_ratio"]):
        return None, feats
    feats["votes"] = votes(feats, cfg)
    return (HIGH_PERCS if feats["votes"] >= cfg.min_votes else DRUMS), feats


def analysis_audio(path: str | Path, config: DrumSplitConfig | None = None) -> np.ndarray:
    """The audio the split looks at: ``windows`` windows of ``window_s`` seconds
    centred at evenly spread points of the file (an intro with only hats does
    not decide a 4-minute kit), or the whole file when it is shorter than
    that; mono at ``sample_rate_hz``. Raises AudioError."""
    cfg = config or DrumSplitConfig()
    sr, n_frames, _ = audio_info(path)
    duration = n_frames / sr
    n = max(int(cfg.windows), 1)
    if duration <= n * cfg.window_s:
        return load_audio(path, cfg.sample_rate_hz)
    centres = [(k + 0.5) * duration / n for k in range(n)]
    return np.concatenate([load_audio(path, cfg.sample_rate_hz, max(c - cfg.window_s / 2, 0.0), cfg.window_s)
                           for c in centres])


def classify_file(path: str | Path, config: DrumSplitConfig | None = None) -> tuple[str | None, dict[str, float]]:
    """:func:`classify_audio` on :func:`analysis_audio` of a file (raises AudioError)."""
    cfg = config or DrumSplitConfig()
    return classify_audio(analysis_audio(path, cfg), cfg.sample_rate_hz, cfg)


# --------------------------------------------------------------------- MIDI
def _notes(midi: Any) -> list[int]:
    instruments = read_midi(midi).instruments
    drums = [i for i in instruments if i.is_drum] or instruments  # Slakh drum MIDI may lack channel 10
    return [n.pitch for i in drums for n in i.notes]


def high_share(midi: Any) -> float:
    """Share of a drum MIDI's notes whose taxonomy class is a ``high_percs`` class
    (NaN without notes). ``midi`` is a PrettyMIDI or a path."""
    pitches = _notes(midi)
    if not pitches:
        return float("nan")
    high = set(tx.STEM_DRUM_CLASSES[HIGH_PERCS])
    return sum(tx.drum_class(p) in high for p in pitches) / len(pitches)


def truth_from_midi(midi: Any, threshold: float = DrumSplitConfig.midi_high_share) -> str:
    """``high_percs`` if at least ``threshold`` (90 %) of the notes are hi-hat,
    cymbal or shaker classes, else ``drums`` (also for a file without notes)."""
    share = high_share(midi)
    return HIGH_PERCS if share == share and share >= threshold else DRUMS


# ----------------------------------------------------------------- decision
def split_drum_stem(audio: str | Path | None, midi: str | Path | None,
                    config: DrumSplitConfig | None = None) -> tuple[str, str, dict[str, float]]:
    """``(stem, method, features)`` for one drum stem: from the audio when it
    is there and audible (method ``audio``), else from the MIDI (``midi``),
    else ``drums`` (``default``). Never raises for bad files."""
    cfg = config or DrumSplitConfig()
    feats: dict[str, float] = {}
    if cfg.method == "audio" and audio is not None:
        try:
            stem, feats = classify_file(audio, cfg)
            if stem is not None:
                return stem, "audio", feats
        except AudioError:
            pass
    if midi is not None:
        try:
            return truth_from_midi(midi, cfg.midi_high_share), "midi", feats
        except Exception:  # noqa: BLE001 - unreadable MIDI: the filter reports it
            pass
    return DRUMS, "default", feats
