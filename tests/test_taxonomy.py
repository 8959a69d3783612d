"""The taxonomy: every GM program and every drum key lands in exactly one stem, under both switches."""
from __future__ import annotations

import itertools

import pytest

from midi_extractor import taxonomy as tx

SWITCHES = [tx.TaxonomySwitches(organs_as_keys=o, bass_role=r)
            for o, r in itertools.product([False, True], [tx.MELODIC, tx.HARMONIC])]


@pytest.mark.parametrize("switches", SWITCHES, ids=lambda s: f"organs_as_keys={s.organs_as_keys},bass={s.bass_role}")
def test_every_gm_program_lands_in_exactly_one_stem(switches):
    pitched = [s for s in tx.TRAINABLE_STEMS if not tx.STEMS[s].is_drum]
    owners = {p: [s for s in pitched if p in tx.stem_programs(s, switches)] for p in range(128)}
    assert all(len(v) == 1 for v in owners.values()), {p: v for p, v in owners.items() if len(v) != 1}
    assert all(tx.stem_for_program(p, False, switches) == v[0] for p, v in owners.items())
    assert sorted(itertools.chain.from_iterable(tx.stem_programs(s, switches) for s in pitched)) == list(range(128))
    # drums: Slakh's 128 with is_drum, and any program flagged is_drum
    assert tx.stem_for_program(128, True, switches) == "drums"
    assert tx.stem_for_program(0, True, switches) == "drums"
    # roles: only bass moves
    assert tx.role_of("bass", switches) == switches.bass_role
    assert tx.role_of("piano", switches) == tx.HARMONIC and tx.role_of("drums", switches) == tx.PERCUSSIVE


def test_organs_switch_moves_exactly_the_organs():
    off, on = tx.TaxonomySwitches(), tx.TaxonomySwitches(organs_as_keys=True)
    moved = [p for p in range(128) if tx.stem_for_program(p, False, off) != tx.stem_for_program(p, False, on)]
    assert moved == list(tx.ORGAN_PROGRAMS) == list(range(16, 24))
    assert {tx.stem_for_program(p, False, off) for p in moved} == {"other"}
    assert {tx.stem_for_program(p, False, on) for p in moved} == {"piano"}
    assert len(tx.stem_programs("piano", on)) == 16 and len(tx.stem_programs("piano", off)) == 8


def test_gm_ranges_of_named_stems():
    assert tx.stem_for_program(33) == "bass" and tx.stem_for_program(39) == "bass"
    assert tx.stem_for_program(0) == "piano" and tx.stem_for_program(8) == "other"
    assert tx.stem_for_program(30) == "guitar" and tx.stem_for_program(48) == "strings_ensemble"
    assert tx.stem_for_program(52) == "other"  # choir aahs: no vocals data
    assert tx.stem_for_program(81) == "synth_lead" and tx.stem_for_program(103) == "synth_pad_fx"


@pytest.mark.parametrize("program,is_drum", [(128, False), (-1, False), (200, False), (129, False)])
def test_unknown_programs_raise(program, is_drum):
    with pytest.raises(tx.UnknownProgramError, match=str(program)):
        tx.stem_for_program(program, is_drum)


def test_bad_bass_role_is_refused():
    with pytest.raises(ValueError, match="bass_role"):
        tx.TaxonomySwitches(bass_role="percussive")


def test_every_drum_key_lands_in_exactly_one_class_and_one_percussive_stem():
    for key in range(35, 82):
        classes = [c for c, keys in tx.DRUM_CLASSES.items() if key in keys]
        assert len(classes) == 1, (key, classes)
        stems = [s for s, cs in tx.STEM_DRUM_CLASSES.items() if classes[0] in cs]
        assert stems == [tx.drum_stem_for_pitch(key)]
    assert sorted(itertools.chain.from_iterable(tx.STEM_DRUM_CLASSES.values())) == sorted(tx.DRUM_CLASSES)
    assert tx.drum_stem_for_pitch(42) == "high_percs" and tx.drum_stem_for_pitch(36) == "drums"


def test_vocals_is_reserved_and_not_trainable():
    assert tx.STEMS["vocals"].reserved and "vocals" not in tx.TRAINABLE_STEMS
    assert all(tx.stem_for_program(p) != "vocals" for p in range(128))
