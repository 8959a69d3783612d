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

import math
from dataclasses import dataclass, field

import numpy as np
import pretty_midi

from midi_extractor import taxonomy as tx

MIN_PITCH, MAX_PITCH = 21, 108
MIN_VELOCITY, MAX_VELOCITY = 30, 127

MODES: dict[str, tuple[int, ...]] = {
    "major": (0, 2, 4, 5, 7, 9, 11),
    "minor": (0, 2, 3, 5, 7, 8, 10),
    "dorian": (0, 2, 3, 5, 7, 9, 10),
    "mixolydian": (0, 2, 4, 5, 7, 9, 10),
    "harmonic_minor": (0, 2, 3, 5, 7, 8, 11),
    "lydian": (0, 2, 4, 6, 7, 9, 11),
}
#: chord progressions as scale degrees (0 = tonic)
PROGRESSIONS = ((0, 4, 5, 3), (0, 5, 3, 4), (0, 3, 4, 0), (5, 3, 0, 4), (0, 3, 0, 4),
                (1, 4, 0, 0), (0, 6, 5, 4), (0, 2, 3, 4), (0, 0, 3, 3), (3, 4, 2, 5))

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


class _Ctx:
    """What every part generator needs: the grid, the harmony, the dynamics."""

    def __init__(self, rng: np.random.Generator, seconds: float):
        self.rng = rng
        self.seconds = seconds
        self.bpm = float(rng.uniform(70, 160))
        self.beat = 60.0 / self.bpm          # nominal beat (note lengths); bar_beat_s: per bar
        self.beats_per_bar = 3 if rng.random() < 0.15 else 4
        self.bar = self.beat * self.beats_per_bar
        self._tempo_map(rng, seconds)
        self.key = int(rng.integers(12))
        self.mode = str(rng.choice(list(MODES)))
        self.scale = MODES[self.mode]
        prog_a = PROGRESSIONS[int(rng.integers(len(PROGRESSIONS)))]
        prog_b = PROGRESSIONS[int(rng.integers(len(PROGRESSIONS)))]
        half = self.n_bars // 2 if rng.random() < 0.5 else self.n_bars
        self.chords = [(prog_a if b < half else prog_b)[b % len(prog_a)] for b in range(self.n_bars)]
        # near-silent break: 1-2 bars in which at most two parts play softly
        self.break_bars: set[int] = set()
        if self.n_bars >= 4 and rng.random() < 0.6:
            start = int(rng.integers(1, self.n_bars - 1))
            self.break_bars = set(range(start, min(self.n_bars, start + int(rng.integers(1, 3)))))
        self.break_players: set[str] = set()

    def _tempo_map(self, rng: np.random.Generator, seconds: float) -> None:
        """Bar start times and beat lengths: steady, a tempo change from a bar on, or a
        ritardando over the last bars."""
        kind = rng.choice(["steady", "change", "ritardando"], p=[0.6, 0.25, 0.15])
        change_bar = int(rng.integers(2, 6)) if kind == "change" else -1
        ratio = float(rng.uniform(0.8, 1.25))
        n_plain = max(1, math.ceil(seconds / self.bar))
        self.bar_start_s: list[float] = []
        self.bar_beat_s: list[float] = []
        start, b = 0.0, 0
        while start < seconds:
            beat = self.beat * (ratio if 0 <= change_bar <= b else 1.0)
            if kind == "ritardando" and b >= n_plain - 2:
                beat = self.beat * (1.0 + 0.15 * (b - n_plain + 3))
            self.bar_start_s.append(start)
            self.bar_beat_s.append(beat)
            start += beat * self.beats_per_bar
            b += 1
        self.n_bars = max(1, len(self.bar_start_s))
        self.dynamics = str(rng.choice(["flat", "crescendo", "decrescendo", "swell"], p=[0.4, 0.2, 0.2, 0.2]))

    # harmony
    def degree_pitch(self, degree: int, octave: int) -> int:
        """MIDI pitch of a scale degree (may exceed 0-6) in an octave (4 = middle C's)."""
        return 12 * (octave + 1) + self.key + self.scale[degree % 7] + 12 * (degree // 7)

    def chord_pcs(self, bar: int, sevenths: bool = False) -> list[int]:
        d = self.chords[bar % len(self.chords)]
        degrees = [d, d + 2, d + 4] + ([d + 6] if sevenths else [])
        return [(self.key + self.scale[x % 7]) % 12 for x in degrees]

    def scale_pitches(self, low: int, high: int) -> list[int]:
        pcs = {(self.key + s) % 12 for s in self.scale}
        return [p for p in range(low, high + 1) if p % 12 in pcs]

    # time and dynamics
    def t(self, bar: int, beat: float) -> float:
        """Time in seconds of a beat (may be fractional or past the bar) of a bar."""
        bar = min(max(bar, 0), self.n_bars - 1)
        return self.bar_start_s[bar] + beat * self.bar_beat_s[bar]

    def velocity(self, base: float, bar: int, spread: float = 10.0) -> int:
        x = bar / max(1, self.n_bars - 1)
        base *= {"flat": 1.0, "crescendo": 0.7 + 0.4 * x, "decrescendo": 1.1 - 0.4 * x,
                 "swell": 0.75 + 0.4 * math.sin(math.pi * x)}[self.dynamics]
        if bar in self.break_bars:
            base = min(base, 40.0)
        v = base + self.rng.normal(0.0, spread)
        return int(np.clip(round(v), MIN_VELOCITY, MAX_VELOCITY))

    def active_bars(self, stem: str) -> list[bool]:
        """Bars a part plays: late entries, one- or two-bar drop-outs, the break."""
        rng = self.rng
        active = [True] * self.n_bars
        if self.n_bars > 3 and rng.random() < 0.3:
            for b in range(int(rng.integers(1, 3))):
                active[b] = False
        for b in range(self.n_bars):
            if rng.random() < 0.08:
                for k in range(b, min(self.n_bars, b + int(rng.integers(1, 3)))):
                    active[k] = False
        for b in self.break_bars:
            active[b] = stem in self.break_players
        if not any(active):
            active[0] = True
        return active


def voicing(pcs: list[int], low: int, high: int, rng: np.random.Generator, n: int) -> list[int]:
    """``n`` pitches of the chord pitch classes inside [low, high], from a random bottom."""
    pool = [p for p in range(low, high + 1) if p % 12 in pcs]
    if not pool:
        return []
    start = int(rng.integers(0, max(1, len(pool) - n + 1)))
    return pool[start:start + n]


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


# ------------------------------------------------------------------ pitched parts
def _bass(ctx: _Ctx, active: list[bool], program: int) -> list:
    rng, notes = ctx.rng, []
    style = str(rng.choice(["roots", "eighths", "syncopated", "walking", "pulse"]))
    base = float(rng.uniform(70, 110))
    low = 23 if rng.random() < 0.25 else 28  # B0 (five-string) or E1
    up = rng.random() < 0.4
    for bar in range(ctx.n_bars):
        if not active[bar]:
            continue
        root = ctx.degree_pitch(ctx.chords[bar], 0)  # B0/E1-B2: the bass register
        while root < low:
            root += 12
        if up and root + 12 <= 52:
            root += 12
        fifth = root + 7
        if style == "roots":
            hits = [(b, 0.9, root) for b in range(ctx.beats_per_bar)]
        elif style == "eighths":
            hits = [(k / 2, 0.45, root + (12 if k % 4 == 3 and root < 48 else 0))
                    for k in range(ctx.beats_per_bar * 2)]
        elif style == "pulse":  # repeated notes on the root
            sub = 4 if ctx.bpm < 110 and rng.random() < 0.5 else 2
            hits = [(k / sub, 0.8 / sub, root) for k in range(ctx.beats_per_bar * sub)]
        elif style == "syncopated":
            hits = [(0, 0.7, root), (1.5, 0.4, root), (2, 0.45, fifth), (3.5, 0.4, root + 12)]
            hits = [h for h in hits if h[0] < ctx.beats_per_bar]
        else:  # walking: scale steps towards the next chord
            nxt = root + (ctx.degree_pitch(ctx.chords[(bar + 1) % ctx.n_bars], 0) - ctx.degree_pitch(ctx.chords[bar], 0))
            steps = np.linspace(root, nxt, ctx.beats_per_bar + 1)[:-1]
            scale = ctx.scale_pitches(low, 60)
            hits = [(b, 0.85, min(scale, key=lambda p: abs(p - x))) for b, x in enumerate(steps)]
        for beat, dur, pitch in hits:
            if rng.random() < 0.1 and beat > 0:
                continue  # a rest
            s = ctx.t(bar, beat)
            notes.append((s, s + dur * ctx.beat * float(rng.uniform(0.6, 1.0)), pitch, ctx.velocity(base, bar)))
    return notes


def _chords(ctx: _Ctx, active: list[bool], low: int, high: int, style: str, base: float) -> list:
    """Block, broken, strummed or sustained chords between ``low`` and ``high``."""
    rng, notes = ctx.rng, []
    n_voices = int(rng.integers(3, 5))
    for bar in range(ctx.n_bars):
        if not active[bar]:
            continue
        pcs = ctx.chord_pcs(bar, sevenths=rng.random() < 0.3)
        chord = voicing(pcs, low, high, rng, n_voices)
        if style in ("sustain", "sustain2"):  # legato chords, slightly overlapping the next one
            step = ctx.beats_per_bar if style == "sustain" or ctx.beats_per_bar == 3 else 2
            for beat in range(0, ctx.beats_per_bar, step):
                s = ctx.t(bar, beat)
                for p in chord:
                    notes.append((s, ctx.t(bar, beat + step) + 0.06, p, ctx.velocity(base, bar, 6)))
        elif style == "block":
            step = float(rng.choice([1.0, 2.0])) if ctx.beats_per_bar == 4 else 1.0
            for beat in np.arange(0, ctx.beats_per_bar, step):
                if beat > 0 and rng.random() < 0.15:
                    continue
                s = ctx.t(bar, beat)
                length = step * ctx.beat * float(rng.uniform(0.5, 1.05))
                v = ctx.velocity(base + (8 if beat == 0 else 0), bar)
                for p in chord:
                    notes.append((s, s + length, p, int(np.clip(v + rng.integers(-5, 6), 30, 127))))
        elif style == "broken":  # arpeggio with ringing notes (polyphonic overlap)
            order = chord + chord[-2:0:-1] if rng.random() < 0.5 else chord
            n_steps = ctx.beats_per_bar * 2
            for k in range(n_steps):
                s = ctx.t(bar, k / 2)
                p = order[k % len(order)]
                notes.append((s, s + ctx.beat * float(rng.uniform(0.5, 1.6)), p, ctx.velocity(base, bar)))
        elif style == "pulse":  # repeated chords on every eighth
            for k in range(ctx.beats_per_bar * 2):
                s = ctx.t(bar, k / 2)
                v = ctx.velocity(base + (8 if k % 2 == 0 else 0), bar, 6)
                for p in chord:
                    notes.append((s, s + 0.45 * ctx.beat, p, v))
        elif style == "strum":  # notes staggered by a few ms, down and up strokes
            pattern = [0, 1, 1.5, 2.5, 3] if ctx.beats_per_bar == 4 else [0, 1, 2]
            for beat in pattern:
                if beat > 0 and rng.random() < 0.2:
                    continue
                s0 = ctx.t(bar, beat)
                up = (beat % 1) != 0
                v = ctx.velocity(base - (10 if up else 0), bar)
                for i, p in enumerate(reversed(chord) if up else chord):
                    s = s0 + i * float(rng.uniform(0.008, 0.025))
                    notes.append((s, s0 + ctx.beat * float(rng.uniform(0.4, 1.0)), p, v))
    return notes


def _melody(ctx: _Ctx, active: list[bool], low: int, high: int, base: float, density: float = 1.0) -> list:
    """A scale melody: chord tones on strong beats, rests, varied lengths, repeated
    notes, a few legato overlaps."""
    rng, notes = ctx.rng, []
    repeat_p = float(rng.choice([0.0, 0.15, 0.35]))
    scale = ctx.scale_pitches(low, high)
    idx = len(scale) // 2
    durations = np.array([0.5, 1.0, 1.5, 2.0, 0.25])
    weights = np.array([0.35, 0.3, 0.1, 0.15, 0.1])
    weights = weights / weights.sum()
    for bar in range(ctx.n_bars):
        if not active[bar]:
            continue
        beat = 0.0
        pcs = ctx.chord_pcs(bar)
        while beat < ctx.beats_per_bar:
            d = float(rng.choice(durations, p=weights)) / density
            if rng.random() < 0.15:  # rest
                beat += d
                continue
            if notes and rng.random() < repeat_p:
                pass  # the same pitch again
            else:
                idx = int(np.clip(idx + rng.integers(-3, 4), 0, len(scale) - 1))
            # strong beat: move to the nearest chord tone (unless repeating a note)
            if beat % 1 == 0 and not (notes and notes[-1][2] == scale[idx]):
                near = [i for i in range(len(scale)) if scale[i] % 12 in pcs]
                if near:
                    idx = min(near, key=lambda i: abs(i - idx))
            s = ctx.t(bar, beat)
            overlap = 0.04 if rng.random() < 0.15 else -float(rng.uniform(0.0, 0.3)) * d * ctx.beat
            notes.append((s, s + d * ctx.beat + overlap, scale[idx], ctx.velocity(base, bar, 12)))
            beat += d
    return notes


def _fx(ctx: _Ctx, active: list[bool], base: float) -> list:
    """Long, overlapping notes for GM sound-effect patches (never two of one pitch at once)."""
    rng, notes = ctx.rng, []
    scale = ctx.scale_pitches(48, 84)
    for bar in range(ctx.n_bars):
        for beat in range(ctx.beats_per_bar):
            if active[bar] and rng.random() < 0.8:
                s = ctx.t(bar, beat + float(rng.choice([0, 0.5])))
                pitch = int(rng.choice(scale))
                if any(p == pitch and e > s for _, e, p, _ in notes[-4:]):
                    continue
                notes.append((s, s + ctx.beat * float(rng.uniform(0.5, 2.5)), pitch, ctx.velocity(base, bar)))
    return notes


# -------------------------------------------------------------------- drum parts
def _drum_keys(rng: np.random.Generator, cls: str, n: int = 1) -> list[int]:
    keys = list(tx.DRUM_CLASSES[cls])
    return [int(k) for k in rng.choice(keys, size=min(n, len(keys)), replace=False)]


def _kit(ctx: _Ctx, active: list[bool]) -> list:
    """Core kit: kick, snare, toms, other percussion (no hats, cymbals or shakers)."""
    rng, notes = ctx.rng, []
    kick = _drum_keys(rng, "kick")[0]
    snare = _drum_keys(rng, "snare")[0]
    toms = sorted(_drum_keys(rng, "toms", 3), reverse=True)
    perc = _drum_keys(rng, "other_perc", 2)
    style = str(rng.choice(["rock", "four", "half", "break"]))
    sixteenths = ctx.beats_per_bar * 4
    kick_steps = {"rock": {0, 8, 10}, "four": {0, 4, 8, 12}, "half": {0, 10}, "break": {0, 6, 10}}[style]
    snare_steps = {"rock": {4, 12}, "four": {4, 12}, "half": {8}, "break": {4, 12, 15}}[style]
    if ctx.beats_per_bar == 3:
        kick_steps, snare_steps = {0}, {4, 8}
    base = float(rng.uniform(80, 115))
    use_perc = rng.random() < 0.7
    for bar in range(ctx.n_bars):
        if not active[bar]:
            continue
        fill = (bar % 4 == 3) and rng.random() < 0.5
        for k in range(sixteenths):
            s = ctx.t(bar, k / 4)
            if fill and k >= sixteenths // 2:
                if k % 2 == 0 or rng.random() < 0.5:
                    tom = toms[min(len(toms) - 1, (k - sixteenths // 2) * len(toms) // (sixteenths // 2))]
                    notes.append((s, s + 0.1, tom, ctx.velocity(base, bar)))
                continue
            if k in kick_steps or (k % 2 == 0 and rng.random() < 0.07):
                notes.append((s, s + 0.1, kick, ctx.velocity(base + 5, bar)))
            if k in snare_steps:
                notes.append((s, s + 0.1, snare, ctx.velocity(base, bar)))
            elif k % 2 == 1 and rng.random() < 0.06:  # ghost note
                notes.append((s, s + 0.08, snare, ctx.velocity(45, bar, 6)))
            if use_perc and k % 2 == 0 and rng.random() < 0.25:
                notes.append((s, s + 0.1, perc[k // 2 % len(perc)], ctx.velocity(base - 15, bar)))
    return notes


def _high(ctx: _Ctx, active: list[bool]) -> list:
    """Hats, cymbals and shakers only."""
    rng, notes = ctx.rng, []
    hats = list(tx.DRUM_CLASSES["hihat"])
    closed, pedal, open_ = (hats + hats[:3])[:3]
    cymbals = _drum_keys(rng, "cymbal", 2)
    shaker = _drum_keys(rng, "shaker")[0]
    style = str(rng.choice(["hats8", "hats16", "ride", "shaker", "hats_shaker"]))
    base = float(rng.uniform(60, 105))
    sub = 4 if style in ("hats16", "shaker") else 2
    for bar in range(ctx.n_bars):
        if not active[bar]:
            continue
        if bar % 4 == 0 and rng.random() < 0.6:
            s = ctx.t(bar, 0)
            notes.append((s, s + 0.5, cymbals[0], ctx.velocity(base + 10, bar)))
        for k in range(ctx.beats_per_bar * sub):
            s = ctx.t(bar, k / sub)
            accent = 12 if k % sub == 0 else 0
            if style == "ride":
                key = cymbals[-1] if rng.random() < 0.85 else pedal
            elif style == "shaker":
                key = shaker
            elif style == "hats_shaker" and k % 2 == 1:
                key = shaker
            else:
                key = open_ if rng.random() < 0.08 else (pedal if rng.random() < 0.05 else closed)
            if rng.random() < 0.92:
                notes.append((s, s + 0.08, key, ctx.velocity(base + accent, bar, 8)))
    return notes


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


def compose_song(rng: np.random.Generator, seconds: float, stems: list[str]) -> Song:
    """A song of ``seconds`` with one part per stem name in ``stems`` (``"organ"``
    may be added for an organ part, which the taxonomy routes to ``other`` or ``piano``)."""
    ctx = _Ctx(rng, seconds)
    if ctx.break_bars:
        ctx.break_players = set(rng.choice(stems, size=min(len(stems), int(rng.integers(0, 3))),
                                           replace=False).tolist())
    parts: list[Part] = []
    for stem in stems:
        active = ctx.active_bars(stem)
        base = float(rng.uniform(55, 110))
        if stem in ("drums", "high_percs"):
            kit = int(rng.choice(DRUM_KITS))
            part = Part(stem, kit, True, _kit(ctx, active) if stem == "drums" else _high(ctx, active))
        elif stem == "bass":
            program = _pick(rng, tx.stem_programs("bass"))
            part = Part(stem, program, False, _bass(ctx, active, program))
        elif stem == "piano":
            low = int(rng.choice([21, 28, 36, 45, 52], p=[0.1, 0.15, 0.3, 0.25, 0.2]))  # down to A0 sometimes
            style = str(rng.choice(["block", "broken", "pulse", "strum"], p=[0.35, 0.35, 0.15, 0.15]))
            part = Part(stem, _pick(rng, tx.stem_programs("piano")), False,
                        _chords(ctx, active, low, low + 36, style, base))
        elif stem == "guitar":
            part = Part(stem, _pick(rng, tx.stem_programs("guitar")), False,
                        _chords(ctx, active, 40, 76, str(rng.choice(["strum", "broken", "block"])), base))
        elif stem == "strings_ensemble":
            program = _pick(rng, tx.stem_programs("strings_ensemble"))
            style = str(rng.choice(["sustain", "sustain2", "broken"], p=[0.35, 0.35, 0.3]))
            part = Part(stem, program, False, _chords(ctx, active, 48, 84, style, base))
        elif stem == "synth_lead":
            low = int(rng.choice([48, 55, 60]))
            part = Part(stem, _pick(rng, tx.stem_programs("synth_lead")), False,
                        _melody(ctx, active, low, low + 30, base, density=float(rng.choice([0.5, 1.0, 1.5, 2.0], p=[0.05, 0.3, 0.35, 0.3]))))
        elif stem == "synth_pad_fx":
            program = _pick(rng, tx.stem_programs("synth_pad_fx"))
            if pretty_midi.program_to_instrument_class(program) == "Synth Pad" or rng.random() < 0.4:
                notes = _chords(ctx, active, 48, 80, str(rng.choice(["sustain", "sustain2", "broken"],
                                                                     p=[0.1, 0.5, 0.4])), base)
            else:
                notes = _fx(ctx, active, base)
            part = Part(stem, program, False, notes)
        elif stem == "organ":
            part = Part(stem, _pick(rng, tx.ORGAN_PROGRAMS), False,
                        _chords(ctx, active, 48, 80, str(rng.choice(["sustain", "block"])), base))
        elif stem == "other":
            program = _pick(rng, _other_programs())
            cls = pretty_midi.program_to_instrument_class(program)
            if cls == "Ensemble" or (cls == "Brass" and rng.random() < 0.5):
                notes = _chords(ctx, active, 50, 80, str(rng.choice(["sustain", "block"])), base)
            else:
                notes = _melody(ctx, active, 55, 84, base, density=float(rng.choice([0.5, 1.0])))
            part = Part(stem, program, False, notes)
        else:
            raise ValueError(f"no part generator for stem {stem!r}")
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
        parts.append(part)
    return Song(ctx.bpm, ctx.key, ctx.mode, ctx.beats_per_bar, seconds, parts)
