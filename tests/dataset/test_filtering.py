"""filtering.py: one entry per drop reason, thresholds, pass-through, CLI."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pretty_midi
import pytest
import soundfile as sf

from helpers_data import REPO, SLAKH_SAMPLE, pitched_midi, truncate_midi
from midi_extractor import cli
from midi_extractor.dataset import filtering
from midi_extractor.dataset import indexing

FIXTURE = SLAKH_SAMPLE


def _entry(name, audio, midi, **extra):
    return {"track": name, "stem_id": "S00", "split": "train", "audio": audio, "midi": midi,
            "metadata": {"program_num": 33, "inst_class": "Bass", "midi_program_name": "Electric Bass (finger)",
                         "is_drum": False, "role": "melodic"}, **extra}


@pytest.fixture()
def index_dir(tmp_path):
    """A dataset with one entry per outcome and its hand-written bass index."""
    root = tmp_path / "data"
    root.mkdir()
    sr = 16000
    t = np.arange(sr * 2) / sr
    tone = (0.3 * np.sin(2 * np.pi * 110 * t)).astype(np.float32)
    sf.write(str(root / "tone.wav"), tone, sr)
    sf.write(str(root / "quiet.wav"), (tone * 1e-5).astype(np.float32), sr)  # about -80 dBFS
    sf.write(str(root / "late.flac"), np.concatenate([np.zeros(sr * 3), tone[: sr // 2]]).astype(np.float32), sr)
    (root / "corrupt.flac").write_bytes(b"fLaC" + b"\x01" * 64)
    pitched_midi(33, 2.0, n_notes=8).write(str(root / "eight.mid"))
    pitched_midi(33, 2.0, n_notes=2).write(str(root / "two.mid"))
    pm = pretty_midi.PrettyMIDI()
    pm.instruments.append(pretty_midi.Instrument(33))
    pm.write(str(root / "none.mid"))
    shutil.copy(root / "eight.mid", root / "cut.mid")
    truncate_midi(root / "cut.mid")
    entries = [
        _entry("good", "tone.wav", "eight.mid", extra_field={"kept": [1, 2]}),
        _entry("late_notes", "late.flac", "eight.mid"),  # silent start, loud end: kept
        _entry("no_audio", None, "eight.mid"),
        _entry("gone_audio", "nothere.wav", "eight.mid"),
        _entry("no_midi", "tone.wav", None),
        _entry("cut_midi", "tone.wav", "cut.mid"),
        _entry("empty_midi", "tone.wav", "none.mid"),
        _entry("few_notes", "tone.wav", "two.mid"),
        _entry("corrupt_audio", "corrupt.flac", "eight.mid"),
        _entry("silent", "quiet.wav", "eight.mid"),
    ]
    index = {"stem": "bass", "taxonomy_version": 1, "dataset_root": str(root), "entries": entries,
             "custom_top_level": {"from": "someone else"}}
    out = tmp_path / "index"
    out.mkdir()
    (out / "dataset_bass.json").write_text(json.dumps(index))
    return out


def test_each_reason_drops_exactly_its_entry(index_dir, capsys):
    result = filtering.filter_indices(index_dir, "bass")
    out = json.loads((index_dir / "filtered_dataset_bass.json").read_text())
    assert out == result["bass"]
    assert [e["track"] for e in out["entries"]] == ["good", "late_notes"]
    assert out["dropped"] == {"missing_audio": 2, "missing_midi": 1, "unreadable_midi": 1, "empty_midi": 1,
                              "too_few_notes": 1, "unreadable_audio": 1, "silent_audio": 1}
    reasons = {d["track"]: d["reason"] for d in out["dropped_entries"]}
    assert reasons == {"no_audio": "missing_audio", "gone_audio": "missing_audio", "no_midi": "missing_midi",
                       "cut_midi": "unreadable_midi", "empty_midi": "empty_midi", "few_notes": "too_few_notes",
                       "corrupt_audio": "unreadable_audio", "silent": "silent_audio"}
    details = {d["track"]: d["detail"] for d in out["dropped_entries"]}
    assert "corrupt.flac" in details["corrupt_audio"] and "cut.mid" in details["cut_midi"]
    assert "2 notes < min_notes 4" in details["few_notes"]
    # unknown fields pass through untouched
    assert out["custom_top_level"] == {"from": "someone else"}
    assert out["entries"][0]["extra_field"] == {"kept": [1, 2]}
    assert out["entries"][0] == json.loads((index_dir / "dataset_bass.json").read_text())["entries"][0]
    printed = capsys.readouterr().out
    assert ("bass: kept 2 of 10; dropped 8 (missing_audio 2, missing_midi 1, unreadable_midi 1, empty_midi 1, "
            "too_few_notes 1, unreadable_audio 1, silent_audio 1)") in printed


def test_thresholds_override_defaults(index_dir):
    out = filtering.filter_indices(index_dir, ["bass"], {"min_notes": 9, "silence_db": -100.0}, verbose=False)["bass"]
    # the four entries with eight.mid and audio on disk now fail on notes too (checked before audio)
    assert out["dropped"]["too_few_notes"] == 5
    assert out["entries"] == []
    assert "silent_audio" not in out["dropped"]
    assert out["filter"] == {"silence_db": -100.0, "block_s": 0.5, "min_notes": 9, "full_decode": True}
    with pytest.raises(ValueError, match="unknown key.*min_note\\b"):
        filtering.config_from_params({"min_note": 3})


def test_percussive_stems_count_only_their_classes(tmp_path):
    pm = pretty_midi.PrettyMIDI()
    kit = pretty_midi.Instrument(0, is_drum=True)
    kit.notes += [pretty_midi.Note(100, p, i * 0.1, i * 0.1 + 0.05) for i, p in enumerate([36, 38] * 5)]
    pm.instruments.append(kit)
    pm.write(str(tmp_path / "kit.mid"))
    assert filtering.count_notes(tmp_path / "kit.mid", "drums") == 10
    assert filtering.count_notes(tmp_path / "kit.mid", "high_percs") == 0


def test_babyslakh_fixture_end_to_end_cli(tmp_path, capsys):
    indexing.build_indices(FIXTURE / "babyslakh_16k", "guitar,drums,synth_pad_fx", tmp_path)
    rc = cli.main(["filter-index", "--index-dir", str(tmp_path), "--stems", "guitar,drums,synth_pad_fx",
                   "--params", str(REPO / "params.yaml")])
    assert rc == 0
    printed = capsys.readouterr().out
    # the 2-s cut leaves two guitar stems silent; the audible one (S00) has its whole MIDI, which
    # runs 234 s past the cut audio: refused as labels_past_audio, the rule real data needs
    assert "guitar: kept 0 of 3; dropped 3 (silent_audio 2, labels_past_audio 1)" in printed
    assert "drums: kept 0 of 2; dropped 2 (missing_audio 1, silent_audio 1)" in printed
    assert "synth_pad_fx: kept 0 of 1; dropped 1 (missing_audio 1)" in printed
    guitar = json.loads((tmp_path / "filtered_dataset_guitar.json").read_text())
    assert guitar["entries"] == [] and guitar["dropped"]["labels_past_audio"] == 1
    # a stem with MIDI and no audio ("audio": null) names the file it should have
    for stem in ("drums", "synth_pad_fx"):
        dropped = json.loads((tmp_path / f"filtered_dataset_{stem}.json").read_text())["dropped_entries"]
        missing = [d for d in dropped if d["reason"] == "missing_audio"]
        want = FIXTURE / "babyslakh_16k" / missing[0]["track"] / "stems" / f"{missing[0]['stem_id']}.flac"
        assert missing[0]["detail"] == f"{want}: no audio file for this stem (nor .wav)"


def test_missing_files_name_the_expected_path(tmp_path):
    """``"audio": null`` / ``"midi": null`` name TRACK/stems/Sxx.flac and TRACK/MIDI/Sxx.mid (split layout)."""
    track = tmp_path / "train" / "Track00003"
    (track / "stems").mkdir(parents=True)
    (track / "stems" / "S00.flac").write_bytes(b"")
    entries = [_entry("Track00003", None, "train/Track00003/MIDI/S00.mid"),
               _entry("Track00003", "train/Track00003/stems/S00.flac", None)]
    index = {"stem": "bass", "dataset_root": str(tmp_path), "entries": entries}
    out = filtering.filter_index(index, filtering.config_from_params({}))
    assert [(d["reason"], d["detail"]) for d in out["dropped_entries"]] == [
        ("missing_audio", f"{track / 'stems' / 'S00.flac'}: no audio file for this stem (nor .wav)"),
        ("missing_midi", f"{track / 'MIDI' / 'S00.mid'}: no MIDI file for this stem")]


def test_cli_missing_index_is_one_line(tmp_path, capsys):
    rc = cli.main(["filter-index", "--index-dir", str(tmp_path), "--stems", "bass"])
    assert rc == 2
    assert "dataset_bass.json: index not found (run build-index for stem bass first)" in capsys.readouterr().err


def test_filter_index_file_writes_where_asked(index_dir, tmp_path):
    out = filtering.filter_index_file(index_dir / "dataset_bass.json", tmp_path / "x" / "f.json", verbose=False)
    assert json.loads((tmp_path / "x" / "f.json").read_text()) == out
    assert len(out["entries"]) == 2
    (tmp_path / "junk.json").write_text("{not json")
    with pytest.raises(ValueError, match=r"junk\.json: not valid JSON"):
        filtering.filter_index_file(tmp_path / "junk.json")


def _loud_then(tmp: Path, name: str, sr: int = 16000, seconds: float = 6.0) -> np.ndarray:
    t = np.arange(int(sr * seconds)) / sr
    return (0.3 * np.sin(2 * np.pi * 110 * t) + 0.01 * np.random.default_rng(0).standard_normal(t.size)).astype(
        np.float32)


def test_damage_past_the_first_loud_block_is_caught_by_the_full_decode(tmp_path):
    """Issue 14 items 2-4: a FLAC cut halfway ("lost sync" deep in the file), NaN and inf
    samples after 3 s of sound, and paths leaving the root are dropped, each with its reason."""
    root = tmp_path / "data"
    root.mkdir()
    x = _loud_then(root, "x")
    sf.write(str(root / "whole.flac"), x, 16000)
    sf.write(str(root / "cut.flac"), x, 16000)
    data = (root / "cut.flac").read_bytes()
    (root / "cut.flac").write_bytes(data[: len(data) // 2])
    y = x.copy()
    y[50000:50010] = np.nan
    y[60000] = np.inf
    sf.write(str(root / "nan.wav"), y, 16000, subtype="FLOAT")
    (tmp_path / "outside").mkdir()
    sf.write(str(tmp_path / "outside" / "o.wav"), x, 16000)
    pitched_midi(33, 2.0, n_notes=8).write(str(root / "eight.mid"))
    entries = [_entry("whole", "whole.flac", "eight.mid"), _entry("cut", "cut.flac", "eight.mid"),
               _entry("nan", "nan.wav", "eight.mid"), _entry("up", "../outside/o.wav", "eight.mid"),
               _entry("abs", str(tmp_path / "outside" / "o.wav"), "eight.mid"),
               _entry("abs_inside", str(root / "whole.flac"), "eight.mid")]
    index = {"stem": "bass", "dataset_root": str(root), "entries": entries}
    (tmp_path / "dataset_bass.json").write_text(json.dumps(index))
    stale = tmp_path / ".filtered_dataset_bass.json.abc123.tmp"
    stale.write_text("half a file")
    out = filtering.filter_indices(tmp_path, "bass", verbose=False)["bass"]
    assert [e["track"] for e in out["entries"]] == ["whole", "abs_inside"]
    assert out["dropped"] == {"unreadable_audio": 1, "nonfinite_audio": 1, "outside_root": 2}
    details = {d["track"]: d["detail"] for d in out["dropped_entries"]}
    assert "cut.flac" in details["cut"] and "lost sync" in details["cut"]
    assert "nan.wav: 10 NaN and 1 infinite samples" in details["nan"]
    assert "'../outside/o.wav' leaves the dataset root" in details["up"]
    assert "o.wav" in details["abs"] and "leaves the dataset root" in details["abs"]
    assert not stale.exists()
    # the old early stop (first loud block) keeps both damaged files: what full_decode is for
    quick = filtering.filter_indices(tmp_path, "bass", {"full_decode": 0}, verbose=False)["bass"]
    assert [e["track"] for e in quick["entries"]] == ["whole", "cut", "nan", "abs_inside"]


def test_parallel_filter_gives_the_same_file(index_dir, tmp_path, capsys):
    serial = filtering.filter_indices(index_dir, "bass", verbose=False)["bass"]
    rc = cli.main(["filter-index", "--index-dir", str(index_dir), "--stems", "bass", "--jobs", "2"])
    assert rc == 0 and json.loads((index_dir / "filtered_dataset_bass.json").read_text()) == serial
    assert cli.main(["filter-index", "--index-dir", str(index_dir), "--stems", "bass", "--jobs", "0"]) == 2
    assert "--jobs must be at least 1, got 0" in capsys.readouterr().err


def test_the_index_is_parsed_by_index_io(tmp_path):
    from midi_extractor.index_io import DataError

    (tmp_path / "list.json").write_text("[]")
    with pytest.raises(DataError, match=r"list\.json: not an index \(no 'entries' list\)"):
        filtering.filter_index_file(tmp_path / "list.json")
    (tmp_path / "nostem.json").write_text('{"entries": []}')
    with pytest.raises(DataError, match=r"nostem\.json: not an index file \(needs 'stem' and 'entries'\)"):
        filtering.filter_index_file(tmp_path / "nostem.json")
    with pytest.raises(FileNotFoundError, match=r"none\.json: index not found \(run build-index first\)"):
        filtering.filter_index_file(tmp_path / "none.json")


def test_an_empty_or_cut_midi_file_is_named_with_its_problem(index_dir):
    index = json.loads((index_dir / "dataset_bass.json").read_text())
    root = Path(index["dataset_root"])
    (root / "zero.mid").write_bytes(b"")
    index["entries"] = [_entry("zero", "tone.wav", "zero.mid"), _entry("cut", "tone.wav", "cut.mid")]
    out = filtering.filter_index(index, filtering.config_from_params({}))
    details = {d["track"]: (d["reason"], d["detail"]) for d in out["dropped_entries"]}
    # before: "zero.mid: EOFError: " (mido's exception has no message)
    assert details["zero"] == ("unreadable_midi", f"{root / 'zero.mid'}: empty MIDI file (0 bytes)")
    assert details["cut"][0] == "unreadable_midi" and "truncated MIDI file" in details["cut"][1]
