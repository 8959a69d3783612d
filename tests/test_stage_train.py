"""stages/train.py as dvc runs it: a user error (settings, data, a base checkpoint) is one line
naming its cause, exit status 2, no traceback."""
from __future__ import annotations

import os
import subprocess
import sys

from helpers_training import REPO, tiny_params_yaml, write_sine_set


def test_a_missing_or_unfitting_base_is_one_line(tmp_path):
    index = write_sine_set(tmp_path / "sines", n_tracks=2, seconds=1.0)
    params = tiny_params_yaml(tmp_path / "params.yaml")
    for base, expected in ((tmp_path / "missing.pt", "checkpoint not found"),
                           (REPO / "bases" / "pitched.pt", "model size")):
        proc = subprocess.run([sys.executable, str(REPO / "stages" / "train.py"), "--params", str(params),
                               "--stem", "bass", "--index", str(index), "--out-dir", str(tmp_path / "out"),
                               "--init-from", str(base)], capture_output=True, text=True, cwd=tmp_path, timeout=120,
                              env={**os.environ, "MIDI_EXTRACTOR_TRACKING": "0", "CI": "true"})
        lines = [x for x in proc.stderr.splitlines() if x.strip()]
        assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
        assert lines[-1].startswith(f"train@bass: {base}") and expected in lines[-1]
