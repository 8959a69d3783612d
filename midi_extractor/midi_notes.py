"""Notes of a MIDI file as one numpy array: the one MIDI -> note-array reader.

Torch-free (numpy and pretty_midi only), so the data preparation step
(:mod:`midi_extractor.dataset.prepare`) and the training labels
(:mod:`midi_extractor.model.labels`, which re-exports both names) share it.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np


class MidiError(ValueError):
    """A MIDI file that cannot be read; the message names the file."""


def load_notes(midi) -> np.ndarray:
    """All notes of a MIDI file (path or ``PrettyMIDI``) as a float64 array
    ``(N, 4)``: ``start_s, end_s, pitch, velocity``, sorted by start. Every
    instrument is included (a Slakh stem file holds one). An array is returned
    as is. An unreadable file raises :class:`MidiError` whose message starts
    with the path."""
    if isinstance(midi, np.ndarray):
        return midi
    if isinstance(midi, (str, Path)):
        import pretty_midi

        try:
            midi = pretty_midi.PrettyMIDI(str(midi))
        except Exception as exc:  # noqa: BLE001 - pretty_midi/mido raise many kinds
            raise MidiError(f"{midi}: unreadable MIDI file ({type(exc).__name__}: {exc})") from None
    rows = [(n.start, n.end, n.pitch, n.velocity) for inst in midi.instruments for n in inst.notes]
    notes = np.array(rows, dtype=np.float64).reshape(-1, 4)
    return notes[np.argsort(notes[:, 0], kind="stable")] if len(notes) else notes
