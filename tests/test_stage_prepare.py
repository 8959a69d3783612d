"""stages/prepare.py as dvc runs it: one summary line on stdout (no raw JSON), and a user
error as one line naming its cause with exit status 2."""
from __future__ import annotations

import os
import subprocess
import sys

from helpers_training import REPO, tiny_params_yaml, write_sine_set


def _stage(tmp_path, index, out):
    params = tiny_params_yaml(tmp_path / "params.yaml")
    return subprocess.run([sys.executable, str(REPO / "stages" / "prepare.py"), "--params", str(params),
                           "--index", str(index), "--out", str(out), "--jobs", "1"], capture_output=True, text=True,
                          cwd=tmp_path, timeout=120,
                          # CI=true as on GitHub Actions, where pyfluidsynth would print where it found its library
                          env={**os.environ, "MIDI_EXTRACTOR_TRACKING": "0", "CI": "true"})


def test_prepare_stage_prints_one_summary_line(tmp_path):
    index = write_sine_set(tmp_path / "sines", n_tracks=3, seconds=1.0)
    proc = _stage(tmp_path, index, tmp_path / "prepared" / "bass")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 1 and not lines[0].startswith("{")
    assert lines[0].startswith("prepare@bass: 3 entries (3 prepared, 0 already there, 0 bad)")
    assert lines[0].endswith(str(tmp_path / "prepared" / "bass" / "index.json"))


def test_prepare_stage_names_a_missing_index_in_one_line(tmp_path):
    proc = _stage(tmp_path, tmp_path / "missing.json", tmp_path / "prepared" / "bass")
    lines = [x for x in proc.stderr.splitlines() if x.strip()]
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert lines[-1].startswith("prepare@bass: ") and "missing.json" in lines[-1]


def test_a_stem_is_prepared_at_its_bases_rate(tmp_path):
    """pretrain.<base>.sample_rate_hz: the stem's prepared audio is at its base's rate, not
    features' (8 kHz here); the 1-s sine tracks come out 16,000 samples long."""
    import json

    import numpy as np
    import yaml

    index = write_sine_set(tmp_path / "sines", n_tracks=2, seconds=1.0)
    params = tiny_params_yaml(tmp_path / "params.yaml", base="pitched")
    raw = yaml.safe_load(params.read_text())
    raw["pretrain"]["pitched"]["sample_rate_hz"] = 16000
    params.write_text(yaml.safe_dump(raw, sort_keys=False))
    proc = subprocess.run([sys.executable, str(REPO / "stages" / "prepare.py"), "--params", str(params),
                           "--index", str(index), "--out", str(tmp_path / "prepared"), "--jobs", "1"],
                          capture_output=True, text=True, cwd=tmp_path, timeout=120,
                          env={**os.environ, "MIDI_EXTRACTOR_TRACKING": "0", "CI": "true"})
    assert proc.returncode == 0, proc.stderr
    prepared = json.loads((tmp_path / "prepared" / "index.json").read_text())
    assert prepared["prepared"]["sample_rate_hz"] == 16000
    audio = sorted((tmp_path / "prepared" / "audio").rglob("*.npy"))
    assert len(audio) == 2 and all(np.load(a).shape == (16000,) for a in audio)
