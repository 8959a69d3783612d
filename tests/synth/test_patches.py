"""GUS patches as a sound source (midi_extractor.synth.patches): a tiny .pat written here is read
back and played at the notes' pitches and times, or as drum hits; FreePats (pitched parts and its
kit) through render_part; the calibration
tracks of the generated set, rendered with sources no other track uses."""
from __future__ import annotations

import struct

import numpy as np
import pytest

from midi_extractor.synth import patches, songs
from midi_extractor.synth import sources as src

SR = 16000


def write_pat(path, samples) -> None:
    """A GUS patch file; ``samples``: ``(data int16 array, rate_hz, low_hz, high_hz, root_hz, loop)``."""
    out = bytearray(b"GF1PATCH110\0ID#000002\0".ljust(82, b"\0"))
    out += bytes([1, 14, 0]) + struct.pack("<HHI", len(samples), 127, 0) + bytes(36)   # 129 bytes
    out += struct.pack("<H16sIB", 0, b"tiny", 0, 1) + bytes(40)                       # instrument, 63
    out += struct.pack("<BBIB", 0, 0, 0, len(samples)) + bytes(40)                      # layer, 47
    for data, rate, low, high, root, loop in samples:
        body = np.asarray(data, "<i2").tobytes()
        mode = patches.MODE_16BIT | (patches.MODE_LOOP if loop else 0)
        start, end = (2 * loop[0], 2 * loop[1]) if loop else (0, 0)
        out += patches.SAMPLE_HEADER.pack(b"s", 0, len(body), start, end, rate, int(low * 1000), int(high * 1000),
                                          int(root * 1000), 512, 7, bytes(6), bytes(6), 0, 0, 0, 0, 0, 0, mode,
                                          60, 1024, bytes(36))
        out += body
    path.write_bytes(bytes(out))


def sine(freq_hz: float, rate_hz: int, seconds: float) -> np.ndarray:
    return (16000 * np.sin(2 * np.pi * freq_hz * np.arange(int(rate_hz * seconds)) / rate_hz)).astype(np.int16)


def peak_hz(x: np.ndarray) -> float:
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.argmax(spectrum) * SR / len(x))


@pytest.fixture
def tiny_set(tmp_path):
    """Two programs: 0 has a low sample (root 220 Hz, looped, for notes up to 400 Hz) and a high
    one (root 880 Hz, one shot); 3 is a quiet copy (amp=50). The .cfg names them as FreePats' does."""
    (tmp_path / "Tone_000").mkdir()
    one_cycle = sine(220.0, 22050, 1.0)
    write_pat(tmp_path / "Tone_000" / "low.pat", [(one_cycle, 22050, 20.0, 400.0, 220.0, (11025, 11025 + 2205)),
                                                  (sine(880.0, 22050, 0.5), 22050, 400.0, 8000.0, 880.0, None)])
    cfg = tmp_path / "freepats.cfg"
    cfg.write_text(f"dir {tmp_path}\n\ndrumset 0\n 35\tTone_000/low.pat\n\nbank 0\n\n 0\tTone_000/low.pat \n"
                   " 3\tTone_000/low amp=50\n 9\tTone_000/missing.pat\n")
    return patches.read_patch_set(cfg)


def test_a_patch_set_reads_bank_0_and_lends_a_program_of_the_same_family(tiny_set):
    assert sorted(tiny_set.programs) == [0, 3]          # the drumset line and a missing file are left out
    assert tiny_set.drum_keys == {35} and tiny_set.drums[35][0].name == "low.pat"
    assert tiny_set.programs[3][1] == 0.5
    assert [tiny_set.program_for(p) for p in (0, 1, 3, 7, 40)] == [0, 0, 3, 3, 3]
    patch = tiny_set.patch(0)
    low, high = patch.samples
    assert (low.rate_hz, low.root_hz, low.loop, high.loop) == (22050, 220.0, (11025, 13230), None)
    assert np.abs(low.data).max() == pytest.approx(16000 / 32768, rel=1e-3)


def test_notes_sound_at_their_pitch_and_time_and_stop_after_the_release(tiny_set):
    patch = tiny_set.patch(0)
    notes = [(0.25, 1.5, 57, 127), (2.0, 2.3, 81, 64)]   # A3 (220 Hz, looped past its 1 s), A5 (880 Hz)
    audio = patch.render(notes, 3 * SR, SR)
    assert audio.dtype == np.float32 and audio.shape == (3 * SR,)
    assert np.abs(audio[:int(0.25 * SR) - 1]).max() == 0.0
    assert peak_hz(audio[int(1.2 * SR):int(1.45 * SR)]) == pytest.approx(220.0, abs=SR / (0.25 * SR))  # still held: looped
    assert peak_hz(audio[int(2.0 * SR):int(2.25 * SR)]) == pytest.approx(880.0, abs=SR / (0.25 * SR))
    released = int((1.5 + patches.RELEASE_S) * SR)
    assert np.abs(audio[released + 10:int(1.99 * SR)]).max() == 0.0    # silent between the notes
    loud, soft = np.abs(audio[int(0.3 * SR):int(0.5 * SR)]).max(), np.abs(audio[int(2.05 * SR):int(2.25 * SR)]).max()
    assert soft / loud == pytest.approx((64 / 127) ** patches.VELOCITY_POWER, rel=0.05)
    up = patch.render([(0.0, 0.5, 59, 127)], SR, SR)      # two semitones up, on the low sample
    assert peak_hz(up[:SR // 2]) == pytest.approx(220.0 * 2 ** (2 / 12), abs=4.0)


def test_drum_hits_play_their_sample_whole_at_its_own_pitch_and_ignore_note_offs(tiny_set):
    """drumset 0: a hit is the patch's first sample, once, at its recorded pitch (220 Hz here,
    whatever the key), as long as the sample (1 s) however short the note; velocity scales it."""
    audio = tiny_set.render_drums([(0.5, 0.55, 35, 127), (2.0, 2.01, 35, 64)], 3 * SR, SR)
    assert audio.shape == (3 * SR,) and np.abs(audio[:int(0.5 * SR) - 1]).max() == 0.0
    assert peak_hz(audio[int(0.6 * SR):int(1.4 * SR)]) == pytest.approx(220.0, abs=2.0)  # long after the note-off
    assert np.abs(audio[int(1.52 * SR):int(1.99 * SR)]).max() == 0.0                       # the sample is 1 s long
    loud, soft = np.abs(audio[int(0.5 * SR):int(1.0 * SR)]).max(), np.abs(audio[2 * SR:int(2.5 * SR)]).max()
    assert soft / loud == pytest.approx((64 / 127) ** patches.VELOCITY_POWER, rel=0.05)
    with pytest.raises(patches.PatchError, match=r"freepats\.cfg: drumset 0 has no patch for key 42"):
        tiny_set.render_drums([(0.0, 0.1, 42, 100)], SR, SR)


def test_files_that_are_not_patches_are_refused_naming_them(tmp_path):
    bad = tmp_path / "bad.pat"
    bad.write_bytes(b"RIFF....")
    with pytest.raises(patches.PatchError, match=r"bad\.pat: not a GUS patch"):
        patches.read_patch(bad)
    write_pat(tmp_path / "short.pat", [(sine(220.0, 22050, 0.1), 22050, 20.0, 400.0, 220.0, None)])
    (tmp_path / "cut.pat").write_bytes((tmp_path / "short.pat").read_bytes()[:-100])
    with pytest.raises(patches.PatchError, match=r"cut\.pat: truncated or malformed sample"):
        patches.read_patch(tmp_path / "cut.pat")
    (tmp_path / "empty.cfg").write_text("bank 0\n 0 nothing.pat\n")
    with pytest.raises(patches.PatchError, match=r"empty\.cfg: no program of bank 0 with a \.pat file found .*reinstall the package"):
        patches.read_patch_set(tmp_path / "empty.cfg")


def test_freepats_is_installed_and_plays_every_pitched_stem():
    """The FreePats source (Debian's freepats) renders a part of each pitched stem's GM family
    through render_part, at the part's pitch, with a program of the part's family."""
    from midi_extractor.synth import render
    from midi_extractor.synth.fluid import Renderer

    source = src.SOURCES["FreePats"]
    assert source.engine == "gus" and source.melodic and source.drums
    with Renderer(SR) as renderer:
        cache = render.SourceCache(renderer)
        for program in (0, 3, 25, 33, 48, 81, 90, 56):
            part = songs.Part("x", program, False, [(0.2, 0.9, 57, 100)], (0.0, 0.0))
            rng = np.random.default_rng(0)
            got = render.render_part(part, source, cache, SR, rng, rng, 0.0)
            used = int(got.plugin_name.rsplit("prog", 1)[1])
            assert got.plugin_name.startswith("FreePats:bank0:") and used // 8 == program // 8, got.plugin_name
            assert np.abs(got.audio[:int(0.19 * SR)]).max() < 1e-3 < np.abs(got.audio[int(0.2 * SR):]).max()
        hats = songs.Part("high_percs", 0, True, [(0.25, 0.3, 42, 100), (0.5, 0.55, 82, 100), (0.75, 0.8, 54, 90)],
                          (0.0, 0.0))
        got = render.render_part(hats, source, cache, SR, np.random.default_rng(0), np.random.default_rng(0), 0.0)
        assert got.plugin_name == "FreePats:bank128:prog0" and got.part.notes == hats.notes   # every key played
        assert np.abs(got.audio[:int(0.24 * SR)]).max() < 1e-3 < np.abs(got.audio[int(0.25 * SR):int(0.3 * SR)]).max()
    missing = src.SoundSource("Gone", "nope.cfg", "freepats", "-", drums=False, engine="gus")
    with pytest.raises(src.SourceError, match=r"patch set nope.cfg not found .*apt-get install -y freepats.*"
                                              r"remove Gone from dataset.sound_sources, .* or timbre_sources"):
        missing.locate()


CALIBRATION = ["FreePats", "H2_Colombo"]


def test_calibration_tracks_are_validation_tracks_of_unheard_sources_after_the_set(tmp_path):
    """dataset.calibration_tracks: validation tracks after the others with every stem, rendered
    only with calibration_sources, their songs' triads doubled; the tracks before
    them are byte-identical to a run without."""
    import json

    import pretty_midi
    import yaml

    from helpers_data import tracks_after_the_set
    from midi_extractor.synth import generate

    extra = tracks_after_the_set(tmp_path, "cal", calibration_sources=CALIBRATION, calibration_tracks=2)
    assert [(d.parent.name, d.name) for d in extra] == [("validation", "Track00004"), ("validation", "Track00005")]
    heard = set()
    for d in extra:
        stems = yaml.safe_load((d / "metadata.yaml").read_text())["stems"]
        assert len(stems) >= len(songs.CORE_STEMS)
        assert {m["domain"] for m in stems.values()} == {"out_of_domain"}
        heard |= {(m["plugin_name"].split(":")[0], m["is_drum"]) for m in stems.values()}
        song = generate._song_for(3, int(d.name[5:]) - 1, 2.0, True, set(), double_triads=True)[0]
        composed = {p.program: sorted(n[2] for n in p.notes) for p in song.parts if not p.is_drum}
        for sid, m in stems.items():
            if not m["is_drum"]:
                written = pretty_midi.PrettyMIDI(str(d / "MIDI" / f"{sid}.mid")).instruments[0].notes
                assert sorted(n.pitch for n in written) == composed[m["program_num"]], (d.name, sid)
    # FreePats plays pitched parts and (its kit) drum parts, the Hydrogen kit drum parts only
    assert heard == {("FreePats", False), ("FreePats", True), ("H2_Colombo", True)}
    report = json.loads((tmp_path / "cal" / "synth_report.json").read_text())
    assert report["settings"]["calibration_sources"] == CALIBRATION
    assert report["tracks"]["validation/out_of_domain"] == 2


def test_calibration_sources_must_be_held_out_of_every_pool_and_named(tmp_path):
    from midi_extractor.config import ConfigError, Params, from_dict
    from midi_extractor.synth import generate
    from midi_extractor.synth.fluid import SynthError

    def make(name, **kw):
        return generate.generate_dataset(tmp_path / name, 2, 2.0, 0, progress=False, **kw)

    with pytest.raises(SynthError, match="calibration_sources must be held out of the sound, out-of-domain and kit sources; both list OPL3_FM"):
        make("a", calibration_sources=["OPL3_FM", "FreePats"], calibration_tracks=1)
    with pytest.raises(SynthError, match="both list H2_Forzee"):
        make("b", kit_sources=["H2_Forzee"], kit_tracks=1, calibration_sources=["H2_Forzee"], calibration_tracks=1)
    with pytest.raises(SynthError, match="3 calibration tracks asked for, but dataset.calibration_sources names no source"):
        make("c", calibration_tracks=3)
    with pytest.raises(SynthError, match=r"--calibration-tracks \(dataset.calibration_tracks\) must be >= 0, got -2"):
        make("d", calibration_sources=CALIBRATION, calibration_tracks=-2)
    assert not any((tmp_path / n).exists() for n in "abcd")
    with pytest.raises(ConfigError, match=r"calibration_sources must be held out of .*; FluidR3_GM is in both"):
        from_dict(Params, {"dataset": {"calibration_tracks": 2, "calibration_sources": ["FluidR3_GM"]}})
    with pytest.raises(ConfigError, match=r"calibration_tracks is 2 but params.dataset.calibration_sources is empty"):
        from_dict(Params, {"dataset": {"calibration_tracks": 2}})
    ds = from_dict(Params, {"dataset": {"calibration_tracks": 2, "calibration_sources": CALIBRATION}}).dataset
    assert (ds.calibration_tracks, ds.calibration_sources) == (2, CALIBRATION)
