"""The ``params.yaml`` sections of training: ``roles.<role>`` (loss weights, ``augment``),
``stems.<stem>``, ``stem_songs`` and ``pretrain.<base>``."""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

from midi_extractor.config.fields import Checked, ConfigError, auto_or_bool, key_of, replace

# The loss's weights: one a head, ``restrike``, the onset loss's factor on a re-strike (an onset
# while the same pitch sounded within the 0.1 s before it), and ``held``, its factor on the cells
# of a held note away from its onset, and ``octave``, the onset and frame losses' factor on a
# note's cells while the pitch an octave below sounds (see midi_extractor.model.transcriber).
LOSS_WEIGHT_KEYS = ("onset", "offset", "frame", "velocity", "restrike", "held", "octave")
# What a training updates: every layer, or the heads alone (the trunk frozen as the base left it).
TRAIN_LAYERS = ("all", "heads")
#: the largest ``stems.<stem>.saturate`` drive (``model.saturation``): tanh(20 x) is a square wave
MAX_SATURATE = 20.0


@dataclass
class AugmentConfig(Checked):
    """Training augmentation of one role (section ``roles.<role>.augment``); every field is a
    maximum drawn per clip (see :mod:`midi_extractor.train.augment`). 0 / None = off."""

    gain_db: float = 0.0
    pitch_shift_semitones: int = 0
    time_stretch: float = 0.0
    noise_db: float | None = None
    eq_db: float = 0.0
    timbre_db: float = 0.0
    stretch_prob: float = 0.5
    noise_prob: float = 0.5
    lowpass_prob: float = 0.0
    bleed_db: float | None = None    # the loudest bleed, dB below the stem (prepare stores the rest of the song)
    bleed_prob: float = 0.5

    def check(self, where: str) -> None:
        for name in ("gain_db", "pitch_shift_semitones", "time_stretch", "eq_db", "timbre_db"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{key_of(where, name)} must be >= 0, got {getattr(self, name)}")
        if self.bleed_db is not None and self.bleed_db < 0:
            raise ConfigError(f"{key_of(where, 'bleed_db')} must be >= 0 (dB below the stem) or null, got {self.bleed_db}")
        for name in ("stretch_prob", "noise_prob", "lowpass_prob", "bleed_prob"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ConfigError(f"{key_of(where, name)} must be within 0-1, got {getattr(self, name)}")
        if self.time_stretch >= 1.0:
            raise ConfigError(f"{key_of(where, 'time_stretch')} must be < 1 (a fraction of the tempo), got {self.time_stretch}")


@dataclass
class RoleConfig(Checked):
    """Loss weights and augmentation policy of one role (section ``roles.<role>``)."""

    onset_weight: float = 1.0
    offset_weight: float = 1.0
    frame_weight: float = 1.0
    velocity_weight: float = 1.0
    restrike_weight: float = 1.0     # onset loss factor on re-strikes (1 = none)
    held_weight: float = 1.0         # onset loss factor on held notes' cells away from onsets (1 = none)
    octave_weight: float = 1.0       # onset and frame loss factor on octave doublings' cells (1 = none)
    augment: AugmentConfig = field(default_factory=AugmentConfig)

    def check(self, where: str) -> None:
        for name in (f"{k}_weight" for k in LOSS_WEIGHT_KEYS):
            if getattr(self, name) < 0:
                raise ConfigError(f"{key_of(where, name)} must be >= 0, got {getattr(self, name)}")
        self.augment.check(key_of(where, "augment"))

    def overridden(self, where: str, loss_weights: dict[str, float], augment: dict[str, Any]) -> "RoleConfig":
        """This role with a stem's or base's ``loss_weights`` (``onset`` or ``onset_weight``: a
        factor) and ``augment`` keys (an :class:`AugmentConfig` field each) put over its own,
        checked; errors name ``where`` (``stems.piano``, ``pretrain.pitched``)."""
        weighted = replace(self, key_of(where, "loss_weights"),
                           **{k if k.endswith("_weight") else f"{k}_weight": float(v) for k, v in loss_weights.items()})
        if not augment:
            return weighted
        return dataclasses.replace(weighted, augment=replace(self.augment, key_of(where, "augment"), **augment))


@dataclass
class StemConfig(Checked):
    """Training settings of one stem (section ``stems.<stem>``).

    ``base`` names a ``pretrain`` entry whose model this stem fine-tunes from
    (``models/_base/<base>/best.pt``); empty = train from scratch. ``songs`` (generated data
    only): how many of the shared training songs (section ``stem_songs``, :class:`StemSongsConfig`,
    written once by stage ``stem_songs``) this stem's fine-tune trains on beside its training
    tracks, the first ``songs`` of them; stage ``prepare@<stem>`` prepares them at its front end."""

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
    augment: dict[str, Any] = field(default_factory=dict)  # overrides keys of the role's augment
    augment_on: str = "auto"         # loader (per clip, CPU) | device (per batch) | auto: device on CUDA
    compile: str = "auto"            # torch.compile the training step: on | off | auto: on CUDA
    base_blends: list[float] = field(default_factory=list)  # weights w of w*fine-tune + (1-w)*base tried
                                     # at the end (train/blend.py); best.pt is whichever validates best
    train_layers: str = "all"        # all | heads: the heads alone train, the base's trunk stays frozen
    saturate: float = 0.0            # the model hears tanh(saturate * x / peak) of a whole signal (0: off;
                                     # model/saturation.py); written to decoding.json, used by every entry point
    songs: int = 0                   # generated data only: the first `songs` of stem_songs' songs, trained on too

    def check(self, where: str) -> None:
        """Raise :class:`ConfigError` naming ``where`` for values no training can use."""
        for name in ("epochs", "steps_per_epoch", "batch_size", "val_interval"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{key_of(where, name)} must be >= 1, got {getattr(self, name)}")
        for name in ("lr", "clip_seconds"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"{key_of(where, name)} must be > 0, got {getattr(self, name)}")
        for name in ("num_workers", "early_stop_patience", "grad_clip"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{key_of(where, name)} must be >= 0, got {getattr(self, name)}")
        if self.augment_on not in ("auto", "loader", "device"):
            raise ConfigError(f"{key_of(where, 'augment_on')} must be auto, loader or device, got {self.augment_on!r}")
        if self.compile not in ("auto", "on", "off"):
            raise ConfigError(f"{key_of(where, 'compile')} must be auto, on or off, got {self.compile!r}")
        if self.train_layers not in TRAIN_LAYERS:
            raise ConfigError(f"{key_of(where, 'train_layers')} must be {' or '.join(TRAIN_LAYERS)}, got {self.train_layers!r}")
        if not (math.isfinite(self.saturate) and 0.0 <= self.saturate <= MAX_SATURATE):
            raise ConfigError(f"{key_of(where, 'saturate')} must be a drive from 0 (off) to {MAX_SATURATE:g}, "
                              f"got {self.saturate}")
        _check_songs(where, self.songs, False)
        for i, w in enumerate(self.base_blends):
            if not 0.0 < w < 1.0:
                raise ConfigError(f"{key_of(where, 'base_blends')}[{i}] must be within 0-1 (exclusive: 0 is the "
                                  f"base, 1 the fine-tune, both validated anyway), got {w}")
        unknown = set(self.loss_weights) - set(LOSS_WEIGHT_KEYS)
        if unknown:
            raise ConfigError(f"{key_of(where, 'loss_weights')}: unknown weight(s) {', '.join(sorted(unknown))}; "
                              f"known: {', '.join(LOSS_WEIGHT_KEYS)}")
        for name, w in self.loss_weights.items():
            if w < 0:
                raise ConfigError(f"{key_of(where, 'loss_weights')}.{name} must be >= 0, got {w}")
        known = tuple(f.name for f in dataclasses.fields(AugmentConfig))
        unknown = sorted(set(self.augment) - set(known))
        if unknown:
            raise ConfigError(f"{key_of(where, 'augment')}: unknown key(s) {', '.join(unknown)}; known: {', '.join(known)}")
        replace(AugmentConfig(), key_of(where, "augment"), **self.augment)  # each value's type and range


@dataclass
class PretrainConfig(StemConfig):
    """A shared base model (section ``pretrain.<name>``): trained once on the union of
    ``stems``' filtered indexes, then fine-tuned per stem (``stems.<stem>.base``).
    ``role`` picks its loss weights and augmentation; ``drum_stem`` (percussive bases)
    names the stem whose model drum classes it outputs. ``rebuild`` (``auto`` | ``true`` |
    ``false``) says whether stage ``pretrain-<name>`` trains it or keeps the shipped
    ``bases/<name>.pt``: ``auto`` trains when ``dataset.kind`` is not the embedded
    ``generated`` set, or the shipped file is missing or does not fit params' front end and
    model size (see :func:`midi_extractor.train.run.why_train_base`).

    ``init_from``: a checkpoint the training starts from (validated at step 0, as a fine-tune's
    base is), or null to start from scratch. ``songs``: songs for this base alone, beside its
    stems' tracks, drawn from seed ``songs_seed`` (``double_triads`` as :class:`StemSongsConfig`'s;
    stage ``base_songs``); the stems' fine-tunes never read them. ``sub_bass_songs``: more of them after
    those, whose bass parts the ``SubBass`` source plays (nearly sines, ``synth/additive.py``): a
    bass whose pitch is in one partial.
    ``ships``: which step becomes ``bases/<name>.pt``: ``best`` (the best validation step,
    ``best.pt``) or ``last`` (the end of the schedule, ``last.pt``). ``sample_rate_hz``: the rate
    this base and the stems fine-tuned from it hear (``features`` at that rate,
    :meth:`Params.base_front_end`); null: ``features.sample_rate_hz``. ``n_fft``: the length in
    samples, at that rate, of the STFT above ``features.split_hz``; null: ``features.n_fft``
    scaled to the rate (frames as long in seconds)."""

    stems: list[str] = field(default_factory=list)
    drum_stem: str = ""
    rebuild: Any = "auto"
    init_from: str | None = None
    songs_seed: int = 1
    double_triads: bool = False      # every other triad of its songs doubled an octave up
    sub_bass_songs: int = 0
    ships: str = "best"
    sample_rate_hz: int | None = None
    n_fft: int | None = None

    def check(self, where: str) -> None:
        super().check(where)
        self.rebuild = auto_or_bool(self.rebuild, key_of(where, "rebuild"))
        _check_songs(where, self.songs, self.double_triads)
        if self.sub_bass_songs < 0 or (self.sub_bass_songs and not self.songs):
            raise ConfigError(f"{key_of(where, 'sub_bass_songs')} is {self.sub_bass_songs}: it must be >= 0, and 0 "
                              f"when songs is 0 (sub bass songs come after the base's songs)")
        if self.ships not in ("best", "last"):
            raise ConfigError(f"{key_of(where, 'ships')} must be best or last, got {self.ships!r}")
        if self.saturate:
            raise ConfigError(f"{key_of(where, 'saturate')}: a base hears its stems' tracks as they are; "
                              f"set the drive per stem (stems.<stem>.saturate)")


@dataclass
class StemSongsConfig(Checked):
    """The training songs the stems share (section ``stem_songs``; generated data only): ``count``
    songs from seed ``seed`` (never ``dataset.seed``: the set's test tracks come from it), composed
    and rendered like the set's training tracks (``dataset``'s pool, effects, length and rate),
    written once by stage ``stem_songs``; a stem takes the first ``stems.<stem>.songs`` of them.
    ``double_triads``: every other three-note chord of their pitched parts doubles its bottom note
    an octave up, as the calibration tracks' do (``synth.songs.double_bottom_notes``): octave
    doublings, which the pitched models miss most, as often as in a test song."""

    count: int = 0
    seed: int = 1
    double_triads: bool = False

    def check(self, where: str) -> None:
        _check_songs(where, self.count, self.double_triads, "count")


def _check_songs(where: str, songs: int, double_triads: bool, name: str = "songs") -> None:
    """A count of songs >= 0; doubled triads only where there are songs."""
    if songs < 0:
        raise ConfigError(f"{key_of(where, name)} must be >= 0, got {songs}")
    if double_triads and not songs:
        raise ConfigError(f"{key_of(where, 'double_triads')} is true but {name} is 0: it doubles the triads of "
                          f"the songs, and there are none")
