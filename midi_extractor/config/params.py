"""The whole ``params.yaml`` (:class:`Params`, with the rules across its sections) and its loaders."""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from midi_extractor import taxonomy as tx
from midi_extractor.config.fields import Checked, ConfigError, coerce, from_dict, key_of
from midi_extractor.config.dataset import DatasetConfig
from midi_extractor.config.sections import (HARMONIC_MODEL_SIZES, DecodingConfig, FrontEndConfig, IndexConfig,
                                            ModelConfig, TrackingConfig)
from midi_extractor.config.training import PretrainConfig, RoleConfig, StemConfig, StemSongsConfig

#: the keys of the ``taxonomy`` section, each a bool
TAXONOMY_KEYS = ("organs_as_keys",)


@dataclass
class Params(Checked):
    """The whole of ``params.yaml``."""

    dataset: DatasetConfig = field(default_factory=DatasetConfig)
    taxonomy: dict[str, Any] = field(default_factory=dict)
    features: FrontEndConfig = field(default_factory=FrontEndConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    pretrain: dict[str, PretrainConfig] = field(default_factory=dict)
    stems: dict[str, StemConfig | None] | None = field(default_factory=dict)  # null refused by check
    stem_songs: StemSongsConfig = field(default_factory=StemSongsConfig)
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
        self._check_taxonomy(key_of(where, "taxonomy"))
        _check_bands(key_of(where, "features"), self.features)
        if self.model.size in HARMONIC_MODEL_SIZES and self.features.kind != "logfreq":
            raise ConfigError(f"{key_of(where, 'model.size')} {self.model.size!r} needs features.kind: logfreq "
                              f"(a pitch axis), got {self.features.kind!r}")
        self._check_stems_given(where)
        for name, stem in self.stems.items():
            at = key_of(where, f"stems.{name}")
            if name not in tx.STEMS:
                raise ConfigError(f"{at}: unknown stem; known: {', '.join(tx.STEM_NAMES)}")
            if tx.STEMS[name].reserved:
                raise ConfigError(f"{at}: '{name}' is a reserved slot with no training data yet; "
                                  f"list it under reserved_stems")
            if name == "bass" and stem.role and stem.role not in (tx.MELODIC, tx.HARMONIC):
                raise ConfigError(f"{at}.role must be {tx.MELODIC} or {tx.HARMONIC} (bass alone may be either), "
                                  f"got {stem.role!r}")
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
            self._check_base(key_of(where, f"pretrain.{name}"), base)
            self._check_base_front_end(key_of(where, f"pretrain.{name}"), name)
        self._check_songs(where)
        for role in self.roles:
            if role not in tx.ROLES:
                raise ConfigError(f"{key_of(where, f'roles.{role}')}: unknown role; known: {', '.join(tx.ROLES)}")

    def _check_songs(self, where: str) -> None:
        """Songs never from ``dataset.seed`` (they would be the set's own, test tracks included),
        and no stem takes more of ``stem_songs`` than it holds."""
        seeds = [(f"pretrain.{n}.songs_seed", c.songs, c.songs_seed) for n, c in self.pretrain.items()]
        for at, songs, seed in seeds + [("stem_songs.seed", self.stem_songs.count, self.stem_songs.seed)]:
            if songs and seed == self.dataset.seed:
                raise ConfigError(f"{key_of(where, at)} is {seed}, the seed of dataset.seed: its songs would be "
                                  f"the data set's own, test tracks included; give it another seed")
        for name, stem in self.stems.items():
            if stem.songs > self.stem_songs.count:
                raise ConfigError(f"{key_of(where, f'stems.{name}.songs')} is {stem.songs}, more than the "
                                  f"{self.stem_songs.count} of stem_songs.count: a stem takes the first songs "
                                  f"of those; raise stem_songs.count")

    def _check_stems_given(self, where: str) -> None:
        """``stems`` and each ``stems.<stem>`` are mappings (null would silently train on defaults),
        and ``reserved_stems`` names known slots that ``stems`` does not train."""
        if self.stems is None:
            raise ConfigError(f"{key_of(where, 'stems')} is null; list the stems to train, each with its "
                              f"settings (or leave the key out)")
        for name, stem in self.stems.items():
            if stem is None:
                raise ConfigError(f"{key_of(where, f'stems.{name}')} is null; give its settings (at least "
                                  f"{{}} for every default) or remove the stem")
        for name in self.reserved_stems:
            at = key_of(where, "reserved_stems")
            if name not in tx.STEMS:
                raise ConfigError(f"{at}: unknown stem {name!r}; known: {', '.join(tx.STEM_NAMES)}")
            if name in self.stems:
                raise ConfigError(f"{at} lists {name!r}, which stems.{name} trains: a stem is either "
                                  f"trained or reserved")

    def _check_taxonomy(self, at: str) -> None:
        """``taxonomy`` holds only :data:`TAXONOMY_KEYS`, each a bool (``-S taxonomy.organs_as_keys=false``
        writes a bool; a string ``'false'`` is read as false, not as a non-empty string)."""
        if not isinstance(self.taxonomy, dict):
            raise ConfigError(f"{at}: expected a mapping, got {self.taxonomy!r}")
        unknown = sorted(set(self.taxonomy) - set(TAXONOMY_KEYS))
        if unknown:
            raise ConfigError(f"{at}: unknown key(s) {', '.join(map(str, unknown))}; known: {', '.join(TAXONOMY_KEYS)}")
        for name, value in self.taxonomy.items():
            self.taxonomy[name] = coerce(value, bool, key_of(at, name))

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

    def _check_base_front_end(self, at: str, base: str) -> None:
        cfg = self.pretrain[base]
        rate, n_fft = cfg.sample_rate_hz, cfg.n_fft
        if rate is not None and rate < 1:
            raise ConfigError(f"{at}.sample_rate_hz must be >= 1 (or null: features.sample_rate_hz), got {rate}")
        if n_fft is not None and n_fft < 2:
            raise ConfigError(f"{at}.n_fft must be >= 2 samples (or null: features.n_fft at the base's rate), "
                              f"got {n_fft}")
        front_end = self.base_front_end(base)
        front_end.check(at)
        _check_bands(f"{at} (features at its rate)", front_end)
        if rate is not None and self.dataset.kind == "generated" and rate > self.dataset.sample_rate_hz:
            raise ConfigError(f"{at}.sample_rate_hz is {rate} but dataset.sample_rate_hz renders the generated "
                              f"set at {self.dataset.sample_rate_hz}: the base would hear nothing above "
                              f"{self.dataset.sample_rate_hz // 2} Hz; raise dataset.sample_rate_hz to {rate}")

    def base_front_end(self, base: str) -> FrontEndConfig:
        """The front end of base ``base`` and of every stem fine-tuned from it: ``features`` at
        ``pretrain.<base>.sample_rate_hz`` (:meth:`FrontEndConfig.at_rate`), with
        ``pretrain.<base>.n_fft`` where set; ``features`` for a base that sets neither. With
        :meth:`front_end`, the one home of which front end a model has."""
        cfg, fe = self.pretrain.get(base), self.features
        if cfg is not None and cfg.sample_rate_hz is not None:
            fe = fe.at_rate(cfg.sample_rate_hz)
        if cfg is not None and cfg.n_fft is not None:
            fe = replace(fe, n_fft=int(cfg.n_fft))
        return fe

    def front_end(self, stem: str) -> FrontEndConfig:
        """The front end stem ``stem`` is prepared, trained and validated at: its base's
        (:meth:`base_front_end`), else ``features``."""
        base = self.stems[stem].base if stem in self.stems else ""
        return self.base_front_end(base) if base else self.features

    def base_songs(self, base: str) -> tuple[int, str]:
        """``(songs, why none)`` for base ``base``: ``pretrain.<base>.songs`` and ``""`` on the
        generated set; ``0`` and the reason when it has none (songs 0, or real data, where the
        base trains on its stems' data alone). One home for stage ``base_songs`` and the pretrain."""
        return self._songs(self.pretrain[base].songs, f"pretrain.{base}.songs")

    def stem_songs_of(self, stem: str) -> tuple[int, str]:
        """``(songs, why none)`` for how many of the shared songs (``stem_songs``) stem ``stem``
        takes (``stems.<stem>.songs``), as :meth:`base_songs`; one home for stage ``prepare@<stem>``."""
        return self._songs(self.stems[stem].songs if stem in self.stems else 0, f"stems.{stem}.songs")

    def shared_songs(self) -> tuple[int, str]:
        """``(count, why none)`` for the shared songs stage ``stem_songs`` writes, as :meth:`base_songs`."""
        return self._songs(self.stem_songs.count, "stem_songs.count")

    def _songs(self, songs: int, key: str) -> tuple[int, str]:
        if self.dataset.kind != "generated":
            return 0, f"dataset.kind is {self.dataset.kind!r}: generated songs are for the generated set"
        return (songs, "") if songs else (0, f"{key} is 0")

    def role(self, stem: str) -> RoleConfig:
        """The role config of a stem with its per-stem ``loss_weights`` and ``augment`` applied."""
        role_name = tx.role_of(stem, self.switches)
        base = self.roles.get(role_name, RoleConfig())
        cfg = self.stems.get(stem)
        return base.overridden(f"stems.{stem}", cfg.loss_weights, cfg.augment) if cfg else base

    def base_role(self, name: str) -> RoleConfig:
        """The role config a ``pretrain`` base trains with: its role's, with the base's own
        ``loss_weights`` and ``augment`` applied."""
        cfg = self.pretrain[name]
        return self.roles.get(cfg.role, RoleConfig()).overridden(f"pretrain.{name}", cfg.loss_weights, cfg.augment)



def _check_bands(at: str, fe: FrontEndConfig) -> None:
    """The bands a params file's front end asks for exist: ``f_max_hz`` at most the Nyquist
    frequency, and (``logfreq``) ``split_hz`` between ``f_min_hz`` and ``f_max_hz``, so both
    STFTs feed some bands (else the front end fails when it is built, deep in training)."""
    nyquist = fe.sample_rate_hz / 2
    if fe.f_max_hz > nyquist:
        raise ConfigError(f"{key_of(at, 'f_max_hz')} is {fe.f_max_hz:g} Hz, above the Nyquist frequency of "
                          f"sample_rate_hz {fe.sample_rate_hz} ({nyquist:g} Hz)")
    if fe.kind == "logfreq" and not fe.f_min_hz < fe.split_hz < fe.f_max_hz:
        raise ConfigError(f"{key_of(at, 'split_hz')} is {fe.split_hz:g} Hz; it must lie between f_min_hz "
                          f"({fe.f_min_hz:g}) and f_max_hz ({fe.f_max_hz:g}): bands below it read the long STFT, "
                          f"bands above it the short one")


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
