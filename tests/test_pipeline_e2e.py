"""End to end: the real dvc.yaml in a temporary git repository with tiny params.

Runs `dvc repro` (generate -> index -> filter -> train -> evaluate for two stems), checks the
metrics files, that a second `dvc repro` runs nothing, that `dvc exp run -S stems.bass.lr=3e-5`
reruns exactly train@bass, evaluate@bass and export@bass, and reads the MLflow runs back from a real
`mlflow server` on loopback.
"""
from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from helpers_dvc import init_committed_repo, project_env
from midi_extractor.infer.onnx_runtime import find_export
from helpers_dvc import run as _run
from helpers_dvc import stages_run as _stages_run

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow

_TINY_TRAIN = {"lr": 1.0e-3, "epochs": 1, "steps_per_epoch": 3, "batch_size": 2, "clip_seconds": 2.0,
               "val_interval": 3, "songs": 0}
TINY_PARAMS_OVERRIDES = {
    "dataset": {"kind": "generated", "root": "data/generated", "tracks": 6, "seconds": 6.0, "seed": 3,
                "validation_tracks": 1, "test_tracks": 2, "effects": 0.5, "bass_labels_octave_down": "auto",
                "calibration_tracks": 1, "calibration_sources": ["FreePats", "H2_Colombo"]},
    "stem_songs": {"count": 1, "seed": 6, "double_triads": True},
    "pretrain": {
        "pitched": {"stems": ["bass"], "role": "harmonic", **_TINY_TRAIN, "songs": 1, "songs_seed": 4,
                    "double_triads": False, "sub_bass_songs": 0, "sample_rate_hz": None, "n_fft": None,
                    "rebuild": "auto"},
        "percussive": {"stems": ["drums"], "role": "percussive", "drum_stem": "drums", **_TINY_TRAIN, "songs": 0,
                       "songs_seed": 5, "double_triads": False, "sub_bass_songs": 0, "sample_rate_hz": None,
                       "n_fft": None, "rebuild": "auto"},
    },
    "stems": {
        "bass": {"role": "melodic", "base": "pitched", **_TINY_TRAIN, "songs": 1},   # the one shared song
        "drums": {"role": "percussive", "base": "percussive", **_TINY_TRAIN},
    },
}


def _tiny_dvc_yaml(text: str) -> str:
    """The real dvc.yaml with each base's deps cut to the tiny params' stems, and without the
    bases the tiny params do not have."""
    data = yaml.safe_load(text)
    bases = TINY_PARAMS_OVERRIDES["pretrain"]
    for name in [n for n in data["stages"] if n.startswith("pretrain-") and n[len("pretrain-"):] not in bases]:
        del data["stages"][name]
    songs = data["stages"]["base_songs"]
    songs["params"] = [p for p in songs["params"] if not p.startswith("pretrain.") or p.split(".")[1] in bases]
    for base, cfg in bases.items():
        stage = data["stages"][f"pretrain-{base}"]
        stage.pop("frozen", None)  # the real bases ship in git; the tiny project trains its own
        stage["deps"] = [d for d in stage["deps"] if not d.startswith("data/")] + [
            f"data/prepared/{s}" for s in cfg["stems"]] + [f"data/pretrain/{base}"]
    return yaml.safe_dump(data, sort_keys=False)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def mlflow_server(tmp_path_factory):
    root = tmp_path_factory.mktemp("mlflow")
    port = _free_port()
    mlflow_bin = Path(sys.executable).with_name("mlflow")
    proc = subprocess.Popen(
        [str(mlflow_bin), "server", "--host", "127.0.0.1", "--port", str(port),
         "--backend-store-uri", f"sqlite:///{root}/mlflow.db", "--artifacts-destination", str(root / "artifacts"),
         "--workers", "1"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    uri = f"http://127.0.0.1:{port}"
    deadline = time.time() + 90
    import urllib.request
    while time.time() < deadline:
        try:
            urllib.request.urlopen(f"{uri}/health", timeout=2)
            break
        except OSError:
            if proc.poll() is not None:
                pytest.fail("mlflow server exited at start")
            time.sleep(0.5)
    else:
        proc.kill()
        pytest.fail("mlflow server did not start in 90 s")
    yield uri
    proc.terminate()
    proc.wait(timeout=20)


@pytest.fixture(scope="module")
def project(tmp_path_factory, mlflow_server):
    work = tmp_path_factory.mktemp("project")
    shutil.copy(REPO / ".dvcignore", work / ".dvcignore")
    (work / "dvc.yaml").write_text(_tiny_dvc_yaml((REPO / "dvc.yaml").read_text()))
    for folder in ("stages", "midi_extractor"):
        shutil.copytree(REPO / folder, work / folder, ignore=shutil.ignore_patterns("__pycache__"))
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params.update(TINY_PARAMS_OVERRIDES)
    (work / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    (work / ".gitignore").write_text((REPO / ".gitignore").read_text())
    env = project_env(MLFLOW_TRACKING_URI=mlflow_server)
    env.pop("MIDI_EXTRACTOR_TRACKING", None)
    init_committed_repo(work, env)
    first = _run(["dvc", "repro"], work, env)
    return work, env, first


def test_repro_runs_every_stage_and_writes_metrics(project):
    work, _, first = project
    expected = ({"synth", "base_songs", "stem_songs", "pretrain-pitched", "pretrain-percussive"}
                | {f"{s}@{k}" for s in ("index", "filter", "prepare", "train", "evaluate", "export")
                   for k in ("bass", "drums")})
    assert _stages_run(first) == expected
    for stem in ("bass", "drums"):
        metrics = json.loads((work / "metrics" / f"{stem}.json").read_text())
        assert metrics["stem"] == stem
        assert metrics["n_tracks"] >= 1
        for domain in ("in_domain", "out_of_domain"):
            block = metrics[domain]
            assert block["n_tracks"] >= 1, (stem, domain)
            for key in ("onset_f1", "onset_offset_f1", "frame_f1"):
                assert 0.0 <= block[key] <= 1.0, (stem, domain, key, block[key])
        rows = (work / "metrics" / f"{stem}_tracks.csv").read_text().splitlines()
        assert len(rows) == metrics["n_tracks"] + 1
        decoding = json.loads((work / "models" / stem / "decoding.json").read_text())
        assert find_export(work / "models" / stem / "best.pt") is not None  # export@<stem>: current
        assert decoding["chosen_on"] == "validation" and 0.0 < decoding["onset_threshold"] < 1.0
        # validation holds the calibration track (sources training never hears) beside the heard one
        filtered = json.loads((work / "data" / "index" / f"filtered_dataset_{stem}.json").read_text())
        validation = [e["metadata"] for e in filtered["entries"] if e["split"] == "validation"]
        unheard = [m for m in validation if m["domain"] == "out_of_domain"]
        heard_from = [m["plugin_name"].split(":")[0] for m in unheard]   # FreePats plays pitched parts and its kit
        if stem == "bass":
            assert heard_from == ["FreePats"]
        else:
            assert heard_from in (["FreePats"], ["H2_Colombo"])
        assert decoding["validation_tracks"] == len(validation)
    drums = json.loads((work / "metrics" / "drums.json").read_text())
    assert {"kick", "snare"} <= {c["class"] for c in drums["in_domain"]["by_class"]}
    index = json.loads((work / "data" / "index" / "filtered_dataset_bass.json").read_text())
    assert index["stem"] == "bass" and index["entries"]
    assert all(32 <= e["metadata"]["program_num"] <= 39 for e in index["entries"])
    prepared = json.loads((work / "data" / "prepared" / "bass" / "index.json").read_text())
    assert prepared["prepared"]["sample_rate_hz"] == 16000 and prepared["bad_files"] == {}
    assert {e["split"] for e in prepared["entries"]} <= {"train", "validation"} and prepared["entries"]
    # the pitched base trained on its own song beside the stem's tracks; the drum base had none
    base_index = json.loads((work / "models" / "_base" / "pitched" / "index.json").read_text())["entries"]
    assert any("data/pretrain/pitched/bass" in e["audio"] for e in base_index)
    assert any("data/prepared/bass" in e["audio"] for e in base_index)
    assert (work / "data" / "pretrain" / "percussive" / "NOT_USED.txt").is_file()
    # a hit matched with its class is matched whatever its class: class-blind F1 is never lower
    assert drums["in_domain"]["onset_any_class_f1"] >= drums["in_domain"]["onset_f1"]


def test_second_repro_runs_nothing(project):
    work, env, _ = project
    out = _run(["dvc", "repro"], work, env)
    assert _stages_run(out) == set()


def test_exp_run_with_one_stem_param_reruns_that_stem_only(project, mlflow_server):
    work, env, _ = project
    _run(["git", "add", "-A"], work, env)
    _run(["git", "commit", "-qm", "baseline", "--allow-empty"], work, env)
    out = _run(["dvc", "exp", "run", "-S", "stems.bass.lr=3e-5"], work, env)
    assert _stages_run(out) == {"train@bass", "evaluate@bass", "export@bass"}
    # against its baseline, the experiment changes bass's param and metrics only: drums was not retrained
    diff = json.loads(subprocess.run(["dvc", "exp", "diff", "--json"], cwd=work, env=env, capture_output=True,
                                     text=True, timeout=120, check=True).stdout)
    assert set(diff["params"]["params.yaml"]) == {"stems.bass.lr"}
    assert {name for name, changed in diff["metrics"].items() if changed} <= {"metrics/bass.json"}

    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=mlflow_server)
    experiment = client.get_experiment_by_name("midi-extractor")
    assert experiment is not None
    runs = client.search_runs([experiment.experiment_id])
    training = [r for r in runs if r.data.tags.get("kind") != "evaluate"]
    evaluations = [r for r in runs if r.data.tags.get("kind") == "evaluate"]
    bass = [r for r in training if r.data.tags.get("stem") == "bass"]
    drums = [r for r in training if r.data.tags.get("stem") == "drums"]
    assert len(bass) == 2 and len(drums) == 1
    lrs = sorted(float(r.data.params[k]) for r in bass for k in r.data.params if k.endswith("lr"))
    assert lrs == pytest.approx([3e-5, 1e-3])
    for run in bass + drums:
        assert run.data.tags.get("role") in ("melodic", "percussive")
        assert len(client.get_metric_history(run.info.run_id, "loss_total")) >= 1
    assert len([r for r in evaluations if r.data.tags.get("stem") == "bass"]) == 2
    for run in evaluations:
        assert "onset_f1" in run.data.metrics and "frame_f1" in run.data.metrics



def test_adding_a_stem_runs_only_that_stems_stages(project):
    work, env, _ = project
    params = yaml.safe_load((work / "params.yaml").read_text())
    params["stems"]["guitar"] = {"role": "harmonic", "base": "pitched", **_TINY_TRAIN}
    (work / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    out = _run(["dvc", "repro"], work, env)
    assert _stages_run(out) == {f"{s}@guitar" for s in ("index", "filter", "prepare", "train", "evaluate", "export")}
    metrics = json.loads((work / "metrics" / "guitar.json").read_text())
    assert metrics["stem"] == "guitar" and metrics["n_tracks"] >= 1
