"""A model run over a signal of any length: overlapping windows, their centre frames
stitched back together. One home for inference (``infer.engine``, ``infer.stream``) and
for training's whole-track validation (``train.validation``), so a checkpoint is
validated exactly as it will transcribe.

``activations(model, audio, front_end)`` -> ``{head: (n_frames, N)}`` probabilities for a
mono float32 signal at ``front_end.sample_rate_hz``. The front end runs once over the signal
(:class:`WindowFeed`), the rest of the model once a window. ``model`` is a torch
:class:`~midi_extractor.model.transcriber.Transcriber` or a numpy model (``is_numpy``, such as
``infer.onnx_runtime.OnnxModel``, which runs without torch); either has ``features(audio (B, S))
-> (B, T, F)``, whose ``reach_samples`` says how far a frame reads, and
``logits_from_features((B, T, F)) -> {head: (B, T, N)}``."""
from __future__ import annotations

import itertools
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
# Context: a pitched model's windows keep 0.5 s either side (one onnxruntime thread: piano 4.7-4.8x
# Basic Pitch's speed with 1 s, 5.1-5.2x with 0.5 s; the seven pitched stems' validation mean 0.8925
# both, retrained); a drum model's keep 1 s (0.5 s cost drums 0.003 and high_percs 0.012 of
# validation, without retraining): benchmarks/RESULTS.md, "Session of 2026-12-07 (fourth)".
WINDOW_S = 10.0        # audio the model sees at once
CONTEXT_S = 0.5        # of which this much either side is context, not kept (a pitched model)
DRUM_CONTEXT_S = 1.0   # the same for a drum model
CPU_BATCH_WINDOWS, BATCH_WINDOWS = 1, 2  # windows per forward pass: on the CPU, on an accelerator


@dataclass(frozen=True)
class Window:
    """One model input: the features of samples ``[start, start + length)`` of the audio,
    global frames ``[start // hop, start // hop + length // hop + 1)``; its frames
    ``[keep_from, keep_from + n_keep)`` are global frames ``[frame0, frame0 + n_keep)``."""

    start: int
    length: int
    keep_from: int
    n_keep: int
    frame0: int

    def frames(self, hop: int) -> tuple[int, int]:
        """``(first, stop)``: the global frames ``[first, stop)`` of the window's features."""
        return self.start // hop, self.start // hop + self.length // hop + 1


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


def context_for(drum_classes) -> float:
    """The context either side of a window (s) for a model with ``drum_classes`` (a drum model)
    or without (``None`` or empty: pitched): :data:`DRUM_CONTEXT_S` or :data:`CONTEXT_S`."""
    return DRUM_CONTEXT_S if drum_classes else CONTEXT_S


def batch_windows_for(device: str, asked: int | None = None) -> int:
    """Windows per forward pass on ``device``: ``asked`` when given (at least 1), else
    :data:`CPU_BATCH_WINDOWS` on the CPU and :data:`BATCH_WINDOWS` elsewhere."""
    return max(1, asked or (CPU_BATCH_WINDOWS if device == "cpu" else BATCH_WINDOWS))


class WindowFeed:
    """A signal fed in blocks -> its planned windows' features ``(T, F)`` (``model.features``),
    each window as soon as the samples its frames read have arrived.

    Each frame is computed once, in the run of frames that a window adds to those before it,
    from the samples around them (``model.features.reach_samples`` either side; zeros outside
    the signal): the frames of the whole signal's features, whichever window
    reads them and however the signal arrives. A window's context no longer repeats the front
    end's work (a fifth of every 10-s window), and its edges are the music around it, not zeros.
    Only the samples and frames later windows read are kept."""

    def __init__(self, model: Any, windows: list[Window], front_end: FrontEndConfig, device: str = "cpu"):
        self.model, self.windows, self.device, self.next = model, windows, device, 0
        self.hop = front_end.hop_length
        self.margin = -(-model.features.reach_samples // self.hop) * self.hop   # samples, whole hops
        self.buf, self.buf_start = np.zeros(0, dtype=np.float32), 0         # signal samples from buf_start
        self.done = windows[0].frames(self.hop)[0] if windows else 0        # the frame after the last computed
        self.feats, self.feats_start = None, self.done                      # frames from feats_start

    def feed(self, x: np.ndarray | None) -> list[tuple[Window, np.ndarray]]:
        """Windows complete after ``x`` (``None``: the signal has ended, zeros follow)."""
        if x is not None:
            self.buf = np.concatenate([self.buf, np.asarray(x, dtype=np.float32)])
        end = self.buf_start + len(self.buf)
        ready = []
        while self.next < len(self.windows):
            w = self.windows[self.next]
            first, stop = w.frames(self.hop)
            if x is not None and (stop - 1) * self.hop + self.margin >= end:
                break
            self._compute(stop)
            ready.append((w, self.feats[first - self.feats_start: stop - self.feats_start]))
            self.next += 1
        if self.feats is not None and self.next < len(self.windows):   # forget what no later window reads
            keep = max(self.windows[self.next].frames(self.hop)[0], self.feats_start)
            self.feats, self.feats_start = self.feats[keep - self.feats_start:], keep
        drop = max(0, min(self.done * self.hop - self.margin - self.buf_start, len(self.buf)))
        self.buf, self.buf_start = self.buf[drop:], self.buf_start + drop
        return ready

    def _compute(self, stop: int) -> None:
        """Features of frames ``[done, stop)`` from samples ``margin`` beyond them."""
        if stop <= self.done:
            return
        s0 = self.done * self.hop - self.margin
        x = np.zeros((stop - 1 - self.done) * self.hop + 2 * self.margin + 1, dtype=np.float32)
        if max(s0, 0) < self.buf_start:
            raise RuntimeError(f"samples from {max(s0, 0)} were dropped before frame {self.done} was computed")
        lo, hi = max(s0, self.buf_start), min(s0 + len(x), self.buf_start + len(self.buf))
        if hi > lo:
            x[lo - s0: hi - s0] = self.buf[lo - self.buf_start: hi - self.buf_start]
        k = self.margin // self.hop
        new = features_of(self.model, x, self.device)[k: k + stop - self.done]
        self.feats = new if self.feats is None else np.concatenate([self.feats, new])
        self.done = stop


def features_of(model: Any, x: np.ndarray, device: str = "cpu") -> np.ndarray:
    """``model.features`` of one signal ``(S,)`` -> ``(S // hop + 1, F)`` float32 numpy."""
    if getattr(model, "is_numpy", False):
        return model.features(x[None])[0]
    import torch

    _flush_denormals()
    with torch.inference_mode():
        return model.features(torch.from_numpy(x)[None].to(device)).float().cpu().numpy()[0]


def run_model(model: Any, chunks: Sequence[np.ndarray], device: str = "cpu") -> list[dict[str, np.ndarray]]:
    """Probabilities ``(T, N)`` per head for windows' features ``(T, F)``
    (``model.logits_from_features``), each run of equal length one forward pass on ``device``
    (a signal's shorter last window is a pass of its own; a numpy model, such as
    ``onnx_runtime.OnnxModel``, runs without torch)."""
    return [p for _, run in itertools.groupby(chunks, key=len) for p in _forward(model, list(run), device)]


def _forward(model: Any, chunks: Sequence[np.ndarray], device: str) -> list[dict[str, np.ndarray]]:
    """:func:`run_model` on equal-length chunks."""
    if getattr(model, "is_numpy", False):
        logits = model.logits_from_features(np.stack(chunks).astype(np.float32))
        probs = {k: (1.0 / (1.0 + np.exp(-v))).astype(np.float32) for k, v in logits.items() if k in HEADS}
        return [{k: v[i] for k, v in probs.items()} for i in range(len(chunks))]
    import torch

    _flush_denormals()
    with torch.inference_mode():
        logits = model.logits_from_features(torch.from_numpy(np.stack(chunks)).float().to(device))
        probs = {k: torch.sigmoid(v).float().cpu().numpy() for k, v in logits.items() if k in HEADS}
    return [{k: v[i] for k, v in probs.items()} for i in range(len(chunks))]


def _flush_denormals() -> None:
    """Trained recurrent layers drift into subnormal floats, which x86 computes ~10x slower
    (a tiny overfitted GRU: 2.2 s -> 0.25 s per 24 s track); flushing them to zero changes
    nothing measurable. Process-wide setting."""
    import torch

    torch.set_flush_denormal(True)


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
    """Frame probabilities ``(n_frames, N)`` per head of a whole mono signal at the model's rate:
    its windows' features (:class:`WindowFeed`, the signal as one block), ``batch_windows``
    windows a forward pass (default: :func:`batch_windows_for` the device)."""
    windows = plan_windows(len(audio), front_end, window_s, context_s)
    feed = WindowFeed(model, windows, front_end, device)
    ready = feed.feed(audio) + feed.feed(None)
    pieces: list[tuple[Window, dict[str, np.ndarray]]] = []
    step = batch_windows_for(device, batch_windows)
    for i in range(0, len(ready), step):
        batch = ready[i:i + step]
        pieces.extend(zip((w for w, _ in batch), run_model(model, [f for _, f in batch], device)))
    return unwrap(pieces, front_end.n_frames(len(audio)))
