"""synth.drum_parts: the core kit and the high percussion are separate parts: each plays only
its own drum classes, only in the bars it is active, and a seed gives the same part again."""
import numpy as np
import pytest

from midi_extractor import taxonomy as tx
from midi_extractor.synth import drum_parts
from midi_extractor.synth.parts import MAX_VELOCITY, MIN_VELOCITY, Ctx

KIT_CLASSES = ("kick", "snare", "toms", "other_perc")
HIGH_CLASSES = ("hihat", "cymbal", "shaker")


def _keys(classes) -> set[int]:
    return {int(k) for c in classes for k in tx.DRUM_CLASSES[c]}


@pytest.mark.parametrize("seed", range(10))
def test_kit_and_high_keep_to_their_own_classes(seed):
    ctx = Ctx(np.random.default_rng(seed), 10.0)
    kit = drum_parts.kit(ctx, [True] * ctx.n_bars)
    high = drum_parts.high(ctx, [True] * ctx.n_bars)
    assert kit and high
    assert {k for _, _, k, _ in kit} <= _keys(KIT_CLASSES)
    assert {k for _, _, k, _ in high} <= _keys(HIGH_CLASSES)
    assert {k for _, _, k, _ in kit} & _keys(("kick",)) and {k for _, _, k, _ in kit} & _keys(("snare",))
    for start, end, _, velocity in kit + high:
        assert 0 <= start < end and MIN_VELOCITY <= velocity <= MAX_VELOCITY


def test_a_part_plays_only_its_active_bars():
    ctx = Ctx(np.random.default_rng(4), 10.0)
    assert ctx.n_bars >= 3
    active = [b == 1 for b in range(ctx.n_bars)]
    for part in (drum_parts.kit, drum_parts.high):
        notes = part(ctx, active)
        assert notes and all(ctx.bar_start_s[1] <= s < ctx.bar_start_s[2] for s, _, _, _ in notes), part.__name__


def test_drum_keys_are_distinct_keys_of_the_class():
    rng = np.random.default_rng(0)
    toms = drum_parts.drum_keys(rng, "toms", 3)
    assert len(set(toms)) == 3 and set(toms) <= _keys(("toms",))
    everything = drum_parts.drum_keys(rng, "kick", 99)  # asked for more than the class has
    assert sorted(everything) == sorted(_keys(("kick",)))


def test_a_seed_gives_the_same_drums_again():
    def parts(seed):
        ctx = Ctx(np.random.default_rng(seed), 8.0)
        return drum_parts.kit(ctx, [True] * ctx.n_bars), drum_parts.high(ctx, [True] * ctx.n_bars)

    assert parts(2) == parts(2) and parts(2) != parts(3)
