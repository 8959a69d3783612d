"""Running an exported model with onnxruntime, without importing torch.

``models/<stem>/model.onnx`` (written by ``midi-extractor export``) holds the
network and the front end's filterbank and log; the STFT power spectrogram(s)
are computed here in numpy, exactly as ``torch.stft(center=True,
pad_mode="constant", window=hann)`` does. ``model.onnx.json`` beside it says
which checkpoint it came from (size and SHA-256), the stem, the front end and
the drum classes; :func:`find_export` uses the export only when it matches
the checkpoint, so a retrained model is never shadowed by a stale export.
"""
from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np

from midi_extractor.atomic import file_sha256

log = logging.getLogger(__name__)

ONNX_NAME = "model.onnx"
META_SUFFIX = ".json"
FORMAT = 1
HEADS = ("onset", "offset", "frame", "velocity")


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
    if meta.get("format") != FORMAT or meta.get("checkpoint_size") != stat.st_size or \
            meta.get("checkpoint_sha256") != file_sha256(checkpoint):
        log.warning("%s was exported from another checkpoint than %s (re-run midi-extractor export); "
                    "using the checkpoint", onnx_path, checkpoint)
        return None
    return meta


def power_stft(audio: np.ndarray, n_fft: int, hop: int) -> np.ndarray:
    """``(B, n_fft // 2 + 1, S // hop + 1)`` float32 power spectrogram of ``(B, S)``:
    zero padding of ``n_fft // 2`` either side, periodic Hann window."""
    audio = np.asarray(audio, dtype=np.float32)
    pad = np.pad(audio, ((0, 0), (n_fft // 2, n_fft // 2)))
    n_frames = audio.shape[1] // hop + 1
    frames = np.lib.stride_tricks.sliding_window_view(pad, n_fft, axis=1)[:, ::hop][:, :n_frames]
    window = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)).astype(np.float32)
    spec = np.fft.rfft(frames * window, axis=2)
    return (spec.real ** 2 + spec.imag ** 2).astype(np.float32).transpose(0, 2, 1)


class OnnxModel:
    """``model(audio (B, S) numpy) -> {head: logits (B, T, N)}`` through onnxruntime."""

    is_numpy = True

    def __init__(self, onnx_path: str | Path, meta: dict[str, Any]):
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.log_severity_level = 3
        self.session = ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])
        self.n_ffts = [int(n) for n in meta["stft_n_fft"]]
        self.hop = int(meta["front_end"]["hop_length"])

    def __call__(self, audio: np.ndarray) -> dict[str, np.ndarray]:
        feeds = {f"power_{i}": power_stft(audio, n, self.hop) for i, n in enumerate(self.n_ffts)}
        return dict(zip(HEADS, self.session.run(list(HEADS), feeds)))

    def eval(self) -> "OnnxModel":
        return self

    def to(self, device: str) -> "OnnxModel":
        if device != "cpu":
            raise ValueError("the ONNX runtime here runs on the CPU; use --runtime torch for a GPU")
        return self
