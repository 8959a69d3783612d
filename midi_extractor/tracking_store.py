"""Where MLflow tracking goes and whether it can go there; never fatal.

* URI: ``MLFLOW_TRACKING_URI`` when set, else ``sqlite:///<root>/mlflow.db``
  with ``root`` = ``$DVC_ROOT`` (queued DVC experiments run in a copy, so a
  relative URI would be lost), else the git top level, else the current folder.
* Artifacts of a local store: a new experiment's location is
  ``mlflow-artifacts:/<experiment>`` (what ``mlflow ui`` / ``mlflow server`` write
  when they serve artifacts); the files go under ``<root>/mlartifacts/<experiment>/...``
  of the project (:func:`local_artifact_dir`), which ``mlflow ui`` started in the
  project root serves. No absolute path is kept in ``mlflow.db``: a copied or moved
  clone writes into its own folder.
* ``MIDI_EXTRACTOR_TRACKING=0`` turns tracking off (:func:`tracking_enabled`).
* An ``http(s)`` tracking server is probed once per process with a
  :data:`REACH_TIMEOUT_S` request before the first call (:func:`unreachable`):
  when it does not answer, the run goes on without tracking and says so in one
  warning, instead of MLflow's own retries (about 4 minutes per call).
"""
from __future__ import annotations

import logging
import os
import re
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from midi_extractor.run_context import repo_root

log = logging.getLogger("midi_extractor.tracking")  # the warnings users have seen under this name

ENV_SWITCH = "MIDI_EXTRACTOR_TRACKING"
#: seconds the reachability probe of an http(s) tracking server waits
REACH_TIMEOUT_S = 2.0
_REACH: dict[str, str | None] = {}  # uri -> why unreachable (None: reachable), once per process


def tracking_enabled() -> bool:
    return os.environ.get(ENV_SWITCH, "1").strip().lower() not in ("0", "false", "no", "off")


def tracking_uri() -> str:
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{repo_root() / 'mlflow.db'}"


def unreachable(uri: str | None = None, timeout_s: float = REACH_TIMEOUT_S) -> str | None:
    """Why the tracking server at ``uri`` (default :func:`tracking_uri`) cannot be
    reached, or None when it answers or is not a network store (sqlite, file).

    One ``GET <uri>/health`` with ``timeout_s``; any HTTP answer (even 401/404)
    counts as reachable. The result is kept for the rest of the process."""
    uri = uri or tracking_uri()
    parts = urllib.parse.urlsplit(uri)
    if parts.scheme not in ("http", "https"):
        return None
    if uri not in _REACH:
        try:
            urllib.request.urlopen(uri.rstrip("/") + "/health", timeout=timeout_s).close()
            _REACH[uri] = None
        except urllib.error.HTTPError:
            _REACH[uri] = None  # it answered
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            port = parts.port or (443 if parts.scheme == "https" else 80)
            _REACH[uri] = f"no answer from {parts.hostname}:{port} within {timeout_s:g} s ({reason})"
    return _REACH[uri]


def reachable_or_warn(what: str) -> bool:
    """True when the tracking server answers; otherwise one warning saying ``what`` goes on without it."""
    problem = unreachable()
    if problem:
        log.warning("MLflow tracking server %s unreachable: %s; %s goes on without tracking "
                    "(set MIDI_EXTRACTOR_TRACKING=0 to silence this)", tracking_uri(), problem, what)
    return problem is None


#: the scheme of artifacts an MLflow server serves from its ``--artifacts-destination``
SERVED = "mlflow-artifacts:"


def _local_store() -> bool:
    uri = tracking_uri()
    return uri.startswith(("sqlite:", "file:")) or "://" not in uri


def local_artifact_dir(artifact_uri: str) -> Path | None:
    """The folder of a run's ``mlflow-artifacts:/<experiment>/<run>/artifacts`` in this
    project (``<root>/mlartifacts/...``, where ``mlflow ui`` run in the root serves them
    from) when the store is local; None for any other URI (MLflow's own repository)."""
    if not artifact_uri.startswith(SERVED) or not _local_store():
        return None
    rest = urllib.parse.urlsplit(artifact_uri).path.lstrip("/")
    return repo_root() / "mlartifacts" / rest


def experiment_artifact_location(experiment: str) -> str | None:
    """Where a new experiment keeps artifacts: ``mlflow-artifacts:/<name>`` for a local
    store (relative to the project: :func:`local_artifact_dir`), the server's choice otherwise."""
    if not _local_store():
        return None
    return f"{SERVED}/" + (re.sub(r"[^A-Za-z0-9._-]+", "_", experiment) or "default")


def _quiet_mlflow() -> None:
    """MLflow's INFO lines on a new SQLite store ("Creating initial MLflow database tables",
    alembic's migrations) are noise on every first run: warnings only."""
    for name in ("mlflow.store.db.utils", "alembic", "alembic.runtime.migration"):
        logging.getLogger(name).setLevel(logging.WARNING)


def mlflow_client():
    """An ``MlflowClient`` on :func:`tracking_uri`, MLflow's first-run INFO lines quieted."""
    from mlflow.tracking import MlflowClient

    _quiet_mlflow()
    return MlflowClient(tracking_uri=tracking_uri())
