"""Procedural kits (midi_extractor.synth.drum_synth): each class sounds like itself (hats high,
short and sharp; shakers high with a soft attack; kicks low), an open hat is choked by the next
hat, hits land at their notes' times, the same generators give the same audio, and the SynthKit
source plays a whole kit through render_part with every note kept."""
from __future__ import annotations

import numpy as np
import pytest

from midi_extractor import taxonomy as tx
from midi_extractor.synth import drum_synth, songs
from midi_extractor.synth import sources as src

SR = 32000


def centroid_hz(x: np.ndarray) -> float:
    spectrum = np.abs(np.fft.rfft(x)) ** 2
    return float(np.sum(np.fft.rfftfreq(len(x), 1 / SR) * spectrum) / np.sum(spectrum))


def rise_s(x: np.ndarray) -> float:
    """When the 1-ms RMS envelope first reaches half its peak."""
    w = int(0.001 * SR)
    env = np.sqrt(np.convolve(np.square(x), np.ones(w) / w, mode="full")[: len(x)])
    return float(np.argmax(env >= 0.5 * env.max()) / SR)


def energy_within_s(x: np.ndarray, seconds: float) -> float:
    return float(np.sum(np.square(x[: int(seconds * SR)])) / np.sum(np.square(x)))


@pytest.mark.parametrize("seed", range(6))
def test_each_drawn_class_sounds_like_itself(seed):
    kit = drum_synth.draw_kit(np.random.default_rng(seed))
    rng = np.random.default_rng(100 + seed)
    closed, open_hat, shaker = kit.voice(42, SR, rng), kit.voice(46, SR, rng), kit.voice(82, SR, rng)
    kick, crash = kit.voice(36, SR, rng), kit.voice(49, SR, rng)
    assert centroid_hz(closed) > 4000 and centroid_hz(shaker) > 2500 and centroid_hz(crash) > 1500
    assert centroid_hz(kick) < 400
    assert energy_within_s(closed, 0.15) > 0.95 and energy_within_s(open_hat, 0.15) < 0.9   # closed is short
    assert rise_s(closed) < 0.0015 and rise_s(open_hat) < 0.0015                            # a hat strikes
    for key in (k for keys in tx.DRUM_CLASSES.values() for k in keys):
        hit = kit.voice(key, SR, rng)
        assert np.isfinite(hit).all() and np.abs(hit).max() == pytest.approx(1.0), key


def test_shakes_rise_slower_than_hats_strike():
    """Over many kits, half the shaker hits (grains, a drawn attack, often two shakes) take
    longer than 3 ms to reach half their peak; no hat takes 1.5 ms."""
    hats, shakes = [], []
    for seed in range(20):
        kit, rng = drum_synth.draw_kit(np.random.default_rng(seed)), np.random.default_rng(seed)
        hats += [rise_s(kit.voice(k, SR, rng)) for k in (42, 44, 46)]
        shakes += [rise_s(kit.voice(k, SR, rng)) for k in (54, 69, 70, 82)]
    assert max(hats) < 0.0015 and np.median(shakes) > 0.003


def test_hits_sound_at_their_times_and_an_open_hat_is_choked_by_the_next_hat():
    kit = drum_synth.draw_kit(np.random.default_rng(3))
    alone = kit.render([(0.1, 0.2, 46, 100)], 2 * SR, SR, np.random.default_rng(0))
    choked = kit.render([(0.1, 0.2, 46, 100), (0.2, 0.3, 42, 100)], 2 * SR, SR, np.random.default_rng(0))
    assert np.abs(alone[: int(0.099 * SR)]).max() == 0.0 < np.abs(alone[int(0.1 * SR): int(0.11 * SR)]).max()
    late = slice(int(0.7 * SR), 2 * SR)   # after the closed hat's own tail
    assert np.abs(alone[late]).max() > 1e-3 and np.abs(choked[late]).max() == 0.0
    soft = kit.render([(0.1, 0.2, 46, 40)], 2 * SR, SR, np.random.default_rng(0))
    assert np.abs(soft).max() < 0.4 * np.abs(alone).max()                   # velocity sets the level
    again = kit.render([(0.1, 0.2, 46, 100), (0.2, 0.3, 42, 100)], 2 * SR, SR, np.random.default_rng(0))
    assert np.array_equal(choked, again)                                  # same generators, same audio
    other = drum_synth.draw_kit(np.random.default_rng(4)).render([(0.1, 0.2, 46, 100)], 2 * SR, SR,
                                                                np.random.default_rng(0))
    assert not np.allclose(alone, other)                                  # another draw, another kit


def test_the_synthkit_source_plays_a_whole_kit_through_render_part():
    from midi_extractor.synth import render
    from midi_extractor.synth.fluid import Renderer

    source = src.SOURCES["SynthKit"]
    assert source.drums and not source.melodic and source.locate() is None
    notes = [(0.1, 0.2, 36, 110), (0.5, 0.6, 38, 100), (0.9, 1.0, 42, 90), (1.3, 1.4, 82, 90), (1.7, 1.8, 54, 90)]
    part = songs.Part("drums", 0, True, notes + [(1.9, 2.0, 27, 90)], (0.0, 0.0))   # 27: no GM1 key
    with Renderer(SR) as renderer:
        got = render.render_part(part, source, render.SourceCache(renderer), 2 * SR, np.random.default_rng(0),
                                 np.random.default_rng(1), 0.0)
    assert got.plugin_name == "SynthKit:bank0:prog0" and got.dropped_notes == 0
    assert [n[2] for n in got.part.notes] == [36, 38, 42, 82, 54, 56]   # 27 played (and written) on 56
    for start_s, *_ in notes:   # each hit sounds where its note starts
        at = int(start_s * SR)
        assert np.abs(got.audio[at:at + SR // 20]).max() > 4 * np.abs(got.audio[at - SR // 50:at - 10]).max() + 1e-4


def test_synthkit_tracks_follow_the_calibration_tracks_and_leave_them_as_they_were(tmp_path):
    """Kit tracks come after the calibration tracks, so adding them changes no validation track;
    each kit track holds drum parts alone, played by a procedural kit."""
    import yaml

    from helpers_data import tracks_after_the_set

    calibration = dict(calibration_tracks=1, calibration_sources=["FreePats"])
    extra = tracks_after_the_set(tmp_path, "synthkit", base=calibration, kit_sources=["SynthKit"], kit_tracks=1)
    assert [(d.parent.name, d.name) for d in extra] == [("train", "Track00005")]
    stems = yaml.safe_load((extra[0] / "metadata.yaml").read_text())["stems"]
    assert stems and all(m["is_drum"] and m["plugin_name"] == "SynthKit:bank0:prog0" for m in stems.values())


def test_toms_rise_with_their_key_and_a_kick_settles_on_its_drawn_pitch():
    kit, rng = drum_synth.draw_kit(np.random.default_rng(7)), np.random.default_rng(0)

    def peak_hz(x):
        spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
        return float(np.argmax(spectrum) * SR / len(x))

    toms = [peak_hz(kit.voice(k, SR, rng)) for k in tx.DRUM_CLASSES["toms"]]
    assert toms == sorted(toms) and toms[-1] > 1.8 * toms[0]
    tail = kit.voice(36, SR, rng)[int(0.1 * SR):int(0.4 * SR)]   # after the sweep
    assert peak_hz(tail) == pytest.approx(kit.params["kick"]["f0_hz"], rel=0.15)
