"""midi_notes: the note array of a MIDI file and which of its notes double one an octave below."""
import numpy as np
import pretty_midi

from midi_extractor.midi_notes import load_notes, octave_doublings


def test_octave_doublings_are_notes_over_a_sounding_octave_below(tmp_path):
    # A3 held 0-1 s: A4 at 0 and at 0.5 s doubles it; E4 is a fifth; A4 at 0.98 s starts 20 ms before
    # A3 ends (its 30 ms slack is past the end); A5 over A4's first note; C3 at 2 s has nothing below
    midi = pretty_midi.PrettyMIDI()
    inst = pretty_midi.Instrument(0)
    for start, end, pitch in [(0.0, 1.0, 57), (0.0, 0.4, 69), (0.5, 0.9, 69), (0.0, 1.0, 64),
                              (0.98, 1.5, 69), (0.2, 0.3, 81), (2.0, 2.5, 48)]:
        inst.notes.append(pretty_midi.Note(90, pitch, start, end))
    midi.instruments.append(inst)
    midi.write(str(tmp_path / "x.mid"))
    notes = load_notes(tmp_path / "x.mid")                                # sorted by start
    doubled = {(round(s, 2), int(p)) for (s, _, p, _), d in zip(notes, octave_doublings(notes)) if d}
    assert doubled == {(0.0, 69), (0.5, 69), (0.2, 81)}
    assert octave_doublings(notes, slack_s=0.0)[[i for i, n in enumerate(notes) if round(n[0], 2) == 0.98][0]]
    assert octave_doublings([]).shape == (0,) and octave_doublings(np.zeros((0, 4))).shape == (0,)
