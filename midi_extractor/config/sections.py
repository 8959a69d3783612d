"""The ``params.yaml`` sections of the signal and the scoring: ``features``, ``model``,
``index.drum_split``, ``index``, ``decoding``, ``tracking`` (``dataset`` is in
:mod:`midi_extractor.config.dataset`, the training sections in
:mod:`midi_extractor.config.training`, the whole file in :mod:`midi_extractor.config.params`)."""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

from midi_extractor.config.fields import AUTO, Checked, ConfigError, is_auto, key_of

#: the rate the models hear (``features.sample_rate_hz``) and the generated set is rendered at
DEFAULT_SAMPLE_RATE_HZ = 16000
#: a stem whose loudest block or frame is below this level (dBFS) is silent
SILENCE_DB = -60.0
#: values of ``features.kind``
FRONT_END_KINDS = ("mel", "logfreq")


@dataclass
class FrontEndConfig(Checked):
    """Signal constants, all derived from each other here (section ``features``).

    Frame ``t`` covers audio around ``t * hop_length / sample_rate_hz`` seconds
    (torch ``center=True`` framing), so a clip of ``n`` samples has
    ``n // hop_length + 1`` frames.
    """

    sample_rate_hz: int = DEFAULT_SAMPLE_RATE_HZ
    hop_length: int = 512
    n_fft: int = 2048
    n_mels: int = 229
    f_min_hz: float = 30.0
    f_max_hz: float = 8000.0
    min_midi: int = 21   # A0
    max_midi: int = 108  # C8
    # ``mel``: log-mel on one STFT (checkpoints before 0.2 use it). ``logfreq``: log-frequency
    # triangles ``bins_per_semitone`` apart from f_min_hz; below ``split_hz`` they read an STFT
    # of ``n_fft_low`` samples (a long window resolves the lowest semitones), above it n_fft's.
    kind: str = "mel"
    bins_per_semitone: int = 2
    split_hz: float = 250.0
    n_fft_low: int = 8192

    @property
    def frame_rate_hz(self) -> float:
        return self.sample_rate_hz / self.hop_length

    @property
    def hop_s(self) -> float:
        return self.hop_length / self.sample_rate_hz

    @property
    def n_pitches(self) -> int:
        return self.max_midi - self.min_midi + 1

    def n_frames(self, n_samples: int) -> int:
        return n_samples // self.hop_length + 1

    def check(self, where: str) -> None:
        if self.kind not in FRONT_END_KINDS:
            raise ConfigError(f"{key_of(where, 'kind')} must be one of {', '.join(FRONT_END_KINDS)}, got {self.kind!r}")
        for name in ("sample_rate_hz", "hop_length", "n_fft", "n_mels", "bins_per_semitone", "n_fft_low"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{key_of(where, name)} must be >= 1, got {getattr(self, name)}")
        if not 0 < self.f_min_hz < self.f_max_hz:
            raise ConfigError(f"{key_of(where, 'f_min_hz')} .. f_max_hz must satisfy 0 < f_min_hz < f_max_hz, "
                              f"got {self.f_min_hz} .. {self.f_max_hz}")
        if not 0 <= self.min_midi <= self.max_midi <= 127:
            raise ConfigError(f"{key_of(where, 'min_midi')} .. max_midi must lie within 0-127 in order, "
                              f"got {self.min_midi} .. {self.max_midi}")

    def frame_of(self, time_s: float) -> int:
        """Nearest frame index of a time in seconds."""
        return int(round(time_s * self.frame_rate_hz))

    def at_rate(self, sample_rate_hz: int) -> "FrontEndConfig":
        """This front end at another sample rate with its times kept: hop and FFT lengths scale
        with the rate (whole samples), so frames stay as long in seconds, and ``f_max_hz`` scales
        too, so bands that reached the old Nyquist frequency reach the new one."""
        r = sample_rate_hz / self.sample_rate_hz
        return dataclasses.replace(self, sample_rate_hz=int(sample_rate_hz),
                                   hop_length=max(1, round(self.hop_length * r)), n_fft=max(1, round(self.n_fft * r)),
                                   n_fft_low=max(1, round(self.n_fft_low * r)), f_max_hz=self.f_max_hz * r)


#: values of ``model.size`` (``midi_extractor.model.transcriber.architectures``' keys; a test keeps
#: them equal): the older Onsets & Frames sizes, then the harmonic family, which needs ``logfreq``
MODEL_SIZES = ("small", "paper", "harmonic", "harmonic-large")
HARMONIC_MODEL_SIZES = ("harmonic", "harmonic-large")


@dataclass
class ModelConfig(Checked):
    """Network size (section ``model``): ``small`` trains on a CPU in minutes,
    ``paper`` follows Onsets & Frames' sizes."""

    size: str = "small"
    conv_channels: int | None = None  # None: from size
    rnn_units: int | None = None      # None: from size

    def check(self, where: str) -> None:
        if self.size not in MODEL_SIZES:
            raise ConfigError(f"{key_of(where, 'size')} must be one of {', '.join(MODEL_SIZES)}, got {self.size!r}")
        for name in ("conv_channels", "rnn_units"):
            if getattr(self, name) is not None and getattr(self, name) < 1:
                raise ConfigError(f"{key_of(where, name)} must be >= 1 (or null: from size), got {getattr(self, name)}")


@dataclass
class DrumSplitConfig(Checked):
    """Thresholds of the drum split's audio heuristic (section ``index.drum_split``; see
    :mod:`midi_extractor.dataset.drum_split`), set on generated tracks (hand-made
    patterns, seeds 0-11, and ``synth --seed 0`` 50 x 4 s) and scored on
    held-out ones (benchmarks/RESULTS.md ``## Indexing``). There the low-band
    share was 0.71-0.98 for kits and 0.00-0.06 for hats/cymbals/shakers; the
    centroid and roll-off overlap (ride bells, china and pedal hats sit near
    2 kHz), so they only corroborate."""

    method: str = "audio"           # audio (falls back to midi when silent/missing) | midi
    sample_rate_hz: int = DEFAULT_SAMPLE_RATE_HZ     # analysis rate
    windows: int = 3                # analyse this many windows spread over the file ...
    window_s: float = 10.0          # ... of this length (a shorter file is read whole)
    silence_db: float = SILENCE_DB    # loudest frame below this: undecidable from audio
    active_db: float = 40.0         # frames within this many dB of the loudest are "active"
    low_hz: float = 250.0
    low_ratio_max: float = 0.2      # vote high_percs when the low-band share is below this
    centroid_min_hz: float = 1500.0   # vote high_percs above this median centroid
    rolloff_min_hz: float = 2500.0    # vote high_percs above this median roll-off
    flatness_min: float = 0.10        # vote high_percs above this median flatness
    transient_db_max: float = 0.0     # vote high_percs below this peak-to-median level
    low_vote: float = 3.0             # weight of each vote ...
    centroid_vote: float = 1.0
    rolloff_vote: float = 1.0
    flatness_vote: float = 1.0
    transient_vote: float = 0.0       # (0: reported only)
    min_votes: float = 4.0            # ... and the total needed for high_percs: the
                                      # low-band vote plus at least one other
    midi_high_share: float = 0.9      # truth_from_midi: share of high-perc notes for high_percs

    def check(self, where: str) -> None:
        if self.method not in ("audio", "midi"):
            raise ConfigError(f"{key_of(where, 'method')} must be 'audio' or 'midi', got {self.method!r}")
        for name in ("sample_rate_hz", "windows"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{key_of(where, name)} must be >= 1, got {getattr(self, name)}")
        for name, ok, rule in (("window_s", self.window_s > 0, "> 0 s"), ("active_db", self.active_db >= 0, ">= 0 dB"),
                               ("low_hz", 0 < self.low_hz < self.sample_rate_hz / 2, "within 0 Hz - sample_rate_hz / 2")):
            if not ok:
                raise ConfigError(f"{key_of(where, name)} must be {rule}, got {getattr(self, name)}")
        for name in ("low_ratio_max", "flatness_min", "midi_high_share"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ConfigError(f"{key_of(where, name)} is a share: it must be within 0-1, got {getattr(self, name)}")
        for name in ("low_vote", "centroid_vote", "rolloff_vote", "flatness_vote", "transient_vote", "min_votes"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{key_of(where, name)} must be >= 0, got {getattr(self, name)}")


@dataclass
class FilterConfig(Checked):
    """Thresholds of ``filter-index`` (section ``index.filter``; see
    :mod:`midi_extractor.dataset.filtering`)."""

    silence_db: float = SILENCE_DB  # loudest block RMS (dBFS) below this: silent
    block_s: float = 0.5       # block length of that RMS
    min_notes: int = 4         # fewer notes than this: too_few_notes
    full_decode: bool = True   # decode every stem to its end (catches truncation, NaN/inf)

    def check(self, where: str) -> None:
        if self.silence_db > 0:
            raise ConfigError(f"{key_of(where, 'silence_db')} is {self.silence_db:g} dBFS, above full scale (0 dBFS): "
                              f"every stem would be dropped as silent_audio; give a level below 0 (default "
                              f"{SILENCE_DB:g})")
        if not self.block_s > 0:
            raise ConfigError(f"{key_of(where, 'block_s')} must be > 0, got {self.block_s}")
        if self.min_notes < 0:
            raise ConfigError(f"{key_of(where, 'min_notes')} must be >= 0, got {self.min_notes}")


@dataclass
class IndexConfig:
    """Drum split and filter thresholds (section ``index``)."""

    drum_split: DrumSplitConfig = field(default_factory=DrumSplitConfig)
    filter: FilterConfig = field(default_factory=FilterConfig)


@dataclass
class DecodingConfig(Checked):
    """Activation-to-note thresholds (section ``decoding``, and a model's ``decoding.json``).
    A threshold is a number in (0, 1) or ``auto`` (chosen on validation from the default
    grid; see :mod:`midi_extractor.model.thresholds`). ``frame_note_threshold`` is a number in
    (0, 1) or null (no note the frame head starts alone: :mod:`midi_extractor.model.decoding`);
    with ``frame_note_grid``, validation chooses between null and the grid's values."""

    onset_threshold: Any = 0.3       # used as given when no grid; the fallback without validation
    frame_threshold: Any = 0.4
    min_note_s: float = 0.05
    drum_note_s: float = 0.1
    frame_note_threshold: float | None = None
    onset_grid: list[float] = field(default_factory=list)   # evaluate picks from these on validation
    frame_grid: list[float] = field(default_factory=list)
    frame_note_grid: list[float] = field(default_factory=list)

    def check(self, where: str) -> None:
        for name in ("onset_threshold", "frame_threshold"):
            setattr(self, name, _threshold(getattr(self, name), key_of(where, name)))
        if self.frame_note_threshold is not None:
            value = _threshold(self.frame_note_threshold, key_of(where, "frame_note_threshold"))
            if value == AUTO:
                raise ConfigError(f"{key_of(where, 'frame_note_threshold')}: a number between 0 and 1 or null "
                                  f"(no frame-started notes); to choose it on validation, list candidates in "
                                  f"frame_note_grid")
            self.frame_note_threshold = value
        for name in ("min_note_s", "drum_note_s"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0.0):
                raise ConfigError(f"{key_of(where, name)} must be a length in seconds >= 0, got {value}")
        for name in ("onset_grid", "frame_grid", "frame_note_grid"):
            if any(not 0.0 < v < 1.0 for v in getattr(self, name)):
                raise ConfigError(f"{key_of(where, name)}: thresholds must lie between 0 and 1 (exclusive), "
                                  f"got {getattr(self, name)}")

    def onset_candidates(self) -> tuple[float, ...]:
        """The onset thresholds the shipped one is chosen from on validation (by ``evaluate``,
        and by training's validation): the grid, else the threshold itself, else (``auto``)
        :data:`DEFAULT_ONSET_GRID`."""
        return _candidates(self.onset_grid, self.onset_threshold, DEFAULT_ONSET_GRID)

    def frame_candidates(self) -> tuple[float, ...]:
        """As :meth:`onset_candidates` for the frame threshold."""
        return _candidates(self.frame_grid, self.frame_threshold, DEFAULT_FRAME_GRID)

    def frame_note_candidates(self) -> tuple[float | None, ...]:
        """The frame-note thresholds chosen from: ``None`` (none) and the grid's values, else
        ``frame_note_threshold`` alone."""
        if self.frame_note_grid:
            return (None,) + tuple(float(v) for v in self.frame_note_grid)
        return (self.frame_note_threshold,)


def _candidates(grid: list[float], value: Any, default: tuple[float, ...]) -> tuple[float, ...]:
    if grid:
        return tuple(float(v) for v in grid)
    return default if value == AUTO else (float(value),)


#: the grids a decoding threshold of ``auto`` is chosen from on validation
DEFAULT_ONSET_GRID = (0.2, 0.3, 0.4, 0.5)
DEFAULT_FRAME_GRID = (0.3, 0.4, 0.5)


def _threshold(value: Any, where: str) -> float | str:
    """A decoding threshold: ``auto`` (any case, or null), or a number strictly between 0 and 1."""
    if is_auto(value):
        return AUTO
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{where}: expected a number or '{AUTO}', got {value!r}") from None
    if isinstance(value, bool) or not 0.0 < number < 1.0:
        raise ConfigError(f"{where} must lie between 0 and 1 (exclusive), got {value!r}")
    return number


@dataclass
class TrackingConfig:
    """MLflow settings (section ``tracking``)."""

    experiment: str = "midi-extractor"
