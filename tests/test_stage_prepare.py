"""stages/prepare.py as dvc runs it: one summary line on stdout (no raw JSON), and a user
error as one line naming its cause with exit status 2."""
from __future__ import annotations

import os
import subprocess
import sys

from helpers_training import REPO, tiny_params_yaml, write_sine_set


def _stage(tmp_path, index, out, params=None):
    params = params or tiny_params_yaml(tmp_path / "params.yaml")
    return subprocess.run([sys.executable, str(REPO / "stages" / "prepare.py"), "--params", str(params),
                           "--index", str(index), "--out", str(out), "--jobs", "1"], capture_output=True, text=True,
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


def test_a_stem_with_songs_of_its_own_trains_on_them_too(tmp_path):
    """stems.<stem>.songs: the stage writes the stem's own songs (seed songs_seed) under
    <out>/songs/, prepares them at the stem's rate and adds them to its index as training
    entries, beside the set's; the summary line says how many. A second run leaves one copy."""
    import json

    import numpy as np
    import yaml

    from midi_extractor.synth.generate import _song_for

    index = write_sine_set(tmp_path / "sines", n_tracks=2, seconds=1.0)
    params = tiny_params_yaml(tmp_path / "params.yaml", songs=2, songs_seed=4, double_triads=True)
    raw = yaml.safe_load(params.read_text())
    raw["dataset"]["seconds"] = 2.0
    params.write_text(yaml.safe_dump(raw, sort_keys=False))
    out = tmp_path / "prepared" / "bass"
    for _ in range(2):
        proc = _stage(tmp_path, index, out, params)
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


def test_songs_of_its_own_are_checked_at_load():
    import pytest

    from midi_extractor.config import ConfigError, Params, from_dict

    for stem, message in (({"songs": 0, "double_triads": True}, r"stems.piano.double_triads is true but songs is 0"),
                          ({"songs": -2}, r"stems.piano.songs must be >= 0, got -2"),
                          ({"songs": 3, "songs_seed": 0}, r"stems.piano.songs_seed is 0, the seed of dataset.seed")):
        with pytest.raises(ConfigError, match=message):
            from_dict(Params, {"dataset": {"seed": 0}, "stems": {"piano": stem}})
