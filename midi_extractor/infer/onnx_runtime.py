"""Running an exported model with onnxruntime, without importing torch.

``models/<stem>/model.onnx`` (written by ``midi-extractor export``, traced from
the torch model) holds the whole model, front end included: audio ``(B, S)``
in, logits ``(B, T, N)`` out; nothing of the model is computed here.
``model.onnx.json`` beside it says which checkpoint it came from (size and
SHA-256), the stem, the front end and the drum classes; :func:`find_export`
uses the export only when it matches the checkpoint and was written in this
:data:`FORMAT`, so a retrained model is never shadowed by a stale export.
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

ONNX_NAME = "model.onnx"
META_SUFFIX = ".json"
#: 2: audio in (format 1 took power spectrograms, computed outside the graph)
FORMAT = 2
#: the graph's one input: audio (B, S) float32 at the front end's sample rate
INPUT = "audio"


def export_paths(checkpoint: str | Path) -> tuple[Path, Path]:
    """``(model.onnx, model.onnx.json)`` beside a checkpoint."""
    onnx_path = Path(checkpoint).parent / ONNX_NAME
    return onnx_path, onnx_path.with_name(onnx_path.name + META_SUFFIX)


def find_export(checkpoint: str | Path) -> dict[str, Any] | None:
    """The export metadata of ``checkpoint`` when ``model.onnx`` beside it was made
    from this very file (size and SHA-256 match) in a format this code reads;
    otherwise ``None`` (a stale or foreign export is logged as a warning)."""
    onnx_path, meta_path = export_paths(checkpoint)
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
    if meta.get("checkpoint_size") != stat.st_size or meta.get("checkpoint_sha256") != file_sha256(checkpoint):
        log.warning("%s was exported from another checkpoint than %s (re-run midi-extractor export); "
                    "using the checkpoint", onnx_path, checkpoint)
        return None
    return meta


class OnnxModel:
    """``model(audio (B, S) float32 numpy) -> {head: logits (B, T, N)}`` through onnxruntime,
    ``T = S // hop_length + 1`` (the torch model's ``forward``); ``threads``: intra-op threads
    (one inter-op thread), ``None`` for onnxruntime's default (all cores)."""

    is_numpy = True

    def __init__(self, onnx_path: str | Path, meta: dict[str, Any], threads: int | None = None):
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.log_severity_level = 3
        if threads:
            options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
        self.session = ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])

    def __call__(self, audio: np.ndarray) -> dict[str, np.ndarray]:
        audio = np.ascontiguousarray(audio, dtype=np.float32)
        return dict(zip(HEADS, self.session.run(list(HEADS), {INPUT: audio})))

    def eval(self) -> "OnnxModel":
        return self

    def to(self, device: str) -> "OnnxModel":
        if device != "cpu":
            raise ValueError("the ONNX runtime here runs on the CPU; use --runtime torch for a GPU")
        return self
