"""An evaluation's MLflow run: always a new run, never the training run reopened.

* Name ``evaluate-<stem>-<DVC_EXP_NAME or short git commit>`` (``evaluate-<stem>``
  when neither is known).
* Nested under the training run (tag ``mlflow.parentRunId``) when ``summary.json``
  names a run that exists in this store; standalone otherwise.
* Tags: ``stem``, ``role``, ``kind=evaluate``, ``eval_split``, ``training_run_id``,
  plus ``tracking.start_run``'s git commit / DVC stage / system tags.
* Params: ``decoding.*`` (thresholds, note lengths, ``chosen_on``) and ``eval_split``.
* Metrics (step 0): the headline ``onset_f1`` / ``onset_offset_f1`` / ``frame_f1``,
  ``validation_onset_f1``, and both domain blocks flattened (``outputs.flat_metrics``:
  ``in_domain.onset_f1``, ``out_of_domain.onset_f1_ci95_low``, ``out_of_domain.recall_hihat``,
  ``in_domain.recall_octave_1``, ``in_domain.source.<name>.onset_f1``, ...).
* Artifacts under ``evaluation/``: the metrics JSON, the per-track CSV,
  ``decoding.json`` and the piano rolls.

Runs through ``tracking.py`` (its URI rules, ``MIDI_EXTRACTOR_TRACKING=0``); never
raises: a failure is a warning and the evaluation's files stand.
"""
from __future__ import annotations

import logging
import os
import re
from pathlib import Path
from typing import Any, Mapping, Sequence

log = logging.getLogger(__name__)


def run_name(stem: str) -> str:
    """``evaluate-<stem>-<DVC_EXP_NAME or short commit>``."""
    from midi_extractor import tracking

    suffix = os.environ.get("DVC_EXP_NAME") or (tracking.git_commit(tracking.repo_root()) or "")[:7]
    return f"evaluate-{stem}-{suffix}" if suffix else f"evaluate-{stem}"


def metric_items(metrics: Mapping[str, Any]) -> dict[str, float]:
    """``outputs.flat_metrics`` with characters MLflow refuses in a key (from source
    names) replaced by ``_``."""
    from midi_extractor.evaluate.outputs import flat_metrics

    return {re.sub(r"[^A-Za-z0-9_./ -]+", "_", k): v for k, v in flat_metrics(dict(metrics)).items()}


def _parent_exists(client: Any, run_id: str | None) -> bool:
    if not run_id:
        return False
    try:
        client.get_run(run_id)
        return True
    except Exception as exc:  # noqa: BLE001 - a missing parent only means a standalone run
        log.warning("training run %s is not in this MLflow store (%s); the evaluation run stands alone",
                    run_id, exc)
        return False


def log_evaluation(stem: str, metrics: Mapping[str, Any], decoding: Mapping[str, Any], artifacts: Sequence[Path],
                   *, experiment: str, training_run_id: str | None = None, role: str | None = None) -> str | None:
    """Log one evaluation as a new MLflow run (module docstring). Returns its id, or None
    when tracking is off or failed."""
    from midi_extractor import tracking

    if not tracking.tracking_enabled():
        log.info("MLflow tracking is off (%s=0)", tracking.ENV_SWITCH)
        return None
    try:
        tags = {"stem": stem, "role": role or "", "kind": "evaluate", "eval_split": str(metrics.get("split", "")),
                "training_run_id": training_run_id or ""}
        tracker = tracking.start_run(experiment, run_name(stem), tags=tags)  # probes the server once
        if not tracker.active:
            return None
        if _parent_exists(tracker.client, training_run_id):
            tracker.set_tags({"mlflow.parentRunId": training_run_id})
        tracker.log_params({"decoding": {k: v for k, v in decoding.items() if k != "grid"},
                            "eval_split": metrics.get("split", "")})
        tracker.log_metrics(metric_items(metrics), step=0, flush=True)
        for path in map(Path, artifacts):
            for file in sorted(path.iterdir()) if path.is_dir() else [path]:
                if file.is_file():
                    tracker.log_artifact(file, f"evaluation/{path.name}" if path.is_dir() else "evaluation")
        tracker.end()
        return tracker.run_id
    except Exception as exc:  # noqa: BLE001 - tracking must never fail an evaluation
        log.warning("MLflow logging failed (non-fatal): %s", exc)
        return None
