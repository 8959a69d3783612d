"""indexing.py: the contract, routing, switches, drum split, bad input, CLI."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from helpers_data import BAD_TRACKS, REPO, SLAKH_SAMPLE, bad_inputs_dataset, handmade_dataset
from midi_extractor import cli
from midi_extractor.dataset import indexing
from midi_extractor.dataset import slakh
from midi_extractor.dataset.slakh_layout import flat_split
from midi_extractor import taxonomy as tx

FIXTURE = SLAKH_SAMPLE
BABY = FIXTURE / "babyslakh_16k"
REDUX = FIXTURE / "slakh2100_flac_redux"
ENTRY_KEYS = {"track", "stem_id", "split", "audio", "midi", "metadata"}
CONTRACT_META = {"program_num", "inst_class", "midi_program_name", "is_drum", "role"}


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    return handmade_dataset(tmp_path_factory.mktemp("gen"))


@pytest.fixture(scope="module")
def bad(tmp_path_factory):
    return bad_inputs_dataset(tmp_path_factory.mktemp("bad"))


def _counts(result):
    return {stem: len(index["entries"]) for stem, index in result.items()}


def test_babyslakh_contract_and_counts(tmp_path):
    problems = []
    result = indexing.build_indices(BABY, "all", tmp_path, problems=problems)
    assert _counts(result) == {"bass": 1, "piano": 1, "guitar": 3, "strings_ensemble": 0, "synth_lead": 0,
                               "synth_pad_fx": 1, "drums": 2, "high_percs": 0, "other": 4, "vocals": 0}
    on_disk = json.loads((tmp_path / "dataset_bass.json").read_text())
    assert on_disk == result["bass"]
    assert (on_disk["stem"], on_disk["taxonomy_version"], on_disk["dataset_root"]) == ("bass", 1, str(BABY))
    (entry,) = on_disk["entries"]
    assert set(entry) == ENTRY_KEYS
    assert entry["track"] == "Track00001" and entry["stem_id"] == "S03"
    assert entry["split"] == flat_split("Track00001")
    assert (entry["audio"], entry["midi"]) == ("Track00001/stems/S03.wav", "Track00001/MIDI/S03.mid")
    assert CONTRACT_META <= set(entry["metadata"])
    assert {k: entry["metadata"][k] for k in CONTRACT_META} == {
        "program_num": 33, "inst_class": "Bass", "midi_program_name": "Electric Bass (finger)",
        "is_drum": False, "role": "melodic"}
    assert entry["metadata"]["plugin_name"] == "scarbee_rickenbacker_bass_palm_muted.nkm"
    # paths are relative to dataset_root and point at real files
    assert (BABY / entry["audio"]).is_file() and (BABY / entry["midi"]).is_file()
    # MIDI but no audio stays in, with audio null: Track00007's drums (MIDI only)
    drums = {(e["track"], e["stem_id"]): e for e in result["drums"]["entries"]}
    assert drums[("Track00007", "S00")]["audio"] is None
    assert drums[("Track00007", "S00")]["midi"] == "Track00007/MIDI/S00.mid"
    # silent drum audio on the fixture: the split falls back to the MIDI
    assert drums[("Track00001", "S01")]["metadata"]["drum_split"]["method"] == "midi"
    pad = result["synth_pad_fx"]["entries"][0]
    assert (pad["stem_id"], pad["audio"], pad["metadata"]["plugin_name"]) == ("S06", None, None)
    assert [p.path for p in problems] == [str(BABY / "Track00007" / "metadata.yaml")]


def test_redux_split_folder(tmp_path):
    result = indexing.build_indices(REDUX, ["guitar", "drums"], tmp_path)
    guitar = result["guitar"]["entries"]
    assert [(e["stem_id"], e["split"], e["audio"]) for e in guitar] == [
        ("S00", "train", "train/Track00001/stems/S00.flac"),
        ("S07", "train", "train/Track00001/stems/S07.flac"),
        ("S08", "train", "train/Track00001/stems/S08.flac")]
    assert guitar[0]["metadata"]["sample_rate_hz"] == 44100
    assert result["drums"]["layout"] == "split"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dataset_drums.json", "dataset_guitar.json"]


def test_single_track_folder_with_one_midi(tmp_path):
    result = indexing.build_indices(BABY / "Track00007", "drums,high_percs", tmp_path)
    assert _counts(result) == {"drums": 1, "high_percs": 0}
    entry = result["drums"]["entries"][0]
    assert (entry["audio"], entry["midi"]) == (None, "MIDI/S00.mid")


def test_switches_organs_and_bass_role(tmp_path):
    sw = tx.TaxonomySwitches(organs_as_keys=True, bass_role=tx.HARMONIC)
    result = indexing.build_indices(BABY, "piano,other,bass", tmp_path, switches=sw)
    assert sorted(e["stem_id"] for e in result["piano"]["entries"]) == ["S02", "S05", "S09", "S10"]
    assert [e["stem_id"] for e in result["other"]["entries"]] == ["S04"]
    assert result["bass"]["entries"][0]["metadata"]["role"] == "harmonic"
    assert result["bass"]["switches"] == {"organs_as_keys": True, "bass_role": "harmonic"}


def test_vocals_gives_an_empty_index_without_error(tmp_path):
    problems = []
    result = indexing.build_indices(REDUX, "vocals", tmp_path, problems=problems)
    assert result["vocals"]["entries"] == [] and problems == []
    assert json.loads((tmp_path / "dataset_vocals.json").read_text())["entries"] == []


def test_generated_layout_routes_and_splits_drums_by_audio(generated, tmp_path):
    result = indexing.build_indices(generated, "all", tmp_path)
    assert _counts(result) == {"bass": 3, "piano": 3, "guitar": 3, "strings_ensemble": 0, "synth_lead": 0,
                               "synth_pad_fx": 0, "drums": 3, "high_percs": 3, "other": 3, "vocals": 0}
    assert {e["stem_id"] for e in result["drums"]["entries"]} == {"S03"}        # core kit
    assert {e["stem_id"] for e in result["high_percs"]["entries"]} == {"S04"}   # hats/cymbals/shakers
    assert {e["metadata"]["drum_split"]["method"] for e in result["high_percs"]["entries"]} == {"audio"}
    assert {e["metadata"]["role"] for e in result["high_percs"]["entries"]} == {"percussive"}
    assert {e["stem_id"] for e in result["other"]["entries"]} == {"S05"}        # organ, switch off
    splits = {e["track"]: e["split"] for e in result["bass"]["entries"]}
    assert splits == {t: flat_split(t) for t in splits}


def test_drum_split_thresholds_from_params_change_the_routing(generated, tmp_path):
    result = indexing.build_indices(generated, "drums,high_percs", tmp_path,
                                    drum_split={"low_ratio_max": 1.0, "min_votes": 0})
    assert _counts(result) == {"drums": 0, "high_percs": 6}
    result = indexing.build_indices(generated, "drums,high_percs", tmp_path, drum_split={"method": "midi"})
    assert _counts(result) == {"drums": 3, "high_percs": 3}
    assert {e["metadata"]["drum_split"]["method"] for e in result["drums"]["entries"]} == {"midi"}


def test_bad_inputs_are_reported_by_file_and_the_rest_is_indexed(bad, tmp_path):
    problems = []
    result = indexing.build_indices(bad, "bass,piano", tmp_path, problems=problems)
    by_track = {e["track"]: e for e in result["bass"]["entries"]}
    # every track keeps its bass entry (the filter drops the broken files with a reason)
    assert sorted(by_track) == sorted(("TrackGood",) + BAD_TRACKS)
    assert result["piano"]["entries"] == []  # TrackBadProgram's S01 (program 200) is skipped
    text = [str(p) for p in problems]
    expect = {
        "TrackBadFlac": (f"{bad / 'TrackBadFlac/stems/S00.flac'}: unreadable or corrupt audio", "warning"),
        "TrackBadMidi": (f"{bad / 'TrackBadMidi/MIDI/S00.mid'}: truncated MIDI file", "warning"),
        "TrackNoMeta": (f"{bad / 'TrackNoMeta/metadata.yaml'}: metadata.yaml missing", "warning"),
        "TrackBadMeta": (f"{bad / 'TrackBadMeta/metadata.yaml'}: malformed metadata.yaml", "warning"),
        "TrackBadProgram": (f"{bad / 'TrackBadProgram/metadata.yaml'}: stem S01: unknown program: "
                            f"program 200 is outside General MIDI 0-127", "error"),
    }
    for track, (message, severity) in expect.items():
        assert sum(t.startswith(f"{severity}: {message}") for t in text) == 1, (track, text)
    assert len(problems) == len(expect)  # the good and the stereo 44.1 kHz tracks raise nothing
    stereo = by_track["TrackStereo44k"]["metadata"]
    assert (stereo["sample_rate_hz"], stereo["channels"]) == (44100, 2)
    assert by_track["TrackBadFlac"]["metadata"]["audio_error"].startswith("unreadable or corrupt audio")
    assert by_track["TrackBadMidi"]["metadata"]["midi_error"].startswith("truncated MIDI file")
    assert by_track["TrackNoMeta"]["metadata"]["inferred_from_midi"] is True


def test_cli_prints_counts_and_problems(bad, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no params.yaml here: defaults
    rc = cli.main(["build-index", "--dataset-root", str(bad), "--stems", "bass,vocals", "--out-dir", "idx"])
    out, err = capsys.readouterr()
    assert rc == 0
    assert "bass: 7 entries (" in out and "-> idx/dataset_bass.json" in out
    assert "vocals: 0 entries (none; 0 without audio)" in out
    assert "problems: 5 (1 errors, 4 warnings) -- listed on stderr" in out
    assert f"{bad / 'TrackBadMidi/MIDI/S00.mid'}: truncated MIDI file" in err
    assert (tmp_path / "idx" / "dataset_bass.json").is_file()


def test_cli_reads_switches_from_params(tmp_path, capsys, monkeypatch):
    params = {"taxonomy": {"organs_as_keys": True}, "stems": {"piano": {"role": "harmonic"}},
              "index": {"drum_split": {"method": "midi"}, "filter": {}}}
    (tmp_path / "p.yaml").write_text(yaml.safe_dump(params))
    rc = cli.main(["build-index", "--dataset-root", str(BABY), "--stems", "piano", "--out-dir",
                   str(tmp_path / "idx"), "--params", str(tmp_path / "p.yaml")])
    assert rc == 0 and "piano: 4 entries" in capsys.readouterr().out


def test_cli_errors_are_one_line(tmp_path, capsys):
    rc = cli.main(["build-index", "--dataset-root", str(tmp_path / "nope"), "--stems", "bass",
                   "--out-dir", str(tmp_path), "--params", str(REPO / "params.yaml")])
    assert rc == 2 and "nope: dataset root not found" in capsys.readouterr().err
    rc = cli.main(["build-index", "--dataset-root", str(BABY), "--stems", "bass,kazoo", "--out-dir", str(tmp_path)])
    assert rc == 2 and "unknown stem(s) kazoo" in capsys.readouterr().err


@pytest.fixture(scope="session")
def synth_set(tmp_path_factory):
    """2 tracks x 4 s from `midi-extractor synth` (split folders train/validation/test)."""
    synth = pytest.importorskip("midi_extractor.synth.generate")
    out = tmp_path_factory.mktemp("synth") / "data"
    synth.generate_dataset(out, tracks=2, seconds=4.0, seed=0, sf2=None, sample_rate_hz=16000)
    return out


def test_synth_layout_index_and_filter(synth_set, tmp_path):
    from midi_extractor.dataset import drum_split
    from midi_extractor.dataset import filtering

    layout, tracks, problems = slakh.read_dataset(synth_set)
    assert layout == "split" and problems == []
    n_stems = sum(len(t.stems) for t in tracks)
    result = indexing.build_indices(synth_set, "all", tmp_path)
    entries = [e for index in result.values() for e in index["entries"]]
    assert len(entries) == n_stems  # every generated stem lands in exactly one stem index
    for e in entries:
        assert e["split"] == Path(e["audio"]).parts[0] and (synth_set / e["audio"]).is_file()
        assert e["split"] in {t.split for t in tracks if t.name == e["track"]}
    for stem in ("drums", "high_percs"):  # the audio split agrees with the MIDI on generated drums
        for e in result[stem]["entries"]:
            assert drum_split.truth_from_midi(synth_set / e["midi"]) == stem, e
    filtered = filtering.filter_indices(tmp_path, "all", verbose=False)
    kept = sum(len(f["entries"]) for f in filtered.values())
    dropped = sum(sum(f["dropped"].values()) for f in filtered.values())
    assert kept + dropped == n_stems and kept > 0


def test_metadata_paths_cannot_leave_the_track(tmp_path):
    """Issue 14 item 4: a stem id with '..', an absolute or escaping audio_dir/midi_dir,
    and a stem file symlinked outside are rejected naming the metadata file and the value;
    the rest of the index is built and no entry points outside the root."""
    from helpers_data import write_track

    root = tmp_path / "a" / "b" / "root"
    outside = tmp_path / "a" / "outside"
    write_track(outside / "Donor", {"S01": {"program_num": 33}})
    (outside / "S01.wav").write_bytes((outside / "Donor/stems/S01.wav").read_bytes())
    (outside / "S01.mid").write_bytes((outside / "Donor/MIDI/S01.mid").read_bytes())
    for k in range(1, 6):
        write_track(root / f"Track0000{k}", {"S00": {"program_num": 33}})

    def edit(track, change):
        path = root / track / "metadata.yaml"
        meta = yaml.safe_load(path.read_text())
        change(meta)
        path.write_text(yaml.safe_dump(meta))

    edit("Track00002", lambda m: m["stems"].__setitem__("../../../../outside/S01", dict(m["stems"]["S00"])))
    edit("Track00003", lambda m: m.update(audio_dir=str(outside), stems={"S01": m["stems"]["S00"]}))
    edit("Track00004", lambda m: m.update(midi_dir="../../outside", stems={"S01": m["stems"]["S00"]}))
    link = root / "Track00005/stems/S00.wav"
    link.unlink()
    link.symlink_to(outside / "S01.wav")
    assert (root / "Track00002/stems/../../../../outside/S01.wav").is_file()  # what the old indexer opened

    problems = []
    bass = indexing.build_indices(root, "bass", tmp_path / "idx", problems=problems)["bass"]["entries"]
    got = {(e["track"], e["stem_id"]): (e["audio"], e["midi"]) for e in bass}
    assert got == {("Track0000%d" % k, "S00"): (f"Track0000{k}/stems/S00.wav", f"Track0000{k}/MIDI/S00.mid")
                   for k in (1, 2)} | {("Track00003", "S01"): (None, None), ("Track00004", "S01"): (None, None)}
    assert not any(".." in (p or "") or Path(p or ".").is_absolute() for pair in got.values() for p in pair)
    text = "\n".join(map(str, problems))
    meta2, meta3, meta4 = (str(root / f"Track0000{k}" / "metadata.yaml") for k in (2, 3, 4))
    assert (f"error: {meta2}: stem id '../../../../outside/S01' is not a plain name" in text)
    assert f"error: {meta3}: audio_dir {str(outside)!r} is an absolute path" in text
    assert f"error: {meta4}: midi_dir '../../outside' leads outside the track folder" in text
    assert f"error: {link}: resolves outside the track folder (to {outside / 'S01.wav'}); stem S00 skipped" in text
    # a DVC cache of cache.type symlink: accepted when asked for
    linked = indexing.build_indices(root, "bass", tmp_path / "idx2", allow_outside_links=True)["bass"]["entries"]
    assert ("Track00005", "S00") in {(e["track"], e["stem_id"]) for e in linked}
    rc = cli.main(["build-index", "--dataset-root", str(root), "--stems", "bass", "--out-dir",
                   str(tmp_path / "idx3"), "--allow-outside-links"])
    on_disk = json.loads((tmp_path / "idx3" / "dataset_bass.json").read_text())["entries"]
    assert rc == 0 and len(on_disk) == len(linked) == 5


def test_jobs_give_the_same_indexes_and_problems(generated, bad, tmp_path):
    """Tracks read in two processes: byte-identical index files, the same problems in order."""
    for root, stems in ((generated, "drums,high_percs,bass"), (bad, "bass,piano")):
        one, two = [], []
        indexing.build_indices(root, stems, tmp_path / "one", problems=one)
        indexing.build_indices(root, stems, tmp_path / "two", problems=two, jobs=2)
        for stem in stems.split(","):
            name = f"dataset_{stem}.json"
            assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes(), stem
        assert [str(p) for p in one] == [str(p) for p in two]
    assert one  # the bad set has problems to compare
