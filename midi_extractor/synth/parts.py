"""Part generators of :mod:`songs`: the song context (tempo map, harmony, dynamics,
drop-outs) and one function per kind of part. Each returns a list of
(start_s, end_s, pitch, velocity) notes; :func:`songs.compose_song` clips them.
"""
from __future__ import annotations

import math

import numpy as np


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


class Ctx:
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


# ------------------------------------------------------------------ pitched parts
def bass(ctx: Ctx, active: list[bool], program: int) -> list:
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


def chords(ctx: Ctx, active: list[bool], low: int, high: int, style: str, base: float) -> list:
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


def melody(ctx: Ctx, active: list[bool], low: int, high: int, base: float, density: float = 1.0) -> list:
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


def fx(ctx: Ctx, active: list[bool], base: float) -> list:
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
