"""Notes <-> pretty_midi objects.

* :func:`notes_to_instrument`, :func:`notes_to_midi`: one track.
* :func:`tracks_to_midi`: several stems into one multi-track file, each with
  ``taxonomy.default_program(stem)``; percussive stems go on the drum channel.
* :func:`new_midi`: an empty file at a tempo (``tempo_bpm``, 480 ticks per
  quarter note, 4/4): note times stay in seconds, the tempo only decides where
  a DAW draws the bars.
* mir_eval arrays (``notes_to_arrays``) and note matching live in
  :mod:`midi_extractor.matching`.
* :func:`notes_from_midi`: reference notes from a MIDI file (all tracks), with
  drum keys folded to their class's key when ``drum_classes`` is given.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterable, Mapping, Sequence

import numpy as np
import pretty_midi

from midi_extractor import taxonomy as tx
from midi_extractor.midi_notes import read_midi
from midi_extractor.model.decoding import Note, note_key

#: Shortest note written or handed to mir_eval (it rejects zero-length notes).
MIN_DURATION_S = 1e-3
#: ticks per quarter note of written files (what DAWs use; pretty_midi's default is 220)
RESOLUTION = 480
DEFAULT_TEMPO_BPM = 120.0


def new_midi(tempo_bpm: float = DEFAULT_TEMPO_BPM) -> pretty_midi.PrettyMIDI:
    """An empty MIDI file with one tempo (quarter notes per minute) and a 4/4 bar from 0 s."""
    midi = pretty_midi.PrettyMIDI(resolution=RESOLUTION, initial_tempo=float(tempo_bpm))
    midi.time_signature_changes.append(pretty_midi.TimeSignature(4, 4, 0.0))
    return midi


def notes_to_instrument(notes: Iterable[Note], program: int = 0, is_drum: bool = False,
                        name: str = "") -> pretty_midi.Instrument:
    """A pretty_midi track holding ``notes``."""
    instrument = pretty_midi.Instrument(program=int(program), is_drum=bool(is_drum), name=name)
    for n in sorted(notes, key=note_key):
        end = max(float(n.end_s), float(n.start_s) + MIN_DURATION_S)
        instrument.notes.append(pretty_midi.Note(velocity=int(np.clip(n.velocity, 1, 127)), pitch=int(n.pitch),
                                                 start=float(n.start_s), end=end))
    return instrument


def notes_to_midi(notes: Iterable[Note], program: int = 0, is_drum: bool = False, name: str = "",
                  tempo_bpm: float = DEFAULT_TEMPO_BPM) -> pretty_midi.PrettyMIDI:
    """A one-track MIDI file at ``tempo_bpm``."""
    midi = new_midi(tempo_bpm)
    midi.instruments.append(notes_to_instrument(notes, program, is_drum, name))
    return midi


def stem_instrument(stem: str, notes: Iterable[Note]) -> pretty_midi.Instrument:
    """The track of a stem: its default GM program, drum channel for percussive stems."""
    is_drum = tx.STEMS[stem].is_drum
    return notes_to_instrument(notes, 0 if is_drum else tx.default_program(stem), is_drum, name=stem)


def tracks_to_midi(tracks: Mapping[str, Sequence[Note]] | Iterable[tuple[str, Sequence[Note]]],
                   tempo_bpm: float = DEFAULT_TEMPO_BPM) -> pretty_midi.PrettyMIDI:
    """One multi-track file at ``tempo_bpm`` from ``{stem: notes}`` (or ``(stem, notes)`` pairs),
    in the given order."""
    items = tracks.items() if isinstance(tracks, Mapping) else tracks
    midi = new_midi(tempo_bpm)
    for stem, notes in items:
        midi.instruments.append(stem_instrument(stem, notes))
    return midi


def notes_from_instruments(instruments: Iterable[pretty_midi.Instrument],
                           drum_classes: Sequence[str] | None = None) -> list[Note]:
    """Notes of all given tracks. With ``drum_classes``, each note's key is folded to
    its class's key (``taxonomy.DRUM_CLASS_PITCH``) and notes of other classes are dropped."""
    notes = []
    for instrument in instruments:
        for n in instrument.notes:
            pitch = int(n.pitch)
            if drum_classes is not None:
                cls = tx.drum_class(pitch)
                if cls not in drum_classes:
                    continue
                pitch = tx.DRUM_CLASS_PITCH[cls]
            notes.append(Note(float(n.start), float(max(n.end, n.start)), pitch, int(n.velocity)))
    notes.sort(key=note_key)
    return notes


def notes_from_midi(source: str | Path | pretty_midi.PrettyMIDI,
                    drum_classes: Sequence[str] | None = None) -> list[Note]:
    """Reference notes from a MIDI file or object (read by ``midi_notes.read_midi``; see
    :func:`notes_from_instruments`)."""
    return notes_from_instruments(read_midi(source).instruments, drum_classes)


def midi_to_notes_by_track(midi: pretty_midi.PrettyMIDI) -> list[tuple[str, int, bool, list[Note]]]:
    """``(name, program, is_drum, notes)`` per track: handy for tests and reports."""
    return [(i.name, int(i.program), bool(i.is_drum), notes_from_instruments([i])) for i in midi.instruments]
