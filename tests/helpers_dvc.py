"""Temporary git + DVC projects for the tests that run the real dvc.yaml (e2e, faults, charts)."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from helpers_data import REPO

DVC = [sys.executable, "-m", "dvc"]


def run(cmd, cwd, env, timeout: float = 900) -> str:
    """Run ``cmd``; its stdout + stderr, asserting rc 0 (the tail of the output on failure)."""
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"{' '.join(cmd)} failed ({proc.returncode}):\n{out[-6000:]}"
    return out


def stdout_of(cmd, cwd, timeout: float = 120) -> str:
    """Run ``cmd``; its stdout alone (e.g. JSON), asserting rc 0."""
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"{cmd}: {proc.stdout[-2000:]}{proc.stderr[-2000:]}"
    return proc.stdout


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


def plots_only_dvc_yaml() -> dict:
    """The repository's dvc.yaml cut to what ``dvc plots`` reads: each stage's plot definitions
    (its cmd a no-op) and the top-level ``plots``."""
    full = yaml.safe_load((REPO / "dvc.yaml").read_text())
    stages = {}
    for name, stage in full["stages"].items():
        body = stage.get("do", stage)
        if body.get("plots"):
            slim = {"cmd": "true", "plots": body["plots"]}
            stages[name] = {"foreach": stage["foreach"], "do": slim} if "foreach" in stage else slim
    return {"stages": stages, "plots": full.get("plots", [])}


def plots_project(root: Path) -> Path:
    """git + DVC in ``root`` with the repository's params.yaml, plot templates and
    :func:`plots_only_dvc_yaml`: a project ``dvc plots show`` runs in once its data is written."""
    env = dict(os.environ)
    run(["git", "init", "-q"], root, env, timeout=120)
    run(DVC + ["init", "-q"], root, env, timeout=120)
    run(DVC + ["config", "core.analytics", "false"], root, env, timeout=120)
    shutil.copy(REPO / "params.yaml", root / "params.yaml")
    shutil.rmtree(root / ".dvc" / "plots", ignore_errors=True)
    shutil.copytree(REPO / ".dvc" / "plots", root / ".dvc" / "plots")
    (root / "dvc.yaml").write_text(yaml.safe_dump(plots_only_dvc_yaml(), sort_keys=False))
    return root


def params_stems() -> list[str]:
    """The stems the repository's params.yaml trains."""
    return list(yaml.safe_load((REPO / "params.yaml").read_text())["stems"])
