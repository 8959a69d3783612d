"""An evaluation in MLflow: a new run of its own, and its headline scores on the training run.

* Name ``evaluate-<stem>-<DVC_EXP_NAME or short git commit>`` (``run_context.run_name``;
  ``-2``, ``-3``, ... on a re-evaluation).
* Nested under the training run (tag ``mlflow.parentRunId``) when ``summary.json``
  names a run that exists in this store; standalone otherwise.
* Tags: ``stem``, ``role``, ``kind=evaluate``, ``eval_split``, ``training_run_id``,
  plus ``tracking.start_run``'s git commit / DVC stage / system tags.
* Params: ``decoding.*`` (thresholds, note lengths, ``chosen_on``) and ``eval_split``;
  no key is both a param and a metric (``validation_onset_f1`` is a metric only).
* Metrics (step 0): the headline ``onset_f1`` / ``onset_offset_f1`` / ``frame_f1``,
  ``validation_onset_f1``, and both domain blocks flattened (``outputs.flat_metrics``:
  ``in_domain.onset_f1``, ``out_of_domain.onset_f1_ci95_low``, ``out_of_domain.recall_hihat``,
  ``in_domain.recall_octave_1``, ``in_domain.source.<name>.onset_f1``, ...).
* Artifacts under ``evaluation/``: the metrics JSON, the per-track CSV,
  ``decoding.json`` and the piano rolls.
* On the training run (when the store holds it), so that one runs-table row has the
  training params (``train.lr``...) and the scores: the metrics :data:`ON_TRAINING_RUN`
  under ``eval.`` (``eval.in_domain.onset_f1``, ``eval.out_of_domain.onset_f1``,
  ``eval.onset_threshold``...) and the tags ``eval_run_id`` / ``eval_split``; a later
  evaluation's values become the latest ones shown (step 0, a newer timestamp).
* On the experiment: a saved runs-table view (:func:`runs_view`, the experiment tag
  ``mlflow.sharedViewState.onset-f1``): the MLflow 3 UI at
  ``#/experiments/<id>/runs?viewStateShareKey=onset-f1`` lists the training runs, best
  out-of-domain onset F1 first, with the columns ``train.lr``, ``dvc_exp``, ``stem`` and
  ``eval.in_domain.onset_f1`` / ``eval.out_of_domain.onset_f1``.

Runs through ``tracking.py`` (its URI rules, ``MIDI_EXTRACTOR_TRACKING=0``); never
raises: a failure is a warning and the evaluation's files stand.
"""
from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from typing import Any, Mapping, Sequence

from midi_extractor.run_context import flatten

log = logging.getLogger(__name__)


#: the evaluate metrics copied onto the training run (as ``eval.<key>``)
ON_TRAINING_RUN = ("onset_f1", "onset_offset_f1", "frame_f1", "n_tracks", "validation_onset_f1",
                   *(f"{d}.{k}" for d in ("in_domain", "out_of_domain")
                     for k in ("onset_f1", "onset_offset_f1", "frame_f1", "n_tracks",
                               "onset_f1_ci95_low", "onset_f1_ci95_high")))


def metric_items(metrics: Mapping[str, Any]) -> dict[str, float]:
    """``outputs.flat_metrics`` with characters MLflow refuses in a key (from source
    names) replaced by ``_``."""
    from midi_extractor.evaluate.outputs import flat_metrics

    return {re.sub(r"[^A-Za-z0-9_./ -]+", "_", k): v for k, v in flat_metrics(dict(metrics)).items()}


#: the share key of the saved runs-table view (the URL's ``viewStateShareKey``)
VIEW_KEY = "onset-f1"
VIEW_TAG = f"mlflow.sharedViewState.{VIEW_KEY}"  # where the MLflow 3 UI looks a share key up


def runs_view() -> dict[str, Any]:
    """The UI state of the saved view: a search, a sort and the columns (``<type>.`<key>```)."""
    def col(kind: str, key: str) -> str:
        return f"{kind}.`{key}`"

    f1 = [col("metrics", "eval.out_of_domain.onset_f1"), col("metrics", "eval.in_domain.onset_f1")]
    return {"searchFilter": "attributes.run_name LIKE 'train-%'", "orderByKey": f1[0], "orderByAsc": False,
            "selectedColumns": [col("params", "train.lr"), *f1, col("tags", "dvc_exp"), col("tags", "stem")]}


def run_params(decoding: Mapping[str, Any], split: str) -> dict[str, Any]:
    """The evaluate run's params: the decoding settings (no grid, no score) and the split."""
    return {"decoding": {k: v for k, v in decoding.items() if k not in ("grid", "validation_onset_f1")},
            "eval_split": split}


def training_run_metrics(items: Mapping[str, float], decoding: Mapping[str, Any]) -> dict[str, float]:
    """What lands on the training run: :data:`ON_TRAINING_RUN` and the thresholds, as ``eval.<key>``."""
    out = {f"eval.{k}": items[k] for k in ON_TRAINING_RUN if k in items}
    out.update({f"eval.{k}": float(decoding[k]) for k in ("onset_threshold", "frame_threshold", "frame_note_threshold")
                if isinstance(decoding.get(k), (int, float))})
    return out


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
    from midi_extractor import tracking, tracking_store

    if not tracking_store.tracking_enabled():
        log.info("MLflow tracking is off (%s=0)", tracking_store.ENV_SWITCH)
        return None
    try:
        tags = {"stem": stem, "role": role or "", "kind": "evaluate", "eval_split": str(metrics.get("split", "")),
                "training_run_id": training_run_id or ""}
        tracker = tracking.start_run(experiment, f"evaluate-{stem}", tags=tags)  # probes the server once
        if not tracker.active:
            return None
        params = run_params(decoding, str(metrics.get("split", "")))
        items = {k: v for k, v in metric_items(metrics).items() if k not in flatten(params)}
        if _parent_exists(tracker.client, training_run_id):
            tracker.set_tags({"mlflow.parentRunId": training_run_id})
            training = tracking.Tracker(tracker.client, training_run_id)  # its status and end time stay
            training.log_metrics(training_run_metrics(items, decoding), step=0, flush=True)
            training.set_tags({"eval_run_id": tracker.run_id, "eval_split": params["eval_split"]})
            experiment_id = tracker.client.get_run(tracker.run_id).info.experiment_id
            tracker.client.set_experiment_tag(experiment_id, VIEW_TAG, json.dumps(runs_view()))
        tracker.log_params(params)
        tracker.log_metrics(items, step=0, flush=True)
        for path in map(Path, artifacts):
            for file in sorted(path.iterdir()) if path.is_dir() else [path]:
                if file.is_file():
                    tracker.log_artifact(file, f"evaluation/{path.name}" if path.is_dir() else "evaluation")
        tracker.end()
        return tracker.run_id
    except Exception as exc:  # noqa: BLE001 - tracking must never fail an evaluation
        log.warning("MLflow logging failed (non-fatal): %s", exc)
        return None
