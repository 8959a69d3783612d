"""Paths stay inside the roots they were given (issue 23 item 5): one check,
``index_io.inside_root``, used by build-index (track folders), filter-index, prepare,
training's index reading (``index_io.entry_paths``) and evaluate. An index entry edited to
``../outside/...`` or to an absolute path elsewhere, or a track folder symlinked to outside the
root, is refused naming the path and the root, and the outside file is never opened."""
from __future__ import annotations

import json
import logging
from pathlib import Path
from types import SimpleNamespace

import pytest

from helpers_data import write_track
from midi_extractor.dataset import indexing
from midi_extractor.dataset.filtering import filter_index_file
from midi_extractor.dataset.prepare import prepare_index
from midi_extractor.index_io import OutsideRootError, inside_root, read_index


@pytest.fixture(scope="module")
def layout(tmp_path_factory) -> tuple[Path, Path]:
    """``(root, outside)``: root holds Track00001 and Track00002, a symlink to a track folder
    in ``outside``; ``outside/Track00003`` is a track no root entry should reach."""
    base = tmp_path_factory.mktemp("roots")
    root, outside = base / "root", base / "outside"
    write_track(root / "Track00001", {"S00": {"program_num": 33}}, seconds=2.0)
    for name in ("Track00002", "Track00003"):
        write_track(outside / name, {"S00": {"program_num": 33}}, seconds=2.0)
    (root / "Track00002").symlink_to(outside / "Track00002", target_is_directory=True)
    return root, outside


def _index(path: Path, root: Path, audio_paths: dict[str, str]) -> Path:
    entries = [{"track": t, "stem_id": "S00", "split": "train", "audio": a, "midi": a.replace("stems", "MIDI")
                .replace(".wav", ".mid"), "metadata": {"program_num": 33, "is_drum": False}}
               for t, a in audio_paths.items()]
    path.write_text(json.dumps({"stem": "bass", "dataset_root": str(root), "entries": entries}))
    return path


def _edited(tmp_path: Path, root: Path, outside: Path) -> Path:
    return _index(tmp_path / "dataset_bass.json", root, {
        "Track00001": "Track00001/stems/S00.wav",                      # inside
        "Track00002": "Track00002/stems/S00.wav",                      # through the symlinked folder
        "Dotdot": "../outside/Track00003/stems/S00.wav",               # edited to leave the root
        "Absolute": str(outside / "Track00003/stems/S00.wav")})        # an absolute path elsewhere


def test_inside_root_checks_lexically_and_through_symlinked_folders(layout):
    root, outside = layout
    assert inside_root(root, "Track00001/stems/S00.wav") == root / "Track00001/stems/S00.wav"
    assert inside_root(root, "Track00001/../Track00001/MIDI/S00.mid").is_file()
    with pytest.raises(OutsideRootError, match=rf"path '../outside/x.wav' leaves the dataset root {root}; "):
        inside_root(root, "../outside/x.wav")
    with pytest.raises(OutsideRootError, match="leaves the dataset root"):
        inside_root(root, str(outside / "Track00003/stems/S00.wav"))
    with pytest.raises(OutsideRootError, match=rf"resolves outside the dataset root {root} \(to "
                                               rf"{outside / 'Track00002/stems/S00.wav'}"):
        inside_root(root, "Track00002/stems/S00.wav")
    link = root / "Track00001/stems/linked.wav"  # a file symlink (a DVC symlink cache) is allowed
    link.symlink_to(outside / "Track00003/stems/S00.wav")
    try:
        assert inside_root(root, "Track00001/stems/linked.wav") == link
        with pytest.raises(OutsideRootError):
            inside_root(root, "Track00001/stems/linked.wav", final_link_ok=False)
    finally:
        link.unlink()


def test_build_index_skips_a_track_folder_symlinked_outside_the_root(layout, tmp_path):
    root, outside = layout
    problems = []
    entries = indexing.build_indices(root, "bass", tmp_path / "a", problems=problems)["bass"]["entries"]
    assert [e["track"] for e in entries] == ["Track00001"]
    assert [str(p) for p in problems] == [
        f"error: {root / 'Track00002'}: resolves outside the dataset root {root} (to {outside / 'Track00002'}; "
        "a symlinked folder); track skipped"]
    allowed = indexing.build_indices(root, "bass", tmp_path / "b", allow_outside_links=True)["bass"]["entries"]
    assert [e["track"] for e in allowed] == ["Track00001", "Track00002"]


def test_filter_drops_entries_leaving_the_root_as_outside_root(layout, tmp_path):
    root, outside = layout
    out = filter_index_file(_edited(tmp_path, root, outside), tmp_path / "filtered.json", verbose=False)
    assert [e["track"] for e in out["entries"]] == ["Track00001"]
    assert out["dropped"] == {"outside_root": 3}
    details = {d["track"]: d["detail"] for d in out["dropped_entries"]}
    assert details["Track00002"].startswith(f"{root / 'Track00002/stems/S00.wav'}: resolves outside the dataset "
                                            f"root {root}")
    assert details["Dotdot"] == (f"{root / '../outside/Track00003/stems/S00.wav'}: path "
                                 f"'../outside/Track00003/stems/S00.wav' leaves the dataset root {root}; not opened")
    assert "leaves the dataset root" in details["Absolute"]


def test_prepare_never_opens_a_file_outside_the_root(layout, tmp_path, monkeypatch, caplog):
    from midi_extractor.dataset import prepare_entry

    root, outside = layout
    opened = []
    real_load_audio = prepare_entry.load_audio
    monkeypatch.setattr(prepare_entry, "load_audio", lambda path, *a, **k: opened.append(Path(path)) or
                        real_load_audio(path, *a, **k))
    caplog.set_level(logging.WARNING)
    report = prepare_index(_edited(tmp_path, root, outside), tmp_path / "prep", 16000, splits="train,validation")
    assert report["prepared"] == 1 and report["bad"] == 3
    assert opened == [root / "Track00001/stems/S00.wav"]
    assert set(report["bad_files"]) == {"Track00002/stems/S00.wav", "../outside/Track00003/stems/S00.wav",
                                        str(outside / "Track00003/stems/S00.wav")}
    assert report["bad_files"]["Track00002/stems/S00.wav"].startswith(f"resolves outside the dataset root {root}")
    assert f"leaves the dataset root {root}" in report["bad_files"]["../outside/Track00003/stems/S00.wav"]
    assert sum("leaves the dataset root" in r.getMessage() for r in caplog.records) == 2


def test_training_and_evaluate_readers_refuse_paths_outside_the_root(layout, tmp_path, caplog):
    from midi_extractor.config import FrontEndConfig
    from midi_extractor.evaluate.tracks import _load_track

    root, outside = layout
    index = _edited(tmp_path, root, outside)
    caplog.set_level(logging.WARNING)
    got_root, entries, _ = read_index(index)  # training's reader (train.clips, train.run.merge_indexes)
    assert got_root == root.resolve() and [e["track"] for e in entries] == ["Track00001"]
    warned = [r.getMessage() for r in caplog.records]
    assert len(warned) == 3 and all(m.startswith(f"{index}: entry ") for m in warned)
    assert (f"{index}: entry Dotdot/S00 left out: {root / '../outside/Track00003/stems/S00.wav'}: path "
            f"'../outside/Track00003/stems/S00.wav' leaves the dataset root {root.resolve()}; not opened") in warned
    caplog.clear()
    entries = {e["track"]: e for e in json.loads(index.read_text())["entries"]}
    loaded = SimpleNamespace(front_end=FrontEndConfig(), drum_classes=None)
    assert _load_track(entries["Dotdot"], root, loaded, "IDX") is None
    assert f"IDX: skipping Dotdot/S00: {root / '../outside/Track00003/stems/S00.wav'}: path" in caplog.text
    assert _load_track(entries["Track00002"], root, loaded, "IDX") is None
    assert "IDX: skipping Track00002/S00" in caplog.text and "resolves outside the dataset root" in caplog.text
    assert _load_track(entries["Track00001"], root, loaded, "IDX") is not None


def test_a_base_models_merged_prepared_index_may_point_into_its_sources(tmp_path):
    """train.run.merge_indexes writes the union of its stems' prepared indexes beside the base,
    its entries relative to it (``../../data/prepared/piano/...``): those are its roots."""
    (tmp_path / "base").mkdir()
    entry = {"track": "T", "stem_id": "S", "split": "train", "audio": "../prepared/piano/audio/T/S.npy",
             "midi": "../prepared/piano/notes/T/S.npy"}
    merged = {"dataset_root": ".", "prepared": {"sample_rate_hz": 16000, "source_index": ["p/index.json"]},
              "entries": [entry]}
    (tmp_path / "base/index.json").write_text(json.dumps(merged))
    assert read_index(tmp_path / "base/index.json")[1] == [entry]
    merged["prepared"]["source_index"] = "p/index.json"  # one stem's own prepared index: checked
    (tmp_path / "base/index.json").write_text(json.dumps(merged))
    assert read_index(tmp_path / "base/index.json")[1] == []
