"""What transcribe writes: tempo and grid, note-event CSV, rendered WAV, and the
messages for bad tempo, silence, non-finite and overdriven input. The stand-in
model of helpers_standin turns a sine into its note, so contents are known."""
from __future__ import annotations

import csv
import logging

import numpy as np
import pretty_midi
import pytest
import soundfile as sf

from helpers_standin import FE, SR, click_track, sine
from midi_extractor.cli import main
from midi_extractor.infer.api import transcribe
from midi_extractor.infer.tempo import TempoError, estimate_tempo, parse_grid, quantize_notes
from midi_extractor.model.decoding import Note


@pytest.mark.parametrize("bpm", [63.0, 97.0, 123.4, 150.0])
def test_click_track_tempo_within_one_bpm(bpm):
    est = estimate_tempo(click_track(bpm), SR, "click")
    assert abs(est.bpm - bpm) < 1.0 and len(est.beat_times_s) >= 10


def test_cli_writes_the_estimated_tempo_and_quantized_starts(standin, tmp_path, capsys):
    path = tmp_path / "bass.wav"
    sf.write(path, click_track(128.0, pitch=57), SR)
    out = tmp_path / "out"
    assert main(["transcribe", str(path), "--models-dir", str(standin), "-o", str(out), "--quantize", "1/16"]) == 0
    midi = pretty_midi.PrettyMIDI(str(out / "bass.mid"))
    _, tempi = midi.get_tempo_changes()
    assert len(tempi) == 1 and abs(tempi[0] - 128.0) < 1.0
    assert [(ts.numerator, ts.denominator) for ts in midi.time_signature_changes] == [(4, 4)]
    step = 60.0 / tempi[0] / 4
    starts = [n.start for n in midi.instruments[0].notes]
    assert len(starts) >= 20 and all(abs(s / step - round(s / step)) < 0.01 for s in starts)
    assert "BPM" in capsys.readouterr().out
    assert main(["transcribe", str(path), "--models-dir", str(standin), "-o", str(out), "--tempo", "90",
                 "--overwrite"]) == 0
    assert pretty_midi.PrettyMIDI(str(out / "bass.mid")).get_tempo_changes()[1][0] == pytest.approx(90.0, abs=0.01)
    assert main(["transcribe", str(path), "--models-dir", str(standin), "-o", str(out), "--no-tempo",
                 "--overwrite"]) == 0
    assert pretty_midi.PrettyMIDI(str(out / "bass.mid")).get_tempo_changes()[1][0] == pytest.approx(120.0, abs=0.01)


@pytest.mark.parametrize("bad", ["0", "-120", "abc", "1000"])
def test_bad_tempo_is_refused_before_anything_is_written(standin, tmp_path, capsys, bad):
    path = tmp_path / "bass.wav"
    sf.write(path, sine(45, 0.1, 0.5, 1.0), SR)
    with pytest.raises(SystemExit) as exit_:
        main(["transcribe", str(path), "--models-dir", str(standin), "-o", str(tmp_path / "out"), f"--tempo={bad}"])
    assert exit_.value.code == 2
    assert "--tempo" in capsys.readouterr().err and not (tmp_path / "out").exists()
    with pytest.raises(TempoError, match="between 20 and 400 BPM"):
        transcribe(path, "bass", standin, tempo=0)


def test_silence_has_no_tempo(standin, tmp_path):
    with pytest.raises(TempoError, match="silent audio, no tempo to estimate"):
        estimate_tempo(np.zeros(SR * 2, np.float32), SR, "x.wav")
    folder = tmp_path / "song"
    folder.mkdir()
    sf.write(folder / "bass.wav", np.zeros(SR, np.float32), SR)
    out = tmp_path / "out"
    assert main(["transcribe", str(folder), "--models-dir", str(standin), "-o", str(out)]) == 1
    assert not (out / "song.mid").exists()


def test_grid_parsing_and_quantize():
    assert parse_grid("1/16") == 0.25 and parse_grid("8") == 0.5 and parse_grid("1/8t") == pytest.approx(1 / 3)
    for bad in ("1/0", "x", "1/16q", ""):
        with pytest.raises(ValueError, match="quantize grid"):
            parse_grid(bad)
    notes = quantize_notes([Note(0.13, 0.40, 60, 90), Note(0.01, 0.2, 62, 80)], 120.0, 0.5)  # 0.25 s grid
    assert [(n.start_s, round(n.end_s, 6), n.pitch, n.velocity) for n in notes] == [
        (0.0, 0.19, 62, 80), (0.25, 0.52, 60, 90)]  # starts on the grid, lengths kept


def test_quantize_never_leaves_two_sounding_notes_of_one_pitch():
    # 16th hats snapped to 1/8 at 120 BPM (0.125 s rounds to 0), a bass re-hit 0.17 s after a note
    notes = [Note(0.0, 0.1, 42, 90), Note(0.125, 0.225, 42, 80), Note(0.95, 1.10, 45, 70), Note(1.12, 1.5, 45, 90),
             Note(0.96, 1.2, 52, 60)]
    got = [(n.start_s, round(n.end_s, 6), n.pitch, n.velocity) for n in quantize_notes(notes, 120.0, 0.5)]
    assert got == [(0.0, 0.1, 42, 90),     # one hat, the louder
                   (1.0, 1.38, 45, 90),    # the re-hit's length kept, not cut at the first note's end
                   (1.0, 1.24, 52, 60)]    # other pitches untouched
    tight = quantize_notes([Note(0.0, 0.6, 60, 90), Note(0.49, 0.8, 60, 80)], 120.0, 0.5)
    assert [(n.start_s, n.end_s) for n in tight] == [(0.0, 0.5), (0.5, 0.81)]  # the first ends where the next starts


def test_note_events_csv_and_sonified_wav_beside_the_midi(standin, tmp_path):
    folder = tmp_path / "song"
    folder.mkdir()
    sf.write(folder / "bass.wav", sine(45, 0.5, 1.0, 2.5), SR)
    sf.write(folder / "piano.wav", sine(72, 0.2, 0.6, 2.0), SR)
    out = tmp_path / "out"
    assert main(["transcribe", str(folder), "--models-dir", str(standin), "-o", str(out), "--no-tempo",
                 "--save-note-events", "--sonify"]) == 0
    with open(out / "song.notes.csv", newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["start_s", "end_s", "pitch", "velocity", "stem"]
    assert [(r[2], r[4]) for r in rows[1:]] == [("72", "piano"), ("45", "bass")]
    assert abs(float(rows[2][0]) - 0.5) <= FE.hop_s and abs(float(rows[2][1]) - 1.0) <= 2 * FE.hop_s
    audio, rate = sf.read(out / "song.sonified.wav")
    assert audio.ndim == 1 and len(audio) == round(2.5 * rate)  # the longest stem's length
    assert np.sqrt(np.mean(audio[int(0.5 * rate):int(1.0 * rate)] ** 2)) > 0.01  # the bass note sounds
    assert np.abs(audio[int(1.6 * rate):]).max() < 0.05  # and nothing plays after both notes end (+ release)
    assert sorted(p.name for p in out.iterdir()) == ["song.mid", "song.notes.csv", "song.sonified.wav"]  # no temp


def test_non_finite_input_is_refused_with_its_name(standin, tmp_path, capsys):
    x = sine(45, 0.1, 0.5, 1.0)
    x[100] = np.nan
    with pytest.raises(ValueError, match="audio array: contains NaN or infinite samples"):
        transcribe(x, "bass", standin, sample_rate_hz=SR)
    path = tmp_path / "bass.wav"
    sf.write(path, x, SR, subtype="FLOAT")
    assert main(["transcribe", str(path), "--models-dir", str(standin), "-o", str(tmp_path / "o")]) == 1
    err = capsys.readouterr().err
    assert str(path) in err and ("NaN" in err or "non-finite" in err)
    assert not (tmp_path / "o" / "bass.mid").exists()


def test_overdriven_input_is_scaled_with_a_warning(standin, caplog):
    x = sine(57, 0.2, 0.8, 1.0, amp=0.5)
    with caplog.at_level(logging.WARNING):
        hot, _ = transcribe(x * 8, "bass", standin, sample_rate_hz=SR)
    assert "peak 4.00 is above full scale" in caplog.text
    assert [n.pitch for n in hot] == [57]


def test_sonified_single_file_lines_up_with_its_input_at_its_rate_and_level(standin, tmp_path):
    path = tmp_path / "in.wav"
    x = sine(57, 0.3, 0.9, 1.7, sr=44100, amp=0.2)
    sf.write(path, x, 44100)
    target = tmp_path / "o" / "named.mid"
    assert main(["transcribe", str(path), "--stem", "bass", "--models-dir", str(standin), "-o", str(target),
                 "--no-tempo", "--sonify"]) == 0
    audio, rate = sf.read(tmp_path / "o" / "named.sonified.wav")
    assert rate == 44100 and audio.ndim == 1 and len(audio) == round(1.7 * rate)  # the input's rate and length
    loud = np.flatnonzero(np.abs(audio) > 0.01)
    assert loud.size and abs(loud[0] / rate - 0.3) < 0.05  # the rendered note starts where the sine does
    level_db = lambda y: 20 * np.log10(np.sqrt(np.mean(np.square(y))))  # noqa: E731
    assert abs(level_db(audio) - level_db(x)) < 0.5  # level-matched: an A/B needs no fader
    assert path.read_bytes()[:4] == b"RIFF" and sf.info(path).samplerate == 44100  # the input is untouched


def test_sonify_of_a_folder_reads_the_files_the_taxonomy_switches_routed(standin, tmp_path):
    """With organs as keys, "Drawbar Organ.wav" is the piano track; the rendering is levelled
    against that very file (it was looked up by the default taxonomy, which names it other)."""
    folder = tmp_path / "song"
    folder.mkdir()
    x = sine(60, 0.3, 0.9, 1.5, amp=0.2)
    sf.write(folder / "Drawbar Organ.wav", x, SR)
    params = tmp_path / "params.yaml"
    params.write_text("taxonomy:\n  organs_as_keys: true\n")
    out = tmp_path / "out"
    assert main(["transcribe", str(folder), "--models-dir", str(standin), "-o", str(out), "--no-tempo",
                 "--params", str(params), "--sonify"]) == 0
    audio, rate = sf.read(out / "song.sonified.wav")
    assert rate == SR and len(audio) == len(x)
    level_db = lambda y: 20 * np.log10(np.sqrt(np.mean(np.square(y))))  # noqa: E731
    assert abs(level_db(audio) - level_db(x)) < 0.5


def test_sonify_ab_is_stereo_with_the_input_left_and_the_rendering_right(standin, tmp_path):
    path = tmp_path / "bass.wav"
    x = sine(45, 0.5, 1.0, 2.0, sr=32000, amp=0.2)
    sf.write(path, x, 32000)
    assert main(["transcribe", str(path), "--models-dir", str(standin), "-o", str(tmp_path / "o"), "--no-tempo",
                 "--sonify-ab"]) == 0
    audio, rate = sf.read(tmp_path / "o" / "bass.sonified.wav")
    assert rate == 32000 and audio.shape == (len(x), 2)
    np.testing.assert_allclose(audio[:, 0], x, atol=1 / 32767)  # the input itself, as 16-bit PCM
    right = np.flatnonzero(np.abs(audio[:, 1]) > 0.01)
    assert right.size and abs(right[0] / rate - 0.5) < 0.05 and not np.allclose(audio[:, 1], audio[:, 0])


def test_a_rendering_louder_than_full_scale_at_the_inputs_level_is_cut_to_its_peak():
    from midi_extractor.infer.outputs import sonify

    midi = pretty_midi.PrettyMIDI()
    inst = pretty_midi.Instrument(33)
    inst.notes.append(pretty_midi.Note(100, 45, 0.1, 0.6))
    midi.instruments.append(inst)
    square = np.sign(sine(45, 0.0, 1.0, 1.0, sr=22050, amp=1.0)).astype(np.float32)  # RMS at full scale
    loud = sonify(midi, 1.0, 22050, level_of=square)
    assert np.max(np.abs(loud)) == pytest.approx(0.99, abs=1e-4)
    quiet = sonify(midi, 1.0, 22050, level_of=square * 1e-3)
    assert np.sqrt(np.mean(quiet ** 2)) == pytest.approx(1e-3, rel=0.06)
