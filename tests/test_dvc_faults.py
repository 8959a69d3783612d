"""Faults around the train stage under DVC (issue 14, items 1, 5 and 6): a SIGKILL under
`dvc repro` resumes to the uninterrupted run's best.pt and curve; `dvc push` / `dvc pull`
gives a working copy (nothing to rerun); an unwritable out-dir is refused before any data
is loaded.

The DVC tests run the real dvc.yaml's `train` stage (its outs, persist and cache flags
unchanged; only `--init-from` and the base dep dropped) in a temporary git+DVC project,
behind a `data` stage that writes three 3 s sine-bass tracks and their index, with a tiny
model: 40 steps, a validation (and a history row) every 10.
"""
from __future__ import annotations

import csv
import functools
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).parent))
from helpers_dvc import init_committed_repo, project_env
from helpers_dvc import run
from helpers_dvc import stages_run as _stages_run
from helpers_training import TINY_FE, TINY_MODEL, write_sine_set

_run = functools.partial(run, timeout=300)

STEPS, VAL_INTERVAL = 40, 10
# lr 0.03: here the best validation is step 20 (val onset F1 0 throughout, so the lowest val loss wins),
# so a resumed run that lost best.pt (it then saves its final state as best) is caught
_STEM = {"role": "melodic", "base": "pitched", "lr": 3e-2, "epochs": 4, "steps_per_epoch": 10, "batch_size": 2,
         "clip_seconds": 1.0, "val_interval": VAL_INTERVAL, "num_workers": 0, "songs": 0}   # prepare@<stem> lists it
_MAKE_DATA = '''"""Three 3 s sine-bass tracks (the last = validation) and their index."""
import json, sys
from pathlib import Path
from helpers_data import write_track

data, index = Path(sys.argv[1]), Path(sys.argv[2])
entries = []
for k in range(3):
    name = f"Track{k + 1:05d}"
    write_track(data / name, {"S00": {"program_num": 33, "n_notes": 6}}, sample_rate_hz=8000, seconds=3.0, seed=k)
    entries.append({"track": name, "stem_id": "S00", "split": "validation" if k == 2 else "train",
                    "audio": f"{name}/stems/S00.wav", "midi": f"{name}/MIDI/S00.mid",
                    "metadata": {"program_num": 33, "is_drum": False, "role": "melodic"}})
index.parent.mkdir(parents=True, exist_ok=True)
index.write_text(json.dumps({"stem": "bass", "taxonomy_version": 1, "dataset_root": str(data),
                             "entries": entries, "dropped": {}}))
'''


def _dvc_yaml() -> dict:
    """A `data` stage plus the real dvc.yaml's `stem_songs` (none: a note), `prepare` and `train`
    stages (no base to fine-tune from)."""
    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    train = stages["train"]
    init = " --init-from bases/${item.base}.pt"
    assert init in train["do"]["cmd"] and "bases/${item.base}.pt" in train["do"]["deps"], "dvc.yaml's train changed"
    train["do"]["cmd"] = train["do"]["cmd"].replace(init, "")
    train["do"]["deps"].remove("bases/${item.base}.pt")
    data = {"cmd": "python make_data.py data/sines data/index/filtered_dataset_bass.json",
            "deps": ["make_data.py", "helpers_data.py"],
            "outs": ["data/sines", "data/index/filtered_dataset_bass.json"]}
    return {"stages": {"data": data, "stem_songs": stages["stem_songs"], "prepare": stages["prepare"], "train": train}}


def _history(path: Path) -> list[dict]:
    with path.open() as f:
        return list(csv.DictReader(f))


def _snapshot(work: Path) -> dict:
    """best.pt's step and weights, history rows, summary of the stem's out-dir."""
    import json

    import torch

    out = work / "models" / "bass"
    best = torch.load(out / "best.pt", weights_only=True)
    return {"best_step": int(best["step"]), "best_model": best["model"], "history": _history(out / "history.csv"),
            "summary": json.loads((out / "summary.json").read_text())}


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """The tiny project after one uninterrupted `dvc repro`: ``(work, env, reference snapshot)``."""
    work = tmp_path_factory.mktemp("dvcfaults")
    shutil.copy(REPO / ".dvcignore", work / ".dvcignore")
    shutil.copy(REPO / ".gitignore", work / ".gitignore")
    for folder in ("stages", "midi_extractor"):
        shutil.copytree(REPO / folder, work / folder, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "tests" / "helpers_data.py", work / "helpers_data.py")
    (work / "make_data.py").write_text(_MAKE_DATA)
    (work / "dvc.yaml").write_text(yaml.safe_dump(_dvc_yaml(), sort_keys=False))
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params.update(features=dict(TINY_FE), model=dict(TINY_MODEL), stems={"bass": dict(_STEM)})
    params["dataset"]["root"] = "data/sines"
    params["stem_songs"] = {"count": 0, "seed": 1, "double_triads": False}
    (work / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    env = project_env(MIDI_EXTRACTOR_TRACKING="0", OMP_NUM_THREADS="1", PYTHONPATH=str(work))
    init_committed_repo(work, env)
    assert _stages_run(_run(["dvc", "repro"], work, env)) == {"data", "stem_songs", "prepare@bass", "train@bass"}
    reference = _snapshot(work)
    assert [int(r["step"]) for r in reference["history"]] == [10, 20, 30, 40]
    return work, env, reference


def _max_step(history: Path) -> int | None:
    try:
        rows = _history(history)
    except (OSError, csv.Error):
        return None
    return max((int(float(r["step"])) for r in rows if r.get("step")), default=None)


def test_sigkill_under_dvc_repro_resumes_to_the_same_best_and_curve(project, tmp_path):
    work, env, ref = project
    history = work / "models" / "bass" / "history.csv"
    with (tmp_path / "killed.log").open("w") as log_file:
        # the finished run's last.pt is not resumed: the trainer starts afresh and clears best/history
        proc = subprocess.Popen(["dvc", "repro", "-f", "-s", "train@bass"], cwd=work, env=env, stdout=log_file,
                                stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.time() + 240
        try:
            while _max_step(history) != 30:  # the old file ends at 40: 30 is this run's step-30 row
                assert proc.poll() is None, "dvc repro ended before the step-30 row:\n" + (
                    tmp_path / "killed.log").read_text()[-3000:]
                assert time.time() < deadline, "no step-30 row in 240 s"
                time.sleep(0.005)
        finally:
            os.killpg(proc.pid, signal.SIGKILL)  # dvc and the stage's python: the whole group
            proc.wait(timeout=30)
    out = work / "models" / "bass"
    assert not (out / "summary.json").exists(), "the kill came after the run had finished"
    assert _max_step(history) == 30

    second = _run(["dvc", "repro"], work, env)
    assert _stages_run(second) == {"train@bass"}
    got = _snapshot(work)
    assert got["summary"]["resumed_from_step"] in (20, 30), got["summary"]["resumed_from_step"]
    assert got["best_step"] == ref["best_step"]
    assert set(got["best_model"]) == set(ref["best_model"])
    assert all(bool((got["best_model"][k] == ref["best_model"][k]).all()) for k in ref["best_model"])
    deterministic = [k for k in ref["history"][0] if k != "clips_per_s"]
    assert [{k: r[k] for k in deterministic} for r in got["history"]] == \
        [{k: r[k] for k in deterministic} for r in ref["history"]]
    assert _stages_run(_run(["dvc", "repro"], work, env)) == set()


def test_summary_best_step_is_best_pt_step(project):
    _, _, ref = project
    assert ref["summary"]["best_step"] == ref["best_step"]


def test_push_then_pull_into_an_empty_workspace_needs_no_rerun(project, tmp_path):
    work, env, _ = project
    _run(["dvc", "repro"], work, env)  # up to date (after the kill test too)
    _run(["dvc", "remote", "add", "-d", "local", str(tmp_path / "remote")], work, env)
    _run(["dvc", "push"], work, env)
    expected = sorted(p.relative_to(work).as_posix() for p in (work / "models").rglob("*") if p.is_file())
    assert {"models/bass/best.pt", "models/bass/last.pt", "models/bass/history.csv",
            "models/bass/summary.json"} <= set(expected)
    for folder in ("models", "data", ".dvc/cache"):
        shutil.rmtree(work / folder)
    _run(["dvc", "pull"], work, env)
    pulled = sorted(p.relative_to(work).as_posix() for p in (work / "models").rglob("*") if p.is_file())
    assert pulled == expected
    assert (work / "data" / "sines" / "Track00003" / "stems" / "S00.wav").is_file()
    status = _run(["dvc", "status"], work, env)
    assert "up to date" in status, status
    assert _stages_run(_run(["dvc", "repro"], work, env)) == set()


@pytest.mark.parametrize("case", ["under_a_file", "probe_write_refused", "read_only_parent"])
def test_unwritable_out_dir_is_refused_before_data_is_loaded(case, tmp_path, monkeypatch, capsys):
    import midi_extractor.train.data as data_module
    import midi_extractor.train.outputs as outputs_module
    from midi_extractor.cli import main

    monkeypatch.setenv("MIDI_EXTRACTOR_TRACKING", "0")
    index = write_sine_set(tmp_path / "sines", n_tracks=2, seconds=1.0)
    if case == "under_a_file":  # cannot be created, root or not
        (tmp_path / "a_file").write_text("not a folder")
        out_dir = tmp_path / "a_file" / "models" / "bass"
    elif case == "probe_write_refused":  # an existing folder that refuses writes (what chmod gives a non-root user)
        out_dir = tmp_path / "models" / "bass"
        out_dir.mkdir(parents=True)
        import tempfile

        real_mkstemp = tempfile.mkstemp

        def refuse(*a, dir=None, **k):  # the write probe's file
            if dir is not None and Path(dir) == out_dir:
                raise PermissionError(13, "Permission denied", str(dir))
            return real_mkstemp(*a, dir=dir, **k)

        monkeypatch.setattr(tempfile, "mkstemp", refuse)
    else:
        if os.geteuid() == 0:
            pytest.skip("root ignores a read-only folder's mode")
        parent = tmp_path / "ro"
        parent.mkdir()
        parent.chmod(0o500)
        out_dir = parent / "bass"

    def no_data(*_a, **_k):
        raise AssertionError("data was loaded before the out-dir check")

    monkeypatch.setattr(data_module, "datasets", no_data)
    try:
        rc = main(["train", str(index), "--stem", "bass", "--out-dir", str(out_dir), "--no-progress",
                   "--epochs", "1", "--steps-per-epoch", "1"])
    finally:
        if case == "read_only_parent":
            (tmp_path / "ro").chmod(0o700)
    err = capsys.readouterr().err
    assert rc == 2
    assert f"{out_dir}: output folder cannot be created or written" in err, err
    assert "Traceback" not in err
    with pytest.raises(outputs_module.OutDirError, match=re.escape(str(out_dir))):
        outputs_module.check_writable(out_dir)
