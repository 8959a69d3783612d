"""evaluation: score_notes identities and agreement with mir_eval, split fallback."""
import math

import mir_eval
import numpy as np
import pytest

from midi_extractor import taxonomy as tx
from midi_extractor.model.decoding import Note
from midi_extractor.evaluate.scoring import METRIC_KEYS, mean_metrics, notes_to_frames, score_notes, select_entries
from midi_extractor.midi_io import notes_to_arrays

rng = np.random.default_rng(0)
REF = sorted(Note(float(s), float(s + d), int(p), int(v)) for s, d, p, v in zip(
    np.round(rng.uniform(0, 10, 40), 3), np.round(rng.uniform(0.1, 0.8, 40), 3),
    rng.integers(40, 80, 40), rng.integers(30, 120, 40)))


def shifted(notes, dt):
    return [Note(n.start_s + dt, n.end_s + dt, n.pitch, n.velocity) for n in notes]


def test_reference_against_itself_is_perfect():
    scores = score_notes(REF, REF)
    for key in METRIC_KEYS:
        assert scores[key] == pytest.approx(1.0), key


def test_shifted_copy_matches_mir_eval_exactly():
    est = shifted(REF, 0.1)
    scores = score_notes(REF, est, hop_s=0.01)
    ri, rp, rv = notes_to_arrays(REF)
    ei, ep, ev = notes_to_arrays(est)
    on = mir_eval.transcription.precision_recall_f1_overlap(ri, rp, ei, ep, offset_ratio=None)
    assert (scores["onset_precision"], scores["onset_recall"], scores["onset_f1"]) == tuple(map(float, on[:3]))
    assert scores["onset_offset_f1"] == float(mir_eval.transcription.precision_recall_f1_overlap(ri, rp, ei, ep)[2])
    assert scores["onset_offset_velocity_f1"] == float(
        mir_eval.transcription_velocity.precision_recall_f1_overlap(ri, rp, rv, ei, ep, ev)[2])
    n = int(math.ceil(max(n.end_s for n in est) / 0.01)) + 1
    mp = mir_eval.multipitch.metrics(*notes_to_frames(REF, 0.01, n), *notes_to_frames(est, 0.01, n))
    assert scores["frame_precision"] == float(mp[0]) and scores["frame_recall"] == float(mp[1])
    assert scores["onset_f1"] == 0.0  # 100 ms is outside the 50 ms window
    assert 0.0 < scores["frame_f1"] < 1.0


def test_small_shift_within_tolerance_keeps_onsets():
    assert score_notes(REF, shifted(REF, 0.03))["onset_f1"] == 1.0


def test_empty_estimate_scores_zero():
    scores = score_notes(REF, [])
    assert all(scores[k] == 0.0 for k in METRIC_KEYS)


def test_drum_classes_score_separately():
    kick, snare = tx.DRUM_CLASS_PITCH["kick"], tx.DRUM_CLASS_PITCH["snare"]
    ref = [Note(t, t + 0.1, kick, 100) for t in (0.0, 1.0, 2.0)] + [Note(0.5, 0.6, snare, 100)]
    est = [Note(t, t + 0.1, kick, 100) for t in (0.0, 1.0, 2.0)] + [Note(1.5, 1.6, snare, 100)]
    scores = score_notes(ref, est, drum_classes=tx.STEM_DRUM_CLASSES["drums"])
    assert scores["onset_f1_kick"] == 1.0 and scores["onset_f1_snare"] == 0.0
    assert math.isnan(scores["onset_f1_toms"])
    assert scores["onset_f1"] == pytest.approx(0.75)
    means = mean_metrics([scores, {**scores, "onset_f1_toms": 0.5}], ["onset_f1_kick", "onset_f1_toms"])
    assert means == {"onset_f1_kick": 1.0, "onset_f1_toms": 0.5}


def test_split_falls_back_to_validation_then_train():
    index = {"stem": "bass", "entries": [{"split": "train", "track": "a"}, {"split": "validation", "track": "b"}]}
    assert select_entries(index, "test") == ("validation", [index["entries"][1]])
    assert select_entries(index, "train") == ("train", [index["entries"][0]])
    index["entries"].pop(1)
    import zlib

    name = next(f"T{i}" for i in range(100) if zlib.crc32(f"T{i}".encode()) % 100 >= 10)
    single = {"stem": "bass", "entries": [{"split": "train", "track": name}]}
    assert select_entries(single, "test")[0] == "train"  # one train track, not held out: all there is
    many = {"stem": "bass", "entries": [{"split": "train", "track": f"Track{i:05d}"} for i in range(40)]}
    used, chosen = select_entries(many, "test")
    assert used == "train_holdout" and 0 < len(chosen) < 40  # the trainer's own validation tracks
    with pytest.raises(ValueError, match="no entries"):
        select_entries({"stem": "bass", "entries": []}, "test")


# ------------------------------------------------------------ evaluate() end to end, stand-in model
def _dataset(tmp_path, stem="bass", split="validation"):
    import json

    import pretty_midi
    import soundfile as sf

    from test_inference import SR, sine

    root = tmp_path / "data"
    entries = []
    for k, (pitch, start, end) in enumerate([(69, 0.5, 1.2), (81, 0.3, 0.9)]):
        track = root / f"Track0000{k}"
        (track / "stems").mkdir(parents=True)
        (track / "MIDI").mkdir()
        sf.write(track / "stems" / "S01.wav", sine(pitch, start, end, 2.0), SR)
        midi = pretty_midi.PrettyMIDI()
        inst = pretty_midi.Instrument(33)
        inst.notes.append(pretty_midi.Note(100, pitch, start, end))
        midi.instruments.append(inst)
        midi.write(str(track / "MIDI" / "S01.mid"))
        entries.append({"track": track.name, "stem_id": "S01", "split": split,
                        "audio": f"{track.name}/stems/S01.wav", "midi": f"{track.name}/MIDI/S01.mid",
                        "metadata": {"program_num": 33}})
    index = tmp_path / f"filtered_dataset_{stem}.json"
    index.write_text(json.dumps({"stem": stem, "taxonomy_version": 1, "dataset_root": str(root), "entries": entries}))
    return index


def test_evaluate_writes_metrics_tracks_and_plots(tmp_path, monkeypatch):
    import json

    from midi_extractor.infer import engine as inference
    from midi_extractor.config import Params
    from midi_extractor.evaluate.scoring import evaluate
    from test_inference import FE, StandIn

    monkeypatch.setenv("MIDI_EXTRACTOR_TRACKING", "0")
    monkeypatch.setattr(inference, "load_model",
                        lambda path: inference.LoadedModel(StandIn(FE, FE.n_pitches), FE, None, "bass", path))
    index = _dataset(tmp_path)
    out = tmp_path / "metrics" / "bass.json"
    metrics = evaluate("bass", index, tmp_path / "best.pt", "test", out, Params(), plots_dir=tmp_path / "plots")
    assert json.loads(out.read_text()) == metrics
    assert metrics["split"] == "validation" and metrics["requested_split"] == "test" and metrics["n_tracks"] == 2
    assert metrics["onset_f1"] == 1.0 and metrics["frame_f1"] > 0.8
    assert set(METRIC_KEYS) <= set(metrics)
    rows = (tmp_path / "metrics" / "bass_tracks.csv").read_text().splitlines()
    assert len(rows) == 3 and rows[0].startswith("track,")
    assert len(list((tmp_path / "plots").glob("*.png"))) == 2


def test_evaluate_continues_the_training_mlflow_run(tmp_path, monkeypatch):
    import json

    import mlflow

    from midi_extractor.infer import engine as inference
    from midi_extractor.config import Params
    from midi_extractor.evaluate.scoring import evaluate
    from test_inference import FE, StandIn

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.delenv("MIDI_EXTRACTOR_TRACKING", raising=False)
    monkeypatch.setattr(inference, "load_model",
                        lambda path: inference.LoadedModel(StandIn(FE, FE.n_pitches), FE, None, "bass", path))
    mlflow.set_tracking_uri(uri)
    mlflow.create_experiment("midi-extractor", artifact_location=(tmp_path / "artifacts").as_uri())
    mlflow.set_experiment("midi-extractor")
    with mlflow.start_run(tags={"stem": "bass"}) as run:
        mlflow.log_metric("loss_total", 1.0)
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "summary.json").write_text(json.dumps({"mlflow_run_id": run.info.run_id}))
    evaluate("bass", _dataset(tmp_path, split="test"), tmp_path / "models" / "best.pt", "test",
             tmp_path / "bass.json", Params())
    data = mlflow.tracking.MlflowClient(uri).get_run(run.info.run_id).data
    assert data.metrics["onset_f1"] == 1.0 and data.metrics["n_tracks"] == 2
    assert data.tags["eval_split"] == "test"
