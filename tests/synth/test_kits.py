"""Hydrogen drum kits as a sound source (midi_extractor.synth.kits): names to GM classes, layers by
velocity, samples placed where the notes are; a real kit of hydrogen-drumkits through render_part."""
from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from midi_extractor import taxonomy as tx
from midi_extractor.synth import kits, songs
from midi_extractor.synth import sources as src

SR = 16000
XML = """<?xml version="1.0" encoding="UTF-8"?>
<drumkit_info xmlns="http://www.hydrogen-music.org/drumkit">
  <name>Tiny Kit</name>
  <instrumentList>
    <instrument><name>Kick</name><volume>1</volume><gain>1</gain>
      <instrumentComponent>
        <layer><filename>kick_soft.wav</filename><min>0</min><max>0.5</max><gain>1</gain></layer>
        <layer><filename>kick_hard.wav</filename><min>0.5</min><max>1</max><gain>1</gain></layer>
      </instrumentComponent></instrument>
    <instrument><name>Snare Roll</name><volume>1</volume><layer><filename>roll.wav</filename></layer></instrument>
    <instrument><name>Snare Jazz</name><volume>0.5</volume><layer><filename>snare.wav</filename></layer></instrument>
    <instrument><name>Hi Hat Closed</name><filename>hat.wav</filename></instrument>
    <instrument><name>Hi Hat Open</name><filename>open.wav</filename></instrument>
    <instrument><name>23</name><filename>hat.wav</filename></instrument>
    <instrument><name>Cowbell</name><filename>missing.wav</filename></instrument>
  </instrumentList>
</drumkit_info>
"""


@pytest.fixture
def tiny_kit(tmp_path):
    """A kit whose samples are short constant blocks of distinct levels, written at 32 kHz."""
    levels = {"kick_soft": 0.1, "kick_hard": 0.4, "roll": 0.05, "snare": 0.3, "hat": 0.2, "open": 0.25}
    for name, level in levels.items():
        sf.write(tmp_path / f"{name}.wav", np.full(3200, level, np.float32), 32000)  # 0.1 s
    (tmp_path / "drumkit.xml").write_text(XML)
    return kits.read_kit(tmp_path)


@pytest.mark.parametrize("name, expected", [("Kick (Tama Superstar 22\")", "kick"), ("c3 - bass drum 1", "kick"),
                                            ("BassDrum", "kick"), ("Pearl Side Stick", "snare"),
                                            ("Hand Clap", "snare"), ("Floor Tom", "toms"), ("f#3 - hi-hat closed", "hihat"),
                                            ("Closed HH", "hihat"), ("ride-crash20inch", "cymbal"), ("Ride Bell", "cymbal"),
                                            ("Maraca", "shaker"), ("Cowbell", "other_perc"), ("23", None),
                                            ("Djembe1 Slap", None), ("", None)])
def test_instrument_names_read_as_gm_drum_classes(name, expected):
    assert kits.classify(name) == expected


def test_a_kit_maps_gm_keys_to_its_best_fitting_instruments(tiny_kit):
    names = {key: inst.name for key, inst in tiny_kit.by_key.items()}
    assert tiny_kit.name == "Tiny Kit"
    assert [i.name for i in tiny_kit.instruments] == ["Kick", "Snare Roll", "Snare Jazz", "Hi Hat Closed", "Hi Hat Open"]
    assert names[36] == names[35] == "Kick"
    assert names[38] == "Snare Jazz"           # a roll is not a hit while a plain snare is there
    assert names[42] == names[44] == "Hi Hat Closed" and names[46] == "Hi Hat Open"
    assert tiny_kit.keys == frozenset(tx.DRUM_CLASSES["kick"] + tx.DRUM_CLASSES["snare"] + tx.DRUM_CLASSES["hihat"])
    assert 49 not in tiny_kit.keys and 56 not in tiny_kit.keys  # no cymbal; the cowbell's sample is missing


def test_render_places_each_hit_at_its_time_with_the_layer_and_level_of_its_velocity(tiny_kit):
    notes = [(0.0, 0.1, 36, 127), (0.5, 0.6, 36, 32), (1.0, 1.1, 38, 127), (1.5, 1.6, 46, 64), (1.9, 2.0, 49, 100)]
    y = tiny_kit.render(notes, SR * 2, SR)
    assert y.shape == (SR * 2,) and y.dtype == np.float32
    mid = lambda t: float(y[int((t + 0.05) * SR)])  # noqa: E731 - the middle of a 0.1 s sample
    assert mid(0.0) == pytest.approx(0.4, abs=1e-3)                 # hard kick layer, full velocity
    assert mid(0.5) == pytest.approx(0.1 * 32 / 127, abs=1e-3)      # soft layer, scaled by velocity
    assert mid(1.0) == pytest.approx(0.3 * 0.5, abs=1e-3)           # the snare's volume 0.5
    assert mid(1.5) == pytest.approx(0.25 * 64 / 127, abs=1e-3)
    assert np.abs(y[int(1.2 * SR):int(1.45 * SR)]).max() == 0.0     # silence between hits
    assert np.abs(y[int(1.9 * SR):]).max() == 0.0                   # a key the kit lacks is silent


def test_a_kit_folder_without_drumkit_xml_is_refused_naming_it(tmp_path):
    with pytest.raises(kits.KitError, match=rf"{tmp_path / 'drumkit.xml'}: cannot read the kit"):
        kits.read_kit(tmp_path)


def test_the_hydrogen_sources_are_installed_and_play_a_kit():
    """Every H2_* source of the pool names an installed kit with a kick, a snare and a closed hat
    (Gimme A Hand, hand percussion: a tambourine and a maraca), and render_part plays a drum part
    through it: remapped onto its keys, not silent."""
    from midi_extractor.synth import render
    from midi_extractor.synth.fluid import Renderer

    hydrogen = [s for s in src.SOURCES.values() if s.engine == "hydrogen"]
    assert len(hydrogen) >= 10 and all(not s.melodic and s.drums for s in hydrogen)
    for source in hydrogen:
        kit = kits.read_kit(source.locate())
        assert ({54, 70} if source.name == "H2_GimmeAHand" else {36, 38, 42}) <= kit.keys, source.name
    part = songs.Part("drums", 0, True, [(0.1, 0.2, 36, 110), (0.6, 0.7, 38, 100), (1.1, 1.2, 42, 90)], (0.0, 0.0))
    rng = np.random.default_rng(0)
    with Renderer(SR) as renderer:
        got = render.render_part(part, src.SOURCES["H2_Forzee"], render.SourceCache(renderer), 2 * SR, rng, rng, 0.0)
    assert got.plugin_name == "H2_Forzee:bank0:prog0" and got.dropped_notes == 0
    assert [n[2] for n in got.part.notes] == [36, 38, 42]
    for start_s in (0.1, 0.6, 1.1):  # each hit sounds where its note starts
        at = int(start_s * SR)
        assert np.abs(got.audio[at:at + SR // 10]).max() > 10 * np.abs(got.audio[at - SR // 50:at - 10]).max() + 1e-4


KITS = ["H2_Forzee", "H2_Millo2"]


def test_kit_tracks_follow_the_set_and_leave_every_other_track_as_it_was(tmp_path):
    """dataset.kit_tracks: drum-only training tracks after the others, through the kit pool; the
    tracks before them are byte-identical to a run without them (FluidSynth renders nothing more)."""
    import json

    import yaml

    from helpers_data import tracks_after_the_set

    extra = tracks_after_the_set(tmp_path, "kits", kit_sources=KITS, kit_tracks=2)
    assert [(d.parent.name, d.name) for d in extra] == [("train", "Track00004"), ("train", "Track00005")]
    for d in extra:
        stems = yaml.safe_load((d / "metadata.yaml").read_text())["stems"]
        assert stems and all(m["is_drum"] and m["plugin_name"].split(":")[0] in KITS for m in stems.values())
    report = json.loads((tmp_path / "kits" / "synth_report.json").read_text())
    assert report["settings"]["kit_tracks"] == 2 and report["settings"]["kit_sources"] == KITS
    assert report["tracks"]["train/in_domain"] == 1 + 2


def test_kit_sources_must_be_held_out_of_the_test_pool_and_named(tmp_path):
    from midi_extractor.synth import generate
    from midi_extractor.synth.fluid import SynthError

    with pytest.raises(SynthError, match="dataset.kit_sources must be held out of dataset.ood_sources; both list AVL_RedZeppelin"):
        generate.generate_dataset(tmp_path / "a", 2, 2.0, 0, progress=False, kit_sources=["AVL_RedZeppelin"], kit_tracks=1)
    with pytest.raises(SynthError, match="2 kit tracks asked for, but dataset.kit_sources names no source"):
        generate.generate_dataset(tmp_path / "b", 2, 2.0, 0, progress=False, kit_tracks=2)
    with pytest.raises(SynthError, match="dataset.kit_sources: unknown sound source"):
        generate.generate_dataset(tmp_path / "c", 2, 2.0, 0, progress=False, kit_sources=["H2_Nope"], kit_tracks=1)
    with pytest.raises(SynthError, match=r"--kit-tracks \(dataset.kit_tracks\) must be >= 0, got -1"):
        generate.generate_dataset(tmp_path / "e", 2, 2.0, 0, progress=False, kit_sources=KITS, kit_tracks=-1)
    missing = src.SoundSource("H2_Gone", "NoSuchKit", "hydrogen-drumkits", "-", melodic=False, engine="hydrogen")
    with pytest.raises(src.SourceError, match=r"drum kit 'NoSuchKit' not found .*apt-get install -y hydrogen-drumkits.*"
                                              r"remove H2_Gone from dataset.sound_sources, ood_sources, kit_sources, calibration_sources or timbre_sources"):
        missing.locate()
    assert not any((tmp_path / n).exists() for n in "abce")
    # no kit track: the kit names are not even looked up (a machine without the kits makes the set)
    generate.generate_dataset(tmp_path / "d", 1, 1.0, 0, progress=False, validation_tracks=0, test_tracks=0,
                              kit_sources=["H2_Nope"], kit_tracks=0)
    assert (tmp_path / "d" / "train" / "Track00001" / "metadata.yaml").is_file()
