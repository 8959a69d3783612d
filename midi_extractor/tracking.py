"""MLflow tracking of a training run, one run per stem; never fatal.

* Where runs and artifacts go, the on/off switch and the reachability probe of a
  tracking server: :mod:`midi_extractor.tracking_store`.
* Run names: ``<prefix>-<DVC_EXP_NAME or short git commit>`` (:func:`run_name`),
  made unique in the experiment with ``-2``, ``-3``, ... (a rerun of the same commit).
* ``MIDI_EXTRACTOR_TRACKING=0`` turns tracking off (every call is a no-op).
* Every failure of MLflow is logged as a warning and turns the tracker into a
  no-op; training goes on.

:class:`Tracker` talks to MLflow through ``MlflowClient`` (no global active
run), buffers step metrics and sends them with ``log_batch``.
:func:`start_run` opens (or, given a run id, continues) the training run;
:func:`resume_run` reopens a finished run for a later step (evaluate).
"""
from __future__ import annotations

import json
import logging
import math
import os
import tempfile
import time
from pathlib import Path
from typing import Any, Mapping

from midi_extractor.run_context import flatten, git_commit, repo_root, run_name, system_info
from midi_extractor.tracking_store import (ENV_SWITCH, experiment_artifact_location, local_artifact_dir,
                                           mlflow_client, reachable_or_warn, tracking_enabled, tracking_uri)

log = logging.getLogger(__name__)

def unique_run_name(client: Any, experiment_id: str, name: str) -> str:
    """``name``, or ``name-2``, ``name-3``, ... when a run of the experiment has it."""
    name = name.replace("'", "_")
    taken = {r.info.run_name for r in client.search_runs([experiment_id], f"attributes.run_name LIKE '{name}%'",
                                                         max_results=5000)}
    if name not in taken:
        return name
    return next(f"{name}-{k}" for k in range(2, len(taken) + 3) if f"{name}-{k}" not in taken)


class Tracker:
    """One MLflow run; a no-op when tracking is off or MLflow failed."""

    def __init__(self, client: Any = None, run_id: str | None = None, flush_every: int = 50):
        self.client = client
        self.run_id = run_id
        self.flush_every = int(flush_every)
        self._buffer: list[Any] = []

    @property
    def active(self) -> bool:
        return self.client is not None and self.run_id is not None

    def _fail(self, what: str, exc: Exception) -> None:
        log.warning("MLflow %s failed (non-fatal, tracking off for this run): %s", what, exc)
        self.client = None

    def log_params(self, params: Mapping[str, Any]) -> None:
        if not self.active:
            return
        from mlflow.entities import Param

        items = [Param(str(k)[:250], str(v)[:6000]) for k, v in flatten(params).items()]
        try:
            existing = self.client.get_run(self.run_id).data.params
            items = [p for p in items if p.key not in existing]  # a resumed run keeps its params
            for i in range(0, len(items), 100):
                self.client.log_batch(self.run_id, params=items[i:i + 100])
        except Exception as exc:  # noqa: BLE001
            self._fail("log_params", exc)

    def set_tags(self, tags: Mapping[str, Any]) -> None:
        if not self.active:
            return
        from mlflow.entities import RunTag

        try:
            self.client.log_batch(self.run_id, tags=[RunTag(str(k), str(v)[:5000]) for k, v in tags.items()
                                                     if v is not None])
        except Exception as exc:  # noqa: BLE001
            self._fail("set_tags", exc)

    def log_metrics(self, metrics: Mapping[str, Any], step: int, flush: bool = False) -> None:
        """Buffer numeric metrics (NaN/None skipped); sent every ``flush_every`` records or on ``flush``."""
        if not self.active:
            return
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        for k, v in metrics.items():
            if isinstance(v, bool) or not isinstance(v, (int, float)) or math.isnan(float(v)):
                continue
            self._buffer.append(Metric(str(k), float(v), now, int(step)))
        if flush or len(self._buffer) >= self.flush_every:
            self.flush()

    def flush(self) -> None:
        if not self.active or not self._buffer:
            self._buffer.clear()
            return
        try:
            for i in range(0, len(self._buffer), 1000):
                self.client.log_batch(self.run_id, metrics=self._buffer[i:i + 1000])
        except Exception as exc:  # noqa: BLE001
            self._fail("log_metrics", exc)
        self._buffer.clear()

    def log_artifact(self, path: str | Path, artifact_path: str | None = None) -> None:
        """Copy a file into the run's artifacts (a project-relative location: :func:`local_artifact_dir`)."""
        if not self.active or not Path(path).exists():
            return
        try:
            folder = local_artifact_dir(self.client.get_run(self.run_id).info.artifact_uri)
            if folder is None:
                self.client.log_artifact(self.run_id, str(path), artifact_path)
            else:
                from mlflow.store.artifact.local_artifact_repo import LocalArtifactRepository

                LocalArtifactRepository(str(folder)).log_artifact(str(path), artifact_path)
        except Exception as exc:  # noqa: BLE001
            self._fail("log_artifact", exc)

    def log_checkpoint_ref(self, path: str | Path, name: str | None = None) -> None:
        """Log a small JSON naming a checkpoint (absolute path, size, sha256), not the file."""
        if not self.active or not Path(path).is_file():
            return
        from midi_extractor.atomic import file_sha256

        path = Path(path).resolve()
        ref = {"path": str(path), "bytes": path.stat().st_size, "sha256": file_sha256(path)}
        with tempfile.TemporaryDirectory() as tmp:
            file = Path(tmp) / f"{name or path.stem}.json"
            file.write_text(json.dumps(ref, indent=2))
            self.log_artifact(file, "checkpoints")
        self.set_tags({f"checkpoint.{name or path.stem}.sha256": ref["sha256"]})

    def end(self, status: str = "FINISHED") -> None:
        if not self.active:
            return
        self.flush()
        try:
            self.client.set_terminated(self.run_id, status)
        except Exception as exc:  # noqa: BLE001
            self._fail("end", exc)


def start_run(experiment: str, prefix: str, tags: Mapping[str, Any] | None = None,
              run_id: str | None = None, flush_every: int = 50) -> Tracker:
    """Open a run named ``run_name(prefix)`` (made unique) in ``experiment`` (created
    when missing), or continue ``run_id`` (its name kept) when it exists in this store.
    Adds git commit, DVC stage/experiment and system info tags. Returns a no-op tracker
    when tracking is off or fails."""
    if not tracking_enabled():
        log.info("MLflow tracking is off (%s=0)", ENV_SWITCH)
        return Tracker()
    if not reachable_or_warn("training"):
        return Tracker()
    try:
        client = mlflow_client()
        run = None
        if run_id:
            try:
                run = client.get_run(run_id)
                client.update_run(run_id, status="RUNNING")
            except Exception as exc:  # noqa: BLE001
                log.warning("cannot continue MLflow run %s (%s); starting a new one", run_id, exc)
                run = None
        if run is None:
            exp = client.get_experiment_by_name(experiment)
            if exp is not None:
                exp_id = exp.experiment_id
            else:
                exp_id = client.create_experiment(
                    experiment, artifact_location=experiment_artifact_location(experiment),
                    # MLflow 3's UI then opens this experiment on its runs table, not the GenAI traces page
                    tags={"mlflow.experimentKind": "custom_model_development"})
            run = client.create_run(exp_id, run_name=unique_run_name(client, exp_id, run_name(prefix)))
        tracker = Tracker(client, run.info.run_id, flush_every)
    except Exception as exc:  # noqa: BLE001
        log.warning("MLflow unavailable at %s (non-fatal, training without tracking): %s", tracking_uri(), exc)
        return Tracker()
    root = repo_root()
    all_tags = {"mlflow.source.git.commit": git_commit(root), "git_commit": git_commit(root),
                "dvc_stage": os.environ.get("DVC_STAGE"), "dvc_exp": os.environ.get("DVC_EXP_NAME"),
                **system_info(), **(tags or {})}
    tracker.set_tags(all_tags)
    return tracker


def resume_run(run_id: str, flush_every: int = 50) -> Tracker:
    """Reopen a run (e.g. the training run from ``summary.json``'s
    ``mlflow_run_id``) to add metrics and artifacts; call ``end()`` after."""
    if not tracking_enabled() or not run_id or not reachable_or_warn("this step"):
        return Tracker()
    try:
        client = mlflow_client()
        client.get_run(run_id)
        client.update_run(run_id, status="RUNNING")
        return Tracker(client, run_id, flush_every)
    except Exception as exc:  # noqa: BLE001
        log.warning("cannot reopen MLflow run %s (non-fatal): %s", run_id, exc)
        return Tracker()


def run_id_from_summary(summary_path: str | Path) -> str | None:
    try:
        return json.loads(Path(summary_path).read_text()).get("mlflow_run_id") or None
    except (OSError, ValueError, AttributeError):
        return None
