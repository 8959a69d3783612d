"""Notes <-> pretty_midi objects.

* :func:`notes_to_instrument`, :func:`notes_to_midi`: one track.
* :func:`tracks_to_midi`: several stems into one multi-track file, each with
  ``taxonomy.default_program(stem)`` (the table ``taxonomy.STEM_PROGRAMS``);
  percussive stems go on the drum channel.
* :func:`program_overrides` / :func:`set_programs`: ``--program guitar=25``
  (a GM number 0-127 or name) replaces a stem's program in a written file.
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


def gm_program(text: str | int) -> int | None:
    """A GM program from a number (0-127) or an instrument name (``Electric Guitar (jazz)``,
    any case/spacing); None when it is neither."""
    key = " ".join(str(text).strip().lower().split())
    if key.isdigit():
        return int(key) if int(key) < 128 else None
    names = [gm.lower() for gm in pretty_midi.constants.INSTRUMENT_MAP]
    return names.index(key) if key in names else None


def program_overrides(items: Iterable[str], switches: tx.TaxonomySwitches = tx.DEFAULT_SWITCHES) -> dict[str, int]:
    """``["guitar=25", "keys=Electric Piano 1"]`` -> ``{"guitar": 25, "piano": 4}`` (stem names or
    aliases, as ``taxonomy.resolve_stem_name``). Raises ValueError naming the item that is wrong."""
    out: dict[str, int] = {}
    for item in items:
        name, sep, value = str(item).partition("=")
        if not sep or not name.strip() or not value.strip():
            raise ValueError(f"--program {item!r}: expected STEM=PROGRAM, e.g. guitar=25 or 'other=Electric Piano 1'")
        try:
            stem = tx.resolve_stem_name(name.strip(), switches)
        except KeyError:
            raise ValueError(f"--program {item!r}: {name.strip()!r} is not a stem name") from None
        if tx.STEMS[stem].is_drum:
            raise ValueError(f"--program {item!r}: {stem} is written on the drum channel, which has no program")
        program = gm_program(value)
        if program is None:
            raise ValueError(f"--program {item!r}: {value.strip()!r} is neither a GM program 0-127 nor a GM "
                             f"instrument name")
        out[stem] = program
    return out


def set_programs(midi: pretty_midi.PrettyMIDI, programs: Mapping[str, int]) -> pretty_midi.PrettyMIDI:
    """Give each non-drum track named like a stem in ``programs`` that program (in place)."""
    for instrument in midi.instruments:
        if not instrument.is_drum and instrument.name in programs:
            instrument.program = int(programs[instrument.name])
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
