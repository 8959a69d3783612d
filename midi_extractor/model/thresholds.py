"""Decoding thresholds chosen on the validation split, and ``models/<stem>/decoding.json``.

Policy (params section ``decoding``), per threshold (onset, frame):
    * a grid in params (``onset_grid`` / ``frame_grid``, a list) -> chosen on the stem's
      validation split from that list; a one-value list fixes it;
    * no grid and the threshold ``auto`` (or null) -> chosen from :data:`DEFAULT_ONSET_GRID`
      / :data:`DEFAULT_FRAME_GRID`;
    * no grid and a number -> that number (today's ``params.yaml``).
    When there is no validation track, a numeric threshold from params is used, else the
    grid's middle value. Drum models have no frame threshold to choose (0.5 is recorded
    unless params give a number). ``min_note_s`` and ``drum_note_s`` are copied as they are.
    The frame-note threshold (``model.decoding``: notes the frame head starts alone) is chosen
    from null and ``frame_note_grid`` at every onset x frame pair, else it is
    ``frame_note_threshold`` (null: none); drum models have none.

The sweep runs the model once per validation track (:func:`sweep` takes frame
probabilities, one track at a time) and decodes every grid point from them. It keeps the point with the
best pooled onset F1 over the validation tracks, ties broken by onset+offset F1, then
by grid order (lower onset, then lower frame threshold, then no frame notes, then the lower
frame-note threshold first). A grid point's frame notes come on top of its onset x frame
pair's notes, so those are decoded once per pair, and a frame-note threshold that adds the same
notes as the one before it is not matched again.

``decoding.json`` (written atomically)::

    {"onset_threshold": 0.3, "frame_threshold": 0.4, "min_note_s": 0.05, "drum_note_s": 0.1,
     "frame_note_threshold": 0.9 | null, "saturate": 1.5,   # the stem's drive (evaluate adds it; model/saturation.py)
     "chosen_on": "validation" | "params" | "default", "validation_onset_f1": 0.91 | null,
     "validation_tracks": 4,
     "grid": [{"onset_threshold": .., "frame_threshold": .., "frame_note_threshold": .., "onset_f1": .., "onset_offset_f1": ..,
               "onset_precision": .., "onset_recall": ..}, ...]}

``chosen_on``: ``validation`` when a threshold was chosen from two or more values;
``params`` when both were fixed (the validation score of that point is still measured);
``default`` when there was no validation track to choose on.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from midi_extractor.atomic import write_json
from midi_extractor.config import AUTO, DEFAULT_FRAME_GRID, DEFAULT_ONSET_GRID, DecodingConfig  # noqa: F401
from midi_extractor.matching import f1_from_counts, match_counts, prf
from midi_extractor.model.decoding import Note, decode, frame_notes, note_key, onset_spans, span_notes

log = logging.getLogger(__name__)



@dataclass
class Grid:
    """Candidate thresholds and the fixed note lengths (seconds). ``frame_note``: the
    frame-note thresholds (``None``: no frame notes)."""

    onset: tuple[float, ...]
    frame: tuple[float, ...]
    min_note_s: float = 0.05
    drum_note_s: float = 0.1
    swept: bool = True
    fallback: tuple[float, float] | None = None  # (onset, frame) without validation tracks
    frame_note: tuple[float | None, ...] = (None,)
    points: list[tuple[float, float, float | None]] = field(init=False)

    def __post_init__(self) -> None:
        self.points = [(float(o), float(f), n) for o in self.onset for f in self.frame for n in self.frame_note]
        if self.fallback is None:
            self.fallback = (self.onset[len(self.onset) // 2], self.frame[len(self.frame) // 2])


def grid_from_decoding(decoding: DecodingConfig, drums: bool) -> Grid:
    """The :class:`Grid` of a ``decoding`` section (validated when it was built: see
    :class:`~midi_extractor.config.DecodingConfig`); see the module docstring."""
    onset = decoding.onset_candidates()
    if drums:  # drum hits have no sustain: nothing to choose
        frame = (0.5 if decoding.frame_threshold == AUTO else float(decoding.frame_threshold),)
    else:
        frame = decoding.frame_candidates()
    frame_note = (None,) if drums else decoding.frame_note_candidates()
    grid = Grid(onset, frame, float(decoding.min_note_s), float(decoding.drum_note_s),
                len(onset) > 1 or len(frame) > 1 or len(frame_note) > 1, frame_note=frame_note)
    grid.fallback = (grid.fallback[0] if decoding.onset_threshold == AUTO else float(decoding.onset_threshold),
                     grid.fallback[1] if decoding.frame_threshold == AUTO else float(decoding.frame_threshold))
    return grid


def _note_counts(ref: Sequence[Note], est: Sequence[Note]) -> np.ndarray:
    """``[[tp, n_ref, n_est] onset, [..] onset+offset]`` of one track."""
    counts = match_counts(ref, est, ("onset", "onset_offset"))
    return np.array([counts["onset"], counts["onset_offset"]], dtype=float)


def sweep(tracks: Iterable[tuple[Sequence[Note], dict[str, np.ndarray]]], front_end: Any,
          drum_classes: Sequence[str] | None, grid: Grid) -> tuple[list[dict[str, float]], int]:
    """Pooled onset and onset+offset F1 of every grid point over ``tracks``
    (``(reference notes, frame probabilities {head: (T, N)})``, consumed one at a time,
    so a generator keeps one track's activations in memory), in grid order, and the
    number of tracks."""
    total = np.zeros((len(grid.points), 2, 3))
    n_tracks = 0
    for ref, probs in tracks:
        n_tracks += 1
        total += _track_counts(ref, probs, front_end, drum_classes, grid)
    results = []
    for (onset_t, frame_t, frame_note_t), t in zip(grid.points, total):
        f1 = [f1_from_counts(*c) for c in t]
        precision, recall, _ = prf(*t[0])
        results.append({"onset_threshold": onset_t, "frame_threshold": frame_t, "frame_note_threshold": frame_note_t,
                        "onset_f1": round(float(f1[0]), 4), "onset_offset_f1": round(float(f1[1]), 4),
                        "onset_precision": round(precision, 4), "onset_recall": round(recall, 4)})
    return results, n_tracks


def _track_counts(ref: Sequence[Note], probs: dict[str, np.ndarray], front_end: Any,
                  drum_classes: Sequence[str] | None, grid: Grid) -> np.ndarray:
    """:func:`_note_counts` of one track at every grid point ``(points, 2, 3)``: each
    onset x frame pair's spans found once, its frame notes added per frame-note threshold."""
    out = np.zeros((len(grid.points), 2, 3))
    pairs: dict[tuple[float, float], tuple[list[Note], list, dict]] = {}
    velocity = probs.get("velocity")
    for i, (onset_t, frame_t, frame_note_t) in enumerate(grid.points):
        if drum_classes:
            out[i] = _note_counts(ref, decode(probs, front_end, drum_classes, onset_t, frame_t,
                                              grid.min_note_s, grid.drum_note_s))
            continue
        if (onset_t, frame_t) not in pairs:
            spans = onset_spans(probs["onset"], probs["frame"], onset_t, frame_t)
            pairs[(onset_t, frame_t)] = (span_notes(spans, velocity, front_end, grid.min_note_s), spans, {})
        notes, spans, seen = pairs[(onset_t, frame_t)]
        extra = () if frame_note_t is None else tuple(frame_notes(
            probs["frame"], spans, velocity, front_end, frame_t, frame_note_t, grid.min_note_s))
        if extra not in seen:
            seen[extra] = _note_counts(ref, sorted(notes + list(extra), key=note_key))
        out[i] = seen[extra]
    return out


def choose(results: Sequence[dict[str, float]]) -> dict[str, float]:
    """The best point: highest onset F1, then onset+offset F1, then the first in grid order."""
    if not results:
        raise ValueError("no grid point to choose from")
    best = max(range(len(results)), key=lambda i: (results[i]["onset_f1"], results[i]["onset_offset_f1"], -i))
    return results[best]


def decide(tracks: Iterable[tuple[Sequence[Note], dict[str, np.ndarray]]], front_end: Any,
           drum_classes: Sequence[str] | None, grid: Grid) -> dict[str, Any]:
    """The ``decoding.json`` content (module docstring) from the validation ``tracks``."""
    results, n_tracks = sweep(tracks, front_end, drum_classes, grid)
    if not n_tracks:
        log.warning("no validation track to choose decoding thresholds on; using onset %.2f, frame %.2f",
                    *grid.fallback)
        return unchosen(grid)
    best = choose(results)
    return {"onset_threshold": best["onset_threshold"], "frame_threshold": best["frame_threshold"],
            "min_note_s": grid.min_note_s, "drum_note_s": grid.drum_note_s,
            "frame_note_threshold": best["frame_note_threshold"],
            "chosen_on": "validation" if grid.swept else "params", "validation_onset_f1": best["onset_f1"],
            "validation_tracks": n_tracks, "grid": results}


def unchosen(grid: Grid) -> dict[str, Any]:
    """The ``decoding.json`` content without a validation score: the fixed thresholds
    (``chosen_on: params``) or the grid's fallback (``chosen_on: default``)."""
    return {"onset_threshold": grid.fallback[0], "frame_threshold": grid.fallback[1], "min_note_s": grid.min_note_s,
            "drum_note_s": grid.drum_note_s, "frame_note_threshold": grid.frame_note[0], "chosen_on": "default" if grid.swept else "params",
            "validation_onset_f1": None, "validation_tracks": 0, "grid": []}


def write_decoding(path: str | Path, decoding: dict[str, Any]) -> Path:
    """Write ``decoding.json`` atomically; returns the path."""
    return write_json(path, decoding, indent=2)
