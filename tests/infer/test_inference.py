"""inference: window -> run -> unwrap -> decode -> MIDI, with a stand-in model whose
activations come from the input (an STFT peak picker), so times and pitches are known."""
import logging

import numpy as np
import pretty_midi
import pytest
import soundfile as sf

from helpers_data import FIXTURES
from helpers_standin import FE, SR, StandIn, sine
from midi_extractor import taxonomy as tx
from midi_extractor.cli import main
from midi_extractor.infer import engine as inference
from midi_extractor.infer.api import transcribe
from midi_extractor.infer.engine import activations, plan_windows
from midi_extractor.infer.routing import NoModelError
from midi_extractor.model import windows


@pytest.mark.parametrize("n_samples", [1, 511, 512, 16000 * 3, 16000 * 3 + 1, 16000 * 10 + 77])
def test_windows_cover_every_frame_once(n_samples):
    windows = plan_windows(n_samples, FE, window_s=3.0, context_s=0.5)
    covered = np.zeros(FE.n_frames(n_samples), int)
    for w in windows:
        covered[w.frame0:w.frame0 + w.n_keep] += 1
        assert w.keep_from + w.n_keep <= FE.n_frames(w.length)
        assert w.start == (w.frame0 - w.keep_from) * FE.hop_length  # window frames sit on the global grid
    assert (covered == 1).all()
    if len(windows) > 1:  # every window but the last is one window long
        assert {w.length for w in windows[:-1]} == {windows[0].length}
        assert abs(windows[0].length - 3 * SR) < FE.hop_length
    # the last window stops at the audio's end, not a whole window of zeros later
    assert 0 <= windows[-1].start + windows[-1].length - n_samples <= FE.hop_length


def test_a_short_last_window_shares_a_pass_with_a_full_one():
    """Two windows a pass (an accelerator's batch) where the last is shorter: the same
    probabilities as one a pass."""
    x = sine(69, 1.0, 2.5, 7.0) + sine(76, 5.3, 6.9, 7.0)   # 3 s windows keep 2 s: the last keeps 1 s
    planned = plan_windows(len(x), FE, window_s=3.0, context_s=0.5)
    assert len(planned) == 4 and planned[-1].length < planned[-2].length
    model = StandIn(FE, FE.n_pitches)
    one = activations(model, x, FE, window_s=3.0, context_s=0.5, batch_windows=1)
    two = activations(model, x, FE, window_s=3.0, context_s=0.5, batch_windows=2)
    for head in ("onset", "frame"):
        np.testing.assert_array_equal(two[head], one[head])
    in_last = slice(int(5.3 * FE.frame_rate_hz) + 1, int(6.9 * FE.frame_rate_hz) - 1)
    assert one["frame"][in_last, 76 - FE.min_midi].min() > 0.5           # the note in the last window
    assert abs(one["onset"][:, 76 - FE.min_midi].argmax() - 5.3 * FE.frame_rate_hz) <= 1


def test_windowed_activations_equal_one_pass():
    x = sine(69, 1.0, 2.5, 10.0) + sine(76, 4.3, 6.0, 10.0)  # notes across window edges
    model = StandIn(FE, FE.n_pitches)
    whole = activations(model, x, FE, window_s=100.0)
    chunked = activations(model, x, FE, window_s=3.0, context_s=0.5, batch_windows=3)
    for head in ("onset", "frame"):   # a window's features are the whole signal's, its edges too
        np.testing.assert_array_equal(chunked[head], whole[head])


def test_the_cpu_runs_one_window_a_pass_and_an_accelerator_two(standin, monkeypatch):
    """One window per forward pass on the CPU (faster there), two on a GPU; same notes either way."""
    x = sine(69, 1.0, 2.0, 10.0) + sine(81, 5.9, 7.0, 10.0)
    n = len(plan_windows(len(x), FE, window_s=3.0, context_s=0.5))     # six 3 s windows
    batches = []
    real = windows.run_model
    monkeypatch.setattr(windows, "run_model", lambda m, chunks, device="cpu": batches.append(len(chunks)) or
                        real(m, chunks, device))
    notes, _ = transcribe(x, "bass", standin, sample_rate_hz=SR, window_s=3.0, context_s=0.5)
    assert n == 6 and batches == [1] * n and inference.batch_windows_for("cuda:0") == 2
    batches.clear()
    model = StandIn(FE, FE.n_pitches)
    assert np.array_equal(activations(model, x, FE, window_s=3.0, context_s=0.5)["onset"],
                          activations(model, x, FE, window_s=3.0, context_s=0.5, batch_windows=2)["onset"])
    assert batches == [1] * n + [2] * (n // 2)
    assert [n.pitch for n in notes] == [69, 81]


def test_a_pitched_model_keeps_half_a_second_of_context_and_a_drum_model_one(standin, monkeypatch, tmp_path):
    """Without context_s, every path plans a pitched model's windows with 0.5 s of context and a drum
    model's with 1 s (model.windows.context_for): a 50 s file and array run 6 windows on bass and
    7 on drums, each one forward pass on the CPU."""
    x = sine(69, 1.0, 2.0, 50.0) + sine(81, 40.0, 41.0, 50.0)
    path = tmp_path / "x.wav"
    sf.write(path, x, SR)
    assert (windows.context_for(None), windows.context_for(tx.STEM_DRUM_CLASSES["drums"])) == (0.5, 1.0)
    expect = {stem: len(plan_windows(len(x), FE, windows.WINDOW_S, c)) for stem, c in (("bass", 0.5), ("drums", 1.0))}
    assert expect == {"bass": 6, "drums": 7}
    passes = []
    real = windows.run_model
    counted = lambda m, chunks, device="cpu": passes.append(len(chunks)) or real(m, chunks, device)  # noqa: E731
    monkeypatch.setattr(windows, "run_model", counted)      # an array: engine.transcribe_array
    monkeypatch.setattr(inference, "run_model", counted)    # a file: stream.run_windows
    for stem, n in expect.items():
        for audio in (path, x):
            passes.clear()
            transcribe(audio, stem, standin, sample_rate_hz=None if audio is path else SR)
            assert passes == [1] * n, (stem, audio is path)


def test_a_sine_comes_back_as_its_note_within_one_frame(standin):
    x = sine(69, 1.0, 2.0, 10.0) + sine(81, 5.9, 7.0, 10.0)  # the second note spans a 3 s window edge
    notes, midi = transcribe(x, "bass", standin, sample_rate_hz=SR, window_s=3.0, context_s=0.5)
    assert [n.pitch for n in notes] == [69, 81]
    for n, (start, end) in zip(notes, [(1.0, 2.0), (5.9, 7.0)]):
        assert abs(n.start_s - start) <= FE.hop_s and abs(n.end_s - end) <= 2 * FE.hop_s
    assert midi.instruments[0].program == tx.default_program("bass") and not midi.instruments[0].is_drum


def test_any_rate_and_stereo_file(standin, tmp_path):
    x = sine(69, 0.5, 1.5, 3.0, sr=44100)
    path = tmp_path / "bass.flac"
    sf.write(path, np.stack([x, x], axis=1), 44100)
    notes, _ = transcribe(path, "auto", standin)
    assert [(n.pitch, round(n.start_s / FE.hop_s)) for n in notes] == [(69, round(0.5 / FE.hop_s))]
    notes2, _ = transcribe(np.stack([x, x]), "Electric Bass (finger)", standin, sample_rate_hz=44100)
    assert notes2 == notes


def test_fallback_program_and_vocals(standin, caplog):
    x = sine(60, 0.2, 0.8, 1.0)
    with caplog.at_level(logging.WARNING):
        notes, midi = transcribe(x, "Acoustic Guitar (nylon)", standin, sample_rate_hz=SR)
    assert "falling back to 'piano'" in caplog.text
    assert midi.instruments[0].program == 24 and [n.pitch for n in notes] == [60]
    with pytest.raises(NoModelError, match="no vocals model is trained yet"):
        transcribe(x, "vocals", standin, sample_rate_hz=SR)


def test_stem_folder_makes_one_multitrack_midi(standin, tmp_path, capsys):
    folder = tmp_path / "song"
    folder.mkdir()
    sf.write(folder / "bass.wav", sine(45, 0.5, 1.0, 2.0), SR)
    sf.write(folder / "piano.wav", sine(72, 0.2, 0.6, 2.0), SR)
    sf.write(folder / "drums.wav", sine(60, 1.0, 1.05, 2.0, amp=0.9), SR)
    sf.write(folder / "guitar.wav", sine(64, 0.1, 0.5, 2.0), SR)  # falls back to piano
    sf.write(folder / "vocals.wav", sine(70, 0.1, 0.5, 2.0), SR)
    out = tmp_path / "out"
    assert main(["transcribe", str(folder), "--models-dir", str(standin), "-o", str(out)]) == 0
    midi = pretty_midi.PrettyMIDI(str(out / "song.mid"))
    tracks = {i.name: i for i in midi.instruments}
    assert list(tracks) == ["bass", "piano", "guitar", "drums"]
    assert {n: (i.program, i.is_drum) for n, i in tracks.items()} == {
        "bass": (33, False), "piano": (0, False), "guitar": (27, False), "drums": (0, True)}  # taxonomy.STEM_PROGRAMS
    assert [n.pitch for n in tracks["bass"].notes] == [45]
    assert [n.pitch for n in tracks["drums"].notes] == [tx.DRUM_CLASS_PITCH["kick"]]
    err = capsys.readouterr().err
    assert "vocals.wav" in err and "no vocals model is trained yet" in err


def test_bad_inputs_are_named_and_the_rest_still_run(standin, tmp_path, capsys, caplog):
    good, empty, corrupt, silent = (tmp_path / f"{n}.wav" for n in ("bass", "empty", "corrupt", "piano"))
    sf.write(good, sine(69, 0.3, 0.9, 1.5), SR)
    empty.write_bytes(b"")
    corrupt.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk" * 10)
    sf.write(silent, np.zeros(SR, np.float32), SR)
    out = tmp_path / "out"
    with caplog.at_level(logging.WARNING):
        rc = main(["transcribe", str(tmp_path / "missing.wav"), str(empty), str(corrupt), str(silent), str(good),
                   "--stem", "auto",
                   "--models-dir", str(standin), "-o", str(out)])
    assert rc == 1
    err = capsys.readouterr().err
    assert f"{empty}" in err and "empty" in err
    assert f"{corrupt}" in err
    assert f"{tmp_path / 'missing.wav'}: audio file not found" in err  # named before the stem is looked at
    assert f"{silent}: silent audio, no tempo to estimate" in err  # tempo is estimated by default
    assert [n.pitch for n in pretty_midi.PrettyMIDI(str(out / "bass.mid")).instruments[0].notes] == [69]
    assert not any((out / f"{n}.mid").exists() for n in ("empty", "corrupt", "piano"))
    # without a tempo estimate silence is an empty track and a warning
    with caplog.at_level(logging.WARNING):
        assert main(["transcribe", str(silent), "--no-tempo", "--models-dir", str(standin), "-o", str(out)]) == 0
    assert "silent" in caplog.text and str(silent) in caplog.text
    assert sum(len(i.notes) for i in pretty_midi.PrettyMIDI(str(out / "piano.mid")).instruments) == 0


def test_a_bad_stem_file_in_a_folder_is_named_once_and_makes_rc_1(standin, tmp_path, capsys):
    folder = tmp_path / "song"
    folder.mkdir()
    sf.write(folder / "bass.wav", sine(45, 0.5, 1.0, 2.0), SR)
    (folder / "piano.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk" * 10)
    sf.write(folder / "vocals.wav", sine(70, 0.1, 0.5, 2.0), SR)  # no model: skipped, not a failure
    out = tmp_path / "out"
    assert main(["transcribe", str(folder), "--models-dir", str(standin), "-o", str(out), "--no-tempo"]) == 1
    tracks = {i.name: i for i in pretty_midi.PrettyMIDI(str(out / "song.mid")).instruments}
    assert [n.pitch for n in tracks["bass"].notes] == [45] and "piano" not in tracks  # the rest is written
    err = capsys.readouterr().err
    assert f"{folder / 'piano.wav'}: skipped: unreadable or corrupt audio" in err  # the path once, then the problem
    assert f"{folder}: 1 stem file(s) not transcribed: piano.wav" in err
    (folder / "piano.wav").unlink()
    assert main(["transcribe", str(folder), "--models-dir", str(standin), "-o", str(out), "--no-tempo",
                 "--overwrite"]) == 0


def test_a_silent_stem_of_a_folder_keeps_its_track_empty_as_the_summary_says(standin, tmp_path, capsys):
    """The summary's "piano 0 notes" is the file's: piano's track is there, named, with its program
    and no note (pretty_midi leaves a note-less track out when it reads a file back; mido shows it)."""
    import mido

    folder = tmp_path / "song"
    folder.mkdir()
    sf.write(folder / "bass.wav", sine(45, 0.5, 1.0, 2.0), SR)
    sf.write(folder / "piano.wav", np.zeros(2 * SR, np.float32), SR)
    out = tmp_path / "out"
    assert main(["transcribe", str(folder), "--models-dir", str(standin), "-o", str(out), "--no-tempo"]) == 0
    printed = capsys.readouterr()
    assert "(bass 1 notes, piano 0 notes; 120 BPM)" in printed.out
    assert f"{folder / 'piano.wav'}: audio is silent; no notes" in printed.err
    tracks = {next(m.name for m in t if m.type == "track_name"): t for t in mido.MidiFile(out / "song.mid").tracks[1:]}
    assert list(tracks) == ["bass", "piano"]
    assert [m.program for m in tracks["piano"] if m.type == "program_change"] == [0]
    assert not [m for m in tracks["piano"] if m.type == "note_on"]
    assert [m.note for m in tracks["bass"] if m.type == "note_on" and m.velocity] == [45]


def test_single_input_may_name_the_midi_file(standin, tmp_path):
    path = tmp_path / "in.wav"
    sf.write(path, sine(40, 0.1, 0.5, 1.0), SR)
    target = tmp_path / "x" / "named.mid"
    assert main(["transcribe", str(path), "--stem", "bass", "--models-dir", str(standin), "-o", str(target)]) == 0
    assert target.is_file()
    with pytest.raises(ValueError, match="sample_rate_hz"):
        transcribe(np.zeros(10), "bass", standin)
    with pytest.raises(KeyError, match="cannot tell the stem"):
        transcribe(path, "auto", standin)


# ---------------------------------------------------------------- golden output, real model
GOLDEN = FIXTURES / "golden"


def test_golden_transcription():
    """A tiny checkpoint overfitted on bass_clip.flac must keep transcribing it to the stored notes.
    Regenerate (only for an intended change): python tests/fixtures/golden/make_golden.py"""
    import json

    golden = json.loads((GOLDEN / "bass_clip.notes.json").read_text())
    inference.clear_model_cache()
    notes, midi = transcribe(GOLDEN / "bass_clip.flac", "bass", GOLDEN / "models")
    assert [n.to_dict() for n in notes] == golden["notes"]
    assert len(notes) >= 4  # a golden file of nothing would test nothing
    assert [(n.pitch, round(n.start, 3)) for n in midi.instruments[0].notes] == \
        [(n["pitch"], round(n["start_s"], 3)) for n in golden["notes"]]
