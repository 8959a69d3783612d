"""Note matching and its scores: the one home of the onset tolerance, mir_eval's note
matching, precision / recall / F1 from counts, and MIDI number -> Hz.

Every scorer goes through here: evaluation (``evaluate.scoring``), the threshold sweep
(``model.thresholds``), the piano-roll plots (``evaluate.plots``) and validation during
training (``train.validation``), so they match notes the same way.

* :func:`midi_to_hz`: equal temperament, A4 (69) = 440 Hz.
* :func:`notes_to_arrays`: ``(intervals (N, 2) s, pitches (N,) Hz, velocities (N,))``
  as mir_eval wants them.
* :func:`match_notes`: mir_eval's matchings ``[(ref_i, est_i)]`` per note figure
  (:data:`NOTE_FIGURES`), onset tolerance :data:`ONSET_TOLERANCE_S`, pitch 50 cents:
  ``onset``: ``transcription.match_notes(offset_ratio=None)``; ``onset_offset``: the same
  with mir_eval's default ``offset_ratio=0.2``; ``onset_offset_velocity``:
  ``transcription_velocity.match_notes``.
* :func:`match_counts`: ``(tp, n_ref, n_est)`` per figure, counts that add up over tracks.
* :func:`prf`: mir_eval's precision, recall and F1 of counts; :func:`f1_from_counts`: the
  pooled ``2 TP / (n_ref + n_est)``.
"""
from __future__ import annotations

import warnings
from typing import Sequence

import numpy as np

from midi_extractor.midi_io import MIN_DURATION_S
from midi_extractor.model.decoding import Note

#: onset tolerance of every note match (mir_eval's default, seconds)
ONSET_TOLERANCE_S = 0.05
#: note figures :func:`match_notes` knows, in file order
NOTE_FIGURES = ("onset", "onset_offset", "onset_offset_velocity")


def midi_to_hz(pitch):
    """Frequency (Hz) of a MIDI number or array of them: ``440 * 2 ** ((pitch - 69) / 12)``."""
    return 440.0 * 2.0 ** ((pitch - 69) / 12.0)


def notes_to_arrays(notes: Sequence[Note]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """mir_eval arrays: intervals ``(N, 2)`` seconds (at least ``midi_io.MIN_DURATION_S``
    long), pitches ``(N,)`` Hz, velocities ``(N,)`` MIDI 1..127."""
    if not notes:
        return np.zeros((0, 2)), np.zeros(0), np.zeros(0)
    starts = np.array([n.start_s for n in notes], dtype=float)
    ends = np.maximum(np.array([n.end_s for n in notes], dtype=float), starts + MIN_DURATION_S)
    intervals = np.stack([starts, ends], axis=1)
    pitches = midi_to_hz(np.array([n.pitch for n in notes], dtype=float))
    velocities = np.array([n.velocity for n in notes], dtype=float)
    return intervals, np.asarray(pitches, dtype=float), velocities


def match_notes(ref: Sequence[Note], est: Sequence[Note], figures: Sequence[str] = ("onset",),
                onset_tolerance: float = ONSET_TOLERANCE_S) -> dict[str, list[tuple[int, int]]]:
    """mir_eval matchings ``{figure: [(ref_i, est_i)]}`` for each of ``figures``
    (:data:`NOTE_FIGURES`; module docstring); empty when either side has no note.
    mir_eval's warnings (empty or odd inputs) are silenced."""
    unknown = [f for f in figures if f not in NOTE_FIGURES]
    if unknown:
        raise ValueError(f"unknown note figure(s) {unknown}; known: {', '.join(NOTE_FIGURES)}")
    if not ref or not est:
        return {f: [] for f in figures}
    import mir_eval

    ri, rp, rv = notes_to_arrays(ref)
    ei, ep, ev = notes_to_arrays(est)
    t = mir_eval.transcription
    run = {"onset": lambda: t.match_notes(ri, rp, ei, ep, onset_tolerance=onset_tolerance, offset_ratio=None),
           "onset_offset": lambda: t.match_notes(ri, rp, ei, ep, onset_tolerance=onset_tolerance),
           "onset_offset_velocity": lambda: mir_eval.transcription_velocity.match_notes(
               ri, rp, rv, ei, ep, ev, onset_tolerance=onset_tolerance)}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return {f: run[f]() for f in figures}


def match_counts(ref: Sequence[Note], est: Sequence[Note], figures: Sequence[str] = ("onset",),
                 onset_tolerance: float = ONSET_TOLERANCE_S) -> dict[str, tuple[int, int, int]]:
    """``{figure: (tp, n_ref, n_est)}`` of :func:`match_notes`."""
    matches = match_notes(ref, est, figures, onset_tolerance)
    return {f: (len(m), len(ref), len(est)) for f, m in matches.items()}


def f1_from_counts(tp: float, n_ref: float, n_est: float) -> float:
    """``2 TP / (n_ref + n_est)``; 0 when both are 0."""
    return 0.0 if n_ref + n_est == 0 else 2.0 * tp / (n_ref + n_est)


def prf(tp: float, n_ref: float, n_est: float) -> tuple[float, float, float]:
    """mir_eval's precision, recall and F1 (0 for all three when either side is empty)."""
    if n_ref == 0 or n_est == 0:
        return 0.0, 0.0, 0.0
    p, r = float(tp) / n_est, float(tp) / n_ref
    return p, r, 0.0 if p == 0 and r == 0 else 2 * p * r / (p + r)
