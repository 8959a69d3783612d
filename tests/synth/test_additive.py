"""Procedural timbres (midi_extractor.synth.additive): notes sound at their pitch and time, every
part gets its own instrument, struck families decay, and the timbre tracks of the generated set
hold only pitched parts rendered with them, after a set left byte-identical."""
from __future__ import annotations

import numpy as np
import pytest

from midi_extractor.synth import additive, songs
from midi_extractor.synth import sources as src

SR = 16000


def peak_hz(x: np.ndarray) -> float:
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.argmax(spectrum) * SR / len(x))


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64))))


@pytest.mark.parametrize("program", [0, 25, 33, 41, 48, 56, 71, 81, 89, 100])
def test_notes_sound_at_their_pitch_and_time_then_stop(program):
    timbre = additive.draw_timbre(program, np.random.default_rng(program))
    notes = [(0.25, 1.0, 57, 110), (1.5, 2.0, 69, 110)]           # A3 220 Hz, A4 440 Hz
    audio = timbre.render(notes, 3 * SR, SR, np.random.default_rng(0))
    assert audio.dtype == np.float32 and audio.shape == (3 * SR,)
    assert np.abs(audio[:int(0.25 * SR) - 1]).max() == 0.0            # nothing before the first onset
    # the fundamental's harmonic series: the strongest peak is a harmonic of A3, and its spectrum
    # at A3's partials outweighs the spectrum half a semitone off them
    a3 = audio[int(0.35 * SR):int(1.0 * SR)]
    assert peak_hz(a3) / 220.0 == pytest.approx(round(peak_hz(a3) / 220.0), abs=0.06)
    spectrum = np.abs(np.fft.rfft(a3 * np.hanning(len(a3))))
    hz = np.fft.rfftfreq(len(a3), 1 / SR)
    on = sum(spectrum[np.argmin(np.abs(hz - 220.0 * h))] for h in range(1, 4))
    off = sum(spectrum[np.argmin(np.abs(hz - 220.0 * h * 2 ** (0.5 / 12)))] for h in range(1, 4))
    assert on > 3 * off
    assert peak_hz(audio[int(1.6 * SR):int(1.9 * SR)]) / 440.0 == pytest.approx(
        round(peak_hz(audio[int(1.6 * SR):int(1.9 * SR)]) / 440.0), abs=0.06)
    tail = audio[int((2.0 + timbre.release_s) * SR) + 1:]
    assert np.abs(tail).max() == 0.0                                    # silent after the release


def test_every_draw_is_another_instrument_and_struck_families_decay():
    rng = np.random.default_rng(1)
    pianos = [additive.draw_timbre(0, rng) for _ in range(3)]
    assert len({t.slope for t in pianos}) == 3 and all(t.decay_per_s > 0 and t.inharmonicity > 0 for t in pianos)
    strings = additive.draw_timbre(48, rng)
    assert strings.decay_per_s == 0 and len(strings.detune_cents) >= 2 and strings.attack_s >= 0.05
    note = [(0.0, 2.0, 60, 100)]
    held = pianos[0].render(note, 2 * SR, SR, np.random.default_rng(0))
    assert rms(held[int(1.5 * SR):int(1.9 * SR)]) < 0.5 * rms(held[int(0.05 * SR):int(0.45 * SR)])
    bowed = strings.render(note, 2 * SR, SR, np.random.default_rng(0))
    assert rms(bowed[int(1.5 * SR):int(1.9 * SR)]) > 0.4 * rms(bowed[int(0.5 * SR):int(0.9 * SR)])
    loud = pianos[0].render([(0.0, 0.5, 60, 127)], SR, SR, np.random.default_rng(0))
    soft = pianos[0].render([(0.0, 0.5, 60, 40)], SR, SR, np.random.default_rng(0))
    assert rms(soft) < 0.3 * rms(loud)
    again = pianos[0].render(note, 2 * SR, SR, np.random.default_rng(0))
    assert np.array_equal(held, again)                                  # same generator, same audio


def test_the_additive_source_plays_through_render_part():
    from midi_extractor.synth import pools, render
    from midi_extractor.synth.fluid import Renderer

    source = src.SOURCES["Additive"]
    assert source.engine == "additive" and source.melodic and not source.drums
    assert source.locate() is None                  # no file to find
    with Renderer(SR) as renderer:
        cache = render.SourceCache(renderer)
        pools.locate_all([source, src.SOURCES["TimGM6mb"]], cache)
        assert set(cache.paths) == {"TimGM6mb"}
        part = songs.Part("piano", 4, False, [(0.2, 0.9, 57, 100)], (0.0, 0.0))
        got = render.render_part(part, source, cache, SR, np.random.default_rng(0), np.random.default_rng(1), 0.0)
    assert got.plugin_name == "Additive:bank0:prog4"
    assert np.abs(got.audio[:int(0.19 * SR)]).max() < 1e-3 < np.abs(got.audio[int(0.2 * SR):]).max()


def test_timbre_tracks_are_training_tracks_of_pitched_parts_after_the_set(tmp_path):
    """dataset.timbre_tracks: training tracks after the others holding their songs' pitched parts,
    every one rendered with timbre_sources; the tracks before them are byte-identical."""
    import json

    import yaml

    from helpers_data import tracks_after_the_set

    extra = tracks_after_the_set(tmp_path, "tim", timbre_sources=["Additive"], timbre_tracks=2)
    assert [(d.parent.name, d.name) for d in extra] == [("train", "Track00004"), ("train", "Track00005")]
    for d in extra:
        stems = yaml.safe_load((d / "metadata.yaml").read_text())["stems"]
        assert stems and all(not m["is_drum"] for m in stems.values())
        assert {m["plugin_name"].split(":")[0] for m in stems.values()} == {"Additive"}
    report = json.loads((tmp_path / "tim" / "synth_report.json").read_text())
    assert report["settings"]["timbre_sources"] == ["Additive"] and report["settings"]["timbre_tracks"] == 2


def test_timbre_sources_must_be_held_out_of_the_test_and_calibration_sources(tmp_path):
    from midi_extractor.config import ConfigError, Params, from_dict
    from midi_extractor.synth import generate
    from midi_extractor.synth.fluid import SynthError

    with pytest.raises(SynthError, match="timbre_sources must be held out of the out-of-domain and calibration "
                                         "sources; both list FluidR3_GM"):
        generate.generate_dataset(tmp_path / "a", 2, 2.0, 0, progress=False, timbre_sources=["FluidR3_GM"],
                                  timbre_tracks=1)
    assert not (tmp_path / "a").exists()
    with pytest.raises(ConfigError, match=r"timbre_sources must be held out of ood_sources and calibration_sources; "
                                          r"FreePats is in both"):
        from_dict(Params, {"dataset": {"timbre_tracks": 2, "timbre_sources": ["FreePats"],
                                       "calibration_tracks": 1, "calibration_sources": ["FreePats"]}})
    ds = from_dict(Params, {"dataset": {"timbre_tracks": 3}}).dataset
    assert (ds.timbre_tracks, ds.timbre_sources) == (3, ["Additive"])


def harmonic_levels_db(audio: np.ndarray, f0_hz: float, n: int = 3) -> list[float]:
    spectrum = np.abs(np.fft.rfft(audio * np.hanning(len(audio))))
    hz = np.fft.rfftfreq(len(audio), 1 / SR)
    peaks = [spectrum[(hz > f0_hz * h * 0.97) & (hz < f0_hz * h * 1.03)].max() for h in range(1, n + 1)]
    return [float(20 * np.log10(p / peaks[0])) for p in peaks]


def test_a_share_of_bass_parts_are_sub_basses_nearly_sines():
    """additive.SUB_BASS_SHARE of the bass family's parts: harmonics 2 and 3 at least 20 dB below
    the fundamental of an A1 (55 Hz); the other bass timbres keep theirs; other families never."""
    rng = np.random.default_rng(3)
    basses = [additive.draw_timbre(33, rng) for _ in range(200)]
    subs = [t for t in basses if t.slope >= additive.SUB_BASS_SLOPE[0]]
    assert 0.25 < len(subs) / len(basses) < 0.45
    assert all(t.slope < additive.SUB_BASS_SLOPE[0] for t in (additive.draw_timbre(p, rng) for p in range(0, 32)))
    for timbre in subs[:5]:
        audio = timbre.render([(0.0, 1.0, 33, 100)], SR, SR, np.random.default_rng(0))
        assert max(harmonic_levels_db(audio[int(0.1 * SR):int(0.9 * SR)], 55.0)[1:]) < -20.0
    plain = next(t for t in basses if t.slope < 2.3)
    audio = plain.render([(0.0, 1.0, 33, 100)], SR, SR, np.random.default_rng(0))
    assert max(harmonic_levels_db(audio[int(0.1 * SR):int(0.9 * SR)], 55.0)[1:]) > -20.0


def test_the_sub_bass_draw_leaves_other_families_draws_unchanged():
    """The sub bass is drawn after a family's timbre, and only for basses: a piano drawn from a
    seed is the same instrument it was before sub basses existed (the generated set's timbre
    tracks keep their sound)."""
    piano = additive.draw_timbre(0, np.random.default_rng(11))
    again = additive._draw_family_timbre(0, np.random.default_rng(11))
    assert piano == again


def test_the_sub_bass_source_plays_any_part_as_a_sub_bass():
    """Source SubBass (engine subbass): every part it plays is a sub bass, whatever its program."""
    from midi_extractor.synth import pools, render
    from midi_extractor.synth.fluid import Renderer

    source = src.SOURCES["SubBass"]
    assert source.engine == "subbass" and source.melodic and not source.drums and source.locate() is None
    with Renderer(SR) as renderer:
        cache = render.SourceCache(renderer)
        pools.locate_all([source], cache)
        for program in (33, 38):
            part = songs.Part("bass", program, False, [(0.1, 0.9, 33, 100)], (0.0, 0.0))
            got = render.render_part(part, source, cache, SR, np.random.default_rng(program),
                                     np.random.default_rng(1), 0.0)
            assert got.plugin_name == f"SubBass:bank0:prog{program}"
            assert max(harmonic_levels_db(got.audio[int(0.2 * SR):int(0.8 * SR)], 55.0)[1:]) < -20.0
