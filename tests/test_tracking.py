"""MLflow tracking: a sqlite store in tmp_path, read back with MlflowClient."""
from __future__ import annotations

import json

import pytest

from midi_extractor import tracking, tracking_store
from midi_extractor.run_context import flatten


@pytest.fixture
def store(tmp_path, monkeypatch):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.delenv("MIDI_EXTRACTOR_TRACKING", raising=False)
    monkeypatch.setenv("DVC_STAGE", "train@bass")
    monkeypatch.chdir(tmp_path)  # artifacts land under ./mlartifacts of this folder
    return uri


def test_flatten():
    assert flatten({"a": {"b": 1, "c": {"d": None}}, "e": [1, 2], "f": {}}) == \
        {"a.b": 1, "a.c.d": None, "e": [1, 2], "f": "{}"}


def test_run_logs_params_metrics_tags_and_resumes(store, tmp_path):
    from mlflow.tracking import MlflowClient

    t = tracking.start_run("exp-test", "train-bass", {"stem": "bass", "role": "melodic"}, flush_every=3)
    assert t.active
    t.log_params({"train": {"lr": 3e-05, "batch_size": 16}, "stem": "bass"})
    for step in range(1, 6):
        t.log_metrics({"loss_total": 1.0 / step, "note": "skipped", "nan": float("nan")}, step)
    ckpt = tmp_path / "best.pt"
    ckpt.write_bytes(b"weights")
    summary = tmp_path / "summary.json"
    summary.write_text(json.dumps({"mlflow_run_id": t.run_id}))
    t.log_artifact(summary)
    t.log_checkpoint_ref(ckpt, "best")
    t.end()
    client = MlflowClient(store)
    run = client.get_run(t.run_id)
    assert run.info.status == "FINISHED"
    assert run.data.params["train.lr"] == "3e-05" and run.data.params["train.batch_size"] == "16"
    assert run.data.tags["stem"] == "bass" and run.data.tags["role"] == "melodic"
    assert run.data.tags["dvc_stage"] == "train@bass" and "sys.cpu" in run.data.tags
    experiment = client.get_experiment(run.info.experiment_id)
    assert experiment.tags.get("mlflow.experimentKind") == "custom_model_development"  # UI opens on runs
    import hashlib

    assert run.data.tags["checkpoint.best.sha256"] == hashlib.sha256(b"weights").hexdigest()
    history = client.get_metric_history(t.run_id, "loss_total")
    assert [m.step for m in history] == [1, 2, 3, 4, 5] and history[-1].value == pytest.approx(0.2)
    assert "nan" not in run.data.metrics and "note" not in run.data.metrics
    folder = tracking_store.local_artifact_dir(run.info.artifact_uri)  # <root>/mlartifacts/..., served by `mlflow ui`
    names = {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()}
    assert "summary.json" in names and "checkpoints/best.json" in names

    again = tracking.resume_run(tracking.run_id_from_summary(summary))
    again.log_metrics({"onset_f1": 0.75}, 0, flush=True)
    again.end()
    assert client.get_run(t.run_id).data.metrics["onset_f1"] == 0.75


def test_tracking_off_and_failures_are_not_fatal(monkeypatch, tmp_path, caplog):
    monkeypatch.setenv("MIDI_EXTRACTOR_TRACKING", "0")
    t = tracking.start_run("x", "y")
    assert not t.active
    t.log_metrics({"a": 1.0}, 1, flush=True)
    t.end()
    monkeypatch.setenv("MIDI_EXTRACTOR_TRACKING", "1")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "bogus-scheme://nowhere")
    t = tracking.start_run("x", "y")
    assert not t.active and "non-fatal" in caplog.text
    assert not tracking.resume_run("0123").active


def test_training_run_is_tracked(store, tmp_path):
    from mlflow.tracking import MlflowClient

    from midi_extractor.train.run import train
    from helpers_training import tiny_params, write_sine_set

    index = write_sine_set(tmp_path / "set", n_tracks=2, seconds=2.0)
    params = tiny_params(epochs=1, steps_per_epoch=2, val_interval=2)
    summary = train(index, "bass", tmp_path / "models" / "bass", params, log_every=1, progress=False)
    run = MlflowClient(store).get_run(summary["mlflow_run_id"])
    assert json.loads((tmp_path / "models" / "bass" / "summary.json").read_text())["mlflow_run_id"] == run.info.run_id
    assert run.data.params["train.lr"] == "0.003" and run.data.params["stem"] == "bass"
    assert run.data.tags["stem"] == "bass" and run.data.tags["role"] == "melodic"
    assert {"loss_total", "val_loss_total", "val_onset_f1", "lr", "throughput_clips_per_s"} <= set(run.data.metrics)
    assert run.info.status == "FINISHED"
