"""prepare_entry.py: one entry prepared into the layout, skipped when its marker matches, and
each kind of bad entry named without raising."""
from __future__ import annotations

import numpy as np

from helpers_data import sine_stem
from midi_extractor import prepared
from midi_extractor.dataset.prepare_entry import pitched_entry, prepare_entry
from midi_extractor.midi_notes import load_notes


def _entry(track: str = "T1", **edits) -> dict:
    return {"track": track, "stem_id": "S00", "audio": f"{track}/stems/S00.wav", "midi": f"{track}/MIDI/S00.mid",
            "metadata": {"program_num": 33}, **edits}


def test_an_entry_is_prepared_then_skipped(tmp_path):
    sine_stem(tmp_path / "src", "T1", 2.0, 45, sr=22050)
    first = prepare_entry(_entry(), tmp_path / "src", tmp_path / "out", 16000)
    assert first["status"] == "prepared" and first["frames"] == 32000 and first["notes"] == 3
    audio = np.load(tmp_path / "out" / prepared.audio_relpath("T1", "S00"))
    assert audio.dtype == np.int16 and audio.shape == (32000,)
    notes = prepared.load_note_array(tmp_path / "out" / prepared.notes_relpath("T1", "S00"))
    assert np.array_equal(notes, load_notes(tmp_path / "src/T1/MIDI/S00.mid"))
    again = prepare_entry(_entry(), tmp_path / "src", tmp_path / "out", 16000)
    assert again == {**first, "status": "skipped"}
    # another rate: the marker no longer matches, prepared anew
    assert prepare_entry(_entry(), tmp_path / "src", tmp_path / "out", 8000)["status"] == "prepared"


def test_bad_entries_are_results_naming_the_file(tmp_path):
    sine_stem(tmp_path, "T1", 1.0, 45)
    (tmp_path / "T1/MIDI/S00.mid").unlink()
    out = tmp_path / "out"
    assert prepare_entry(_entry(stem_id="../x"), tmp_path, out, 16000)["reason"].startswith(
        "entry needs a track and stem_id usable as file names")
    assert prepare_entry(_entry(midi=None), tmp_path, out, 16000) == {
        "status": "bad", "file": "T1/stems/S00.wav", "path": str(tmp_path / "T1/stems/S00.wav"),
        "reason": "entry has no MIDI file (audio without MIDI)"}
    assert prepare_entry(_entry(audio=None, midi=None), tmp_path, out, 16000)["file"] == "T1/S00"
    assert prepare_entry(_entry(), tmp_path, out, 16000)["reason"] == "MIDI file not found"
    assert prepare_entry(_entry("T2"), tmp_path, out, 16000)["reason"] == "audio file not found"
    assert "leaves the dataset root" in prepare_entry(_entry(audio="../T1/stems/S00.wav"), tmp_path, out,
                                                      16000)["reason"]
    assert not out.exists()


def test_drum_entries_are_not_pitched():
    assert pitched_entry({"metadata": {"is_drum": False}}, "bass")
    assert not pitched_entry({"metadata": {"is_drum": True}}, "bass")
    assert not pitched_entry({}, "drums")
