"""Running an exported model with onnxruntime, without importing torch.

``midi-extractor export`` traces a checkpoint's torch model into two graphs beside it:
``features.onnx`` (the front end: audio ``(B, S)`` in, features ``(B, T, F)`` out) and
``model.onnx`` (the rest: features in, logits ``(B, T, N)`` out), so that ``model.windows``
runs the front end once over a signal and the rest once a window, as it runs a torch model;
nothing of the model is computed here. ``model.onnx.json`` beside them says which checkpoint
they came from (size and SHA-256), the stem, the front end, how far a frame reads and the drum
classes; :func:`find_export` uses the export only when it matches the checkpoint and was written
in this :data:`FORMAT`, so a retrained model is never shadowed by a stale export.
"""
from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np

from midi_extractor.atomic import file_sha256
from midi_extractor.model.labels import HEADS

log = logging.getLogger(__name__)

ONNX_NAME, FEATURES_NAME = "model.onnx", "features.onnx"
META_SUFFIX = ".json"
#: 3: two graphs, the front end and the rest (2: one graph from audio; 1: power spectrograms in)
FORMAT = 3
#: the inputs of the two graphs: audio (B, S) float32 at the front end's sample rate, and features
INPUT, FEATURES = "audio", "features"


def export_paths(checkpoint: str | Path) -> tuple[Path, Path, Path]:
    """``(model.onnx, features.onnx, model.onnx.json)`` beside a checkpoint."""
    onnx_path = Path(checkpoint).parent / ONNX_NAME
    return onnx_path, onnx_path.with_name(FEATURES_NAME), onnx_path.with_name(onnx_path.name + META_SUFFIX)


def find_export(checkpoint: str | Path) -> dict[str, Any] | None:
    """The export metadata of ``checkpoint`` when ``model.onnx`` beside it was made
    from this very file (size and SHA-256 match) in a format this code reads;
    otherwise ``None`` (a stale or foreign export is logged as a warning)."""
    onnx_path, features_path, meta_path = export_paths(checkpoint)
    if not onnx_path.is_file() or not meta_path.is_file():
        return None
    try:
        meta = json.loads(meta_path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        log.warning("%s: unreadable export metadata (%s); using the checkpoint", meta_path, exc)
        return None
    stat = Path(checkpoint).stat()
    if meta.get("format") != FORMAT:
        log.warning("%s is in export format %s, this code reads %s (re-run midi-extractor export); "
                    "using the checkpoint", onnx_path, meta.get("format"), FORMAT)
        return None
    if not features_path.is_file():
        log.warning("%s is missing beside %s (re-run midi-extractor export); using the checkpoint",
                    features_path, onnx_path)
        return None
    if meta.get("checkpoint_size") != stat.st_size or meta.get("checkpoint_sha256") != file_sha256(checkpoint):
        log.warning("%s was exported from another checkpoint than %s (re-run midi-extractor export); "
                    "using the checkpoint", onnx_path, checkpoint)
        return None
    return meta


class OnnxModel:
    """The two graphs of an export through onnxruntime: ``features(audio (B, S)) -> (B, T, F)``
    and ``logits_from_features(features) -> {head: logits (B, T, N)}``, ``T = S // hop_length + 1``,
    as the torch model's; calling it runs both (the torch model's ``forward``). ``threads``:
    intra-op threads (one inter-op thread), ``None`` for onnxruntime's default (all cores)."""

    is_numpy = True

    def __init__(self, onnx_path: str | Path, meta: dict[str, Any], threads: int | None = None):
        onnx_path = Path(onnx_path)
        self.session = _session(onnx_path, threads)
        self.features = _FrontEnd(_session(onnx_path.with_name(FEATURES_NAME), threads), int(meta["reach_samples"]))

    def logits_from_features(self, features: np.ndarray) -> dict[str, np.ndarray]:
        features = np.ascontiguousarray(features, dtype=np.float32)
        return dict(zip(HEADS, self.session.run(list(HEADS), {FEATURES: features})))

    def __call__(self, audio: np.ndarray) -> dict[str, np.ndarray]:
        return self.logits_from_features(self.features(audio))

    def eval(self) -> "OnnxModel":
        return self

    def to(self, device: str) -> "OnnxModel":
        if device != "cpu":
            raise ValueError("the ONNX runtime here runs on the CPU; use --runtime torch for a GPU")
        return self


class _FrontEnd:
    """``features.onnx``: ``(audio (B, S)) -> (B, T, F)``; a frame reads ``reach_samples`` either side."""

    def __init__(self, session: Any, reach_samples: int):
        self.session, self.reach_samples = session, reach_samples

    def __call__(self, audio: np.ndarray) -> np.ndarray:
        return self.session.run([FEATURES], {INPUT: np.ascontiguousarray(audio, dtype=np.float32)})[0]


def _session(path: Path, threads: int | None) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    if threads:
        options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
