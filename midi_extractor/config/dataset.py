"""The ``params.yaml`` section ``dataset``: where the training data comes from (real Slakh or
the embedded generated set, with its sound-source pools and the tracks written after it)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from midi_extractor.config.fields import AUTO, Checked, ConfigError, auto_or_bool, key_of
from midi_extractor.config.sections import DEFAULT_SAMPLE_RATE_HZ

#: values of ``dataset.kind``
DATASET_KINDS = ("generated", "slakh2100", "redux", "babyslakh", "folder")
#: the real Slakh2100 releases: rendered with Kontakt, whose bass patches sound an octave
#: below their General MIDI notes, so these kinds' bass labels are moved down by default
SLAKH_KINDS = ("slakh2100", "redux", "babyslakh")
#: the generated set's shortest song (seconds) and FluidSynth's sample rates (Hz), checked when
#: the params load and again by ``midi_extractor.synth.generate``
MIN_SONG_SECONDS = 0.5
SYNTH_RATES_HZ = (8000, 96000)


def default_split_tracks(tracks: int) -> int:
    """Validation (or test) tracks of a generated set of ``tracks`` when the size is left null:
    about 10 %, at least one (``synth.splits.split_counts``, and the check at load)."""
    return max(1, int(round(0.1 * tracks)))


def bass_octave_switch(value: Any, kind: str, where: str = "dataset") -> bool:
    """``dataset.bass_labels_octave_down`` resolved to a bool: ``auto`` (or null) is on for
    :data:`SLAKH_KINDS` and off otherwise; ``true``/``false`` as given. On for ``generated``
    is refused: that set's MIDI is the score its audio was rendered from."""
    value = auto_or_bool(value, key_of(where, "bass_labels_octave_down"))
    if value == AUTO:
        return kind in SLAKH_KINDS
    if value and kind == "generated":
        raise ConfigError(f"{key_of(where, 'bass_labels_octave_down')} is true but dataset.kind is generated, whose MIDI "
                          f"sounds where it is written; the octave fix is for real Slakh ({', '.join(SLAKH_KINDS)})")
    return value


@dataclass
class DatasetConfig(Checked):
    """Where the training data comes from (section ``dataset``).

    Generated data set: ``sound_sources`` is the pool train, validation and the
    in-domain half of test are rendered with; ``ood_sources`` (held out, disjoint)
    renders the out-of-domain half of test (names: ``dataset.sources.SOURCES``,
    checked when the set is made). ``effects``: effect-chain strength 0-1 (0 = none).
    ``validation_tracks``/``test_tracks``: None = about 10% each. ``kit_tracks`` more training
    tracks after those, holding only their songs' drum parts, rendered with ``kit_sources``
    (sampled kits): drum variety for the percussive stems that leaves every other track, and
    every pitched stem, as it was. ``calibration_tracks`` more validation tracks after those,
    every stem of their songs rendered with ``calibration_sources`` (held out of every other
    pool): the validation split then holds sounds training never hears, so checkpoints and
    decoding thresholds are chosen for unheard sources, as the out-of-domain test is.
    ``timbre_tracks`` more training tracks after those, their songs' pitched parts rendered with
    ``timbre_sources`` (``Additive``: procedural instruments, a new one for every part).

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
    kit_tracks: int = 0       # generated only: drum-only training tracks rendered with kit_sources
    kit_sources: list[str] = field(default_factory=list)
    calibration_tracks: int = 0   # generated only: validation tracks rendered with calibration_sources
    calibration_sources: list[str] = field(default_factory=list)
    timbre_tracks: int = 0    # generated only: training tracks, pitched parts rendered with timbre_sources
    timbre_sources: list[str] = field(default_factory=lambda: ["Additive"])
    bass_labels_octave_down: Any = "auto"  # auto: on for real Slakh kinds, off for generated / folder

    def check(self, where: str) -> None:
        where = where or "dataset"
        if self.kind not in DATASET_KINDS:
            raise ConfigError(f"{key_of(where, 'kind')} must be one of {', '.join(DATASET_KINDS)}, got {self.kind!r}")
        self.bass_labels_octave_down = bass_octave_switch(self.bass_labels_octave_down, self.kind, where)
        if self.tracks < 1:
            raise ConfigError(f"{key_of(where, 'tracks')} must be >= 1, got {self.tracks}")
        if self.kind == "generated" and not self.seconds >= MIN_SONG_SECONDS:
            raise ConfigError(f"{key_of(where, 'seconds')} must be at least {MIN_SONG_SECONDS}, got {self.seconds}")
        if self.kind == "generated" and not SYNTH_RATES_HZ[0] <= self.sample_rate_hz <= SYNTH_RATES_HZ[1]:
            raise ConfigError(f"{key_of(where, 'sample_rate_hz')} must be {SYNTH_RATES_HZ[0]}-{SYNTH_RATES_HZ[1]} Hz "
                              f"(FluidSynth's range), got {self.sample_rate_hz}")
        if not 0.0 <= self.effects <= 1.0:
            raise ConfigError(f"{key_of(where, 'effects')} must be within 0-1 (0 = no effects), got {self.effects}")
        for name in ("validation_tracks", "test_tracks"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise ConfigError(f"{key_of(where, name)} must be >= 0, got {value}")
        self._check_split_sizes(where)
        for tracks, sources in (("kit_tracks", "kit_sources"), ("calibration_tracks", "calibration_sources"),
                                ("timbre_tracks", "timbre_sources")):
            if getattr(self, tracks) < 0:
                raise ConfigError(f"{key_of(where, tracks)} must be >= 0, got {getattr(self, tracks)}")
            if getattr(self, tracks) and not getattr(self, sources):
                raise ConfigError(f"{key_of(where, tracks)} is {getattr(self, tracks)} but {key_of(where, sources)} "
                                  f"is empty: name the sources that render them")
        shared = sorted(set(self.sound_sources + self.kit_sources) & set(self.ood_sources))
        if shared:
            raise ConfigError(f"{key_of(where, 'ood_sources')} must be held out of sound_sources; both list "
                              f"{', '.join(shared)}")
        heard = self.sound_sources + self.ood_sources + (self.kit_sources if self.kit_tracks else [])
        shared = sorted(set(self.calibration_sources) & set(heard)) if self.calibration_tracks else []
        if shared:
            raise ConfigError(f"{key_of(where, 'calibration_sources')} must be held out of sound_sources, "
                              f"ood_sources and (with kit_tracks) kit_sources; {', '.join(shared)} is in both")
        shared = sorted(set(self.timbre_sources) & set(self.ood_sources + self.calibration_sources))
        if self.timbre_tracks and shared:
            raise ConfigError(f"{key_of(where, 'timbre_sources')} must be held out of ood_sources and "
                              f"calibration_sources; {', '.join(shared)} is in both")

    def _check_split_sizes(self, where: str) -> None:
        """The generated set's validation and test tracks leave a train track out of ``tracks`` (the
        sizes ``synth.splits.split_counts`` draws; a size left null is about 10 % of ``tracks``).
        ``calibration_tracks`` (and kit and timbre tracks) are written after ``tracks``: no room needed."""
        if self.kind != "generated" or (self.validation_tracks is None and self.test_tracks is None):
            return
        val, test = (default_split_tracks(self.tracks) if n is None else n
                     for n in (self.validation_tracks, self.test_tracks))
        if val + test >= self.tracks:
            raise ConfigError(f"{key_of(where, 'validation_tracks')} ({val}) + test_tracks ({test}) leave no train "
                              f"track out of tracks ({self.tracks}): raise tracks to at least "
                              f"{val + test + 1} (calibration_tracks come after these and need no room)")
