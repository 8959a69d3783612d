"""Reading MIDI files: the one place a MIDI file is opened.

* :func:`read_midi`: a path (or a ``PrettyMIDI``, returned as is) as a ``PrettyMIDI``;
  every reader of a MIDI file goes through it (``midi_io.notes_from_midi``, the drum
  split's MIDI truth, the filter's note count, Slakh's instrument inference).
* :func:`load_notes`: all notes of a file as one numpy array, the MIDI -> note-array
  reader of the data preparation step (:mod:`midi_extractor.dataset.prepare`) and the
  training labels (:mod:`midi_extractor.model.labels`, which re-exports it).
* :func:`octave_doublings`: which notes double a note an octave below (the notes a model
  hears as that note's second harmonic), for the data tests and ``benchmarks/octave_misses.py``.

Torch-free (numpy and pretty_midi only); pretty_midi is imported on the first read.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np


#: how long after a note's onset the note an octave below must still sound for a doubling
DOUBLING_SLACK_S = 0.03


class MidiError(ValueError):
    """A MIDI file that cannot be read; the message names the file."""


def read_midi(source):
    """A MIDI file (path) as a ``pretty_midi.PrettyMIDI``; a ``PrettyMIDI`` is returned as is.
    Errors are pretty_midi's / mido's own (:func:`load_notes` names the file in a
    :class:`MidiError`)."""
    if not isinstance(source, (str, Path)):
        return source
    import pretty_midi

    return pretty_midi.PrettyMIDI(str(source))


def load_notes(midi) -> np.ndarray:
    """All notes of a MIDI file (path or ``PrettyMIDI``) as a float64 array
    ``(N, 4)``: ``start_s, end_s, pitch, velocity``, sorted by start. Every
    instrument is included (a Slakh stem file holds one). An array is returned
    as is. An unreadable file raises :class:`MidiError` whose message starts
    with the path."""
    if isinstance(midi, np.ndarray):
        return midi
    if isinstance(midi, (str, Path)):
        try:
            midi = read_midi(midi)
        except Exception as exc:  # noqa: BLE001 - pretty_midi/mido raise many kinds
            raise MidiError(f"{midi}: unreadable MIDI file ({type(exc).__name__}: {exc})") from None
    rows = [(n.start, n.end, n.pitch, n.velocity) for inst in midi.instruments for n in inst.notes]
    notes = np.array(rows, dtype=np.float64).reshape(-1, 4)
    return notes[np.argsort(notes[:, 0], kind="stable")] if len(notes) else notes


def octave_doublings(notes, slack_s: float = DOUBLING_SLACK_S) -> np.ndarray:
    """``(N,)`` bool: is a note an octave below sounding ``slack_s`` after each note's onset
    (started at or before then, ending after)? ``notes``: rows ``start_s, end_s, pitch, ...``
    (:func:`load_notes`' layout; any sequence of such rows)."""
    a = np.asarray(notes, dtype=np.float64)
    if not a.size:
        return np.zeros(0, dtype=bool)
    t = a[:, 0] + slack_s
    below = a[None, :, 2] == a[:, None, 2] - 12                          # [i, j]: j an octave below i
    sounding = (a[None, :, 0] <= t[:, None]) & (t[:, None] < a[None, :, 1])
    return (below & sounding).any(axis=1)
