"""Frame-wise activations -> notes, Onsets & Frames style. Pure numpy.

Pitched stems (:func:`decode_notes`)
    * An onset is the peak frame of each run of consecutive frames whose onset
      probability is ``>= onset_threshold`` (first frame on ties), per pitch.
    * The note then sustains while the frame probability stays
      ``>= frame_threshold``; it ends at the first frame below it, or at the
      next onset of the same pitch, whichever comes first. A note lasts at
      least one frame.
    * ``start_s = onset_frame * hop_s``, ``end_s = end_frame * hop_s`` (end frame
      exclusive); notes shorter than ``min_note_s`` are dropped.
    * Velocity: the velocity head at the onset frame, ``round(v * 127)``
      clipped to 1..127 (labels store ``velocity / 127``).
    * Notes the frame head starts (``frame_note_threshold``; ``None``: none): a run of
      frames ``>= frame_threshold`` in a pitch that holds no onset-started note of that
      pitch (nor ends on the frame where one starts) is a note of its own when its mean
      frame probability is ``>= frame_note_threshold``. It starts at the run's first frame
      and ends after its last. Bowed and swelling sounds heard in no training set (slow
      strings, pads) reach the frame head while their onsets stay under the threshold
      (benchmarks/RESULTS.md, "Notes the frame head starts"); Basic Pitch infers such
      onsets from its note head too.

Percussive stems (:func:`decode_drums`)
    Onsets are picked per drum class the same way; each hit is a note of the
    class's GM key (``taxonomy.DRUM_CLASS_PITCH``) lasting ``drum_note_s``.

Frame ``t`` sits at ``t * hop_s`` seconds (``FrontEndConfig``, torch
``center=True`` framing).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from midi_extractor import taxonomy as tx
from midi_extractor.config import FrontEndConfig


@dataclass(frozen=True, order=True)
class Note:
    """One note: seconds, MIDI pitch (GM drum key for drums), velocity 1..127."""

    start_s: float
    end_s: float
    pitch: int
    velocity: int

    def to_dict(self) -> dict:
        return {"start_s": self.start_s, "end_s": self.end_s, "pitch": self.pitch, "velocity": self.velocity}


def note_key(note: Note) -> tuple:
    """Sort key: start, then pitch, then end."""
    return (note.start_s, note.pitch, note.end_s, note.velocity)


def _check(name: str, array: np.ndarray, shape: tuple[int, ...] | None = None) -> np.ndarray:
    array = np.asarray(array, dtype=np.float32)
    if array.ndim != 2:
        raise ValueError(f"{name} activations must be 2-D (frames, outputs), got shape {array.shape}")
    if shape is not None and array.shape != shape:
        raise ValueError(f"{name} activations have shape {array.shape}, expected {shape}")
    return array


def pick_onsets(onset: np.ndarray, threshold: float) -> list[tuple[int, int]]:
    """``(frame, column)`` of the peak of every above-threshold run in each
    column of ``onset (T, N)``, sorted by frame then column."""
    onset = _check("onset", onset)
    above = onset >= threshold
    if not above.any():
        return []
    padded = np.zeros((above.shape[0] + 2, above.shape[1]), dtype=np.int8)
    padded[1:-1] = above
    diff = np.diff(padded, axis=0)  # +1 at run starts, -1 one past run ends
    peaks: list[tuple[int, int]] = []
    for column in np.flatnonzero(above.any(axis=0)):
        starts = np.flatnonzero(diff[:, column] == 1)
        ends = np.flatnonzero(diff[:, column] == -1)
        for start, end in zip(starts, ends):
            peaks.append((int(start + np.argmax(onset[start:end, column])), int(column)))
    peaks.sort()
    return peaks


def _velocity(value: float) -> int:
    return int(np.clip(round(float(value) * 127.0), 1, 127))


def decode_notes(onset: np.ndarray, frame: np.ndarray, velocity: np.ndarray | None,
                 front_end: FrontEndConfig, onset_threshold: float = 0.5,
                 frame_threshold: float = 0.5, min_note_s: float = 0.0,
                 frame_note_threshold: float | None = None) -> list[Note]:
    """Notes of a pitched stem from probabilities ``(T, P)``; column ``c`` is
    MIDI pitch ``front_end.min_midi + c``. ``velocity=None`` gives velocity 100.
    ``frame_note_threshold``: see the module docstring (``None``: onsets start every note).
    Sorted by start, then pitch."""
    onset = _check("onset", onset)
    frame = _check("frame", frame, onset.shape)
    velocity = None if velocity is None else _check("velocity", velocity, onset.shape)
    spans = onset_spans(onset, frame, onset_threshold, frame_threshold)
    notes = span_notes(spans, velocity, front_end, min_note_s)
    if frame_note_threshold is not None:
        notes += frame_notes(frame, spans, velocity, front_end, frame_threshold, frame_note_threshold, min_note_s)
    notes.sort(key=note_key)
    return notes


def onset_spans(onset: np.ndarray, frame: np.ndarray, onset_threshold: float,
                frame_threshold: float) -> list[tuple[int, int, int]]:
    """``(column, first frame, end frame)`` of every onset-started note: it starts at an
    onset peak and lasts while the frame probability holds (at least one frame), up to the
    next onset of its column."""
    n_frames = onset.shape[0]
    by_column: dict[int, list[int]] = {}
    for t, c in pick_onsets(onset, onset_threshold):
        by_column.setdefault(c, []).append(t)
    spans = []
    for column, starts in by_column.items():
        active = frame[:, column] >= frame_threshold
        for i, t0 in enumerate(starts):
            limit = starts[i + 1] if i + 1 < len(starts) else n_frames
            t1 = t0 + 1
            while t1 < limit and active[t1]:
                t1 += 1
            spans.append((column, t0, t1))
    return spans


def frame_notes(frame: np.ndarray, spans: Sequence[tuple[int, int, int]], velocity: np.ndarray | None,
                front_end: FrontEndConfig, frame_threshold: float, frame_note_threshold: float,
                min_note_s: float = 0.0) -> list[Note]:
    """The notes the frame head starts alone (module docstring): runs of ``frame (T, P)``
    ``>= frame_threshold`` that no onset-started span (``(column, first, end)``, from
    :func:`onset_spans`) overlaps or directly follows, whose mean is ``>= frame_note_threshold``."""
    explained = np.zeros(frame.shape, dtype=bool)
    for column, t0, t1 in spans:
        explained[max(t0 - 1, 0):t1, column] = True
    active = frame >= frame_threshold
    out: list[tuple[int, int, int]] = []
    for column in np.flatnonzero((active & ~explained).any(axis=0)):
        edges = np.diff(np.concatenate([[0], active[:, column].astype(np.int8), [0]]))
        for t0, t1 in zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)):
            if not explained[t0:t1, column].any() and frame[t0:t1, column].mean() >= frame_note_threshold:
                out.append((int(column), int(t0), int(t1)))
    return span_notes(out, velocity, front_end, min_note_s)


def span_notes(spans: Sequence[tuple[int, int, int]], velocity: np.ndarray | None, front_end: FrontEndConfig,
               min_note_s: float) -> list[Note]:
    """A :class:`Note` per ``(column, first frame, end frame)`` at least ``min_note_s`` long;
    velocity from the velocity head at the first frame (``None``: 100)."""
    hop_s, notes = front_end.hop_s, []
    for column, t0, t1 in spans:
        start_s, end_s = t0 * hop_s, t1 * hop_s
        if end_s - start_s < min_note_s - 1e-9:
            continue
        vel = 100 if velocity is None else _velocity(velocity[t0, column])
        notes.append(Note(float(start_s), float(end_s), int(front_end.min_midi + column), vel))
    return notes


def decode_drums(onset: np.ndarray, velocity: np.ndarray | None, classes: Sequence[str],
                 front_end: FrontEndConfig, onset_threshold: float = 0.5,
                 drum_note_s: float = 0.1) -> list[Note]:
    """Drum hits from onset probabilities ``(T, C)``; column ``c`` is drum class
    ``classes[c]``, written as ``taxonomy.DRUM_CLASS_PITCH[classes[c]]``."""
    onset = _check("onset", onset)
    if onset.shape[1] != len(classes):
        raise ValueError(f"onset activations have {onset.shape[1]} columns but {len(classes)} drum classes "
                         f"were given ({', '.join(classes)})")
    velocity = None if velocity is None else _check("velocity", velocity, onset.shape)
    pitches = [tx.DRUM_CLASS_PITCH[c] for c in classes]
    hop_s = front_end.hop_s
    notes = [Note(float(t * hop_s), float(t * hop_s + drum_note_s), int(pitches[c]),
                  100 if velocity is None else _velocity(velocity[t, c]))
             for t, c in pick_onsets(onset, onset_threshold)]
    notes.sort(key=note_key)
    return notes


def decode(activations: dict[str, np.ndarray], front_end: FrontEndConfig, drum_classes: Sequence[str] | None,
           onset_threshold: float = 0.5, frame_threshold: float = 0.5, min_note_s: float = 0.0,
           drum_note_s: float = 0.1, frame_note_threshold: float | None = None) -> list[Note]:
    """Dispatch on the stem kind: ``drum_classes`` given -> :func:`decode_drums`,
    else :func:`decode_notes`. ``activations`` holds probabilities ``(T, N)``
    under ``onset``, ``frame`` and optionally ``velocity``. Drum hits have no frame
    notes (``frame_note_threshold`` is ignored for them)."""
    if drum_classes:
        return decode_drums(activations["onset"], activations.get("velocity"), drum_classes, front_end,
                            onset_threshold, drum_note_s)
    return decode_notes(activations["onset"], activations["frame"], activations.get("velocity"), front_end,
                        onset_threshold, frame_threshold, min_note_s, frame_note_threshold)
