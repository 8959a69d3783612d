"""synth.parts: the song context (tempo map, harmony, dynamics, drop-outs) and the pitched part
generators: notes stay in the key, in their register, in the bars a part plays, and a seed gives
the same part again (the generated set is byte-identical for a seed)."""
import numpy as np
import pytest

from midi_extractor.synth import parts
from midi_extractor.synth.parts import MAX_VELOCITY, MIN_VELOCITY, Ctx

SEEDS = range(12)


def _ctx(seed: int, seconds: float = 12.0) -> Ctx:
    return Ctx(np.random.default_rng(seed), seconds)


def _bar_of(ctx: Ctx, start_s: float) -> int:
    return int(np.searchsorted(ctx.bar_start_s, start_s + 1e-9, side="right")) - 1


@pytest.mark.parametrize("seed", SEEDS)
def test_the_tempo_map_tiles_the_song(seed):
    ctx = _ctx(seed)
    starts = np.asarray(ctx.bar_start_s)
    assert starts[0] == 0.0 and np.all(np.diff(starts) > 0) and len(starts) == ctx.n_bars
    assert starts[-1] < ctx.seconds <= starts[-1] + ctx.bar_beat_s[-1] * ctx.beats_per_bar + 1e-9
    np.testing.assert_allclose(np.diff(starts), np.asarray(ctx.bar_beat_s[:-1]) * ctx.beats_per_bar)
    assert ctx.t(1, 0) == ctx.bar_start_s[1] and ctx.t(0, 1.5) == pytest.approx(1.5 * ctx.bar_beat_s[0])
    assert ctx.beats_per_bar in (3, 4) and 70 <= ctx.bpm <= 160


def test_degrees_and_chords_are_in_the_key():
    ctx = _ctx(3)
    pcs = {(ctx.key + s) % 12 for s in ctx.scale}
    assert ctx.degree_pitch(0, 4) == 60 + ctx.key  # the tonic in middle C's octave
    assert ctx.degree_pitch(7, 4) == ctx.degree_pitch(0, 5)
    for bar in range(ctx.n_bars):
        chord = ctx.chord_pcs(bar, sevenths=True)
        assert len(chord) == 4 and set(chord) <= pcs
    assert all(p % 12 in pcs for p in ctx.scale_pitches(40, 80))


@pytest.mark.parametrize("seed", SEEDS)
def test_melody_stays_in_key_register_and_active_bars(seed):
    ctx = _ctx(seed)
    active = ctx.active_bars("lead")
    notes = parts.melody(ctx, active, 60, 84, 80.0)
    pcs = {(ctx.key + s) % 12 for s in ctx.scale}
    assert notes
    for start, end, pitch, velocity in notes:
        assert 60 <= pitch <= 84 and pitch % 12 in pcs
        assert end > start and MIN_VELOCITY <= velocity <= MAX_VELOCITY
        assert active[_bar_of(ctx, start)]


@pytest.mark.parametrize("seed", SEEDS)
def test_bass_sits_in_the_bass_register(seed):
    ctx = _ctx(seed)
    notes = parts.bass(ctx, [True] * ctx.n_bars, 33)
    assert notes and all(23 <= p <= 64 and e > s for s, e, p, _ in notes)
    assert min(p for _, _, p, _ in notes) < 48  # B0/E1-B2 roots (one octave up at most)


@pytest.mark.parametrize("style", ["sustain", "sustain2", "block", "broken", "pulse", "strum"])
def test_chords_are_chord_tones_between_low_and_high(style):
    ctx = _ctx(5)
    active = [b % 2 == 0 for b in range(ctx.n_bars)]  # every other bar
    notes = parts.chords(ctx, active, 48, 72, style, 70.0)
    assert notes
    pcs_any = set().union(*(ctx.chord_pcs(b, True) for b in range(ctx.n_bars)))
    for start, _, pitch, _ in notes:
        assert 48 <= pitch <= 72 and pitch % 12 in pcs_any
        assert _bar_of(ctx, start) % 2 == 0


def test_voicing_takes_n_chord_tones_from_the_range():
    rng = np.random.default_rng(0)
    v = parts.voicing([0, 4, 7], 60, 84, rng, 3)
    assert len(v) == 3 and all(60 <= p <= 84 and p % 12 in (0, 4, 7) for p in v) and v == sorted(v)
    assert parts.voicing([1], 60, 60, rng, 3) == []  # no C# between C4 and C4


def test_a_seed_gives_the_same_parts_again():
    def song(seed):
        ctx = _ctx(seed)
        return (parts.bass(ctx, ctx.active_bars("bass"), 33), parts.melody(ctx, ctx.active_bars("lead"), 60, 84, 80.0),
                parts.fx(ctx, ctx.active_bars("fx"), 60.0))

    assert song(9) == song(9) and song(9) != song(10)
