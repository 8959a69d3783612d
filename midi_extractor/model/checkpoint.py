"""Checkpoints (contract 2 of docs/ARCHITECTURE.md): save atomically, load
safely, rebuild the model from the file alone.

A checkpoint is a dict of plain values and tensors that loads with
``torch.load(path, weights_only=True)``: ``model`` (state dict), ``optimizer``,
``scheduler``, ``scaler``, ``step``, ``epoch``, ``best_metric``, ``config``
(``front_end``, ``model``, ``n_outputs``, ``drum_classes`` or None,
``loss_weights``, ``train``), ``stem``, ``role``, ``taxonomy_version``. The
trainer adds ``train_state`` (RNG states, data position, MLflow run id) for
exact resumption; readers may ignore it.

A checkpoint knows what it is (:class:`Identity`: its stem, or ``base-<name>`` for a
shared base, role, drum classes, front end, model size), and :func:`check_fits` is the one
place that decides whether it may serve a request: every entry point (transcribe,
evaluate, ``train --init-from`` and the bases a stem fine-tunes from) calls it.
"""
from __future__ import annotations

import dataclasses
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from midi_extractor import taxonomy as tx
from midi_extractor.atomic import atomic_open, file_sha256  # noqa: F401  (file_sha256: the checkpoint reference)

log = logging.getLogger(__name__)

REQUIRED_KEYS = ("model", "optimizer", "scheduler", "scaler", "step", "epoch", "best_metric", "config",
                 "stem", "role", "taxonomy_version")
CONFIG_KEYS = ("front_end", "model", "n_outputs", "drum_classes", "loss_weights", "train")
BASE_PREFIX = "base-"  # a shared base's ``stem``: base-pitched, base-percussive
PITCHED = "pitched"
_said: set[tuple[str, str]] = set()


class CheckpointError(ValueError):
    """A checkpoint that is missing, unreadable or not by the contract; the message names the file."""


class CheckpointMismatch(CheckpointError):
    """A readable checkpoint asked to serve a stem, role, front end or model size it was not
    trained for; the one-line message names the file, what it is and what was asked."""


def save_checkpoint(path: str | Path, ckpt: Mapping[str, Any]) -> Path:
    """Write ``ckpt`` to ``path`` atomically (``atomic.atomic_open``: a temporary file in
    the same folder, fsync'ed, given the umask's mode like every other output, then
    ``os.replace``; the folder is fsync'ed after). A failure at any point leaves an
    existing ``path`` untouched. Returns the path."""
    import torch

    path = Path(path)
    with atomic_open(path, "wb") as f:
        torch.save(dict(ckpt), f)
    try:  # make the rename itself durable
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError:
        pass
    return path


def load_checkpoint(path: str | Path, map_location: Any = "cpu") -> dict[str, Any]:
    """Load a checkpoint with ``torch.load(weights_only=True)``. Raises
    :class:`CheckpointError` naming the file when it is missing, corrupt or
    lacks contract keys."""
    import torch

    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint not found")
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # noqa: BLE001 - truncated zip, pickle error, unsafe global ...
        raise CheckpointError(f"{path}: not a readable checkpoint ({_reason(exc)})") from None
    if not isinstance(ckpt, dict):
        raise CheckpointError(f"{path}: not a checkpoint dict (got {type(ckpt).__name__})")
    missing = [k for k in REQUIRED_KEYS if k not in ckpt]
    if missing:
        raise CheckpointError(f"{path}: checkpoint lacks {', '.join(missing)}")
    if not isinstance(ckpt["config"], dict) or "n_outputs" not in ckpt["config"]:
        raise CheckpointError(f"{path}: checkpoint config lacks n_outputs")
    return ckpt


def _reason(exc: Exception) -> str:
    """One line of a load error: torch's weights-only refusal is pages of advice (including to
    load with ``weights_only=False``, which a garbage or hostile file must never get); keep its
    ``WeightsUnpickler error`` and the exception's name."""
    text = str(exc)
    if "WeightsUnpickler error:" in text:
        text = text.split("WeightsUnpickler error:", 1)[1].split("Check the documentation", 1)[0]
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    first = lines[0] if lines else "unreadable"
    return f"{type(exc).__name__}: {first.split('. ')[0] if len(first) > 160 else first}"


def build_model(ckpt: Mapping[str, Any]):
    """The :class:`~midi_extractor.model.transcriber.Transcriber` of a checkpoint dict, weights
    loaded, in eval mode, on the CPU (move it with ``.to(device)``)."""
    from midi_extractor.model.transcriber import Transcriber

    model = Transcriber.from_config(ckpt["config"])
    model.load_state_dict(ckpt["model"])
    return model.eval()


def export_weights(src: str | Path, out: str | Path) -> Path:
    """A weights-only copy of checkpoint ``src`` at ``out`` (optimizer, scheduler, scaler and
    RNG state dropped; the config that rebuilds the model kept): what a shipped base is."""
    ckpt = load_checkpoint(src)
    slim = {**{k: ckpt[k] for k in REQUIRED_KEYS}, "optimizer": {}, "scheduler": {}, "scaler": {},
            "train_state": {}}
    return save_checkpoint(out, slim)


# ------------------------------------------------------------------ identity
@dataclass(frozen=True)
class Identity:
    """What a checkpoint says it is. ``None`` fields are unknown and never compared."""

    stem: str | None
    role: str | None = None
    drum_classes: tuple[str, ...] | None = None
    front_end: Mapping[str, Any] | None = None
    model_size: str | None = None

    @classmethod
    def of(cls, ckpt: Mapping[str, Any]) -> "Identity":
        """The identity a checkpoint dict (contract 2) records."""
        config = ckpt.get("config") or {}
        classes = config.get("drum_classes")
        return cls(ckpt.get("stem"), ckpt.get("role"), tuple(classes) if classes else None,
                   config.get("front_end"), (config.get("model") or {}).get("size"))

    @property
    def base(self) -> str | None:
        """The shared base's name (``pitched`` for ``stem: base-pitched``), else None."""
        stem = str(self.stem or "")
        return stem[len(BASE_PREFIX):] if stem.startswith(BASE_PREFIX) else None

    @property
    def kind(self) -> str:
        """``percussive`` (it outputs drum classes) or ``pitched``."""
        return tx.PERCUSSIVE if self.drum_classes else PITCHED

    def describe(self) -> str:
        what = f"shared base {self.base!r}" if self.base else f"stem {self.stem!r}"
        odd = self.role and (self.role == tx.PERCUSSIVE) != (self.kind == tx.PERCUSSIVE)
        return f"{what} ({self.role or self.kind}{f', {self.kind} outputs' if odd else ''})"


def stem_kind(stem: str) -> str:
    """``percussive`` for the drum stems, else ``pitched``."""
    return tx.PERCUSSIVE if tx.STEMS[stem].is_drum else PITCHED


def check_fits(it: Identity, path: str | Path, stem: str, *, role: str | None = None, front_end: Any = None,
               model_size: str | None = None, params: Any = None, fallback_for: str | None = None,
               say_base: bool = True) -> None:
    """Raise :class:`CheckpointMismatch` unless the checkpoint at ``path`` may serve ``stem``.

    It fits when it is ``stem``'s own checkpoint (of ``role`` when one is asked), or a shared
    base of the stem's kind (pitched or percussive) that ``params`` does not rule out: it is
    refused only when ``stems.<stem>.base`` names another base and the base was not trained on
    ``stem`` (``pretrain.<base>.stems``). Its kind always matches the stem's. ``front_end``
    (a ``FrontEndConfig``) and ``model_size``, when given, must equal the checkpoint's (a model
    built from params that takes these weights). ``fallback_for``: the stem the routing
    chose ``stem``'s model for (the routing has said so). A base serving a stem is said
    once per process and file (``say_base``)."""
    asked = f"stem {stem!r} ({role or stem_kind(stem)}"
    asked += f"; the fallback for {fallback_for!r})" if fallback_for else ")"
    problem = _stem_problem(it, stem, role, params) or _build_problem(it, front_end, model_size)
    if problem:
        raise CheckpointMismatch(f"{path}: checkpoint of {it.describe()}{problem[0]}, asked for {asked}{problem[1]}")
    if it.base and say_base and (str(path), stem) not in _said:
        _said.add((str(path), stem))
        log.warning("%s is the shared base %r, not a model fine-tuned on %s; using it for %s",
                    path, it.base, stem, stem)


def _stem_problem(it: Identity, stem: str, role: str | None, params: Any) -> tuple[str, str] | None:
    """``(what it is, what was asked)`` suffixes when the stem, role or kind do not fit."""
    if it.kind != stem_kind(stem):
        return "", ""
    if it.base is None:
        if it.stem != stem or (role and it.role and it.role != role):
            return "", ""
        return None
    wanted = getattr((params.stems if params is not None else {}).get(stem), "base", "") or ""
    trained = params.pretrain.get(it.base) if params is not None else None
    if not wanted or wanted == it.base or (trained is not None and stem in trained.stems):
        return None
    return "", f", whose params base is {wanted!r}"


def _build_problem(it: Identity, front_end: Any, model_size: str | None) -> tuple[str, str] | None:
    """``(what it is, what was asked)`` suffixes when the front end or model size differ."""
    if model_size and it.model_size and it.model_size != model_size:
        return f" is model size {it.model_size!r}", f" at model size {model_size!r} (params model.size)"
    if front_end is None or it.front_end is None:
        return None
    names = {f.name for f in dataclasses.fields(front_end)}
    theirs = dataclasses.asdict(type(front_end)(**{k: v for k, v in it.front_end.items() if k in names}))
    ours = dataclasses.asdict(front_end)
    diff = [k for k in ours if theirs[k] != ours[k]]
    if not diff:
        return None
    show = lambda d: ", ".join(f"{k}={d[k]}" for k in diff[:4])  # noqa: E731
    return f" has front end {show(theirs)}", f" with {show(ours)} (params features)"
