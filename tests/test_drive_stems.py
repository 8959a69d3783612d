"""benchmarks/drive_stems.py: a Slakh folder's stems through tanh(1.5 x / peak), the labels
copied; --programs keeps one family's stems."""

import numpy as np
import pytest
import soundfile as sf
import yaml

from helpers_data import script_module


def _load(name):
    return script_module(f"benchmarks/{name}.py")


def test_a_sine_bass_gets_odd_harmonics_and_keeps_its_labels(tmp_path):
    tones, drive = _load("pure_tones"), _load("drive_stems")
    tones.write_sets(tmp_path / "tones", tracks_per_part=1, seconds=3.0, seed=0)
    src = tmp_path / "tones" / "sine"
    assert drive.main([str(src), str(tmp_path / "driven"), "--programs", "32-39"]) == 0
    tracks = sorted(p.name for p in (tmp_path / "driven").iterdir())
    bass = [t for t in sorted(src.iterdir())
            if yaml.safe_load((t / "metadata.yaml").read_text())["stems"]["S00"]["program_num"] == 38]
    assert tracks == [t.name for t in bass] and len(tracks) == 1          # the lead and flute left out
    x, rate = sf.read(bass[0] / "stems" / "S00.flac", dtype="float32")
    y, rate_y = sf.read(tmp_path / "driven" / tracks[0] / "stems" / "S00.flac", dtype="float32")
    assert rate_y == rate
    np.testing.assert_allclose(y, np.tanh(1.5 * x / np.abs(x).max()), atol=1e-4)   # FLAC's 16 bits
    # a steady stretch of one note: the third harmonic is there (18 dB down at the file's peak, more
    # for a softer note; none before)
    notes = yaml.safe_load((tmp_path / "driven" / tracks[0] / "metadata.yaml").read_text())["stems"]
    assert list(notes) == ["S00"]
    midi = (tmp_path / "driven" / tracks[0] / "MIDI" / "S00.mid").read_bytes()
    assert midi == (bass[0] / "MIDI" / "S00.mid").read_bytes()
    import pretty_midi

    note = max(pretty_midi.PrettyMIDI(str(bass[0] / "MIDI" / "S00.mid")).instruments[0].notes,
               key=lambda n: n.end - n.start)
    seg = slice(int((note.start + 0.05) * rate), int((note.end - 0.05) * rate))
    hz = pretty_midi.note_number_to_hz(note.pitch)

    def level(sig, f):
        spec = np.abs(np.fft.rfft(sig[seg] * np.hanning(len(sig[seg]))))
        freqs = np.fft.rfftfreq(len(sig[seg]), 1 / rate)
        return 20 * np.log10(spec[np.abs(freqs - f) < 4.0].max() + 1e-9)

    assert -30 < level(y, 3 * hz) - level(y, hz) < -14
    assert level(x, 3 * hz) - level(x, hz) < -50


def test_drive_zero_copies_and_silence_stays_silent():
    drive = _load("drive_stems")
    x = np.linspace(-0.3, 0.3, 100).astype(np.float32)
    np.testing.assert_array_equal(drive.drive(x, 0), x)
    assert not drive.drive(np.zeros(10, np.float32)).any()
    assert float(np.abs(drive.drive(x)).max()) == pytest.approx(float(np.tanh(1.5)), abs=1e-6)
