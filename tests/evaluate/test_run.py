"""evaluate.run end to end with stand-in models on tiny sine / click data sets: thresholds chosen on
validation and written to decoding.json, in- and out-of-domain blocks with intervals, drums scored
on every reference class, octave recall, the per-track CSV and piano rolls worst first."""
import csv
import json
import logging
from dataclasses import replace

import numpy as np
import pytest
import soundfile as sf

from helpers_standin import FE, ONSET_P, PITCHED, SR, Graded, StandIn, eval_index
from midi_extractor import taxonomy as tx
from midi_extractor.config import DecodingConfig, Params
from midi_extractor.evaluate.run import evaluate
from midi_extractor.infer import engine


@pytest.fixture
def stand_in(monkeypatch):
    monkeypatch.setenv("MIDI_EXTRACTOR_TRACKING", "0")
    models = {}

    def load(path, device=None, runtime="auto"):
        kind = models.get("kind", "graded")
        if kind == "drums":
            return engine.LoadedModel(StandIn(FE, 4, drums=True), FE, tx.STEM_DRUM_CLASSES["drums"], "drums", path)
        return engine.LoadedModel(Graded(FE, FE.n_pitches), FE, None, "bass", path)

    monkeypatch.setattr(engine, "load_model", load)
    return models


def _auto():
    return replace(Params(), decoding=replace(DecodingConfig(), onset_threshold="auto", frame_threshold="auto"))




def test_thresholds_chosen_on_validation_and_both_domains_scored(tmp_path, stand_in, caplog):
    index = eval_index(tmp_path, PITCHED)
    out, dec = tmp_path / "metrics" / "bass.json", tmp_path / "models" / "bass" / "decoding.json"
    with caplog.at_level(logging.INFO, logger="midi_extractor.evaluate.run"):
        metrics = evaluate("bass", index, tmp_path / "best.pt", "test", out, _auto(), decoding_out=dec,
                           plots_dir=tmp_path / "plots")
    decoding = json.loads(dec.read_text())
    assert decoding["chosen_on"] == "validation" and decoding["validation_tracks"] == 1
    assert decoding["onset_threshold"] < ONSET_P and decoding["validation_onset_f1"] == 1.0
    assert {g["onset_f1"] for g in decoding["grid"] if g["onset_threshold"] > ONSET_P} == {0.0}
    assert set(decoding) >= {"onset_threshold", "frame_threshold", "min_note_s", "drum_note_s", "grid"}
    assert json.loads(out.read_text()) == metrics
    assert metrics["split"] == "test" and metrics["n_tracks"] == 4 and metrics["domain"] == "out_of_domain"
    ind, ood = metrics["in_domain"], metrics["out_of_domain"]
    assert (ind["n_tracks"], ind["n_ref_notes"], ind["onset_f1"], ind["ci95"]["onset_f1"]) == (2, 2, 1.0, [1.0, 1.0])
    assert (ood["n_tracks"], ood["n_ref_notes"], ood["onset_f1"]) == (2, 3, 0.8)
    assert ood["ci95"]["onset_f1"][0] < 0.8 <= ood["ci95"]["onset_f1"][1]
    assert metrics["onset_f1"] == ood["onset_f1"] and metrics["decoding"]["chosen_on"] == "validation"
    assert [(o["pitches"], o["n_ref_notes"], o["recall"]) for o in ood["by_octave"]] == [("C1-B1", 1, 0.0),
                                                                                       ("C4-B4", 2, 1.0)]
    assert [o["octave"] for o in ind["by_octave"]] == ["4", "5"]
    assert [(s["source"], s["n_tracks"]) for s in ind["by_source"]] == [("FluidR3", 1), ("TimGM6mb", 1)]
    assert [s["source"] for s in ood["by_source"]] == ["OPL3"]
    rows = list(csv.DictReader((tmp_path / "metrics" / "bass_tracks.csv").open()))
    assert [(r["track"], r["domain"], r["plugin_name"]) for r in rows] == [
        ("Track00002/S01", "in_domain", "TimGM6mb"), ("Track00003/S01", "in_domain", "FluidR3"),
        ("Track00004/S01", "out_of_domain", "OPL3"), ("Track00005/S01", "out_of_domain", "OPL3")]
    pngs = sorted(p.name for p in (tmp_path / "plots").glob("*.png"))
    assert len(pngs) == 4 and pngs[0] == "00_Track00005_S01.png"  # the worst first
    closing = caplog.records[-1].getMessage()
    assert closing.startswith(f"evaluate bass: onset threshold {decoding['onset_threshold']:.2f}")
    assert "in-domain 1.000 [1.000, 1.000] (2 tracks, 2 notes)" in closing and str(out) in closing


def test_fixed_thresholds_are_used_as_given(tmp_path, stand_in):
    index = eval_index(tmp_path, PITCHED[:3])
    params = replace(Params(), decoding=DecodingConfig(onset_threshold=0.5, frame_threshold=0.4))
    metrics = evaluate("bass", index, tmp_path / "best.pt", "test", tmp_path / "bass.json", params,
                       decoding_out=tmp_path / "decoding.json")
    decoding = json.loads((tmp_path / "decoding.json").read_text())
    assert decoding["chosen_on"] == "params" and decoding["onset_threshold"] == 0.5
    assert decoding["validation_onset_f1"] == 0.0 and len(decoding["grid"]) == 1
    assert metrics["onset_f1"] == 0.0 and metrics["domain"] == "in_domain"
    assert metrics["out_of_domain"] == {"n_tracks": 0, "n_ref_notes": 0}


def test_drums_scored_on_every_class_of_the_reference(tmp_path, stand_in):
    stand_in["kind"] = "drums"
    kick, hat = tx.DRUM_CLASS_PITCH["kick"], 42
    kit = [("Track00001", "test", None, "avl", [(60, 0.5, 0.6)], [(kick, 0.5, 0.6), (hat, 1.0, 1.1)])]
    index = eval_index(tmp_path, kit, stem="drums")
    metrics = evaluate("drums", index, tmp_path / "best.pt", "test", tmp_path / "drums.json", _auto(),
                       plots_dir=tmp_path / "plots")
    assert metrics["in_domain"]["onset_f1_by_class"] == {"kick": 1.0, "hihat": 0.0}
    assert [(c["class"], c["recall"]) for c in metrics["in_domain"]["by_class"]] == [("kick", 1.0), ("hihat", 0.0)]
    assert metrics["onset_f1"] == pytest.approx(2 / 3, abs=1e-4)  # the whole kit counts
    assert metrics["decoding"]["frame_threshold"] == 0.5
    row = next(csv.DictReader((tmp_path / "drums_tracks.csv").open()))
    assert row["onset_f1_kick"] == "1.0" and row["onset_f1_hihat"] == "0.0"


def test_a_broken_track_is_skipped_and_counted(tmp_path, stand_in, caplog):
    index = eval_index(tmp_path, PITCHED[:3])
    (tmp_path / "data" / "Track00002" / "stems" / "S01.wav").write_bytes(b"not audio")
    data = json.loads(index.read_text())
    data["entries"].append({**data["entries"][2], "track": "Track00009", "domain": "elsewhere"})
    nan = np.full(SR, np.nan, dtype=np.float32)
    (tmp_path / "data" / "Track00010" / "stems").mkdir(parents=True)
    sf.write(tmp_path / "data" / "Track00010" / "stems" / "S01.wav", nan, SR, subtype="FLOAT")
    data["entries"].append({**data["entries"][2], "track": "Track00010", "audio": "Track00010/stems/S01.wav",
                            "midi": "Track00003/MIDI/S01.mid"})
    index.write_text(json.dumps(data))
    metrics = evaluate("bass", index, tmp_path / "best.pt", "test", None, _auto())
    assert metrics["n_tracks"] == 1 and metrics["n_skipped"] == 3
    messages = " ".join(r.getMessage() for r in caplog.records)
    assert "Track00002/S01" in messages and "domain 'elsewhere' is not one of in_domain, out_of_domain" in messages
    assert "skipping Track00010/S01" in messages and "NaN" in messages
    index.write_text("{not json")
    with pytest.raises(ValueError, match="filtered_dataset_bass.json: not valid JSON"):
        evaluate("bass", index, tmp_path / "best.pt", "test", None, _auto())


def test_the_stems_drive_is_heard_in_validation_and_test_and_written_to_decoding_json(tmp_path, monkeypatch):
    """stems.bass.saturate: the shipped pitched base in the bass slot scores a sine bass line near 0
    without it and near 1 at 1.5, thresholds chosen and test scored alike; decoding.json and the
    metrics say the drive, so transcribe hears what evaluate scored."""
    import shutil

    from helpers_data import REPO, sine_bass_track
    from midi_extractor.config import StemConfig

    monkeypatch.setenv("MIDI_EXTRACTOR_TRACKING", "0")
    audio, _ = sine_bass_track(tmp_path / "tones")
    track = audio.parents[1]
    entry = {"track": track.name, "stem_id": "S00", "audio": f"{track.name}/stems/S00.flac",
             "midi": f"{track.name}/MIDI/S00.mid", "metadata": {"program_num": 38, "plugin_name": "sine"}}
    index = tmp_path / "filtered_dataset_bass.json"
    index.write_text(json.dumps({"stem": "bass", "dataset_root": str(track.parent), "entries": [
        {**entry, "split": "validation"}, {**entry, "split": "test"}]}))
    model = tmp_path / "models" / "bass" / "best.pt"
    model.parent.mkdir(parents=True)
    shutil.copy(REPO / "bases" / "pitched.pt", model)
    scores = {}
    for drive in (0.0, 1.5):
        params = replace(Params(), stems={"bass": StemConfig(role="melodic", saturate=drive)})
        metrics = evaluate("bass", index, model, "test", tmp_path / f"bass_{drive}.json", params,
                           decoding_out=model.parent / "decoding.json", n_resamples=10)
        decoding = json.loads((model.parent / "decoding.json").read_text())
        assert decoding["saturate"] == drive == metrics["decoding"]["saturate"]
        scores[drive] = (decoding["validation_onset_f1"], metrics["onset_f1"])
    assert max(scores[0.0]) <= 0.2 and min(scores[1.5]) >= 0.85
    assert engine.load_model(model, runtime="torch").saturate == 1.5
