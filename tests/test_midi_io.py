"""midi_io: notes <-> pretty_midi."""
import numpy as np
import pytest
import pretty_midi

from midi_extractor import taxonomy as tx
from midi_extractor.model.decoding import Note
from midi_extractor.midi_io import midi_to_notes_by_track, notes_from_midi, notes_to_midi, tracks_to_midi

NOTES = [Note(0.5, 1.0, 69, 90), Note(0.0, 0.25, 60, 100)]


def test_round_trip_through_a_midi_file(tmp_path):
    path = tmp_path / "x.mid"
    notes_to_midi(NOTES, program=33, name="bass").write(str(path))
    midi = pretty_midi.PrettyMIDI(str(path))
    assert [(i.program, i.is_drum) for i in midi.instruments] == [(33, False)]
    back = notes_from_midi(path)
    assert [(n.pitch, n.velocity) for n in back] == [(60, 100), (69, 90)]
    np.testing.assert_allclose([[n.start_s, n.end_s] for n in back], [[0.0, 0.25], [0.5, 1.0]], atol=2e-3)


def test_multi_track_programs_and_drum_channel():
    midi = tracks_to_midi({"bass": NOTES, "drums": [Note(0.0, 0.1, 36, 100)], "piano": [], "other": NOTES})
    tracks = midi_to_notes_by_track(midi)
    assert [(name, prog, drum) for name, prog, drum, _ in tracks] == [
        ("bass", tx.default_program("bass"), False), ("drums", 0, True),
        ("piano", tx.default_program("piano"), False), ("other", tx.default_program("other"), False)]


def test_reference_drums_fold_to_class_keys():
    inst = pretty_midi.Instrument(0, is_drum=True)
    for t, key in enumerate([35, 40, 42, 49, 47]):
        inst.notes.append(pretty_midi.Note(100, key, t * 0.5, t * 0.5 + 0.1))
    midi = pretty_midi.PrettyMIDI()
    midi.instruments.append(inst)
    drums = notes_from_midi(midi, tx.STEM_DRUM_CLASSES["drums"])
    assert [n.pitch for n in drums] == [36, 38, 45]
    highs = notes_from_midi(midi, tx.STEM_DRUM_CLASSES["high_percs"])
    assert [n.pitch for n in highs] == [42, 49]


def test_tempo_and_bar_survive_a_file_and_note_times_do_not_move(tmp_path):
    path = tmp_path / "t.mid"
    tracks_to_midi({"bass": NOTES}, tempo_bpm=137.5).write(str(path))
    midi = pretty_midi.PrettyMIDI(str(path))
    assert midi.resolution == 480 and midi.get_tempo_changes()[1][0] == pytest.approx(137.5, abs=0.01)
    assert [(t.numerator, t.denominator, t.time) for t in midi.time_signature_changes] == [(4, 4, 0.0)]
    back = notes_from_midi(path)
    np.testing.assert_allclose([[n.start_s, n.end_s] for n in back], [[0.0, 0.25], [0.5, 1.0]], atol=1e-3)


def test_every_reader_opens_midi_through_read_midi(tmp_path):
    from midi_extractor.dataset.drum_split import high_share
    from midi_extractor.dataset.filtering import count_notes
    from midi_extractor.dataset.slakh_metadata import midi_instruments
    from midi_extractor.midi_notes import load_notes, read_midi

    path = tmp_path / "x.mid"
    notes_to_midi(NOTES, program=33).write(str(path))
    midi = read_midi(path)
    assert read_midi(midi) is midi and isinstance(midi, pretty_midi.PrettyMIDI)
    assert [n.pitch for n in notes_from_midi(path)] == [60, 69]
    assert load_notes(path)[:, 2].tolist() == [60, 69]
    assert count_notes(path, "bass") == 2 and midi_instruments(path) == [(33, False)]
    assert high_share(path) == high_share(midi) == 0.5  # 69 (cabasa) of 60 and 69 is a high-perc class
