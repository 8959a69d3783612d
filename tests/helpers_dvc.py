"""Temporary git + DVC projects for the tests that run the real dvc.yaml (e2e, faults)."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path


def run(cmd, cwd, env, timeout: float = 900) -> str:
    """Run ``cmd``; its stdout + stderr, asserting rc 0 (the tail of the output on failure)."""
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"{' '.join(cmd)} failed ({proc.returncode}):\n{out[-6000:]}"
    return out


def stages_run(output: str) -> set[str]:
    """Names of the stages a `dvc repro` / `dvc exp run` output says it ran."""
    return set(re.findall(r"Running stage '([^']+)'", output))


def project_env(**extra: str) -> dict[str, str]:
    """This interpreter's bin first on PATH (dvc, python) and a git identity; ``extra`` on top."""
    env = dict(os.environ, **extra)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    env["GIT_AUTHOR_NAME"] = env["GIT_COMMITTER_NAME"] = "test"
    env["GIT_AUTHOR_EMAIL"] = env["GIT_COMMITTER_EMAIL"] = "test@example.com"
    return env


def init_committed_repo(work: Path, env: dict[str, str]) -> None:
    """git + DVC in ``work`` with everything there committed (`dvc exp` needs a commit)."""
    run(["git", "init", "-q", "-b", "main"], work, env)
    run(["dvc", "init", "-q"], work, env)
    run(["dvc", "config", "core.analytics", "false"], work, env)
    run(["git", "add", "-A"], work, env)
    run(["git", "commit", "-qm", "tiny project"], work, env)
