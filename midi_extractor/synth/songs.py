"""Procedural multi-instrument songs for the generated training set.

:func:`compose_song` turns a random generator into a :class:`Song`: a tempo
(70-160 bpm), a key and mode, a chord progression, and one :class:`Part` per
instrument, each aimed at one stem of :mod:`taxonomy`. Programs come from
:func:`taxonomy.stem_programs` and drum pitches from
:data:`taxonomy.DRUM_CLASSES`, so nothing here knows a GM range of its own.

Variety (cheap, all from the one generator): tempo changes (a new tempo from a
bar on, or a ritardando at the end), dynamics curves (crescendo, decrescendo,
swell), registers (bass down to B0, piano down to A0), densities, legato and
staccato articulation, rolled and pulsed chords, repeated notes.

Every song has a core drum kit (kick/snare/toms/other percussion) and a bass;
the other stems (hats/cymbals/shakers, piano, guitar, strings, synth lead, pad
or effect, an ``other`` instrument such as brass or reeds) occur in most songs,
an organ in about half. Parts drop out for a bar or two, and many songs have a
near-silent break where at most two parts play softly. Notes stay inside MIDI
21-108, velocities inside 30-127.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pretty_midi

from midi_extractor import taxonomy as tx
from midi_extractor.synth import drum_parts as drums
from midi_extractor.synth import parts as gen
from midi_extractor.synth.parts import MAX_VELOCITY, MIN_VELOCITY

MIN_PITCH, MAX_PITCH = 21, 108


#: GS drum kit numbers (bank 128): standard, room, power, electronic, TR-808,
#: jazz, brush, orchestra; a SoundFont without one renders kit 0
DRUM_KITS = (0, 0, 0, 8, 16, 24, 25, 32, 40, 48)

#: stems every song has / most songs have (each optional one is left out of at
#: most two songs in a row, so any two neighbouring songs hold every stem)
CORE_STEMS = ("drums", "bass")
OPTIONAL_STEMS = ("high_percs", "piano", "guitar", "strings_ensemble", "synth_lead",
                  "synth_pad_fx", "other")


@dataclass
class Part:
    """One instrument of a song: the stem it is meant for, its program and notes."""

    stem: str
    program: int           # GM program 0-127; drum kit number for drums
    is_drum: bool
    notes: list[tuple[float, float, int, int]] = field(default_factory=list)  # start, end, pitch, velocity
    reverb: tuple[float, float] = (0.2, 0.3)  # FluidSynth reverb room size and level, 0-1

    @property
    def name(self) -> str:
        return "Drums" if self.is_drum else pretty_midi.program_to_instrument_name(self.program)

    @property
    def inst_class(self) -> str:
        return "Drums" if self.is_drum else pretty_midi.program_to_instrument_class(self.program)

    def to_instrument(self) -> pretty_midi.Instrument:
        inst = pretty_midi.Instrument(program=self.program, is_drum=self.is_drum, name=self.name)
        inst.notes = [pretty_midi.Note(int(v), int(p), float(s), float(e)) for s, e, p, v in self.notes]
        return inst


@dataclass
class Song:
    bpm: float
    key: int
    mode: str
    beats_per_bar: int
    seconds: float
    parts: list[Part]
    tempo_changes: list[tuple[float, float]] = field(default_factory=list)  # (time_s, bpm) after the first


def _clip_notes(notes: list, seconds: float) -> list[tuple[float, float, int, int]]:
    """Keep notes that start before the end, cut them at the end, sort them."""
    out = []
    end_limit = seconds - 0.05
    for s, e, p, v in notes:
        if s >= seconds - 0.25 or not MIN_PITCH <= p <= MAX_PITCH:
            continue
        e = min(e, end_limit)
        if e - s >= 0.03:
            out.append((round(float(s), 4), round(float(e), 4), int(p), int(np.clip(v, MIN_VELOCITY, MAX_VELOCITY))))
    return sorted(out)


def articulate(notes: list, style: str, rng: np.random.Generator) -> list:
    """``staccato``: every note cut to 60-150 ms; ``legato``: a note held until the next
    onset of the part (plus 20 ms) when that comes within 0.6 s; else unchanged."""
    if style == "staccato":
        cut = float(rng.uniform(0.06, 0.15))
        return [(s, min(e, s + cut), p, v) for s, e, p, v in notes]
    if style == "legato":
        notes = sorted(notes)
        onsets = sorted({n[0] for n in notes})
        same: dict[int, list[float]] = {}
        for s, _, p, _ in notes:
            same.setdefault(p, []).append(s)
        out = []
        for s, e, p, v in notes:
            k = int(np.searchsorted(onsets, s, side="right"))
            if k < len(onsets) and onsets[k] - s < 0.6:
                e = max(e, onsets[k] + 0.02)
            j = int(np.searchsorted(same[p], s, side="right"))
            if j < len(same[p]):  # never into the next note of the same pitch
                e = min(e, same[p][j] - 0.005)
            out.append((s, e, p, v))
        return out
    return notes


# ------------------------------------------------------------------- the song
def _pick(rng: np.random.Generator, programs) -> int:
    programs = list(programs)
    return int(programs[int(rng.integers(len(programs)))])


def _other_programs() -> list[int]:
    """``other`` programs worth training on: not organs (their own part), not the
    GM percussive and sound-effect patches (gunshots, helicopters)."""
    skip = {"Percussive", "Sound Effects"}
    return [p for p in tx.stem_programs("other") if p not in tx.ORGAN_PROGRAMS
            and pretty_midi.program_to_instrument_class(p) not in skip]


def choose_stems(rng: np.random.Generator, previous_dropped: set[str]) -> tuple[list[str], set[str]]:
    """The stems of one song: the core ones, and the optional ones minus up to two
    (never one the previous song left out). Returns (stems, dropped)."""
    candidates = [s for s in OPTIONAL_STEMS if s not in previous_dropped]
    n_drop = int(rng.choice([0, 1, 1, 2]))
    dropped = set(rng.choice(candidates, size=min(n_drop, len(candidates)), replace=False).tolist())
    return [*CORE_STEMS, *(s for s in OPTIONAL_STEMS if s not in dropped)], dropped


def _make_part(ctx: gen.Ctx, rng: np.random.Generator, stem: str, active: list[bool], base: float) -> Part:
    """The part of one stem name (its program, style and notes), before clipping."""
    if stem in ("drums", "high_percs"):
        kit = int(rng.choice(DRUM_KITS))
        return Part(stem, kit, True, drums.kit(ctx, active) if stem == "drums" else drums.high(ctx, active))
    if stem == "bass":
        program = _pick(rng, tx.stem_programs("bass"))
        return Part(stem, program, False, gen.bass(ctx, active, program))
    if stem == "piano":
        low = int(rng.choice([21, 28, 36, 45, 52], p=[0.1, 0.15, 0.3, 0.25, 0.2]))  # down to A0 sometimes
        style = str(rng.choice(["block", "broken", "pulse", "strum"], p=[0.35, 0.35, 0.15, 0.15]))
        return Part(stem, _pick(rng, tx.stem_programs("piano")), False,
                    gen.chords(ctx, active, low, low + 36, style, base))
    if stem == "guitar":
        return Part(stem, _pick(rng, tx.stem_programs("guitar")), False,
                    gen.chords(ctx, active, 40, 76, str(rng.choice(["strum", "broken", "block"])), base))
    if stem == "strings_ensemble":
        program = _pick(rng, tx.stem_programs("strings_ensemble"))
        style = str(rng.choice(["sustain", "sustain2", "broken"], p=[0.35, 0.35, 0.3]))
        return Part(stem, program, False, gen.chords(ctx, active, 48, 84, style, base))
    if stem == "synth_lead":
        low = int(rng.choice([48, 55, 60]))
        program = _pick(rng, tx.stem_programs("synth_lead"))
        density = float(rng.choice([0.5, 1.0, 1.5, 2.0], p=[0.05, 0.3, 0.35, 0.3]))
        return Part(stem, program, False, gen.melody(ctx, active, low, low + 30, base, density=density))
    if stem == "synth_pad_fx":
        program = _pick(rng, tx.stem_programs("synth_pad_fx"))
        if pretty_midi.program_to_instrument_class(program) == "Synth Pad" or rng.random() < 0.4:
            style = str(rng.choice(["sustain", "sustain2", "broken"], p=[0.1, 0.5, 0.4]))
            return Part(stem, program, False, gen.chords(ctx, active, 48, 80, style, base))
        return Part(stem, program, False, gen.fx(ctx, active, base))
    if stem == "organ":
        return Part(stem, _pick(rng, tx.ORGAN_PROGRAMS), False,
                    gen.chords(ctx, active, 48, 80, str(rng.choice(["sustain", "block"])), base))
    if stem == "other":
        program = _pick(rng, _other_programs())
        cls = pretty_midi.program_to_instrument_class(program)
        if cls == "Ensemble" or (cls == "Brass" and rng.random() < 0.5):
            notes = gen.chords(ctx, active, 50, 80, str(rng.choice(["sustain", "block"])), base)
        else:
            notes = gen.melody(ctx, active, 55, 84, base, density=float(rng.choice([0.5, 1.0])))
        return Part(stem, program, False, notes)
    raise ValueError(f"no part generator for stem {stem!r}")


def compose_song(rng: np.random.Generator, seconds: float, stems: list[str], double_triads: bool = False) -> Song:
    """A song of ``seconds`` with one part per stem name in ``stems`` (``"organ"``
    may be added for an organ part, which the taxonomy routes to ``other`` or ``piano``).
    ``double_triads``: every other three-note chord of a pitched part gains its bottom note an
    octave up (:func:`double_bottom_notes`), after composition, so the song is otherwise the same."""
    ctx = gen.Ctx(rng, seconds)
    if ctx.break_bars:
        ctx.break_players = set(rng.choice(stems, size=min(len(stems), int(rng.integers(0, 3))),
                                           replace=False).tolist())
    parts: list[Part] = []
    for stem in stems:
        active = ctx.active_bars(stem)
        base = float(rng.uniform(55, 110))
        part = _make_part(ctx, rng, stem, active, base)
        part.reverb = (round(float(rng.uniform(0.1, 0.8)), 3), round(float(rng.uniform(0.0, 0.6)), 3))
        if not part.is_drum:
            part.notes = articulate(part.notes, str(rng.choice(["as_written", "staccato", "legato"],
                                                                p=[0.6, 0.2, 0.2])), rng)
        part.notes = _clip_notes(part.notes, seconds)
        if not part.notes:  # a part always has something to learn from
            s = min(0.5, seconds / 4)
            pitch = (tx.DRUM_CLASS_PITCH[tx.STEM_DRUM_CLASSES[stem][0]] if part.is_drum
                     else ctx.degree_pitch(0, 4))
            part.notes = [(s, min(seconds - 0.05, s + 0.5), pitch, 90)]
        if double_triads and not part.is_drum:
            part.notes = double_bottom_notes(part.notes)
        parts.append(part)
    changes = [(round(s, 4), round(60.0 / b, 3)) for k, (s, b) in enumerate(zip(ctx.bar_start_s, ctx.bar_beat_s))
               if k and b != ctx.bar_beat_s[k - 1]]
    return Song(ctx.bpm, ctx.key, ctx.mode, ctx.beats_per_bar, seconds, parts, changes)


#: notes starting within this of a chord's first note belong to the chord (strums stagger theirs)
CHORD_WINDOW_S = 0.08


def double_bottom_notes(notes: list) -> list:
    """``notes`` plus, for every other chord of exactly three notes within an octave (notes
    starting within ``CHORD_WINDOW_S`` of its first), its bottom note an octave up with the same
    times and velocity: the four-voice voicing of a triad (:func:`parts.voicing`), an octave
    doubling. Every other one, so a calibration song holds about as many doublings as a test
    song (benchmarks/octave_misses.py); melodies, arpeggios and four-note chords are left as they
    are. Uses no randomness."""
    ordered = sorted(notes)
    added, i, n_triads = [], 0, 0
    while i < len(ordered):
        j = i
        while j + 1 < len(ordered) and ordered[j + 1][0] - ordered[i][0] <= CHORD_WINDOW_S:
            j += 1
        chord = ordered[i:j + 1]
        low, high = min(n[2] for n in chord), max(n[2] for n in chord)
        if len(chord) == 3 and high < low + 12 <= 108:
            if n_triads % 2 == 0:
                s, e, p, v = min(chord, key=lambda n: n[2])
                added.append((s, e, p + 12, v))
            n_triads += 1
        i = j + 1
    return list(notes) + added


def merge_kit(song: Song) -> Song:
    """Give the ``drums`` part the ``high_percs`` part's hats, cymbals and shakers too: a whole
    kit in one stem, as most Slakh songs have it (the ``high_percs`` stem stays, so every other
    stem of the song is unchanged). Uses no randomness."""
    drums = next((p for p in song.parts if p.stem == "drums"), None)
    high = next((p for p in song.parts if p.stem == "high_percs"), None)
    if drums is None or high is None:
        return song
    merged = sorted(drums.notes + high.notes)
    high_classes = set(tx.STEM_DRUM_CLASSES["high_percs"])
    n_high = sum(tx.drum_class(n[2]) in high_classes for n in merged)
    if n_high < KIT_HIGH_SHARE * len(merged):  # still a kit by the index's MIDI rule (drum_split)
        drums.notes = merged
    return song


#: merge_kit keeps a song's kit apart when hats would outnumber the kit this much (a short song
#: whose kit is mostly a break): such a stem would read as ``high_percs`` (drum_split's 90 % rule)
KIT_HIGH_SHARE = 0.9
