"""Where and what a run is, for its tracking: the project's root (``$DVC_ROOT`` in a queued
DVC experiment's copy), the git commit, the name that tells runs apart (``$DVC_EXP_NAME``, else
the short commit), the machine (CPU, memory, GPU, library versions) and nested mappings
flattened to MLflow's dotted keys. No MLflow here: :mod:`midi_extractor.tracking` uses these."""
from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path
from typing import Any, Mapping


def repo_root() -> Path:
    """``$DVC_ROOT``, else the git top level of the current folder, else the current folder."""
    if os.environ.get("DVC_ROOT"):
        return Path(os.environ["DVC_ROOT"]).resolve()
    try:
        out = subprocess.run(["git", "rev-parse", "--show-toplevel"], capture_output=True, text=True, timeout=10)
        if out.returncode == 0 and out.stdout.strip():
            return Path(out.stdout.strip())
    except (OSError, subprocess.SubprocessError):
        pass
    return Path.cwd().resolve()


def run_suffix() -> str:
    """What tells runs apart: ``$DVC_EXP_NAME`` (set by ``dvc exp run``), else the short
    git commit, else ``""``."""
    return os.environ.get("DVC_EXP_NAME") or (git_commit(repo_root()) or "")[:7]


def run_name(prefix: str) -> str:
    """``<prefix>-<run_suffix()>`` (``prefix`` alone when there is no suffix)."""
    suffix = run_suffix()
    return f"{prefix}-{suffix}" if suffix else prefix


def git_commit(root: str | Path | None = None) -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10,
                             cwd=str(root) if root else None)
        return out.stdout.strip() or None if out.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        return None


def flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}}`` -> ``{"a.b": 1}``; lists and None become strings."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            out.update(flatten(value, f"{name}."))
        elif isinstance(value, Mapping):
            out[name] = "{}"
        else:
            out[name] = value
    return out


def system_info() -> dict[str, str]:
    """CPU, memory, GPU and library versions as strings (for tags)."""
    info = {"sys.platform": platform.platform(), "sys.python": platform.python_version(),
            "sys.cpu": platform.processor() or platform.machine(), "sys.cpu_count": str(os.cpu_count())}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    info["sys.cpu"] = line.split(":", 1)[1].strip()
                    break
        with open("/proc/meminfo") as f:
            kb = int(f.readline().split()[1])
            info["sys.memory_gb"] = f"{kb / 2**20:.1f}"
    except (OSError, ValueError, IndexError):
        pass
    try:
        import torch

        info["sys.torch"] = torch.__version__
        if torch.cuda.is_available():
            props = torch.cuda.get_device_properties(0)
            info["sys.gpu"] = props.name
            info["sys.gpu_count"] = str(torch.cuda.device_count())
            info["sys.gpu_memory_gb"] = f"{props.total_memory / 2**30:.1f}"
        else:
            info["sys.gpu"] = "none"
    except Exception:  # noqa: BLE001
        pass
    return info
