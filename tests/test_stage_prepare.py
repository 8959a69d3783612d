"""stages/prepare.py as dvc runs it: one summary line on stdout (no raw JSON), and a user
error as one line naming its cause with exit status 2."""
from __future__ import annotations

import os
import subprocess
import sys

from helpers_training import REPO, tiny_params_yaml, write_sine_set


def _stage(tmp_path, index, out, params=None, songs=None, script="prepare.py"):
    params = params or tiny_params_yaml(tmp_path / "params.yaml")
    where = ["--index", str(index), "--out", str(out), "--jobs", "1"] if script == "prepare.py" else ["--out", str(out)]
    return subprocess.run([sys.executable, str(REPO / "stages" / script), "--params", str(params), *where]
                          + (["--songs", str(songs)] if songs else []), capture_output=True, text=True,
                          cwd=tmp_path, timeout=120,
                          # CI=true as on GitHub Actions, where pyfluidsynth would print where it found its library
                          env={**os.environ, "MIDI_EXTRACTOR_TRACKING": "0", "CI": "true"})


def test_prepare_stage_prints_one_summary_line(tmp_path):
    index = write_sine_set(tmp_path / "sines", n_tracks=3, seconds=1.0)
    proc = _stage(tmp_path, index, tmp_path / "prepared" / "bass")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 1 and not lines[0].startswith("{")
    assert lines[0].startswith("prepare@bass: 3 entries (3 prepared, 0 already there, 0 bad)")
    assert lines[0].endswith(str(tmp_path / "prepared" / "bass" / "index.json"))


def test_prepare_stage_names_a_missing_index_in_one_line(tmp_path):
    proc = _stage(tmp_path, tmp_path / "missing.json", tmp_path / "prepared" / "bass")
    lines = [x for x in proc.stderr.splitlines() if x.strip()]
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert lines[-1].startswith("prepare@bass: ") and "missing.json" in lines[-1]


def test_a_stem_is_prepared_at_its_bases_rate(tmp_path):
    """pretrain.<base>.sample_rate_hz: the stem's prepared audio is at its base's rate, not
    features' (8 kHz here); the 1-s sine tracks come out 16,000 samples long."""
    import json

    import numpy as np
    import yaml

    index = write_sine_set(tmp_path / "sines", n_tracks=2, seconds=1.0)
    params = tiny_params_yaml(tmp_path / "params.yaml", base="pitched")
    raw = yaml.safe_load(params.read_text())
    raw["pretrain"]["pitched"]["sample_rate_hz"] = 16000
    params.write_text(yaml.safe_dump(raw, sort_keys=False))
    proc = subprocess.run([sys.executable, str(REPO / "stages" / "prepare.py"), "--params", str(params),
                           "--index", str(index), "--out", str(tmp_path / "prepared"), "--jobs", "1"],
                          capture_output=True, text=True, cwd=tmp_path, timeout=120,
                          env={**os.environ, "MIDI_EXTRACTOR_TRACKING": "0", "CI": "true"})
    assert proc.returncode == 0, proc.stderr
    prepared = json.loads((tmp_path / "prepared" / "index.json").read_text())
    assert prepared["prepared"]["sample_rate_hz"] == 16000
    audio = sorted((tmp_path / "prepared" / "audio").rglob("*.npy"))
    assert len(audio) == 2 and all(np.load(a).shape == (16000,) for a in audio)


def _songs_params(tmp_path, name="params.yaml", count=3, seed=4, **stem):
    """Tiny params whose bass takes ``stem``'s songs of ``count`` shared 2-s songs from ``seed``."""
    import yaml

    params = tiny_params_yaml(tmp_path / name, **stem)
    raw = yaml.safe_load(params.read_text())
    raw["dataset"]["seconds"] = 2.0
    raw["stem_songs"] = {"count": count, "seed": seed, "double_triads": bool(count)}
    params.write_text(yaml.safe_dump(raw, sort_keys=False))
    return params


def test_a_stem_trains_on_the_first_of_the_shared_songs_too(tmp_path):
    """stem_songs + stems.<stem>.songs: stage stem_songs writes the shared songs once (seed 4,
    doubled triads); prepare@bass takes the first two of the three, prepares them at the stem's
    rate and adds them to its index as training entries, beside the set's; the summary line says
    how many. A second run leaves one copy."""
    import json

    import numpy as np

    from midi_extractor.synth.generate import _song_for

    index = write_sine_set(tmp_path / "sines", n_tracks=2, seconds=1.0)
    params = _songs_params(tmp_path, songs=2)
    proc = _stage(tmp_path, None, tmp_path / "stem_songs", params, script="stem_songs.py")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"stem_songs: 3 songs -> {tmp_path / 'stem_songs'} (taken by bass)"
    assert len(list((tmp_path / "stem_songs" / "train").iterdir())) == 3
    out = tmp_path / "prepared" / "bass"
    for _ in range(2):
        proc = _stage(tmp_path, index, out, params, songs=tmp_path / "stem_songs")
        assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().endswith("; 2 training entries from songs of its own (songs/)")
    entries = json.loads((out / "index.json").read_text())["entries"]
    assert [(e["track"], e["split"]) for e in entries] == [
        ("Track00001", "train"), ("Track00002", "validation"), ("songs-Track00001", "train"),
        ("songs-Track00002", "train")]
    for k, e in enumerate(entries[2:]):
        audio = np.load(out / e["audio"])
        assert audio.shape == (2 * 8000,) and np.abs(audio).max() > 0   # the stem's rate (8 kHz here)
        bass = next(p for p in _song_for(4, k, 2.0, False, set(), double_triads=True)[0].parts if p.stem == "bass")
        notes = np.load(out / e["midi"])
        assert len(notes) == len(bass.notes), e["track"]


def test_shared_songs_that_do_not_fit_params_stop_the_stage_in_one_line(tmp_path):
    """A stem that takes songs needs --songs; a songs folder from another seed, with fewer songs
    than the stem asks for, or with none, is named, with the command that writes them again."""
    index = write_sine_set(tmp_path / "sines", n_tracks=2, seconds=1.0)
    assert _stage(tmp_path, None, tmp_path / "songs", _songs_params(tmp_path, "p2.yaml", count=2, songs=2),
                  script="stem_songs.py").returncode == 0
    for params, songs, message in (
            (_songs_params(tmp_path, "a.yaml", songs=2), None, "stems.bass.songs is 2: give --songs"),
            (_songs_params(tmp_path, "b.yaml", seed=5, songs=2), tmp_path / "songs",
             f"{tmp_path / 'songs'}: its songs were written with {{'seed': 4}}"),
            (_songs_params(tmp_path, "c.yaml", seed=4, songs=3), tmp_path / "songs",
             f"{tmp_path / 'songs'}: holds 2 songs, stems.bass.songs asks for the first 3"),
            (_songs_params(tmp_path, "d.yaml", songs=2), tmp_path / "none",
             f"{tmp_path / 'none'}: no songs written there (synth_report.json missing or unreadable)")):
        proc = _stage(tmp_path, index, tmp_path / "prepared" / "bass", params, songs=songs)
        lines = [x for x in proc.stderr.splitlines() if x.strip()]
        assert proc.returncode == 2 and "Traceback" not in proc.stderr
        assert lines[-1].startswith(f"prepare@bass: {message}"), lines[-1]
        assert "dvc repro stem_songs" in lines[-1] or songs is None
        assert songs or not (tmp_path / "prepared" / "bass").exists()   # no --songs: stopped before any work


def test_no_shared_songs_leave_a_note(tmp_path):
    """stem_songs.count 0, or a real data set: stage stem_songs writes no song, only a note why."""
    import yaml

    for kind, count, why in (("generated", 0, "stem_songs.count is 0"),
                             ("folder", 2, "dataset.kind is 'folder': generated songs are for the generated set")):
        params = _songs_params(tmp_path, count=count)
        raw = yaml.safe_load(params.read_text())
        raw["dataset"]["kind"] = kind
        params.write_text(yaml.safe_dump(raw, sort_keys=False))
        out = tmp_path / kind
        proc = _stage(tmp_path, None, out, params, script="stem_songs.py")
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.strip() == f"stem_songs: 0 songs -> {out} ({out / 'NOT_USED.txt'})"
        assert (out / "NOT_USED.txt").read_text() == f"{why}: no stem trains on songs of its own\n"
        assert [p.name for p in out.iterdir()] == ["NOT_USED.txt"]


def test_songs_are_checked_at_load():
    import pytest

    from midi_extractor.config import ConfigError, Params, from_dict

    shared = {"count": 4, "seed": 11, "double_triads": True}
    for raw, message in (
            ({"stem_songs": {"count": 0, "double_triads": True}}, r"stem_songs.double_triads is true but count is 0"),
            ({"stem_songs": {"count": -1}}, r"stem_songs.count must be >= 0, got -1"),
            ({"stem_songs": {**shared, "seed": 0}}, r"stem_songs.seed is 0, the seed of dataset.seed"),
            ({"stems": {"piano": {"songs": -2}}}, r"stems.piano.songs must be >= 0, got -2"),
            ({"stem_songs": shared, "stems": {"piano": {"songs": 5}}},
             r"stems.piano.songs is 5, more than the 4 of stem_songs.count"),
            ({"stems": {"piano": {"songs": 3, "songs_seed": 4}}}, r"stems.piano: unknown key\(s\) songs_seed")):
        with pytest.raises(ConfigError, match=message):
            from_dict(Params, {"dataset": {"seed": 0}, **raw})
    assert from_dict(Params, {"dataset": {"seed": 0}, "stem_songs": shared,
                              "stems": {"piano": {"songs": 4}}}).stem_songs_of("piano") == (4, "")


def test_a_role_with_bleed_stores_each_stems_song_beside_it(tmp_path):
    """roles.<role>.augment.bleed_db set (the shipped params: melodic 10 dB): prepare@bass stores
    each bass's song (its piano) and a validation twin, also when the stem's own augment turns
    bleed off (the stage depends on the role's key alone); the role's null: neither."""
    import json

    import yaml
    from helpers_data import write_track

    entries = []
    for k, split in enumerate(("train", "validation")):
        name = f"Track{k + 1:05d}"
        write_track(tmp_path / "data" / name, {"S00": {"program_num": 33}, "S01": {"program_num": 0}},
                    sample_rate_hz=8000, seconds=2.0, seed=k)
        entries.append({"track": name, "stem_id": "S00", "split": split, "audio": f"{name}/stems/S00.wav",
                        "midi": f"{name}/MIDI/S00.mid", "metadata": {"program_num": 33, "is_drum": False}})
    index = tmp_path / "filtered_dataset_bass.json"
    index.write_text(json.dumps({"stem": "bass", "dataset_root": str(tmp_path / "data"), "entries": entries}))
    params = tiny_params_yaml(tmp_path / "params.yaml")
    assert yaml.safe_load(params.read_text())["roles"]["melodic"]["augment"]["bleed_db"] == 10.0
    proc = _stage(tmp_path, index, tmp_path / "on", params)
    assert proc.returncode == 0 and "0 trimmed, 2 with their song's bleed, " in proc.stdout
    on = json.loads((tmp_path / "on" / "index.json").read_text())["entries"]
    assert [(e["split"], e.get("bleed"), e.get("bleed_sbr_db")) for e in on] == [
        ("train", "bleed/Track00001/S00.npy", None), ("validation", "bleed/Track00002/S00.npy", None),
        ("validation", "bleed/Track00002/S00.npy", 20.0)]
    data = yaml.safe_load(params.read_text())
    data["stems"]["bass"]["augment"] = {"bleed_db": None}   # the stem's own: it trains without, prepare still stores
    params.write_text(yaml.safe_dump(data, sort_keys=False))
    proc = _stage(tmp_path, index, tmp_path / "stem_off", params)
    assert proc.returncode == 0 and "2 with their song's bleed, " in proc.stdout
    data["roles"]["melodic"]["augment"]["bleed_db"] = None
    params.write_text(yaml.safe_dump(data, sort_keys=False))
    proc = _stage(tmp_path, index, tmp_path / "off", params)
    assert proc.returncode == 0 and "song's bleed" not in proc.stdout
    assert not any("bleed" in e for e in json.loads((tmp_path / "off" / "index.json").read_text())["entries"])
