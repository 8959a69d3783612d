"""A model run over a signal of any length: overlapping windows, their centre frames
stitched back together. One home for inference (``infer.engine``, ``infer.stream``) and
for training's whole-track validation (``train.validation``), so a checkpoint is
validated exactly as it will transcribe.

``activations(model, audio, front_end)`` -> ``{head: (n_frames, N)}`` probabilities for a
mono float32 signal at ``front_end.sample_rate_hz``; ``model`` is a torch
:class:`~midi_extractor.model.transcriber.Transcriber` or a numpy model (``is_numpy``,
such as ``infer.onnx_runtime.OnnxModel``, which runs without torch)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from midi_extractor.config import FrontEndConfig
from midi_extractor.model.labels import HEADS

# Shorter windows keep the GRUs' sequential length down: on 2 CPU cores (10 s, 1 s, 8) ran
# 937x real time against 649x for (20 s, 2 s, 2) (benchmarks/RESULTS.md). The harmonic model's
# 2-D feature maps gain nothing from a wider batch and cost ~85 MB per window: on the CPU one
# window a pass runs 6-8 % faster than two on one thread and as fast on two (onnxruntime,
# benchmarks/RESULTS.md); an accelerator takes two at a time.
WINDOW_S = 10.0   # audio the model sees at once
CONTEXT_S = 1.0   # of which this much either side is context, not kept
CPU_BATCH_WINDOWS, BATCH_WINDOWS = 1, 2  # windows per forward pass: on the CPU, on an accelerator


@dataclass(frozen=True)
class Window:
    """One model input: samples ``[start, start + length)`` of the audio (zeros
    outside it); its frames ``[keep_from, keep_from + n_keep)`` are global
    frames ``[frame0, frame0 + n_keep)``."""

    start: int
    length: int
    keep_from: int
    n_keep: int
    frame0: int


def plan_windows(n_samples: int, front_end: FrontEndConfig, window_s: float = WINDOW_S,
                 context_s: float = CONTEXT_S) -> list[Window]:
    """Windows covering all ``front_end.n_frames(n_samples)`` frames once.
    Audio that fits in one window is one window of exactly its length; the last window of
    longer audio stops at its end (within a hop) instead of running on over zeros, which
    cost time and, in a window's instance norms, skewed its statistics toward silence."""
    hop = front_end.hop_length
    n_frames = front_end.n_frames(n_samples)
    win_f = max(1, int(round(window_s * front_end.frame_rate_hz)))
    ctx_f = max(0, int(round(context_s * front_end.frame_rate_hz)))
    centre_f = win_f - 2 * ctx_f
    if centre_f <= 0:
        raise ValueError(f"window_s={window_s} must exceed twice context_s={context_s}")
    if n_samples <= win_f * hop:
        return [Window(0, n_samples, 0, n_frames, 0)]
    windows = []
    for g0 in range(0, n_frames, centre_f):
        n_keep = min(centre_f, n_frames - g0)
        length_f = win_f if n_keep == centre_f else ctx_f + n_keep
        windows.append(Window((g0 - ctx_f) * hop, length_f * hop, ctx_f, n_keep, g0))
    return windows


def batch_windows_for(device: str, asked: int | None = None) -> int:
    """Windows per forward pass on ``device``: ``asked`` when given (at least 1), else
    :data:`CPU_BATCH_WINDOWS` on the CPU and :data:`BATCH_WINDOWS` elsewhere."""
    return max(1, asked or (CPU_BATCH_WINDOWS if device == "cpu" else BATCH_WINDOWS))


def cut(audio: np.ndarray, window: Window) -> np.ndarray:
    """The window's samples, zero-padded outside the audio."""
    out = np.zeros(window.length, dtype=np.float32)
    lo, hi = max(window.start, 0), min(window.start + window.length, len(audio))
    if hi > lo:
        out[lo - window.start: hi - window.start] = audio[lo:hi]
    return out


def run_model(model: Any, chunks: Sequence[np.ndarray], device: str = "cpu") -> list[dict[str, np.ndarray]]:
    """Probabilities ``(T, N)`` per head for chunks, one forward pass on ``device`` (chunks of
    unequal length, such as a signal's shorter last window, one pass each; a numpy model, such
    as ``onnx_runtime.OnnxModel``, runs without torch)."""
    if len({len(c) for c in chunks}) > 1:
        return [p for c in chunks for p in _forward(model, [c], device)]
    return _forward(model, chunks, device)


def _forward(model: Any, chunks: Sequence[np.ndarray], device: str) -> list[dict[str, np.ndarray]]:
    """:func:`run_model` on equal-length chunks."""
    if getattr(model, "is_numpy", False):
        logits = model(np.stack(chunks).astype(np.float32))
        probs = {k: (1.0 / (1.0 + np.exp(-v))).astype(np.float32) for k, v in logits.items() if k in HEADS}
        return [{k: v[i] for k, v in probs.items()} for i in range(len(chunks))]
    import torch

    # Trained recurrent layers drift into subnormal floats, which x86 computes ~10x slower
    # (a tiny overfitted GRU: 2.2 s -> 0.25 s per 24 s track); flushing them to zero changes
    # nothing measurable. Process-wide setting.
    torch.set_flush_denormal(True)
    with torch.inference_mode():
        logits = model(torch.from_numpy(np.stack(chunks)).float().to(device))
        probs = {k: torch.sigmoid(v).float().cpu().numpy() for k, v in logits.items() if k in HEADS}
    return [{k: v[i] for k, v in probs.items()} for i in range(len(chunks))]


def unwrap(pieces: Sequence[tuple[Window, dict[str, np.ndarray]]], n_frames: int) -> dict[str, np.ndarray]:
    """Stitch the kept centre frames of each window into ``(n_frames, N)`` arrays."""
    out: dict[str, np.ndarray] = {}
    for window, probs in pieces:
        for head, p in probs.items():
            if head not in out:
                out[head] = np.zeros((n_frames, p.shape[-1]), dtype=np.float32)
            kept = p[window.keep_from: window.keep_from + window.n_keep]
            if len(kept) != window.n_keep:
                raise ValueError(f"model returned {len(p)} frames for {window.length} samples; "
                                 f"expected at least {window.keep_from + window.n_keep}")
            out[head][window.frame0: window.frame0 + window.n_keep] = kept
    return out


def activations(model: Any, audio: np.ndarray, front_end: FrontEndConfig, window_s: float = WINDOW_S,
                context_s: float = CONTEXT_S, batch_windows: int | None = None,
                device: str = "cpu") -> dict[str, np.ndarray]:
    """Frame probabilities ``(n_frames, N)`` per head of a whole mono signal at
    the model's rate, ``batch_windows`` windows at a time (default: :func:`batch_windows_for` the device)."""
    windows = plan_windows(len(audio), front_end, window_s, context_s)
    pieces: list[tuple[Window, dict[str, np.ndarray]]] = []
    step = batch_windows_for(device, batch_windows)
    for i in range(0, len(windows), step):
        batch = windows[i:i + step]
        pieces.extend(zip(batch, run_model(model, [cut(audio, w) for w in batch], device)))
    return unwrap(pieces, front_end.n_frames(len(audio)))
