"""Issue 24 item 2: one MLflow runs-table row holds a training run's params and its stem's
evaluate scores, in and out of domain; run names are readable and unique; no key is both a
param and a metric; artifacts of a local store live in the project's own folder."""
import json
import logging
import re

import pytest

mlflow = pytest.importorskip("mlflow")

from midi_extractor import tracking  # noqa: E402
from midi_extractor import run_context  # noqa: E402


@pytest.fixture
def store(tmp_path, monkeypatch):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("DVC_ROOT", str(tmp_path))  # the project root: mlartifacts/ goes here
    monkeypatch.delenv("MIDI_EXTRACTOR_TRACKING", raising=False)
    monkeypatch.delenv("DVC_EXP_NAME", raising=False)
    return mlflow.tracking.MlflowClient(uri)


def _train(tmp_path):
    """A real tiny training of bass (2 steps): its summary names its MLflow run."""
    from helpers_training import tiny_params, write_sine_set
    from midi_extractor.train.run import train

    index = write_sine_set(tmp_path / "set", n_tracks=2, seconds=2.0)
    params = tiny_params(epochs=1, steps_per_epoch=2, val_interval=2)
    return train(index, "bass", tmp_path / "models" / "bass", params, log_every=1, progress=False)


def _evaluate(tmp_path, monkeypatch):
    from midi_extractor.config import Params
    from midi_extractor.evaluate.run import evaluate
    from midi_extractor.infer import engine
    from helpers_standin import FE, PITCHED, Graded, eval_index

    monkeypatch.setattr(engine, "load_model",
                        lambda path, *_, **__: engine.LoadedModel(Graded(FE, FE.n_pitches), FE, None, "bass", path))
    models = tmp_path / "models" / "bass"
    index = eval_index(tmp_path, PITCHED)
    return evaluate("bass", index, models / "best.pt", "test", tmp_path / "bass.json", Params(),
                    summary_path=models / "summary.json", decoding_out=tmp_path / "decoding.json")


def test_the_training_run_row_holds_lr_and_both_domains_onset_f1(tmp_path, store, monkeypatch):
    monkeypatch.setenv("DVC_EXP_NAME", "lr-3e-3")
    summary = _train(tmp_path)
    metrics = _evaluate(tmp_path, monkeypatch)
    run = store.get_run(summary["mlflow_run_id"])
    assert run.info.run_name == "train-bass-lr-3e-3" and run.info.status == "FINISHED"
    assert run.data.params["train.lr"] == "0.003"
    got = run.data.metrics
    assert got["eval.in_domain.onset_f1"] == pytest.approx(metrics["in_domain"]["onset_f1"])
    assert got["eval.out_of_domain.onset_f1"] == pytest.approx(metrics["out_of_domain"]["onset_f1"])
    assert got["eval.onset_f1"] == pytest.approx(metrics["onset_f1"])
    assert got["eval.onset_threshold"] == pytest.approx(metrics["decoding"]["onset_threshold"])
    assert metrics["in_domain"]["onset_f1"] != metrics["out_of_domain"]["onset_f1"]  # two distinct columns
    (evaluation,) = store.search_runs([run.info.experiment_id], "tags.kind = 'evaluate'")
    assert evaluation.info.run_name == "evaluate-bass-lr-3e-3"
    assert run.data.tags["eval_run_id"] == evaluation.info.run_id
    assert evaluation.data.tags["mlflow.parentRunId"] == run.info.run_id
    both = set(evaluation.data.params) & set(evaluation.data.metrics)
    assert not both and "decoding.validation_onset_f1" not in evaluation.data.params
    assert evaluation.data.params["decoding.onset_threshold"] == str(metrics["decoding"]["onset_threshold"])
    assert evaluation.data.metrics["validation_onset_f1"] == pytest.approx(metrics["decoding"]["validation_onset_f1"])

    # the saved view the README's URL opens: its columns are the training run's own keys
    view = json.loads(store.get_experiment(run.info.experiment_id).tags["mlflow.sharedViewState.onset-f1"])
    columns = [re.fullmatch(r"(\w+)\.`(.+)`", c).groups() for c in view["selectedColumns"]]
    data = {"metrics": run.data.metrics, "params": run.data.params, "tags": run.data.tags}
    assert [(kind, key) for kind, key in columns if key not in data[kind]] == []
    assert {"train.lr", "eval.in_domain.onset_f1", "eval.out_of_domain.onset_f1", "dvc_exp"} <= {k for _, k in columns}
    assert view["orderByKey"] == "metrics.`eval.out_of_domain.onset_f1`"
    assert [r.info.run_id for r in store.search_runs([run.info.experiment_id], view["searchFilter"])] == \
        [run.info.run_id]


def test_run_names_are_unique_and_readable(tmp_path, store, monkeypatch):
    monkeypatch.setattr(run_context, "git_commit", lambda root=None: "0123456789abcdef")
    first = tracking.start_run("exp", "train-bass")
    second = tracking.start_run("exp", "train-bass")
    monkeypatch.setenv("DVC_EXP_NAME", "wide-lr")
    third = tracking.start_run("exp", "train-bass")
    names = [store.get_run(t.run_id).info.run_name for t in (first, second, third)]
    assert names == ["train-bass-0123456", "train-bass-0123456-2", "train-bass-wide-lr"]
    again = tracking.start_run("exp", "train-bass", run_id=first.run_id)  # a resumed run keeps its name
    assert again.run_id == first.run_id and store.get_run(first.run_id).info.run_name == "train-bass-0123456"


def test_artifacts_live_in_the_project_not_at_an_absolute_path(tmp_path, store, monkeypatch):
    import sqlite3

    tracker = tracking.start_run("exp", "train-bass")
    note = tmp_path / "summary.json"
    note.write_text("{}")
    tracker.log_artifact(note)
    tracker.end()
    run = store.get_run(tracker.run_id)
    assert run.info.artifact_uri == f"mlflow-artifacts:/exp/{tracker.run_id}/artifacts"
    assert (tmp_path / "mlartifacts" / "exp" / tracker.run_id / "artifacts" / "summary.json").read_text() == "{}"
    with sqlite3.connect(tmp_path / "mlflow.db") as db:
        stored = [row[0] for row in db.execute("SELECT artifact_location FROM experiments WHERE name = 'exp'")]
    assert stored == ["mlflow-artifacts:/exp"] and str(tmp_path) not in stored[0]

    # the same store in a copied clone: its artifacts go into the copy's folder
    clone = tmp_path / "clone"
    clone.mkdir()
    monkeypatch.setenv("DVC_ROOT", str(clone))
    tracking.resume_run(tracker.run_id).log_artifact(note, "again")
    assert (clone / "mlartifacts" / "exp" / tracker.run_id / "artifacts" / "again" / "summary.json").is_file()


def test_a_new_store_prints_no_table_creation_line(tmp_path, monkeypatch, capfd, caplog):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'fresh.db'}")
    monkeypatch.delenv("MIDI_EXTRACTOR_TRACKING", raising=False)
    with caplog.at_level(logging.INFO):
        tracker = tracking.start_run("exp", "train-bass")
    assert tracker.active
    out, err = capfd.readouterr()
    assert "Creating initial MLflow database tables" not in out + err + caplog.text
    assert "alembic" not in err + caplog.text
