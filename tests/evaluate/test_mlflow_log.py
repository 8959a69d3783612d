"""evaluate's MLflow run, read back from a real SQLite store: every evaluation is a new run nested
under the training run (standalone when the store lacks it); a second evaluation with other
thresholds (named -2) leaves the first one's metrics and the training run's params untouched, and
its scores become the latest eval.* values on the training run."""
import json
from dataclasses import replace

import mlflow
import pytest

from midi_extractor.config import DecodingConfig, Params
from midi_extractor.evaluate.mlflow_log import metric_items
from midi_extractor.evaluate.run import evaluate
from midi_extractor.infer import engine
from helpers_standin import FE, PITCHED, Graded, eval_index


def test_re_evaluation_is_a_new_run_and_keeps_the_first(tmp_path, monkeypatch):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("DVC_EXP_NAME", "lucky-lr")
    monkeypatch.delenv("MIDI_EXTRACTOR_TRACKING", raising=False)
    monkeypatch.setattr(engine, "load_model",
                        lambda path, *_, **__: engine.LoadedModel(Graded(FE, FE.n_pitches), FE, None, "bass", path))
    client = mlflow.tracking.MlflowClient(uri)
    exp_id = client.create_experiment("midi-extractor", artifact_location=(tmp_path / "artifacts").as_uri())
    train = client.create_run(exp_id, run_name="train-bass", tags={"stem": "bass"})
    client.log_metric(train.info.run_id, "val_onset_f1", 0.7, step=100)
    client.set_terminated(train.info.run_id)
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "summary.json").write_text(json.dumps({"mlflow_run_id": train.info.run_id}))
    index = eval_index(tmp_path, PITCHED)
    ids = []
    for onset in (0.3, 0.5):
        params = replace(Params(), decoding=DecodingConfig(onset_threshold=onset, frame_threshold=0.4))
        evaluate("bass", index, tmp_path / "models" / "best.pt", "test", tmp_path / f"bass{onset}.json", params,
                 decoding_out=tmp_path / "models" / "decoding.json")
        runs = client.search_runs([exp_id], "tags.kind = 'evaluate'", order_by=["attributes.start_time DESC"])
        ids.append(runs[0].info.run_id)
    first, second = (client.get_run(i) for i in ids)
    assert ids[0] != ids[1] != train.info.run_id
    assert [first.info.run_name, second.info.run_name] == ["evaluate-bass-lucky-lr", "evaluate-bass-lucky-lr-2"]
    for run in (first, second):
        assert run.data.tags["mlflow.parentRunId"] == train.info.run_id and run.data.tags["stem"] == "bass"
    assert first.data.params["decoding.onset_threshold"] == "0.3"
    assert second.data.params["decoding.onset_threshold"] == "0.5"
    assert first.data.metrics["onset_f1"] == 0.8 and second.data.metrics["onset_f1"] == 0.0
    assert first.data.metrics["in_domain.onset_f1"] == 1.0
    assert first.data.metrics["out_of_domain.onset_f1_ci95_high"] >= 0.8
    assert [m.value for m in client.get_metric_history(ids[0], "onset_f1")] == [0.8]
    trained = client.get_run(train.info.run_id).data
    assert trained.metrics["val_onset_f1"] == 0.7 and "decoding.onset_threshold" not in trained.params
    assert trained.metrics["eval.onset_f1"] == 0.0 and trained.metrics["eval.onset_threshold"] == 0.5  # the latest
    assert [m.value for m in client.get_metric_history(train.info.run_id, "eval.onset_f1")] == [0.8, 0.0]
    assert trained.tags["eval_run_id"] == ids[1]
    names = {a.path for a in client.list_artifacts(ids[0], "evaluation")}
    assert {"evaluation/bass0.3.json", "evaluation/decoding.json", "evaluation/bass0.3_tracks.csv"} <= names

    # a training run this store does not hold: a standalone evaluation run
    (tmp_path / "other.json").write_text(json.dumps({"mlflow_run_id": "0123456789abcdef"}))
    evaluate("bass", index, tmp_path / "models" / "best.pt", "test", None, Params(),
             summary_path=tmp_path / "other.json")
    (alone,) = [r for r in client.search_runs([exp_id], "tags.kind = 'evaluate'") if r.info.run_id not in ids]
    assert "mlflow.parentRunId" not in alone.data.tags and alone.data.tags["training_run_id"] == "0123456789abcdef"


def test_metric_items_name_every_number_for_mlflow():
    block = {"n_tracks": 2, "onset_f1": 0.5, "onset_f1_by_class": {"kick": 1.0}, "ci95": {"onset_f1": [0.4, 0.6]},
             "precision_recall": {"onset": [0.7, 0.3]}, "by_class": [{"class": "kick", "recall": 0.9}],
             "by_octave": [{"octave": "1", "recall": 0.2}],
             "by_source": [{"source": "Fluid R3 (GM)", "n_tracks": 2, "onset_f1": 0.5, "frame_f1": 0.1}]}
    got = metric_items({"stem": "bass", "onset_f1": 0.5, "n_tracks": 2,
                        "decoding": {"onset_threshold": 0.3, "chosen_on": "validation", "validation_onset_f1": 0.8},
                        "in_domain": block, "out_of_domain": {"n_tracks": 0}})
    assert got == pytest.approx({
        "onset_f1": 0.5, "n_tracks": 2, "decoding.onset_threshold": 0.3, "validation_onset_f1": 0.8,
        "in_domain.n_tracks": 2, "in_domain.onset_f1": 0.5, "in_domain.onset_f1_kick": 1.0,
        "in_domain.onset_f1_ci95_low": 0.4, "in_domain.onset_f1_ci95_high": 0.6, "in_domain.onset_precision": 0.7,
        "in_domain.onset_recall": 0.3, "in_domain.recall_kick": 0.9, "in_domain.recall_octave_1": 0.2,
        "in_domain.source.Fluid R3 _GM_.onset_f1": 0.5, "in_domain.source.Fluid R3 _GM_.frame_f1": 0.1,
        "in_domain.source.Fluid R3 _GM_.n_tracks": 2, "out_of_domain.n_tracks": 0})


def test_an_unreachable_server_leaves_the_evaluation_standing(tmp_path, monkeypatch):
    import time

    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:9")  # nothing listens on the discard port
    monkeypatch.delenv("MIDI_EXTRACTOR_TRACKING", raising=False)
    monkeypatch.setattr(engine, "load_model",
                        lambda path, *_, **__: engine.LoadedModel(Graded(FE, FE.n_pitches), FE, None, "bass", path))
    (tmp_path / "summary.json").write_text(json.dumps({"mlflow_run_id": "0123456789abcdef"}))
    start = time.monotonic()
    metrics = evaluate("bass", eval_index(tmp_path, PITCHED[:2]), tmp_path / "best.pt", "test", tmp_path / "m.json",
                       Params(), summary_path=tmp_path / "summary.json")
    assert time.monotonic() - start < 30 and json.loads((tmp_path / "m.json").read_text()) == metrics
