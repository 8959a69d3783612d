"""The sound-source pool (midi_extractor.synth.sources): files, presets, drum kits."""
from __future__ import annotations

import numpy as np
import pytest

from midi_extractor import taxonomy as tx
from midi_extractor.synth import fluid, render, songs
from midi_extractor.synth import sources as src
from midi_extractor.synth.sf2_file import SoundFontError, read_presets

SR = 16000


def test_every_source_is_installed_and_reads_as_a_soundfont():
    """(The hydrogen kits: tests/synth/test_kits.py.)"""
    for source in (s for s in src.SOURCES.values() if s.engine == "sf2"):
        path = source.locate()
        presets = read_presets(path)
        assert presets, source.name
        if source.melodic:  # every GM program in bank 0, every stem range covered
            assert all((0, p) in presets for p in range(128)), source.name
            assert all(presets[(0, p)].keys for p in range(128)), source.name
        assert src.drum_presets(source, presets), source.name
    assert src.DEBIAN_PACKAGES == ("avldrums.lv2-soundfont", "csound-soundfont", "fluid-soundfont-gm",
                                   "freepats", "hydrogen-drumkits", "opl3-soundfont", "timgm6mb-soundfont")


def test_avl_kits_select_their_own_preset_and_are_not_silent():
    """The AVL kits have no bank-128 preset: their kit is bank 0 preset 0, and it plays."""
    for name in ("AVL_BlackPearl", "AVL_RedZeppelin"):
        source = src.SOURCES[name]
        presets = read_presets(source.locate())
        assert set(presets) == {(0, 0)} and src.drum_presets(source, presets) == [(0, 0)]
        assert not [k for k in presets if k[0] == 128]
        keys = src.drum_keys_of(source, presets[(0, 0)])
        assert {36, 38, 42, 49} <= keys and 48 not in keys  # key 48 is a hat swish there, not a tom
        with fluid.Renderer(SR) as r:
            sfid = r.load(source.locate())
            notes = [(0.1 + 0.3 * i, 0.2 + 0.3 * i, k, 100) for i, k in enumerate((36, 38, 42, 49))]
            y = r.render(notes, SR * 2, sfid, 0, 0, True)
            assert r.synth.program_select(fluid.DRUM_CHANNEL, sfid, 128, 0) != 0  # what a GM kit select gets
        for s, _, _, _ in notes:  # each hit is heard
            assert np.sqrt(np.mean(y[int(s * SR):int(s * SR) + 1600] ** 2)) > 1e-3, (name, s)


def test_remap_drum_notes_keeps_the_drum_class():
    keys = src.SOURCES["AVL_BlackPearl"].drum_keys
    notes = [(0.0, 0.1, 35, 90), (0.5, 0.6, 48, 90), (1.0, 1.1, 62, 90), (1.5, 1.6, 70, 90), (2.0, 2.1, 38, 90)]
    out, dropped = src.remap_drum_notes(notes, keys)
    assert dropped == 0
    assert [p for _, _, p, _ in out] == [36, 47, 56, 54, 38]
    assert [tx.drum_class(a[2]) for a in out] == [tx.drum_class(b[2]) for b in notes]
    out, dropped = src.remap_drum_notes(notes, frozenset({36, 38}))  # no toms, percussion or shakers
    assert dropped == 3 and [p for _, _, p, _ in out] == [36, 38]


def test_missing_file_names_the_package_and_the_env_path(tmp_path, monkeypatch):
    monkeypatch.setattr(src, "SYSTEM_SF2_DIRS", (tmp_path,))
    monkeypatch.delenv(src.ENV_PATH, raising=False)
    with pytest.raises(src.SourceError, match=r"OPL-3_FM_128M.sf2 not found.*apt-get install -y opl3-soundfont"
                                              r".*MIDI_EXTRACTOR_SF2_PATH"):
        src.SOURCES["OPL3_FM"].locate()
    (tmp_path / "mine").mkdir()
    copy = tmp_path / "mine" / "OPL-3_FM_128M.sf2"
    copy.write_bytes(b"x")
    monkeypatch.setenv(src.ENV_PATH, str(tmp_path / "mine"))
    assert src.SOURCES["OPL3_FM"].locate() == copy
    with pytest.raises(SoundFontError, match=f"{copy}: not a SoundFont 2 file"):
        read_presets(copy)
    with pytest.raises(src.SourceError, match="unknown sound source.*Nope.*known: TimGM6mb"):
        src.resolve(["TimGM6mb", "Nope"])


def test_program_a_soundfont_lacks_is_skipped_with_its_reason():
    source = src.SOURCES["TimGM6mb"]
    presets = {k: v for k, v in read_presets(source.locate()).items() if k != (0, 33)}
    part = songs.Part("bass", 33, False, [(0.0, 0.5, 40, 90)])
    with pytest.raises(render.StemSkipped, match="no preset for GM program 33") as info:
        render._preset_for(part, source, presets, np.random.default_rng(0))
    assert info.value.reason == "program_missing"


def test_variation_banks_and_octave_fit():
    presets = read_presets(src.SOURCES["FluidR3_GM"].locate())
    assert src.melodic_banks(0, presets)[0] == 0
    assert any(len(src.melodic_banks(p, presets)) > 1 for p in range(128))  # FluidR3 has GS bank 8
    contrabass = presets[(0, 43)].keys  # stops below C5
    high = [(0.0, 0.5, 72, 90), (0.5, 1.0, 76, 90)]
    assert [p for _, _, p, _ in render._fit_octave(high, contrabass)] in ([60, 64], [48, 52])



def test_held_out_sources_share_no_samples_with_the_training_pool():
    """The out-of-domain test hears samples no training source has (the AVL kits share a few
    percussion samples, listed in the README); csound's GM bank is TimGM6mb's samples."""
    pool = src.resolve(src.DEFAULT_POOL)
    for held in src.resolve(src.DEFAULT_OOD):
        for trained in pool:
            shared = src.shared_samples(held, trained)
            if {held.name, trained.name} == {"AVL_RedZeppelin", "AVL_BlackPearl"}:
                assert shared <= 27, shared
            else:
                assert shared == 0, (held.name, trained.name, shared)
    assert src.shared_samples(src.SOURCES["csound_GMbank"], src.SOURCES["TimGM6mb"]) > 300
