"""benchmarks/octave_misses.py: which notes double one an octave below, and recall on them."""
import json

import pretty_midi

from midi_extractor.model.decoding import Note

from helpers_data import script_module

# A3 held 0-1 s; A4 over it twice (doublings); E4 (a fifth); A5 after A4 ended (not one); C4 starts
# 20 ms before A3's second note, C5 with it (a doubling: within the 30 ms slack); a 50 ms blip
NOTES = [Note(0.0, 1.0, 57, 80), Note(0.2, 0.4, 69, 80), Note(0.6, 0.8, 69, 80), Note(0.2, 0.4, 64, 80),
         Note(0.85, 1.0, 81, 80), Note(1.5, 2.0, 60, 80), Note(1.48, 1.9, 72, 80), Note(2.5, 2.55, 50, 80)]


def _module():
    return script_module("benchmarks/octave_misses.py")


def test_doublings_are_notes_an_octave_above_a_sounding_one():
    om = _module()
    assert om.doublings(NOTES) == [False, True, True, False, False, False, True, False]


def _dataset(tmp_path):
    for split, track in (("train", "Track00001"), ("test", "Track00002")):
        midi = pretty_midi.PrettyMIDI()
        inst = pretty_midi.Instrument(0)
        inst.notes = [pretty_midi.Note(n.velocity, n.pitch, n.start_s, n.end_s) for n in NOTES]
        midi.instruments.append(inst)
        (tmp_path / track).mkdir()
        midi.write(str(tmp_path / track / "S01.mid"))
    entries = [{"track": t, "stem_id": "S01", "split": s, "audio": f"{t}/S01.flac", "midi": f"{t}/S01.mid",
                "metadata": {"domain": "out_of_domain"} if s == "test" else {}}
               for s, t in (("train", "Track00001"), ("test", "Track00002"))]
    (tmp_path / "index.json").write_text(json.dumps({"entries": entries}))
    return list(_module().entries(tmp_path / "index.json", tmp_path))


def test_split_and_miss_tables_count_doublings_and_recall(tmp_path, capsys, monkeypatch):
    om = _module()
    rows = _dataset(tmp_path)
    assert [r[0] for r in rows] == ["train", "test, out of domain"]
    om.split_table(rows)
    # a model that finds every note but the doublings and the blip
    import midi_extractor

    found = [n for n, d in zip(NOTES, om.doublings(NOTES)) if not d and n.pitch != 50]
    monkeypatch.setattr(midi_extractor, "transcribe", lambda audio, **kw: (found, None))
    om.miss_table(rows, "piano", tmp_path)
    out = capsys.readouterr().out
    assert "| train | 8 | 3 (37.5 %) |" in out and "| test, out of domain | 8 | 3 (37.5 %) |" in out
    assert "| doubling | 0 | 3 | 0.000 |" in out
    assert "| short | 0 | 1 | 0.000 |" in out
    assert "| other | 4 | 0 | 1.000 |" in out
