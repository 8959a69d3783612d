"""The one table of stems, General MIDI program ranges, roles and drum classes.

Nothing else in the package hard-codes a GM program range or a drum pitch.
This module imports nothing from the package (pretty_midi is imported lazily
for GM instrument names only).

Label encodings
---------------
* Pitched stems: MIDI pitch, GM program 0-127 (``program_num`` in Slakh).
* Drum stems: ``is_drum=True`` (Slakh writes ``program_num: 128``); their notes
  are GM percussion key numbers (35-81), grouped into :data:`DRUM_CLASSES`.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

TAXONOMY_VERSION = 1

MELODIC, HARMONIC, PERCUSSIVE = "melodic", "harmonic", "percussive"
ROLES = (MELODIC, HARMONIC, PERCUSSIVE)

#: Slakh's program number for drum tracks.
SLAKH_DRUM_PROGRAM = 128

ORGAN_PROGRAMS = range(16, 24)


@dataclass(frozen=True)
class Stem:
    """One stem type: which GM programs (or drum classes) it owns and its role."""

    name: str
    role: str
    programs: tuple[int, ...] = ()
    is_drum: bool = False
    reserved: bool = False  # a known slot without training data (vocals)


# name -> Stem. Program ranges here are the defaults; see :func:`stem_for_program`
# for the switches that move organs and the bass role.
STEMS: dict[str, Stem] = {
    "bass": Stem("bass", MELODIC, tuple(range(32, 40))),
    "piano": Stem("piano", HARMONIC, tuple(range(0, 8))),
    "guitar": Stem("guitar", HARMONIC, tuple(range(24, 32))),
    "strings_ensemble": Stem("strings_ensemble", HARMONIC, tuple(range(40, 52))),
    "synth_lead": Stem("synth_lead", MELODIC, tuple(range(80, 88))),
    "synth_pad_fx": Stem("synth_pad_fx", HARMONIC, tuple(range(88, 104))),
    "drums": Stem("drums", PERCUSSIVE, is_drum=True),
    "high_percs": Stem("high_percs", PERCUSSIVE, is_drum=True),
    "other": Stem("other", HARMONIC),
    "vocals": Stem("vocals", MELODIC, reserved=True),
}
STEM_NAMES = tuple(STEMS)
TRAINABLE_STEMS = tuple(n for n, s in STEMS.items() if not s.reserved)
FALLBACK_STEM = "other"

# ---------------------------------------------------------------- drum classes
#: GM percussion key numbers per drum class (General MIDI Level 1, keys 35-81).
DRUM_CLASSES: dict[str, tuple[int, ...]] = {
    "kick": (35, 36),
    "snare": (37, 38, 39, 40),
    "toms": (41, 43, 45, 47, 48, 50),
    "hihat": (42, 44, 46),
    "cymbal": (49, 51, 52, 53, 55, 57, 59),
    "shaker": (54, 69, 70, 82),  # tambourine, cabasa, maracas, shaker (GS)
    "other_perc": (56, 58, 60, 61, 62, 63, 64, 65, 66, 67, 68, 71, 72, 73, 74,
                   75, 76, 77, 78, 79, 80, 81),
}
#: Drum classes each percussive stem transcribes, in output-channel order.
STEM_DRUM_CLASSES: dict[str, tuple[str, ...]] = {
    "drums": ("kick", "snare", "toms", "other_perc"),
    "high_percs": ("hihat", "cymbal", "shaker"),
}
#: Drum classes each percussive stem's *model* outputs, in output-channel order. A drum stem
#: holding a whole kit is indexed as ``drums`` (STEM_DRUM_CLASSES decides the index split), and
#: its model transcribes the whole kit: hats, cymbals and shakers included, each on its GM key.
MODEL_DRUM_CLASSES: dict[str, tuple[str, ...]] = {
    "drums": ("kick", "snare", "toms", "hihat", "cymbal", "shaker", "other_perc"),
    "high_percs": STEM_DRUM_CLASSES["high_percs"],
}
#: The GM key written for a decoded hit of each class.
DRUM_CLASS_PITCH: dict[str, int] = {
    "kick": 36, "snare": 38, "toms": 45, "hihat": 42, "cymbal": 49,
    "shaker": 70, "other_perc": 63,
}
_PITCH_TO_DRUM_CLASS = {p: c for c, ps in DRUM_CLASSES.items() for p in ps}


def drum_class(pitch: int) -> str:
    """Drum class of a GM percussion key; keys outside 35-82 are ``other_perc``."""
    return _PITCH_TO_DRUM_CLASS.get(int(pitch), "other_perc")


def drum_stem_for_pitch(pitch: int) -> str:
    """The percussive stem whose model transcribes this GM percussion key."""
    cls = drum_class(pitch)
    return next(s for s, classes in STEM_DRUM_CLASSES.items() if cls in classes)


# -------------------------------------------------------------------- routing
@dataclass(frozen=True)
class TaxonomySwitches:
    """The two switches from ``params.yaml`` (section ``taxonomy``)."""

    organs_as_keys: bool = False  # GM 16-23 join ``piano`` instead of ``other``
    bass_role: str = MELODIC      # ``melodic`` or ``harmonic``

    def __post_init__(self) -> None:
        if self.bass_role not in (MELODIC, HARMONIC):
            raise ValueError(f"taxonomy.bass_role must be 'melodic' or 'harmonic', got {self.bass_role!r}")


DEFAULT_SWITCHES = TaxonomySwitches()


class UnknownProgramError(ValueError):
    """A program number outside GM 0-127 that is not Slakh's drum program."""


def stem_for_program(program: int, is_drum: bool = False,
                     switches: TaxonomySwitches = DEFAULT_SWITCHES) -> str:
    """Stem of a pitched GM program (0-127). Drum tracks return ``"drums"``;
    the drums/high_percs split of a drum track is decided from its audio or
    notes (see ``drum_split``), not from its program.

    Raises :class:`UnknownProgramError` for programs outside 0-127 (128 only with ``is_drum``).
    """
    program = int(program)
    if is_drum:
        return "drums"
    if program == SLAKH_DRUM_PROGRAM:
        raise UnknownProgramError("program 128 is Slakh's drum program but is_drum is false")
    if not 0 <= program <= 127:
        raise UnknownProgramError(f"program {program} is outside General MIDI 0-127")
    if switches.organs_as_keys and program in ORGAN_PROGRAMS:
        return "piano"
    for stem in STEMS.values():
        if program in stem.programs:
            return stem.name
    return FALLBACK_STEM


def role_of(stem: str, switches: TaxonomySwitches = DEFAULT_SWITCHES) -> str:
    """Role of a stem, honouring the ``bass_role`` switch."""
    if stem == "bass":
        return switches.bass_role
    try:
        return STEMS[stem].role
    except KeyError:
        raise KeyError(f"unknown stem {stem!r}; known stems: {', '.join(STEM_NAMES)}") from None


def stem_programs(stem: str, switches: TaxonomySwitches = DEFAULT_SWITCHES) -> tuple[int, ...]:
    """GM programs a pitched stem owns under the switches (``other``: the rest)."""
    return tuple(p for p in range(128) if stem_for_program(p, False, switches) == stem)


#: GM program of each stem's track in a transcribed MIDI file (what a DAW loads for it): Electric Bass
#: (finger), Acoustic Grand Piano, Electric Guitar (clean), String Ensemble 1, Lead 2 (sawtooth),
#: Pad 2 (warm), a piano for the mixed bag in `other`, Voice Oohs; drum stems use the drum channel.
STEM_PROGRAMS = {"bass": 33, "piano": 0, "guitar": 27, "strings_ensemble": 48, "synth_lead": 81,
                 "synth_pad_fx": 89, "other": 0, "vocals": 53}


def default_program(stem: str) -> int:
    """:data:`STEM_PROGRAMS` of ``stem`` (0 for a stem without one); ``transcribe --program
    STEM=N`` overrides it."""
    return STEM_PROGRAMS.get(stem, 0)


def fallback_order(stem: str, switches: TaxonomySwitches = DEFAULT_SWITCHES) -> list[str]:
    """Routing order for inference: the stem itself, then other stems of the
    same role (table order), then ``other``. Percussive stems never fall back
    to a pitched model, so their list ends without ``other``."""
    role = role_of(stem, switches)
    same_role = [s for s in TRAINABLE_STEMS
                 if s != stem and s != FALLBACK_STEM and role_of(s, switches) == role]
    order = [stem, *same_role]
    if role != PERCUSSIVE and stem != FALLBACK_STEM:
        order.append(FALLBACK_STEM)
    return order


# ----------------------------------------------------------- instrument names
#: Names people (and source separators) use, mapped to stems.
STEM_ALIASES: dict[str, str] = {
    "keys": "piano", "keyboard": "piano", "keyboards": "piano", "pianos": "piano",
    "electric piano": "piano", "rhodes": "piano",
    "strings": "strings_ensemble", "string": "strings_ensemble", "orchestra": "strings_ensemble",
    "lead": "synth_lead", "synth": "synth_lead", "synth lead": "synth_lead",
    "pad": "synth_pad_fx", "pads": "synth_pad_fx", "fx": "synth_pad_fx", "synth pad": "synth_pad_fx",
    "drum": "drums", "kit": "drums", "drum kit": "drums", "percussion": "drums",
    "kick": "drums", "snare": "drums", "toms": "drums",
    "hi-hat": "high_percs", "hihat": "high_percs", "hi hat": "high_percs", "hats": "high_percs",
    "cymbal": "high_percs", "cymbals": "high_percs", "shaker": "high_percs",
    "shakers": "high_percs", "overheads": "high_percs",
    "vocal": "vocals", "voice": "vocals", "vox": "vocals", "singing": "vocals",
    "guitars": "guitar", "bass guitar": "bass",
}


def _normalise(name: str) -> str:
    return re.sub(r"[\s_]+", " ", name.strip().lower())


def resolve_stem_name(name: str | int, switches: TaxonomySwitches = DEFAULT_SWITCHES) -> str:
    """Map a stem name, alias, GM instrument name ("Electric Bass (finger)")
    or GM program number (int or digit string) to a stem name.

    Raises ``KeyError`` naming the input when nothing matches.
    """
    if isinstance(name, int) or (isinstance(name, str) and name.strip().isdigit()):
        return stem_for_program(int(name), False, switches)
    key = _normalise(name)
    underscored = key.replace(" ", "_")
    if underscored in STEMS:
        return underscored
    if key in STEM_ALIASES:
        return STEM_ALIASES[key]
    import pretty_midi  # lazy: only for GM names

    for program, gm_name in enumerate(pretty_midi.constants.INSTRUMENT_MAP):
        if _normalise(gm_name) == key:
            return stem_for_program(program, False, switches)
    raise KeyError(f"unknown stem or instrument name {name!r}; known stems: {', '.join(STEM_NAMES)}")
