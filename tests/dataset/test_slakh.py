"""slakh.py: reading the real-data fixture's tracks (BabySlakh, redux) and broken input."""
from __future__ import annotations

from helpers_data import SLAKH_SAMPLE
from midi_extractor.dataset import slakh

FIXTURE = SLAKH_SAMPLE
BABY = FIXTURE / "babyslakh_16k"
REDUX = FIXTURE / "slakh2100_flac_redux"
ONE_MIDI = BABY / "Track00007"


def test_babyslakh_track_quirks():
    layout, tracks, problems = slakh.read_dataset(BABY)
    assert layout == "flat"
    assert [t.name for t in tracks] == ["Track00001", "Track00007"]
    t1 = {s.stem_id: s for s in tracks[0].stems}
    assert sorted(t1) == [f"S{k:02d}" for k in range(11)]
    # audio_rendered: false, yet the file is on disk: the file wins
    assert t1["S00"].metadata["audio_rendered"] is False
    assert t1["S00"].audio == BABY / "Track00001" / "stems" / "S00.wav"
    assert t1["S00"].metadata["sample_rate_hz"] == 16000 and t1["S00"].metadata["n_frames"] == 32000
    # S06: no audio, no MIDI file, plugin_name None, no integrated_loudness
    s06 = t1["S06"]
    assert s06.audio is None and s06.midi is None
    assert s06.metadata["plugin_name"] is None and s06.metadata["integrated_loudness"] is None
    assert s06.metadata["program_num"] == 103
    # drums: program 128 with is_drum
    assert t1["S01"].metadata["program_num"] == 128 and t1["S01"].metadata["is_drum"] is True
    assert t1["S01"].midi == BABY / "Track00001" / "MIDI" / "S01.mid"
    # Track00007: one MIDI file, no metadata -> a warning naming the file; drum stem inferred
    t7 = tracks[1]
    assert [(s.stem_id, s.audio, s.metadata["is_drum"]) for s in t7.stems] == [("S00", None, True)]
    assert [str(p) for p in problems] == [
        f"warning: {ONE_MIDI / 'metadata.yaml'}: metadata.yaml missing; stems inferred from MIDI/*.mid"]


def test_redux_split_folder_and_flac():
    layout, tracks, problems = slakh.read_dataset(REDUX)
    assert (layout, problems) == ("split", [])
    (track,) = tracks
    assert (track.name, track.split) == ("Track00001", "train")
    s00 = track.stems[0]
    assert s00.audio == REDUX / "train" / "Track00001" / "stems" / "S00.flac"
    assert (s00.metadata["sample_rate_hz"], s00.metadata["channels"]) == (44100, 1)
    assert sum(s.audio is not None for s in track.stems) == 10


def test_non_numeric_program_skips_only_that_stem(tmp_path):
    import yaml

    track = tmp_path / "TrackX"
    (track / "MIDI").mkdir(parents=True)
    (track / "metadata.yaml").write_text(yaml.safe_dump({"stems": {
        "S00": {"program_num": "banjo", "is_drum": False},
        "S01": {"program_num": 33, "is_drum": "false", "plugin_name": "None"}}}))
    problems = []
    t = slakh.read_track(track, "train", problems)
    assert [s.stem_id for s in t.stems] == ["S01"]
    assert t.stems[0].metadata["is_drum"] is False and t.stems[0].metadata["plugin_name"] is None
    assert str(problems[0]) == (f"error: {track / 'metadata.yaml'}: stem S00: program_num 'banjo' "
                                f"is not a number; stem skipped")


def test_a_listed_stem_without_its_files_is_named(tmp_path):
    import shutil

    track = tmp_path / "train" / "Track00001"
    shutil.copytree(REDUX / "train" / "Track00001", track)
    (track / "stems" / "S03.flac").unlink()   # audio_rendered: true, as a cut-short download leaves it
    (track / "MIDI" / "S02.mid").unlink()     # midi_saved: true
    problems = []
    t = slakh.read_track(track, "train", problems)
    assert [str(p) for p in problems] == [
        f"warning: {track / 'MIDI' / 'S02.mid'}: not found, though metadata.yaml says midi_saved: true; "
        f"stem S02 is dropped by the filter",
        f"warning: {track / 'stems' / 'S03.flac'}: not found, though metadata.yaml says audio_rendered: true; "
        f"stem S03 is dropped by the filter"]
    # S06 (audio_rendered: false, no files) is as Slakh ships it: no warning; every stem stays listed
    assert len(t.stems) == 11
