"""A log a person can read: a tiny training (6 steps) run through the command line with stderr
going to a file (not a terminal) logs a handful of lines, no progress-bar updates and no
third-party chatter, and its last line names the best validation onset F1, its step and the
checkpoint written."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from helpers_training import tiny_params_yaml, write_sine_set

DONE = re.compile(r"bass: done in \d+ s, 6 steps; best validation onset F1 (\d\.\d{3}) at step (\d+) -> (\S+)$")
PROGRESS = re.compile(r"\r|\d+%\||it/s|s/it|\|[#█▏▎▍▌▋▊▉ ]+\|")


def test_a_non_tty_training_log_is_short_and_ends_with_the_result(tmp_path):
    index = write_sine_set(tmp_path)
    params = tiny_params_yaml(tmp_path / "params.yaml")  # 2 epochs x 3 steps, validation every 2
    env = {**os.environ, "MIDI_EXTRACTOR_TRACKING": "0"}
    with open(tmp_path / "stderr.log", "w") as err:  # a file: not a TTY
        proc = subprocess.run([sys.executable, "-m", "midi_extractor", "train", str(index), "--stem", "bass",
                               "--out-dir", "m", "--params", str(params), "--device", "cpu"],
                              cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=err, text=True, timeout=180)
    log = (tmp_path / "stderr.log").read_text()
    assert proc.returncode == 0, log[-3000:]
    lines = log.splitlines()
    assert 0 < len(lines) < 50, log
    assert not PROGRESS.search(log), log
    for noisy in ("matplotlib", "font_manager", "urllib3", "alembic", "numba"):
        assert noisy not in log
    done = DONE.search(lines[-1])
    assert done, lines[-1]
    f1, step, path = float(done[1]), int(done[2]), Path(done[3])
    assert 0.0 <= f1 <= 1.0 and step in (2, 4, 6)
    assert (tmp_path / path).is_file() and path.name == "best.pt"
