"""Long files in memory bounded by the window, not the file.

A file is read block by block at the model's rate, in two passes:

1. ``reading.scan_file``: its length, peak and level, so the conditioning
   (``audio_in.condition``: overdriven audio scaled to full scale), the silence check and
   the clipping warning are what the whole-file path decides, and a bad file fails before
   the model runs; a file of up to ``reading.REPLAY_MAX_S`` keeps its blocks for pass 2;
2. :func:`transcribe_path`: the engine's windows (``engine.plan_windows``) get their
   features as the signal arrives (``engine.WindowFeed``), run ``engine.batch_windows_for`` at a time
   as ``engine.activations`` runs them, and their centre frames go to a
   :class:`NoteFeed`, which decodes up to the last frame where no note is open
   and keeps only the frames after it. The tempo's onset envelope
   (``tempo.OnsetStream``) is computed from the same blocks.

The notes are those of ``engine.transcribe_array`` on the whole signal: the same
samples, the same windows in the same batches, and a decoding cut only where
every pitch's onset and frame probabilities are under their thresholds.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from midi_extractor.infer import engine
from midi_extractor.infer.audio_in import full_scale_gain
from midi_extractor.model.saturation import saturated
from midi_extractor.infer.reading import scan_file
from midi_extractor.infer.settings import pinned
from midi_extractor.model.decoding import Note, decode, note_key

log = logging.getLogger("midi_extractor.infer.engine")

class NoteFeed:
    """Notes of frame probabilities that arrive in time order, decoded (``decoding.decode``)
    up to the last frame where every onset and (pitched stems) frame probability is under
    its threshold: no note starts before it and ends after it, so the notes are those
    of one decoding of all frames. Only the frames after that cut are kept."""

    def __init__(self, loaded: engine.LoadedModel, onset_threshold: float, frame_threshold: float,
                 min_note_s: float, drum_note_s: float, frame_note_threshold: float | None = None):
        self.fe, self.classes = loaded.front_end, loaded.drum_classes
        self.thresholds = (onset_threshold, frame_threshold, min_note_s, drum_note_s)
        self.frame_note_threshold = frame_note_threshold
        self.heads = ("onset", "velocity") if self.classes else ("onset", "frame", "velocity")
        self.parts: list[dict[str, np.ndarray]] = []
        self.base = 0     # global frame of the first frame kept
        self.n_kept = 0   # frames kept
        self.cut = 0      # global frame of the last clean frame seen (0: none yet)
        self.notes: list[Note] = []

    def feed(self, probs: dict[str, np.ndarray]) -> None:
        part = {h: probs[h] for h in self.heads if h in probs}
        clean = (part["onset"] < self.thresholds[0]).all(axis=1)
        if "frame" in part:
            clean &= (part["frame"] < self.thresholds[1]).all(axis=1)
        hits = np.flatnonzero(clean)
        if hits.size:
            self.cut = self.base + self.n_kept + int(hits[-1])
        self.parts.append(part)
        self.n_kept += len(part["onset"])
        if self.cut > self.base:
            self._decode(self.cut - self.base)

    def finish(self) -> list[Note]:
        if self.n_kept:
            self._decode(self.n_kept)
        return sorted(self.notes, key=note_key)

    def _decode(self, n: int) -> None:
        """Decode the first ``n`` kept frames; keep the rest."""
        whole = {h: np.concatenate([p[h] for p in self.parts]) for h in self.parts[0]}
        on, fr, min_s, drum_s = self.thresholds
        notes = decode({h: v[:n] for h, v in whole.items()}, self.fe, self.classes, on, fr, min_s, drum_s,
                       self.frame_note_threshold)
        self.notes.extend(self._shifted(notes, self.base))
        self.parts = [{h: v[n:] for h, v in whole.items()}]
        self.base, self.n_kept = self.base + n, self.n_kept - n

    def _shifted(self, notes: list[Note], frames: int) -> list[Note]:
        """Notes of a decoding that began at global frame ``frames``, with the times a
        decoding from frame 0 gives (``t * hop_s`` of the global frame)."""
        if frames == 0:
            return notes
        hop = self.fe.hop_s
        out = []
        for n in notes:
            t0 = int(round(n.start_s / hop)) + frames
            end = (float(t0 * hop + self.thresholds[3]) if self.classes
                   else float((int(round(n.end_s / hop)) + frames) * hop))
            out.append(Note(float(t0 * hop), end, n.pitch, n.velocity))
        return out


def run_windows(loaded: engine.LoadedModel, blocks: Iterator[np.ndarray], n_samples: int, notes: NoteFeed,
                window_s: float, context_s: float, batch_windows: int | None = None) -> None:
    """The model over the windows of a signal of ``n_samples`` that arrives in ``blocks``,
    in ``engine.activations``' batches (default: ``engine.batch_windows_for`` the model's device);
    each window's centre frames go to ``notes``."""
    windows = engine.plan_windows(n_samples, loaded.front_end, window_s, context_s)
    device = getattr(loaded, "device", "cpu")
    feed, pending = engine.WindowFeed(loaded.model, windows, loaded.front_end, device), []
    batch = engine.batch_windows_for(device, batch_windows)
    for block in _with_end(blocks):
        pending.extend(feed.feed(block))
        while len(pending) >= batch or (block is None and pending):
            now, pending = pending[:batch], pending[batch:]
            probs = engine.run_model(loaded.model, [c for _, c in now], device)
            for w, p in zip((w for w, _ in now), probs):
                notes.feed(_kept(w, p))


def _with_end(blocks: Iterator[np.ndarray]) -> Iterator[np.ndarray | None]:
    yield from blocks
    yield None


def _kept(window: engine.Window, probs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """A window's centre frames per head (``engine.unwrap``'s slice and check)."""
    out = {}
    for head, p in probs.items():
        kept = p[window.keep_from: window.keep_from + window.n_keep]
        if len(kept) != window.n_keep:
            raise ValueError(f"model returned {len(p)} frames for {window.length} samples; "
                             f"expected at least {window.keep_from + window.n_keep}")
        out[head] = kept
    return out


@dataclass
class Streamed:
    """Notes of one input, its length at the model's rate and its level, with what a
    tempo estimate reads: the onset envelope (a file streamed with ``onsets``) or the signal;
    ``drive``: the saturation the model heard it at (``api`` records it; 0: none)."""

    notes: list[Note]
    n_samples: int
    level_db: float
    envelope: np.ndarray | None = None
    signal: np.ndarray | None = None
    drive: float = 0.0

    def tempo(self, rate_hz: int, name: str):
        """``tempo.TempoEstimate`` of the input (``TempoError`` for silence)."""
        from midi_extractor.infer.tempo import HOP, estimate_tempo, tempo_of_envelope

        if self.signal is not None:
            return estimate_tempo(self.signal, rate_hz, name)
        envelope = self.envelope if self.envelope is not None else np.zeros(0)
        return tempo_of_envelope(envelope, rate_hz / HOP, self.level_db, name)


def transcribe_whole(loaded: engine.LoadedModel, audio: np.ndarray, sample_rate_hz: int | None,
                     saturate: float | None = None, **thresholds: float) -> Streamed:
    """An array input, transcribed whole (``engine.transcribe_array``; it is in memory already).
    ``thresholds`` are resolved (``api``): a ``frame_note_threshold`` of None means none;
    ``saturate``: ``model.saturation.saturated``'s drive (0: off; None: the model's)."""
    from midi_extractor.audio import rms_db

    x, name = engine.load_input(audio, sample_rate_hz, loaded.front_end.sample_rate_hz)
    if engine.is_silent(x):
        log.warning("%s: audio is silent; no notes", name)
        return Streamed([], len(x), rms_db(x), signal=x)
    notes = engine.transcribe_array(loaded, x, name=name, saturate=saturate, **{**thresholds, **pinned(thresholds)})
    return Streamed(notes, len(x), rms_db(x), signal=x)


def transcribe_path(loaded: engine.LoadedModel, path: str | Path, *, onset_threshold: float,
                    frame_threshold: float, min_note_s: float, drum_note_s: float,
                    frame_note_threshold: float | None = None,
                    window_s: float = engine.WINDOW_S, context_s: float | None = None,
                    onsets: bool = False, keep_signal: bool = False, saturate: float | None = None) -> Streamed:
    """Notes of an audio file in memory bounded by the window: :func:`scan_file`, then one
    streamed pass (model, decoding and, with ``onsets``, the tempo's onset envelope;
    ``keep_signal``: the whole signal too, for a mix; ``saturate``: the model hears
    ``model.saturation.saturated`` at that drive, 0 off, None the model's ``loaded.saturate``). Silent audio: no notes (a warning).
    Raises ``audio.AudioError`` for a bad file."""
    from midi_extractor.infer.tempo import OnsetStream

    rate = loaded.front_end.sample_rate_hz
    scan = scan_file(path, rate)
    kept: list[np.ndarray] = []
    whole = (lambda: np.concatenate(kept) if kept else np.zeros(0, np.float32)) if keep_signal else (lambda: None)
    if scan.silent:
        log.warning("%s: audio is silent; no notes", path)
        kept.extend(scan.replay(path, rate) if keep_signal else ())
        return Streamed([], scan.n_samples, scan.level_db, signal=whole())
    scale = full_scale_gain(scan.peak, scan.own_peak, str(path))
    saturate = loaded.saturate if saturate is None else saturate
    envelope = OnsetStream(scan.peak) if onsets and not keep_signal else None
    feed = NoteFeed(loaded, onset_threshold, frame_threshold, min_note_s, drum_note_s, frame_note_threshold)

    def blocks() -> Iterator[np.ndarray]:
        for y in scan.replay(path, rate):
            if envelope is not None:
                envelope.feed(y)
            if keep_signal:
                kept.append(y)
            if saturate:
                yield saturated(y, saturate, scan.peak)
            else:
                yield y if scale == 1.0 else (y * scale).astype(np.float32)

    context_s = engine.context_for(loaded.drum_classes) if context_s is None else context_s
    run_windows(loaded, blocks(), scan.n_samples, feed, window_s, context_s)
    return Streamed(feed.finish(), scan.n_samples, scan.level_db, envelope.finish() if envelope else None, whole())
