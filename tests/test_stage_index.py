"""stages/synth.py, index.py and filter.py as dvc runs them: a user error (a dataset root that is
missing or holds no tracks, a params error, a missing index) is one line naming its cause, exit
status 2, no traceback."""
from __future__ import annotations

import os
import subprocess
import sys

from helpers_data import REPO


def _run(tmp_path, stage, *args):
    proc = subprocess.run([sys.executable, str(REPO / "stages" / f"{stage}.py"), *map(str, args)],
                          capture_output=True, text=True, cwd=tmp_path, timeout=120,
                          env={**os.environ, "MIDI_EXTRACTOR_TRACKING": "0", "CI": "true"})
    lines = [x for x in proc.stderr.splitlines() if x.strip()]
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    return lines[-1]


def test_index_stage_errors_are_one_line(tmp_path):
    params = REPO / "params.yaml"
    (tmp_path / "empty").mkdir()
    out = tmp_path / "dataset_bass.json"
    line = _run(tmp_path, "index", "--params", params, "--dataset-root", tmp_path / "nope", "--stem", "bass",
                "--out", out, "--jobs", 1)
    assert line == f"index@bass: {tmp_path / 'nope'}: dataset root not found (or not a folder)"
    line = _run(tmp_path, "index", "--params", params, "--dataset-root", tmp_path / "empty", "--stem", "bass",
                "--out", out, "--jobs", 1)
    assert line.startswith(f"index@bass: {tmp_path / 'empty'}: no Slakh-format tracks found")
    (tmp_path / "bad.yaml").write_text("stems:\n  bass:\n    lr: fast\n")
    line = _run(tmp_path, "index", "--params", tmp_path / "bad.yaml", "--dataset-root", tmp_path / "empty",
                "--stem", "bass", "--out", out, "--jobs", 1)
    assert line == f"index@bass: {tmp_path / 'bad.yaml'}: stems.bass.lr: expected a number, got 'fast'"


def test_filter_stage_names_a_missing_index_in_one_line(tmp_path):
    line = _run(tmp_path, "filter", "--params", REPO / "params.yaml", "--index", tmp_path / "dataset_bass.json",
                "--out", tmp_path / "filtered_dataset_bass.json", "--jobs", 1)
    assert line == f"filter@bass: {tmp_path / 'dataset_bass.json'}: index not found (run build-index first)"


def test_synth_stage_errors_are_one_line(tmp_path):
    (tmp_path / "bad.yaml").write_text("dataset:\n  kind: slakh\n")
    line = _run(tmp_path, "synth", "--params", tmp_path / "bad.yaml", "--out", tmp_path / "gen")
    assert line.startswith(f"synth: {tmp_path / 'bad.yaml'}: dataset.kind must be one of generated")
    (tmp_path / "other.yaml").write_text("dataset:\n  root: data/generated\n")
    line = _run(tmp_path, "synth", "--params", tmp_path / "other.yaml", "--out", tmp_path / "gen")
    assert line.endswith(f"a generated data set is written to {tmp_path / 'gen'}; set dataset.root: {tmp_path / 'gen'}")
