"""One dataclass per ``params.yaml`` section, and a loader that reads it right.

PyYAML follows YAML 1.1 and returns ``'3e-05'`` (what ``dvc exp run -S
stems.bass.lr=3e-5`` writes) as a string; every value here is coerced by the
dataclass field's type, so ``lr: 3e-05`` is the float 3e-05.
"""
from __future__ import annotations

import contextvars
import dataclasses
import math
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from midi_extractor import taxonomy as tx


class ConfigError(ValueError):
    """A params file with a missing, unknown or ill-typed value."""


#: where the section being built sits (``params.yaml: stems.bass``), set by :func:`from_dict` and
#: :func:`replace`; a section built in code names only its own keys
_WHERE: contextvars.ContextVar[str] = contextvars.ContextVar("config_where", default="")


def _key(where: str, name: str) -> str:
    """``where`` joined to a key: ``params.yaml: `` + ``stems`` or ``stems.bass`` + ``lr``."""
    return f"{where}{name}" if not where or where.endswith(": ") else f"{where}.{name}"


class _Checked:
    """A section that validates itself when it is built (from a file, in code or by
    :func:`replace`): ``check(where)`` raises :class:`ConfigError` naming the key."""

    def __post_init__(self) -> None:
        self.check(_WHERE.get())

    def check(self, where: str) -> None:  # a section without rules
        pass


def replace(section: Any, where: str = "", **changes: Any) -> Any:
    """``dataclasses.replace`` with ``changes`` coerced by field type (as a params file's
    values are) and the result validated, errors naming ``where``."""
    values = {k: _coerce(v, typing.get_type_hints(type(section))[k], _key(where, k)) for k, v in changes.items()}
    token = _WHERE.set(where)
    try:
        return dataclasses.replace(section, **values)
    finally:
        _WHERE.reset(token)


# ------------------------------------------------------------------ sections
#: the rate the models hear (``features.sample_rate_hz``) and the generated set is rendered at
DEFAULT_SAMPLE_RATE_HZ = 16000
#: a stem whose loudest block or frame is below this level (dBFS) is silent
SILENCE_DB = -60.0
#: values of ``dataset.kind``
DATASET_KINDS = ("generated", "slakh2100", "redux", "babyslakh", "folder")
#: the real Slakh2100 releases: rendered with Kontakt, whose bass patches sound an octave
#: below their General MIDI notes, so these kinds' bass labels are moved down by default
SLAKH_KINDS = ("slakh2100", "redux", "babyslakh")


def bass_octave_switch(value: Any, kind: str, where: str = "dataset") -> bool:
    """``dataset.bass_labels_octave_down`` resolved to a bool: ``auto`` (or null) is on for
    :data:`SLAKH_KINDS` and off otherwise; ``true``/``false`` as given. On for ``generated``
    is refused: that set's MIDI is the score its audio was rendered from."""
    if value is None or (isinstance(value, str) and value.strip().lower() == "auto"):
        return kind in SLAKH_KINDS
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        value = value.strip().lower() == "true"
    if not isinstance(value, bool):
        raise ConfigError(f"{_key(where, 'bass_labels_octave_down')} must be auto, true or false, got {value!r}")
    if value and kind == "generated":
        raise ConfigError(f"{_key(where, 'bass_labels_octave_down')} is true but dataset.kind is generated, whose MIDI "
                          f"sounds where it is written; the octave fix is for real Slakh ({', '.join(SLAKH_KINDS)})")
    return value


@dataclass
class DatasetConfig(_Checked):
    """Where the training data comes from (section ``dataset``).

    Generated data set: ``sound_sources`` is the pool train, validation and the
    in-domain half of test are rendered with; ``ood_sources`` (held out, disjoint)
    renders the out-of-domain half of test (names: ``dataset.sources.SOURCES``,
    checked when the set is made). ``effects``: effect-chain strength 0-1 (0 = none).
    ``validation_tracks``/``test_tracks``: None = about 10% each.

    ``bass_labels_octave_down`` (``auto`` | ``true`` | ``false``; a bool once loaded, see
    :func:`bass_octave_switch`): real Slakh's bass stems (GM programs 32-39) sound an octave
    below their MIDI (Kontakt's bass patches; slakh-generation#2, slakh-utils#18), so the index
    marks their entries ``label_shift_semitones: -12`` and every reader of their notes
    (training labels, prepared notes, evaluation references) moves them down an octave
    (:func:`midi_extractor.index_io.label_notes`). ``auto``: on for slakh2100, redux and
    babyslakh, off for generated and folder."""

    kind: str = "generated"  # generated | slakh2100 | redux | babyslakh | folder
    root: str = "data/generated"
    tracks: int = 56          # generated only: 32 train + 4 validation + 20 test
    seconds: float = 24.0     # generated only: length of each song
    seed: int = 0             # generated only
    sf2: str | None = None    # generated only: one SoundFont file replacing sound_sources
    sample_rate_hz: int = DEFAULT_SAMPLE_RATE_HZ  # generated only: rate the stems are rendered at
    validation_tracks: int | None = 4   # generated only
    test_tracks: int | None = 20        # generated only: half in-domain, half out-of-domain
    sound_sources: list[str] = field(default_factory=lambda: ["TimGM6mb", "csound_GMbank", "OPL3_FM",
                                                              "AVL_BlackPearl"])
    ood_sources: list[str] = field(default_factory=lambda: ["FluidR3_GM", "AVL_RedZeppelin"])
    effects: float = 1.0      # generated only
    bass_labels_octave_down: Any = "auto"  # auto: on for real Slakh kinds, off for generated / folder

    def check(self, where: str) -> None:
        where = where or "dataset"
        if self.kind not in DATASET_KINDS:
            raise ConfigError(f"{_key(where, 'kind')} must be one of {', '.join(DATASET_KINDS)}, got {self.kind!r}")
        self.bass_labels_octave_down = bass_octave_switch(self.bass_labels_octave_down, self.kind, where)
        if self.tracks < 1:
            raise ConfigError(f"{_key(where, 'tracks')} must be >= 1, got {self.tracks}")
        if not 0.0 <= self.effects <= 1.0:
            raise ConfigError(f"{_key(where, 'effects')} must be within 0-1 (0 = no effects), got {self.effects}")
        for name in ("validation_tracks", "test_tracks"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise ConfigError(f"{_key(where, name)} must be >= 0, got {value}")
        shared = sorted(set(self.sound_sources) & set(self.ood_sources))
        if shared:
            raise ConfigError(f"{_key(where, 'ood_sources')} must be held out of sound_sources; both list "
                              f"{', '.join(shared)}")


#: values of ``features.kind``
FRONT_END_KINDS = ("mel", "logfreq")


@dataclass
class FrontEndConfig(_Checked):
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
            raise ConfigError(f"{_key(where, 'kind')} must be one of {', '.join(FRONT_END_KINDS)}, got {self.kind!r}")
        for name in ("sample_rate_hz", "hop_length", "n_fft", "n_mels", "bins_per_semitone", "n_fft_low"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{_key(where, name)} must be >= 1, got {getattr(self, name)}")
        if not 0 < self.f_min_hz < self.f_max_hz:
            raise ConfigError(f"{_key(where, 'f_min_hz')} .. f_max_hz must satisfy 0 < f_min_hz < f_max_hz, "
                              f"got {self.f_min_hz} .. {self.f_max_hz}")
        if not 0 <= self.min_midi <= self.max_midi <= 127:
            raise ConfigError(f"{_key(where, 'min_midi')} .. max_midi must lie within 0-127 in order, "
                              f"got {self.min_midi} .. {self.max_midi}")

    def frame_of(self, time_s: float) -> int:
        """Nearest frame index of a time in seconds."""
        return int(round(time_s * self.frame_rate_hz))


@dataclass
class ModelConfig:
    """Network size (section ``model``): ``small`` trains on a CPU in minutes,
    ``paper`` follows Onsets & Frames' sizes."""

    size: str = "small"
    conv_channels: int | None = None  # None: from size
    rnn_units: int | None = None      # None: from size


@dataclass
class AugmentConfig(_Checked):
    """Training augmentation of one role (section ``roles.<role>.augment``); every field is a
    maximum drawn per clip (see :mod:`midi_extractor.train.augment`). 0 / None = off."""

    gain_db: float = 0.0
    pitch_shift_semitones: int = 0
    time_stretch: float = 0.0
    noise_db: float | None = None
    eq_db: float = 0.0
    stretch_prob: float = 0.5
    noise_prob: float = 0.5

    def check(self, where: str) -> None:
        for name in ("gain_db", "pitch_shift_semitones", "time_stretch", "eq_db"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{_key(where, name)} must be >= 0, got {getattr(self, name)}")
        for name in ("stretch_prob", "noise_prob"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ConfigError(f"{_key(where, name)} must be within 0-1, got {getattr(self, name)}")
        if self.time_stretch >= 1.0:
            raise ConfigError(f"{_key(where, 'time_stretch')} must be < 1 (a fraction of the tempo), got {self.time_stretch}")


@dataclass
class RoleConfig(_Checked):
    """Loss weights and augmentation policy of one role (section ``roles.<role>``)."""

    onset_weight: float = 1.0
    offset_weight: float = 1.0
    frame_weight: float = 1.0
    velocity_weight: float = 1.0
    augment: AugmentConfig = field(default_factory=AugmentConfig)

    def check(self, where: str) -> None:
        for name in ("onset_weight", "offset_weight", "frame_weight", "velocity_weight"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{_key(where, name)} must be >= 0, got {getattr(self, name)}")
        self.augment.check(_key(where, "augment"))


@dataclass
class StemConfig(_Checked):
    """Training settings of one stem (section ``stems.<stem>``).

    ``base`` names a ``pretrain`` entry whose model this stem fine-tunes from
    (``models/_base/<base>/best.pt``); empty = train from scratch."""

    role: str = ""
    base: str = ""
    lr: float = 1.0e-3
    epochs: int = 10
    steps_per_epoch: int = 100
    batch_size: int = 16
    clip_seconds: float = 4.0
    seed: int = 0
    num_workers: int = 0
    val_interval: int = 100          # steps between validations
    early_stop_patience: int = 0     # validations without improvement; 0 = off
    grad_clip: float = 1.0
    loss_weights: dict[str, float] = field(default_factory=dict)  # overrides the role's
    augment_on: str = "auto"         # loader (per clip, CPU) | device (per batch) | auto: device on CUDA
    compile: str = "auto"            # torch.compile the training step: on | off | auto: on CUDA

    def check(self, where: str) -> None:
        """Raise :class:`ConfigError` naming ``where`` for values no training can use."""
        for name in ("epochs", "steps_per_epoch", "batch_size", "val_interval"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{_key(where, name)} must be >= 1, got {getattr(self, name)}")
        for name in ("lr", "clip_seconds"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"{_key(where, name)} must be > 0, got {getattr(self, name)}")
        for name in ("num_workers", "early_stop_patience", "grad_clip"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{_key(where, name)} must be >= 0, got {getattr(self, name)}")
        if self.augment_on not in ("auto", "loader", "device"):
            raise ConfigError(f"{_key(where, 'augment_on')} must be auto, loader or device, got {self.augment_on!r}")
        if self.compile not in ("auto", "on", "off"):
            raise ConfigError(f"{_key(where, 'compile')} must be auto, on or off, got {self.compile!r}")
        unknown = set(self.loss_weights) - {"onset", "offset", "frame", "velocity"}
        if unknown:
            raise ConfigError(f"{_key(where, 'loss_weights')}: unknown head(s) {', '.join(sorted(unknown))}; "
                              f"known: onset, offset, frame, velocity")


@dataclass
class PretrainConfig(StemConfig):
    """A shared base model (section ``pretrain.<name>``): trained once on the union of
    ``stems``' filtered indexes, then fine-tuned per stem (``stems.<stem>.base``).
    ``role`` picks its loss weights and augmentation; ``drum_stem`` (percussive bases)
    names the stem whose model drum classes it outputs."""

    stems: list[str] = field(default_factory=list)
    drum_stem: str = ""


@dataclass
class DrumSplitConfig(_Checked):
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
            raise ConfigError(f"{_key(where, 'method')} must be 'audio' or 'midi', got {self.method!r}")
        for name in ("sample_rate_hz", "windows"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{_key(where, name)} must be >= 1, got {getattr(self, name)}")


@dataclass
class IndexConfig:
    """Drum split and filter thresholds (section ``index``)."""

    drum_split: DrumSplitConfig = field(default_factory=DrumSplitConfig)
    filter: dict[str, float] = field(default_factory=dict)   # dataset.filtering.FilterConfig's fields


@dataclass
class DecodingConfig(_Checked):
    """Activation-to-note thresholds (section ``decoding``, and a model's ``decoding.json``).
    A threshold is a number in (0, 1) or ``auto`` (chosen on validation from the default
    grid; see :mod:`midi_extractor.evaluate.thresholds`)."""

    onset_threshold: Any = 0.3       # used as given when no grid; the fallback without validation
    frame_threshold: Any = 0.4
    min_note_s: float = 0.05
    drum_note_s: float = 0.1
    onset_grid: list[float] = field(default_factory=list)   # evaluate picks from these on validation
    frame_grid: list[float] = field(default_factory=list)

    def check(self, where: str) -> None:
        for name in ("onset_threshold", "frame_threshold"):
            setattr(self, name, _threshold(getattr(self, name), _key(where, name)))
        for name in ("min_note_s", "drum_note_s"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0.0):
                raise ConfigError(f"{_key(where, name)} must be a length in seconds >= 0, got {value}")
        for name in ("onset_grid", "frame_grid"):
            if any(not 0.0 < v < 1.0 for v in getattr(self, name)):
                raise ConfigError(f"{_key(where, name)}: thresholds must lie between 0 and 1 (exclusive), "
                                  f"got {getattr(self, name)}")

    def onset_candidates(self) -> tuple[float, ...]:
        """The onset thresholds the shipped one is chosen from on validation (by ``evaluate``,
        and by training's validation): the grid, else the threshold itself, else (``auto``)
        :data:`DEFAULT_ONSET_GRID`."""
        return _candidates(self.onset_grid, self.onset_threshold, DEFAULT_ONSET_GRID)

    def frame_candidates(self) -> tuple[float, ...]:
        """As :meth:`onset_candidates` for the frame threshold."""
        return _candidates(self.frame_grid, self.frame_threshold, DEFAULT_FRAME_GRID)


def _candidates(grid: list[float], value: Any, default: tuple[float, ...]) -> tuple[float, ...]:
    if grid:
        return tuple(float(v) for v in grid)
    return default if value == AUTO else (float(value),)


#: a decoding threshold chosen on validation from a default grid
AUTO = "auto"
DEFAULT_ONSET_GRID = (0.2, 0.3, 0.4, 0.5)
DEFAULT_FRAME_GRID = (0.3, 0.4, 0.5)


def _threshold(value: Any, where: str) -> float | str:
    """A decoding threshold: ``auto`` (any case, or null), or a number strictly between 0 and 1."""
    if value is None or (isinstance(value, str) and value.strip().lower() == AUTO):
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


@dataclass
class Params(_Checked):
    """The whole of ``params.yaml``."""

    dataset: DatasetConfig = field(default_factory=DatasetConfig)
    taxonomy: dict[str, Any] = field(default_factory=dict)
    features: FrontEndConfig = field(default_factory=FrontEndConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    pretrain: dict[str, PretrainConfig] = field(default_factory=dict)
    stems: dict[str, StemConfig] = field(default_factory=dict)
    reserved_stems: list[str] = field(default_factory=list)
    roles: dict[str, RoleConfig] = field(default_factory=dict)
    index: IndexConfig = field(default_factory=IndexConfig)
    decoding: DecodingConfig = field(default_factory=DecodingConfig)
    tracking: TrackingConfig = field(default_factory=TrackingConfig)

    @property
    def switches(self) -> tx.TaxonomySwitches:
        """Taxonomy switches; the bass role is ``stems.bass.role`` when bass is listed."""
        bass = self.stems.get("bass")
        return tx.TaxonomySwitches(
            organs_as_keys=bool(self.taxonomy.get("organs_as_keys", False)),
            bass_role=bass.role if bass and bass.role else tx.MELODIC,
        )

    def stem(self, name: str) -> StemConfig:
        if name not in self.stems:
            raise ConfigError(f"stem {name!r} is not in params.yaml 'stems' "
                              f"(listed: {', '.join(self.stems) or 'none'})")
        return self.stems[name]

    def check(self, where: str) -> None:
        """The rules across sections: known stems with the taxonomy's roles (an empty role is
        filled in), bases that exist, pretrain entries of trainable stems, known roles."""
        for name, stem in self.stems.items():
            at = _key(where, f"stems.{name}")
            if name not in tx.STEMS:
                raise ConfigError(f"{at}: unknown stem; known: {', '.join(tx.STEM_NAMES)}")
            if tx.STEMS[name].reserved:
                raise ConfigError(f"{at}: '{name}' is a reserved slot with no training data yet; "
                                  f"list it under reserved_stems")
            expected = tx.role_of(name, tx.TaxonomySwitches(bass_role=stem.role if name == "bass" and stem.role
                                                            else tx.MELODIC))
            if not stem.role:
                stem.role = expected
            elif stem.role != expected:
                raise ConfigError(f"{at}.role is {stem.role!r} but the taxonomy says {expected!r} "
                                  f"(only bass may be melodic or harmonic)")
            if stem.base and stem.base not in self.pretrain:
                raise ConfigError(f"{at}.base is {stem.base!r}, which is not under 'pretrain' "
                                  f"(listed: {', '.join(self.pretrain) or 'none'})")
        for name, base in self.pretrain.items():
            self._check_base(_key(where, f"pretrain.{name}"), base)
        for role in self.roles:
            if role not in tx.ROLES:
                raise ConfigError(f"{_key(where, f'roles.{role}')}: unknown role; known: {', '.join(tx.ROLES)}")

    @staticmethod
    def _check_base(at: str, base: "PretrainConfig") -> None:
        if base.role not in tx.ROLES:
            raise ConfigError(f"{at}.role must be one of {', '.join(tx.ROLES)}")
        unknown = [s for s in base.stems if s not in tx.TRAINABLE_STEMS]
        if not base.stems or unknown:
            raise ConfigError(f"{at}.stems must list trainable stems" + (f"; unknown: {', '.join(unknown)}"
                                                                          if unknown else ""))
        if base.drum_stem and base.drum_stem not in tx.MODEL_DRUM_CLASSES:
            raise ConfigError(f"{at}.drum_stem must be one of {', '.join(tx.MODEL_DRUM_CLASSES)}")

    def role(self, stem: str) -> RoleConfig:
        """The role config of a stem with its per-stem ``loss_weights`` applied."""
        role_name = tx.role_of(stem, self.switches)
        base = self.roles.get(role_name, RoleConfig())
        overrides = self.stems[stem].loss_weights if stem in self.stems else {}
        return dataclasses.replace(base, **{f"{k}_weight" if not k.endswith("_weight") else k: float(v)
                                            for k, v in overrides.items()})


# ------------------------------------------------------------------- coercion
def _coerce(value: Any, annotation: Any, where: str) -> Any:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return _coerce(value, inner[0], where)
    if dataclasses.is_dataclass(annotation):
        return from_dict(annotation, value, where)
    if origin is dict:
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping, got {value!r}")
        return {k: _coerce(v, args[1], _key(where, k)) for k, v in value.items()}
    if origin is list:
        return [_coerce(v, args[0], f"{where}[{i}]") for i, v in enumerate(value or [])]
    if annotation is Any:
        return value
    if annotation is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise ConfigError(f"{where}: expected true/false, got {value!r}")
    if annotation in (int, float):
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{where}: expected a number, got {value!r}") from None
        if annotation is int:
            if number != int(number):
                raise ConfigError(f"{where}: expected an integer, got {value!r}")
            return int(number)
        return number
    if annotation is str:
        return str(value)
    return value


def from_dict(cls: type, data: dict | None, where: str = "params") -> Any:
    """Build dataclass ``cls`` from a mapping, coercing by field type; an unknown
    key is an error that names it."""
    data = data or {}
    at = where.rstrip(": ") or cls.__name__
    if not isinstance(data, dict):
        raise ConfigError(f"{at}: expected a mapping, got {data!r}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ConfigError(f"{at}: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(names))}")
    values = {k: _coerce(v, hints[k], _key(where, k)) for k, v in data.items()}
    token = _WHERE.set(where)
    try:  # the section checks itself (``_Checked``), naming ``where``
        return cls(**values)
    finally:
        _WHERE.reset(token)


def resolve_params(value: "Params | str | Path | None" = None) -> Params:
    """``value`` itself when it is a :class:`Params`; the params file it names; with
    ``None``, ``./params.yaml`` when present, else the built-in defaults."""
    if isinstance(value, Params):
        return value
    if value is None:
        return load_params("params.yaml") if Path("params.yaml").is_file() else Params()
    return load_params(value)


def load_params(path: str | Path = "params.yaml") -> Params:
    """Read and validate a params file."""
    import yaml  # here, not at the top: transcribe's start-up need not pay for it

    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"{path}: params file not found") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    try:
        return from_dict(Params, raw, where=f"{path}: ")
    except ConfigError as exc:  # a value's own error may not know the file
        raise (exc if str(exc).startswith(str(path)) else ConfigError(f"{path}: {exc}")) from None
