"""benchmarks/pure_tones.py: Slakh-format folders of one melody per part, played by each timbre
with the partials its name promises, labelled by the MIDI that was played."""

import numpy as np
import pretty_midi
import pytest
import soundfile as sf
import yaml

from helpers_data import script_module


@pytest.fixture(scope="module")
def tones():
    return script_module("benchmarks/pure_tones.py")


def _level_db(x, hz, rate):
    spec = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    freqs = np.fft.rfftfreq(len(x), 1 / rate)
    near = np.abs(freqs - hz) < 3.0
    return 20 * np.log10(spec[near].max() + 1e-12)


@pytest.mark.parametrize("timbre, h3_db", [("sine", None), ("soft_sub", (-31, -27)), ("sub", (-20, -17)),
                                           ("triangle", (-21, -18))])
def test_each_timbre_has_the_partials_it_names(tones, timbre, h3_db):
    """One held A2 (110 Hz): a sine has nothing at its 2nd or 3rd harmonic (below -60 dB); the
    saturated subs and the triangle have no 2nd harmonic and a 3rd 29, 18 and 19 dB down."""
    rate = tones.SAMPLE_RATE_HZ
    x = tones.render([(0.0, 1.9, 45, 100)], timbre, 2.0)[: rate]
    assert np.abs(x).max() == pytest.approx(0.5, abs=1e-3)
    f0 = _level_db(x, 110.0, rate)
    assert _level_db(x, 220.0, rate) - f0 < -60
    third = _level_db(x, 330.0, rate) - f0
    if h3_db is None:
        assert third < -60
    else:
        assert h3_db[0] < third < h3_db[1]


def test_sets_are_slakh_folders_of_the_same_melodies_labelled_by_their_midi(tones, tmp_path):
    counts = tones.write_sets(tmp_path, tracks_per_part=1, seconds=4.0, seed=3)
    assert set(counts) == set(tones.TIMBRES) and len(set(counts.values())) == 1
    rate = tones.SAMPLE_RATE_HZ
    for timbre in tones.TIMBRES:
        tracks = sorted((tmp_path / timbre).glob("Track*"))
        assert [t.name for t in tracks] == ["Track00001", "Track00002", "Track00003"]
        for track, (part, (program, low, high)) in zip(tracks, tones.PARTS.items()):
            meta = yaml.safe_load((track / "metadata.yaml").read_text())["stems"]["S00"]
            assert (meta["program_num"], meta["is_drum"], meta["plugin_name"]) == (program, False, f"pure_tones:{timbre}")
            notes = pretty_midi.PrettyMIDI(str(track / "MIDI" / "S00.mid")).instruments[0].notes
            assert notes and all(low <= n.pitch <= high for n in notes)
            audio, sr = sf.read(track / "stems" / "S00.flac")
            assert sr == rate and len(audio) == 4 * rate
            first = notes[0]  # silence before the first note, sound during it
            assert np.abs(audio[: int(first.start * rate) - 10]).max() < 1e-4
            during = audio[int(first.start * rate): int(first.end * rate)]
            assert np.abs(during).max() > 0.05
    again = tmp_path / "again"
    tones.write_sets(again, tracks_per_part=1, seconds=4.0, seed=3)
    a = sf.read(tmp_path / "sine" / "Track00002" / "stems" / "S00.flac")[0]
    b = sf.read(again / "sine" / "Track00002" / "stems" / "S00.flac")[0]
    assert np.array_equal(a, b)  # the same seed writes the same audio
