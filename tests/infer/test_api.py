"""Decoding travels with the model: the same file gives the same notes through
transcribe(), the command line run from another folder, and transcribe_array
with the model's decoding.json; plus device choice and one load per model."""
from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf
import torch

from helpers_data import sine_bass_track
from helpers_models import DECODING, FE, KIT, checkpoint_saying, noisy_file
from midi_extractor import transcribe, transcribe_folder
from midi_extractor.cli import main
from midi_extractor.config import ConfigError, DecodingConfig
from midi_extractor.infer import engine
from midi_extractor.infer.outputs import read_note_events
from midi_extractor.infer.settings import read_model_decoding


def test_api_cli_and_engine_give_identical_notes(models, tmp_path, monkeypatch):
    from midi_extractor.audio import load_audio

    audio = noisy_file(tmp_path / "bass.wav")
    notes, _ = transcribe(audio, models_dir=models)  # stem from the file name

    loaded = engine.load_model(models / "bass" / "best.pt")
    x = load_audio(audio, FE.sample_rate_hz)
    keys = ("onset_threshold", "frame_threshold", "min_note_s", "drum_note_s")
    direct = engine.transcribe_array(loaded, x, **{k: DECODING[k] for k in keys})
    defaults = engine.transcribe_array(loaded, x, **{k: getattr(DecodingConfig(), k) for k in keys})
    assert len(notes) >= 3 and notes == direct
    assert defaults != direct  # the decoding.json values matter for this file

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "params.yaml").write_text("decoding:\n  onset_threshold: 0.9\n  frame_threshold: 0.9\n")
    monkeypatch.chdir(elsewhere)  # a params.yaml here must not be read
    out = tmp_path / "out"
    assert main(["transcribe", str(audio), "--models-dir", str(models), "-o", str(out), "--no-tempo",
                 "--save-note-events"]) == 0
    from_cli = [n for _, n in read_note_events(out / "bass.notes.csv")]
    assert len(from_cli) == len(notes)
    for a, b in zip(from_cli, notes):
        assert (a.pitch, a.velocity) == (b.pitch, b.velocity)
        assert abs(a.start_s - b.start_s) < 1e-6 and abs(a.end_s - b.end_s) < 1e-6

    folder = tmp_path / "song"
    folder.mkdir()
    noisy_file(folder / "bass.flac")
    tracks, _, _ = __import__("midi_extractor").transcribe_folder(folder, models)
    assert tracks == {"bass": notes}


def test_caller_overrides_win_and_defaults_without_a_file(models, tmp_path):
    audio = noisy_file(tmp_path / "bass.wav")
    loud, _ = transcribe(audio, "bass", models, onset_threshold=0.016)
    kept, _ = transcribe(audio, "bass", models)
    assert loud != kept
    (models / "bass" / "decoding.json").unlink()
    assert read_model_decoding(models / "bass" / "best.pt") == DecodingConfig()
    plain, _ = transcribe(audio, "bass", models)
    loaded = engine.load_model(models / "bass" / "best.pt")
    assert plain == engine.transcribe_array(loaded, engine.load_input(audio, None, FE.sample_rate_hz)[0],
                                            onset_threshold=0.5, frame_threshold=0.5, min_note_s=0.05)


def test_a_bad_decoding_file_is_named(models, tmp_path, capsys):
    audio = noisy_file(tmp_path / "bass.wav")
    path = models / "bass" / "decoding.json"
    path.write_text(json.dumps({"onset_threshold": 1.5}))
    with pytest.raises(ConfigError, match="decoding.json: onset_threshold must lie between 0 and 1"):
        transcribe(audio, "bass", models)
    path.write_text("{not json")
    assert main(["transcribe", str(audio), "--models-dir", str(models), "-o", str(tmp_path / "o")]) == 1
    assert f"{path}: not a readable decoding file" in capsys.readouterr().err
    path.write_text(json.dumps({"onset_threshold": 0.4, "frame_threshold": None}))  # null: the default
    assert read_model_decoding(models / "bass" / "best.pt") == DecodingConfig(onset_threshold=0.4)


def test_each_model_is_loaded_once_for_many_files(models, tmp_path, monkeypatch):
    calls = []
    real = engine._load_checkpoint
    monkeypatch.setattr(engine, "_load_checkpoint", lambda path: calls.append(path) or real(path))
    files = [noisy_file(tmp_path / f"bass_{i}.wav", seconds=1.0, seed=i) for i in range(3)]
    out = tmp_path / "out"
    assert main(["transcribe", *map(str, files), "--models-dir", str(models), "-o", str(out), "--no-tempo"]) == 0
    assert len(calls) == 1 and sorted(p.name for p in out.iterdir()) == ["bass_0.mid", "bass_1.mid", "bass_2.mid"]


def test_device_choice(models, tmp_path, capsys, monkeypatch):
    assert engine.resolve_device(None) == "cpu" and engine.resolve_device("CPU") == "cpu"
    with pytest.raises(ValueError, match="expected cpu, cuda or cuda:N"):
        engine.resolve_device("gpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ValueError, match="CUDA is not available"):
        engine.resolve_device("cuda:0")
    audio = noisy_file(tmp_path / "bass.wav", seconds=1.0)
    out = tmp_path / "out"
    assert main(["transcribe", str(audio), "--models-dir", str(models), "-o", str(out), "--device", "cuda"]) == 2
    assert "transcribe: device 'cuda': CUDA is not available" in capsys.readouterr().err
    assert not out.exists()
    notes, _ = transcribe(audio, "bass", models, device="cpu")
    assert notes == transcribe(audio, "bass", models)[0]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_gives_the_cpu_notes(models, tmp_path):
    audio = noisy_file(tmp_path / "bass.wav")
    cpu, _ = transcribe(audio, "bass", models, device="cpu")
    gpu, _ = transcribe(audio, "bass", models, device="cuda")
    assert [(n.pitch, round(n.start_s, 3)) for n in gpu] == [(n.pitch, round(n.start_s, 3)) for n in cpu]


# ------------------------------------------------- a checkpoint knows what it is
def test_a_drums_checkpoint_in_the_bass_slot_is_refused_naming_both(tmp_path, capsys):
    from midi_extractor.model.checkpoint import CheckpointMismatch

    models = tmp_path / "models"
    wrong = checkpoint_saying(models / "bass" / "best.pt", "drums", "percussive", KIT)
    audio = noisy_file(tmp_path / "bass.wav", seconds=1.0)
    line = f"{wrong}: checkpoint of stem 'drums' (percussive), asked for stem 'bass' (pitched)"
    with pytest.raises(CheckpointMismatch) as err:
        transcribe(audio, "bass", models)  # was: a "bass" track of GM drum keys
    assert str(err.value) == line
    out = tmp_path / "out"
    assert main(["transcribe", str(audio), "--models-dir", str(models), "-o", str(out), "--no-tempo"]) == 2
    assert capsys.readouterr().err.splitlines() == [f"transcribe: {line}"]
    song = tmp_path / "song"
    song.mkdir()
    noisy_file(song / "bass.wav", seconds=1.0)
    assert main(["transcribe", str(song), "--models-dir", str(models), "-o", str(out), "--no-tempo"]) == 2
    assert capsys.readouterr().err.splitlines() == [f"transcribe: {line}"]  # not skipped with rc 0
    assert not out.exists()
    engine.clear_model_cache()


def test_a_fallback_is_said_once_and_must_be_the_model_routing_chose(tmp_path, caplog):
    import logging

    from midi_extractor.model.checkpoint import CheckpointMismatch

    audio = noisy_file(tmp_path / "guitar.wav", seconds=1.0)
    good = tmp_path / "good"
    checkpoint_saying(good / "other" / "best.pt", "other", "harmonic")
    with caplog.at_level(logging.WARNING):
        transcribe(audio, models_dir=good)
        transcribe(audio, models_dir=good)
    assert caplog.text.count("falling back to 'other'") == 1
    bad = checkpoint_saying(tmp_path / "bad" / "other" / "best.pt", "drums", "percussive", KIT)
    with pytest.raises(CheckpointMismatch, match=f"^{bad}: checkpoint of stem 'drums' \\(percussive\\), asked for "
                                                 f"stem 'other' \\(pitched; the fallback for 'guitar'\\)$"):
        transcribe(audio, models_dir=tmp_path / "bad")
    engine.clear_model_cache()


def test_a_shared_base_in_a_slot_serves_its_kind_and_a_role_is_compared_with_params(tmp_path, caplog):
    import logging

    from midi_extractor.config import Params, StemConfig
    from midi_extractor.model.checkpoint import CheckpointMismatch

    audio = noisy_file(tmp_path / "bass.wav", seconds=1.0)
    base = checkpoint_saying(tmp_path / "a" / "bass" / "best.pt", "base-pitched", "harmonic")
    with caplog.at_level(logging.WARNING, logger="midi_extractor.model.checkpoint"):
        transcribe(audio, "bass", tmp_path / "a")
    assert f"{base} is the shared base 'pitched', not a model fine-tuned on bass" in caplog.text
    kit = checkpoint_saying(tmp_path / "b" / "bass" / "best.pt", "base-percussive", "percussive", KIT)
    with pytest.raises(CheckpointMismatch, match=f"^{kit}: checkpoint of shared base 'percussive'"):
        transcribe(audio, "bass", tmp_path / "b")
    own = checkpoint_saying(tmp_path / "c" / "bass" / "best.pt", "bass", "melodic")
    transcribe(audio, "bass", tmp_path / "c")  # no params: bass_role is not compared
    harmonic_bass = Params(stems={"bass": StemConfig(role="harmonic")})
    with pytest.raises(CheckpointMismatch, match=f"^{own}: checkpoint of stem 'bass' \\(melodic\\), asked for "
                                                 f"stem 'bass' \\(harmonic\\)$"):
        transcribe(audio, "bass", tmp_path / "c", params=harmonic_bass)
    engine.clear_model_cache()


def test_heavy_clipping_and_a_truncated_wav_are_said(models, tmp_path, caplog, capsys):
    """int16 audio clipped on most of its samples, and a WAV cut short: transcribed, with a warning
    naming the file (was: no message, rc 0)."""
    import logging

    sr = 22050
    t = np.arange(3 * sr) / sr
    sf.write(tmp_path / "clean.wav", np.sin(2 * np.pi * 110 * t).astype(np.float32), sr, subtype="PCM_16")
    clipped = np.clip(2.0 * np.sin(2 * np.pi * 110 * t), -1, 1).astype(np.float32)
    sf.write(tmp_path / "clipped.wav", clipped, sr, subtype="PCM_16")
    with caplog.at_level(logging.WARNING):
        transcribe(tmp_path / "clean.wav", "bass", models)  # full scale, 0.6 % of samples on it: not clipped
        assert "heavily clipped" not in caplog.text
        transcribe(tmp_path / "clipped.wav", "bass", models)
        transcribe(clipped, "bass", models, sample_rate_hz=sr)
    assert f"{tmp_path / 'clipped.wav'}: heavily clipped: 66.7% of its samples sit at full scale" in caplog.text
    assert "audio array: heavily clipped: 66.7%" in caplog.text

    whole = noisy_file(tmp_path / "whole.wav", seconds=3.0)
    cut = tmp_path / "bass.wav"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 3])
    assert main(["transcribe", str(cut), "--models-dir", str(models), "-o", str(tmp_path / "o"), "--no-tempo"]) == 0
    assert f"{cut}: truncated WAV: the header declares {3 * 22050} frames (3.00 s)" in capsys.readouterr().err


def test_the_api_reads_the_models_folder_from_the_environment_and_an_argument_wins(models, tmp_path, monkeypatch):
    from midi_extractor import transcribe_folder

    (tmp_path / "stems").mkdir()
    audio = noisy_file(tmp_path / "stems" / "bass.wav")
    want, _ = transcribe(audio, models_dir=models)
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")  # no ./models here
    monkeypatch.setenv("MIDI_EXTRACTOR_MODELS", str(models))
    assert transcribe(audio)[0] == want
    tracks, _, messages = transcribe_folder(tmp_path / "stems")
    assert tracks == {"bass": want} and messages == []
    monkeypatch.setenv("MIDI_EXTRACTOR_MODELS", str(tmp_path / "nowhere"))
    with pytest.raises(LookupError, match="nowhere"):
        transcribe(audio)
    tracks, _, messages = transcribe_folder(tmp_path / "stems", on_message=lambda m: None)
    assert tracks == {} and any("nowhere" in m for m in messages)
    assert transcribe(audio, models_dir=models)[0] == want  # the argument wins over the variable
    assert transcribe_folder(tmp_path / "stems", models)[0] == {"bass": want}


def test_frame_notes_travel_with_the_model_and_the_caller_can_turn_them_off(tmp_path, monkeypatch, capsys):
    """A stand-in whose onset head never fires (a swell it cannot place): the model's
    decoding.json decides whether its sustained sine is a note, on every path."""
    from helpers_standin import FE as SFE, SR, StandIn, sine
    from midi_extractor.infer.engine import LoadedModel

    class Swelling(StandIn):
        def logits_from_features(self, feats):
            out = super().logits_from_features(feats)
            out["onset"] = torch.full_like(out["onset"], -12.0)
            return out

    def fake_load(path, device=None, runtime=None):
        return LoadedModel(Swelling(SFE, SFE.n_pitches), SFE, None, "strings_ensemble", path,
                           decoding=read_model_decoding(path))

    monkeypatch.setattr(engine, "load_model", fake_load)
    models = tmp_path / "models"
    (models / "strings_ensemble").mkdir(parents=True)
    (models / "strings_ensemble" / "best.pt").write_bytes(b"")
    audio = tmp_path / "strings.wav"
    x = sine(69, 0.5, 2.5, 3.0)
    sf.write(audio, x, SR)
    (models / "strings_ensemble" / "decoding.json").write_text(json.dumps({"frame_note_threshold": None}))
    assert transcribe(audio, models_dir=models)[0] == []
    (models / "strings_ensemble" / "decoding.json").write_text(json.dumps({"frame_note_threshold": 0.9}))
    notes, _ = transcribe(audio, models_dir=models)
    assert [n.pitch for n in notes] == [69] and abs(notes[0].start_s - 0.5) <= SFE.hop_s
    assert abs(notes[0].end_s - 2.5) <= 2 * SFE.hop_s
    assert transcribe(x, "strings_ensemble", models, sample_rate_hz=SR)[0] == notes   # an array, whole
    assert transcribe(audio, models_dir=models, frame_note_threshold="off")[0] == []
    assert transcribe(x, "strings_ensemble", models, sample_rate_hz=SR, frame_note_threshold="off")[0] == []
    out = tmp_path / "out"
    assert main(["transcribe", str(audio), "--models-dir", str(models), "-o", str(out), "--no-tempo",
                 "--save-note-events", "--frame-note-threshold", "off"]) == 0
    assert read_note_events(out / "strings.notes.csv") == []
    with pytest.raises(SystemExit):
        main(["transcribe", str(audio), "--models-dir", str(models), "--frame-note-threshold", "1.5"])
    assert "expected a probability between 0 and 1 (exclusive) or off, got '1.5'" in capsys.readouterr().err


def _found(notes, ref) -> int:
    return sum(any(n.pitch == r.pitch and abs(n.start_s - r.start) < 0.05 for n in notes) for r in ref)


def test_saturate_lets_the_shipped_pitched_base_hear_a_sine_bass(tmp_path, capsys):
    """The shipped pitched base in the bass slot, its decoding.json without a drive, hears none of a
    sine bass line; with saturate=1.5 nearly every note, from a file (streamed) and from an array.
    With ``"saturate": 1.5`` in its decoding.json (what evaluate writes for bass) that is the default
    of the API and the CLI, and 0 turns it off. A bad drive is refused naming the option."""
    import json
    import shutil

    from helpers_data import REPO

    models = tmp_path / "models"
    (models / "bass").mkdir(parents=True)
    shutil.copy(REPO / "bases" / "pitched.pt", models / "bass" / "best.pt")
    decoding = json.loads((REPO / "benchmarks" / "base_metrics" / "bass_decoding.json").read_text())
    (models / "bass" / "decoding.json").write_text(json.dumps({k: v for k, v in decoding.items() if k != "saturate"}))
    path, ref = sine_bass_track(tmp_path / "tones")
    assert len(ref) == 18
    plain, _ = transcribe(path, "bass", models_dir=models, runtime="torch")
    assert _found(plain, ref) <= 2
    driven, _ = transcribe(path, "bass", models_dir=models, runtime="torch", saturate=1.5)
    assert _found(driven, ref) >= 16 and len(driven) <= 20
    (models / "bass" / "decoding.json").write_text(json.dumps({**decoding, "saturate": 1.5}))
    x, rate = sf.read(path, dtype="float32")
    from_array, _ = transcribe(x, "bass", models_dir=models, sample_rate_hz=rate, runtime="torch")
    assert from_array == driven        # the array's own peak, the streamed file's first pass: the same notes
    folder = tmp_path / "stems"
    folder.mkdir()
    shutil.copy(path, folder / "bass.flac")
    tracks, _, _ = transcribe_folder(folder, models, runtime="torch")
    assert tracks["bass"] == driven
    from midi_extractor.infer.api import transcribe_stems
    assert transcribe_stems(folder, models, runtime="torch", saturate=0).drives == {"bass": 0.0}
    off, _ = transcribe(path, "bass", models_dir=models, runtime="torch", saturate=0)
    assert _found(off, ref) <= 2
    events = tmp_path / "out" / "S00.notes.csv"
    capsys.readouterr()
    assert main(["transcribe", str(path), "--stem", "bass", "-o", str(tmp_path / "out"), "--models-dir", str(models),
                 "--runtime", "torch", "--no-tempo", "--save-note-events"]) == 0
    assert len(read_note_events(events)) == len(driven)
    assert f"(bass {len(driven)} notes (heard saturated, drive 1.5); 120 BPM)" in capsys.readouterr().out
    assert main(["transcribe", str(path), "--stem", "bass", "-o", str(tmp_path / "out"), "--models-dir", str(models),
                 "--runtime", "torch", "--saturate", "0", "--no-tempo", "--save-note-events", "--overwrite"]) == 0
    assert len(read_note_events(events)) == len(plain)
    assert f"(bass {len(plain)} notes; 120 BPM)" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["transcribe", str(path), "--saturate", "-1", "--models-dir", str(models)])
    assert "saturate must be a number from 0 (off) to 20, got '-1'" in capsys.readouterr().err
    with pytest.raises(ValueError, match="saturate must be a number from 0 .off. to 20, got inf"):
        transcribe(path, "bass", models_dir=models, saturate=float("inf"))


def test_a_drive_per_stem(tmp_path, capsys):
    """saturate={stem: drive} (CLI: --saturate STEM=DRIVE) sets the drive of the stems it names;
    the others keep their model's. An unknown stem, or a bare DRIVE beside STEM=DRIVE pairs, is
    refused before any model runs."""
    import json
    import shutil

    from helpers_data import REPO
    from midi_extractor.infer.api import transcribe_stems

    models = tmp_path / "models"
    (models / "bass").mkdir(parents=True)
    shutil.copy(REPO / "bases" / "pitched.pt", models / "bass" / "best.pt")
    decoding = json.loads((REPO / "benchmarks" / "base_metrics" / "bass_decoding.json").read_text())
    (models / "bass" / "decoding.json").write_text(json.dumps({**decoding, "saturate": 1.5}))
    path, ref = sine_bass_track(tmp_path / "tones")
    folder = tmp_path / "stems"
    folder.mkdir()
    shutil.copy(path, folder / "bass.flac")
    off = transcribe_stems(folder, models, runtime="torch", saturate={"bass": 0})
    assert off.drives == {"bass": 0.0} and _found(off.tracks["bass"], ref) <= 2
    other = transcribe_stems(folder, models, runtime="torch", saturate={"synth_lead": 0})
    assert other.drives == {"bass": 1.5} and _found(other.tracks["bass"], ref) >= 16
    with pytest.raises(ValueError, match="saturate: unknown stem.s. flute; stems: bass, "):
        transcribe_stems(folder, models, saturate={"flute": 1.0})
    out = ["-o", str(tmp_path / "out"), "--models-dir", str(models), "--runtime", "torch", "--no-tempo"]
    assert main(["transcribe", str(folder), "--saturate", "bass=0", *out]) == 0
    assert f"(bass {len(off.tracks['bass'])} notes; 120 BPM)" in capsys.readouterr().out
    assert main(["transcribe", str(folder), "--saturate", "1.5", "--saturate", "bass=0", *out, "--overwrite"]) == 2
    assert "--saturate: give one DRIVE for every stem, or STEM=DRIVE pairs" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["transcribe", str(folder), "--saturate", "flute=1", *out])
    assert "saturate: unknown stem(s) flute" in capsys.readouterr().err
