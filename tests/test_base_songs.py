"""Songs only a shared base trains on (midi_extractor.base_songs, stage base_songs): written from
their own seed, all training tracks, prepared per stem of the base; a note on real data; the
pretrain stage finds them or says which stage to run; a seed shared with the data set is refused."""
from __future__ import annotations

import json

import pytest

from midi_extractor.base_songs import NOTE, write_base_songs
from midi_extractor.config import ConfigError, Params, from_dict
from midi_extractor.index_io import DataError
from midi_extractor.train.run import base_song_indexes


def params(**pretrain) -> Params:
    base = {"stems": ["bass", "piano"], "role": "harmonic", "songs": 2, "songs_seed": 7, **pretrain}
    return from_dict(Params, {"dataset": {"seconds": 2.0, "seed": 0}, "pretrain": {"pitched": base}})


def test_a_base_gets_its_own_prepared_training_songs(tmp_path, caplog):
    p = params()
    with caplog.at_level("INFO"):
        prepared = write_base_songs(p, "pitched", tmp_path / "pitched")
    assert "validation split is empty" not in caplog.text     # no validation split, on purpose
    assert sorted(prepared) == ["bass", "piano"]
    tracks = sorted(d.name for d in (tmp_path / "pitched" / "generated" / "train").iterdir())
    assert tracks == ["Track00001", "Track00002"]
    assert not (tmp_path / "pitched" / "generated" / "test").exists()
    report = json.loads((tmp_path / "pitched" / "generated" / "synth_report.json").read_text())
    assert report["settings"]["seed"] == 7 and report["settings"]["ood_sources"] == []
    bass = json.loads(prepared["bass"].read_text())
    assert bass["entries"] and {e["split"] for e in bass["entries"]} == {"train"}
    indexed = json.loads((tmp_path / "pitched" / "index" / "filtered_dataset_bass.json").read_text())["entries"]
    assert len(bass["entries"]) == len(indexed)          # every song, none lent to validation
    assert all((prepared["bass"].parent / e["audio"]).is_file() for e in bass["entries"])
    assert base_song_indexes(p, "pitched", tmp_path / "pitched") == [prepared["bass"], prepared["piano"]]
    # the data set's own first song (seed 0) is not among them
    from midi_extractor.synth.generate import _song_for

    ours = _song_for(7, 0, 2.0, False, set())[0].parts[0].notes
    theirs = _song_for(0, 0, 2.0, False, set())[0].parts[0].notes
    assert ours != theirs


def test_no_songs_on_real_data_or_when_none_are_asked_for(tmp_path):
    real = from_dict(Params, {"dataset": {"kind": "slakh2100", "root": str(tmp_path)},
                              "pretrain": {"pitched": {"stems": ["bass"], "role": "harmonic", "songs": 5}}})
    assert write_base_songs(real, "pitched", tmp_path / "real") == {}
    assert "slakh2100" in (tmp_path / "real" / NOTE).read_text()
    assert base_song_indexes(real, "pitched", tmp_path / "real") == []
    assert write_base_songs(params(songs=0), "pitched", tmp_path / "none") == {}
    assert "songs is 0" in (tmp_path / "none" / NOTE).read_text()


def test_params_say_how_many_songs_a_base_has_and_why_none():
    assert params().base_songs("pitched") == (2, "")
    assert params(songs=0).base_songs("pitched") == (0, "pretrain.pitched.songs is 0")
    real = from_dict(Params, {"dataset": {"kind": "slakh2100", "root": "/data/slakh"},
                              "pretrain": {"pitched": {"stems": ["bass"], "role": "harmonic", "songs": 5}}})
    songs, why = real.base_songs("pitched")
    assert songs == 0 and "dataset.kind is 'slakh2100'" in why


def test_missing_songs_name_the_stage_and_a_shared_seed_is_refused(tmp_path):
    with pytest.raises(DataError, match=r"pretrain.pitched.songs is 2 but .*bass/index.json.* is missing: the "
                                        r"base_songs stage .*; run it again: dvc repro -f base_songs$"):
        base_song_indexes(params(), "pitched", tmp_path / "nothing")
    with pytest.raises(ConfigError, match=r"pretrain.pitched.songs_seed is 0, the seed of dataset.seed"):
        params(songs_seed=0)
    with pytest.raises(ConfigError, match=r"pretrain.pitched.songs must be >= 0, got -1"):
        params(songs=-1)
    assert params(songs=0, songs_seed=0).pretrain["pitched"].songs == 0   # no songs, no clash


def test_sub_bass_songs_come_after_the_songs_with_a_sub_bass_playing_the_bass(tmp_path):
    """pretrain.<base>.sub_bass_songs: more training songs after ``songs``, their parts played by the
    pool as in any song except the bass, which the SubBass source plays; prepared like the others."""
    import yaml

    p = params(songs=1, sub_bass_songs=2)
    prepared = write_base_songs(p, "pitched", tmp_path / "pitched")
    train = tmp_path / "pitched" / "generated" / "train"
    assert sorted(d.name for d in train.iterdir()) == ["Track00001", "Track00002", "Track00003"]
    plugins = {(m["inst_class"], m["plugin_name"].split(":")[0]) for k in (1, 2, 3)
               for m in yaml.safe_load((train / f"Track0000{k}" / "metadata.yaml").read_text())["stems"].values()}
    subs = {plugin for cls, plugin in plugins if plugin == "SubBass"}
    assert subs == {"SubBass"} and {cls for cls, plugin in plugins if plugin == "SubBass"} == {"Bass"}
    assert any(plugin != "SubBass" for cls, plugin in plugins if cls != "Bass")   # the rest from the pool
    first = yaml.safe_load((train / "Track00001" / "metadata.yaml").read_text())["stems"].values()
    assert "SubBass" not in {m["plugin_name"].split(":")[0] for m in first}
    tracks = {e["track"] for e in json.loads(prepared["bass"].read_text())["entries"]}
    assert {"Track00002", "Track00003"} & tracks


def test_double_triads_songs_hold_octave_doublings(tmp_path):
    """pretrain.<base>.double_triads: the base's songs double every other three-note chord's bottom
    note an octave up, as the calibration tracks do; each MIDI holds the doubled song's notes."""
    import pretty_midi

    from midi_extractor.midi_notes import octave_doublings
    from midi_extractor.synth.generate import _song_for

    write_base_songs(params(songs=1, songs_seed=4, double_triads=True), "pitched", tmp_path / "doubled")
    write_base_songs(params(songs=1, songs_seed=4), "pitched", tmp_path / "plain")
    found = {}
    for kind in ("plain", "doubled"):
        track = tmp_path / kind / "generated" / "train" / "Track00001"
        piano = pretty_midi.PrettyMIDI(str(track / "MIDI" / "S03.mid")).instruments[0].notes
        found[kind] = sorted((round(n.start, 3), n.pitch) for n in piano)
        doublings = octave_doublings([(n.start, n.end, n.pitch) for n in piano])
        assert int(doublings.sum()) == (5 if kind == "doubled" else 0), kind
    composed = next(p for p in _song_for(4, 0, 2.0, False, set(), double_triads=True)[0].parts if p.stem == "piano")
    assert found["doubled"] == sorted((round(s, 3), p) for s, _, p, _ in composed.notes)
    assert set(found["plain"]) < set(found["doubled"])
    report = json.loads((tmp_path / "doubled" / "generated" / "synth_report.json").read_text())
    assert report["settings"]["double_triads"] is True


@pytest.mark.parametrize("pretrain, message", [
    ({"songs": 0, "double_triads": True}, r"pretrain.pitched.double_triads is true but songs is 0"),
    ({"double_triads": "maybe"}, r"pretrain.pitched.double_triads"),
    ({"sub_bass_songs": -1}, r"pretrain.pitched.sub_bass_songs is -1: it must be >= 0"),
    ({"songs": 0, "sub_bass_songs": 3}, r"pretrain.pitched.sub_bass_songs is 3: .* 0 when songs is 0"),
])
def test_sub_bass_songs_are_checked_at_load(pretrain, message):
    with pytest.raises(ConfigError, match=message):
        params(**pretrain)


def test_a_base_at_its_own_rate_gets_its_songs_prepared_at_that_rate(tmp_path):
    p = from_dict(Params, {"dataset": {"seconds": 2.0, "seed": 0, "sample_rate_hz": 32000},
                           "pretrain": {"pitched": {"stems": ["bass"], "role": "harmonic", "songs": 1,
                                                    "songs_seed": 7, "sample_rate_hz": 32000}}})
    prepared = json.loads(write_base_songs(p, "pitched", tmp_path / "pitched")["bass"].read_text())
    assert p.features.sample_rate_hz == 16000 and prepared["prepared"]["sample_rate_hz"] == 32000


def test_no_songs_for_a_base_whose_stage_keeps_the_shipped_file(tmp_path, monkeypatch):
    """With ``shipped``, songs are written only when stage pretrain-<base> will train
    (train.run.why_train_base); a kept base gets a note saying so, and the stage asks for
    ``dvc repro -f base_songs`` if it trains after all."""
    from midi_extractor.train import run

    monkeypatch.setattr(run, "why_train_base", lambda base, p, shipped: None)   # the shipped base fits
    assert write_base_songs(params(), "pitched", tmp_path / "kept", shipped=tmp_path / "pitched.pt") == {}
    note = (tmp_path / "kept" / NOTE).read_text()
    assert f"keeps the shipped {tmp_path / 'pitched.pt'} (pretrain.pitched.rebuild: auto)" in note
    assert not (tmp_path / "kept" / "generated").exists()


def test_songs_are_written_for_a_base_that_trains(tmp_path):
    """A missing shipped file (or ``rebuild: true``) means the base trains: its songs are written."""
    p = params(songs=1)
    prepared = write_base_songs(p, "pitched", tmp_path / "trains", shipped=tmp_path / "missing.pt")
    assert sorted(prepared) == ["bass", "piano"] and not (tmp_path / "trains" / NOTE).exists()
    again = params(songs=1, rebuild=True)
    assert sorted(write_base_songs(again, "pitched", tmp_path / "forced", shipped=tmp_path / "missing.pt")) == [
        "bass", "piano"]


def test_a_kept_base_that_must_train_after_all_is_refused_naming_the_forced_run(tmp_path):
    """The pretrain stage, training a base whose songs base_songs skipped, names the command."""
    import subprocess
    import sys

    import yaml

    from helpers_data import REPO

    (tmp_path / "songs").mkdir()
    (tmp_path / "songs" / NOTE).write_text("kept\n")
    cfg = {"dataset": {"seconds": 2.0, "seed": 0},
           "pretrain": {"pitched": {"stems": ["bass"], "role": "harmonic", "songs": 2, "songs_seed": 7}}}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(cfg))
    out = subprocess.run([sys.executable, str(REPO / "stages" / "pretrain.py"), "--params", str(tmp_path / "params.yaml"),
                          "--base", "pitched", "--prepared-dir", str(tmp_path / "prepared"), "--out-dir",
                          str(tmp_path / "run"), "--export", str(tmp_path / "missing.pt"), "--songs-dir",
                          str(tmp_path / "songs")], capture_output=True, text=True, cwd=REPO)
    assert out.returncode == 2
    assert "pretrain.pitched.songs is 2 but" in out.stderr and "dvc repro -f base_songs" in out.stderr
