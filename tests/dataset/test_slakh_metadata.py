"""slakh_metadata.py: the MIDI file check and metadata.yaml parsing on broken input."""
from __future__ import annotations

from helpers_data import SLAKH_SAMPLE
from midi_extractor.dataset import slakh_metadata

BABY = SLAKH_SAMPLE / "babyslakh_16k"


def test_check_midi_finds_truncation(tmp_path):
    good = BABY / "Track00001" / "MIDI" / "S03.mid"
    assert slakh_metadata.check_midi(good) is None
    cut = tmp_path / "S03.mid"
    cut.write_bytes(good.read_bytes()[:200])
    assert slakh_metadata.check_midi(cut).startswith("truncated MIDI file: chunk b'MTrk'")
    (tmp_path / "x.mid").write_bytes(b"RIFF0000")
    assert slakh_metadata.check_midi(tmp_path / "x.mid") == "not a MIDI file (no MThd header)"
    (tmp_path / "e.mid").write_bytes(b"")
    assert slakh_metadata.check_midi(tmp_path / "e.mid") == "empty MIDI file (0 bytes)"


def test_malformed_metadata_is_a_warning_naming_the_file(tmp_path):
    path = tmp_path / "metadata.yaml"
    path.write_text("stems: [unclosed\n")
    problems = []
    assert slakh_metadata.read_metadata(path, problems) is None
    assert str(path) in str(problems[0]) and "malformed metadata.yaml" in str(problems[0])
    path.write_text("just a string\n")
    problems = []
    assert slakh_metadata.read_metadata(path, problems) is None
    assert "no 'stems' mapping" in str(problems[0])


def test_stem_metadata_normalises_slakh_quirks():
    problems = []
    meta = slakh_metadata.stem_metadata(
        {"program_num": "128", "is_drum": "True", "plugin_name": "None", "integrated_loudness": "null",
         "audio_rendered": "false", "inst_class": "Drums", "domain": "out_of_domain"}, "m.yaml", "S01", problems)
    assert problems == []
    assert meta == {"program_num": 128, "inst_class": "Drums", "midi_program_name": None, "is_drum": True,
                    "plugin_name": None, "integrated_loudness": None, "audio_rendered": False, "midi_saved": True,
                    "domain": "out_of_domain"}
    assert slakh_metadata.stem_metadata(["not", "a", "mapping"], "m.yaml", "S02", problems) is None
    assert str(problems[-1]) == "error: m.yaml: stem S02: metadata is not a mapping (['not', 'a', 'mapping']); stem skipped"


def test_stems_are_inferred_from_midi_without_metadata():
    problems = []
    stems = slakh_metadata.inferred_stems(BABY / "Track00007", problems)
    assert problems == []
    assert list(stems) == ["S00"]
    assert stems["S00"]["is_drum"] is True and stems["S00"]["program_num"] == 128
    assert stems["S00"]["inferred_from_midi"] is True
