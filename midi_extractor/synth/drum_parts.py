"""Drum part generators of :mod:`songs`: the core kit (kick, snare, toms, other
percussion) and the high percussion (hats, cymbals, shakers), as separate parts so
each drum stem has its own audio. Notes: (start_s, end_s, GM key, velocity).
"""
from __future__ import annotations

import numpy as np

from midi_extractor import taxonomy as tx
from midi_extractor.synth.parts import Ctx


def drum_keys(rng: np.random.Generator, cls: str, n: int = 1) -> list[int]:
    keys = list(tx.DRUM_CLASSES[cls])
    return [int(k) for k in rng.choice(keys, size=min(n, len(keys)), replace=False)]


def kit(ctx: Ctx, active: list[bool]) -> list:
    """Core kit: kick, snare, toms, other percussion (no hats, cymbals or shakers)."""
    rng, notes = ctx.rng, []
    kick = drum_keys(rng, "kick")[0]
    snare = drum_keys(rng, "snare")[0]
    toms = sorted(drum_keys(rng, "toms", 3), reverse=True)
    perc = drum_keys(rng, "other_perc", 2)
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


def high(ctx: Ctx, active: list[bool]) -> list:
    """Hats, cymbals and shakers only."""
    rng, notes = ctx.rng, []
    hats = list(tx.DRUM_CLASSES["hihat"])
    closed, pedal, open_ = (hats + hats[:3])[:3]
    cymbals = drum_keys(rng, "cymbal", 2)
    shaker = drum_keys(rng, "shaker")[0]
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
