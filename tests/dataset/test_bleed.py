"""dataset/bleed.py through prepare_index(bleed=True): each prepared stem gets the rest of its
song (other categories only) at its own RMS, validation entries a twin heard 20 dB below it,
reruns keep what is there, and tracks without the Slakh metadata or another category get none."""
from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pretty_midi
import pytest
import torch
import soundfile as sf
import yaml

from midi_extractor import prepared
from midi_extractor.dataset.bleed import VALIDATION_SBR_DB, bleed_sources
from midi_extractor.dataset.prepare import prepare_index

HZ, SECONDS = 16000, 2.0


def _sine(freq_hz: float, amp: float) -> np.ndarray:
    t = np.arange(round(SECONDS * HZ)) / HZ
    return (amp * np.sin(2 * np.pi * freq_hz * t)).astype(np.float32)


def _track(root: Path, split: str, name: str, stems: dict, metadata: bool = True) -> list[dict]:
    """A Slakh-layout track; ``stems``: ``{sid: (program, is_drum, samples)}``. Its index entries."""
    folder = root / split / name
    (folder / "stems").mkdir(parents=True)
    entries = []
    for sid, (program, is_drum, x) in stems.items():
        sf.write(folder / "stems" / f"{sid}.flac", x, HZ)
        pm = pretty_midi.PrettyMIDI()
        inst = pretty_midi.Instrument(program=0 if is_drum else program, is_drum=is_drum)
        inst.notes.append(pretty_midi.Note(100, 36 if is_drum else 45, 0.1, 0.5))
        pm.instruments.append(inst)
        (folder / "MIDI").mkdir(exist_ok=True)
        pm.write(str(folder / "MIDI" / f"{sid}.mid"))
        entries.append({"track": name, "stem_id": sid, "split": split, "audio": f"{split}/{name}/stems/{sid}.flac",
                        "midi": f"{split}/{name}/MIDI/{sid}.mid",
                        "metadata": {"program_num": 128 if is_drum else program, "is_drum": is_drum}})
    if metadata:
        meta = {"stems": {sid: {"program_num": 128 if d else p, "is_drum": d, "audio_rendered": True}
                          for sid, (p, d, _) in stems.items()}}
        (folder / "metadata.yaml").write_text(yaml.safe_dump(meta))
    return entries


@pytest.fixture()
def song(tmp_path) -> tuple[Path, Path]:
    """Train track T1: a bass (A1 sine), a second bass, a piano (442 Hz, between the clicks'
    4 Hz lines), a drum kit (clicks); validation track T2: a bass and a piano; train track T3 without metadata.yaml."""
    root = tmp_path / "data"
    kit = np.zeros(round(SECONDS * HZ), dtype=np.float32)
    kit[::4000] = 0.9
    entries = _track(root, "train", "T1", {"S00": (33, False, _sine(55, 0.5)), "S01": (34, False, _sine(82.5, 0.2)),
                                           "S02": (0, False, _sine(442, 0.3)), "S03": (0, True, kit)})
    entries += _track(root, "validation", "T2", {"S00": (33, False, _sine(55, 0.4)), "S01": (0, False, _sine(442, 0.1))})
    entries += _track(root, "train", "T3", {"S00": (33, False, _sine(55, 0.5)), "S01": (0, False, _sine(442, 0.3))},
                      metadata=False)
    index = tmp_path / "index.json"
    index.write_text(json.dumps({"stem": "bass", "dataset_root": str(root), "entries": entries}))
    return index, tmp_path / "prepared"


def _entries(out: Path) -> list[dict]:
    return json.loads((out / "index.json").read_text())["entries"]


def _stored(out: Path, e: dict, key: str, scale_key: str) -> np.ndarray:
    return prepared.read_window(out / e[key], 0, e["frames"], e[scale_key])


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64))))


def test_each_stem_gets_the_other_categories_at_its_own_rms(song):
    index, out = song
    prepare_index(index, out, HZ, bleed=True)
    by_key = {(e["track"], e["stem_id"], e.get("bleed_sbr_db")): e for e in _entries(out)}
    bass = by_key[("T1", "S00", None)]
    rest = _stored(out, bass, "bleed", "bleed_scale")
    spectrum = np.abs(np.fft.rfft(rest))  # 0.5 Hz bins: f Hz at bin 2 f
    assert spectrum[884] > 100 * spectrum[165]                  # the piano bleeds in, the second bass does not
    assert abs(_rms(rest) - _rms(_stored(out, bass, "audio", "scale"))) < 0.01 * _rms(rest)
    kit_rest = np.abs(np.fft.rfft(_stored(out, by_key[("T1", "S03", None)], "bleed", "bleed_scale")))
    assert kit_rest[[55 * 2, 884]].min() > 100                # a drum stem hears every pitched stem
    assert "bleed" not in by_key[("T3", "S00", None)]             # no metadata.yaml: nothing to know the song by


def test_validation_twins_and_the_reader_mix(song):
    from midi_extractor.config import FrontEndConfig
    from midi_extractor.train.clips import TranscriptionDataset

    index, out = song
    prepare_index(index, out, HZ, bleed=True)
    val = [e for e in _entries(out) if e["split"] == "validation"]
    assert [(e["stem_id"], e.get("bleed_sbr_db")) for e in val] == [("S00", None), ("S00", VALIDATION_SBR_DB),
                                                                    ("S01", None), ("S01", VALIDATION_SBR_DB)]
    assert [e["stem_id"] for e in _entries(out) if e["split"] == "train" and "bleed_sbr_db" in e] == []
    ds = TranscriptionDataset(out / "index.json", "validation", FrontEndConfig(), 1.0, deterministic=True)
    without = TranscriptionDataset(out / "index.json", "validation", FrontEndConfig(), 1.0, deterministic=True,
                                   bleed_twins=False)   # a stem that trains without bleed validates without
    assert [e.get("bleed_sbr_db") for e in without.entries] == [None, None]
    np.testing.assert_array_equal(without.read(0, 0.0, SECONDS), ds.read(0, 0.0, SECONDS))
    clean, twin = ds.read(0, 0.0, SECONDS), ds.read(1, 0.0, SECONDS)
    leak = twin - clean
    assert abs(20 * np.log10(_rms(clean) / _rms(leak)) - VALIDATION_SBR_DB) < 0.3
    assert np.abs(np.fft.rfft(leak))[884] > 50 * np.abs(np.fft.rfft(leak))[55 * 2]


def test_a_rerun_keeps_the_arrays_and_a_changed_source_redoes_them(song, caplog):
    index, out = song
    prepare_index(index, out, HZ, bleed=True)
    array = out / "bleed" / "T1" / "S00.npy"
    before = array.stat().st_mtime_ns
    prepare_index(index, out, HZ, bleed=True)
    assert array.stat().st_mtime_ns == before
    sf.write(index.parent / "data/train/T1/stems/S02.flac", _sine(660, 0.3), HZ)   # the piano changed
    prepare_index(index, out, HZ, bleed=True)
    rest = np.abs(np.fft.rfft(prepared.read_window(array, 0, round(SECONDS * HZ),
                                                   json.loads(array.with_suffix(".json").read_text())["scale"])))
    assert rest[660 * 2] > 100 * rest[884]


def test_a_source_that_fails_is_named_and_the_entry_trains_without_it(song, caplog):
    index, out = song
    (index.parent / "data/train/T1/stems/S02.flac").write_bytes(b"fLaC not really")
    with caplog.at_level(logging.WARNING, logger="midi_extractor.dataset.prepare"):
        prepare_index(index, out, HZ, bleed=True)
    assert any("T1/stems/S02.flac" in r.getMessage() and "T1/S00's bleed" in r.getMessage() for r in caplog.records)
    bass = next(e for e in _entries(out) if (e["track"], e["stem_id"]) == ("T1", "S00"))
    rest = np.abs(np.fft.rfft(_stored(out, bass, "bleed", "bleed_scale")))
    assert rest[884] < 1 and rest.max() > 100    # the kit alone


def test_stems_sharing_their_sources_share_one_decode_of_them(song, monkeypatch):
    """T1's two basses hear the same piano and kit: the piano is decoded once for both of
    them (and once for the kit), and both arrays hold it at their own stem's RMS."""
    from midi_extractor.dataset import bleed

    index, out = song
    decoded: list[str] = []
    real = bleed.load_audio
    monkeypatch.setattr(bleed, "load_audio", lambda path, sr: decoded.append(Path(path).as_posix()) or real(path, sr))
    prepare_index(index, out, HZ, bleed=True)
    assert sum(p.endswith("T1/stems/S02.flac") for p in decoded) == 2     # basses' group, the kit
    assert sum(p.endswith("T1/stems/S00.flac") for p in decoded) == 2     # the piano, the kit
    by_key = {(e["track"], e["stem_id"]): e for e in _entries(out) if "bleed_sbr_db" not in e}
    for sid in ("S00", "S01"):
        e = by_key[("T1", sid)]
        rest = _stored(out, e, "bleed", "bleed_scale")
        assert abs(_rms(rest) - _rms(_stored(out, e, "audio", "scale"))) < 0.01 * _rms(rest)
        assert np.abs(np.fft.rfft(rest))[884] > 100


def test_organs_join_the_piano_with_the_taxonomy_switch(tmp_path):
    """An organ (GM 16) is another category for a piano, unless ``organs_as_keys`` makes it one."""
    from midi_extractor.taxonomy import TaxonomySwitches

    root = tmp_path / "data"
    entries = _track(root, "train", "T1", {"S00": (0, False, _sine(442, 0.3)), "S01": (16, False, _sine(220, 0.3))})
    piano = entries[0]
    assert [p.name for p in bleed_sources(piano, root)] == ["S01.flac"]
    assert bleed_sources(piano, root, TaxonomySwitches(organs_as_keys=True)) == []


def test_without_bleed_nothing_is_added(song):
    index, out = song
    prepare_index(index, out, HZ)
    assert not (out / "bleed").exists()
    assert not any("bleed" in e for e in _entries(out))


def test_training_clips_hear_their_song_when_drawn_on_the_cpu_and_on_the_device(song):
    """With ``bleed_prob`` 1 a clip is its stem plus its song's bleed at a drawn ratio within
    ``[bleed_db, bleed_db + 20]``; the device path hands the same mixed source on as float32 and
    renders the same clip."""
    from midi_extractor.config import FrontEndConfig
    from midi_extractor.train import batch_augment
    from midi_extractor.train.augment import AugmentPolicy
    from midi_extractor.train.clips import TranscriptionDataset

    index, out = song
    prepare_index(index, out, HZ, bleed=True)
    prepare_index(index, out.with_name("plain"), HZ)   # the same entries without bleed: the same draws
    fe, policy = FrontEndConfig(), AugmentPolicy.from_params({"bleed_db": 10.0, "bleed_prob": 1.0}, "melodic")
    on = TranscriptionDataset(out / "index.json", "train", fe, 1.0, None, policy)
    off = TranscriptionDataset(out.with_name("plain") / "index.json", "train", fe, 1.0, None, policy)
    device = TranscriptionDataset(out / "index.json", "train", fe, 1.0, None, policy, augment_on_device=True)
    heard = 0
    for k in range(12):
        clip, plain = on[k]["audio"].numpy(), off[k]["audio"].numpy()
        leak = clip - plain
        if _rms(leak) > 0:
            heard += 1
            assert 10.0 - 1.0 <= 20 * np.log10(_rms(plain) / _rms(leak)) <= 30.0 + 1.0
        item = device[k]
        assert item["audio"].dtype == torch.float32
        rendered = batch_augment.augment_batch(item["audio"][None], item["augment"][None], HZ, len(clip))[0]
        np.testing.assert_allclose(rendered.numpy(), clip, atol=1e-4)
    assert heard >= 3   # 4 of these 12 clips are of T1; T3 (no metadata.yaml) has nothing to mix in


def test_a_bases_union_reads_each_stems_bleed_where_it_lies(song, tmp_path):
    """pretrain's merged index re-roots ``bleed`` with ``audio`` and ``midi``: a validation twin
    read through the union is the twin read through the stem's own index."""
    from midi_extractor.config import FrontEndConfig
    from midi_extractor.train.clips import TranscriptionDataset
    from midi_extractor.train.run import merge_indexes

    index, out = song
    prepare_index(index, out, HZ, bleed=True)
    union = merge_indexes([out / "index.json"], tmp_path / "base" / "union.json")
    fe = FrontEndConfig()
    own = TranscriptionDataset(out / "index.json", "validation", fe, 1.0, deterministic=True)
    merged = TranscriptionDataset(union, "validation", fe, 1.0, deterministic=True)
    twin = next(i for i, e in enumerate(merged.entries) if e.get("bleed_sbr_db"))
    assert merged.entries[twin]["bleed"].startswith("../")
    np.testing.assert_array_equal(merged.read(twin, 0.0, SECONDS), own.read(twin, 0.0, SECONDS))
    assert not np.array_equal(merged.read(twin, 0.0, SECONDS), merged.read(twin - 1, 0.0, SECONDS))


def test_a_stem_that_trains_without_bleed_validates_without_the_twins(song):
    """train.data.datasets: the validation set keeps the twins when the stem's policy sets
    bleed_db, and leaves them out when its own augment turns bleed off."""
    import dataclasses

    from helpers_training import tiny_params
    from midi_extractor.train import data
    from midi_extractor.train.state import Job

    index, out = song
    prepare_index(index, out, 8000, bleed=True)   # the tiny params' rate
    params = tiny_params(clip_seconds=1.0)
    for bleed_db, twins in ((10.0, 2), (None, 0)):
        role = dataclasses.replace(params.role("bass"),
                                   augment=dataclasses.replace(params.role("bass").augment, bleed_db=bleed_db))
        job = Job("bass", "melodic", params.stems["bass"], role, params, out / "index.json", out.parent / "run")
        _, val_ds = data.datasets(job, val_clips_per_track=1)
        assert sum("bleed_sbr_db" in e for e in val_ds.entries) == twins and len(val_ds.entries) == 2 + twins


def test_the_prepare_command_stores_bleed_when_asked(song, capsys):
    """``midi-extractor prepare --bleed``: the report counts the entries stored with their song's
    bleed (T1's four and T2's two; T3 has no metadata.yaml); without the flag none."""
    from midi_extractor.cli import main

    index, out = song
    assert main(["prepare", "--index", str(index), "--out-dir", str(out), "--sample-rate", str(HZ), "--bleed"]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["bleed"] == 6
    assert main(["prepare", "--index", str(index), "--out-dir", str(out.with_name("plain")),
                 "--sample-rate", str(HZ)]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["bleed"] == 0


def test_a_real_slakh_track_bleeds_by_its_metadata(tmp_path):
    """BabySlakh's Track00001 (its real metadata.yaml, which says ``audio_rendered: false`` for
    every stem, and its WAV layout), each stem's audio replaced by a tone, its MIDI by one note:
    (a flat folder: its one track is a test track) the file on disk decides, so each stem hears every other stem of another category (S06 has
    no audio); with ``organs_as_keys`` the piano and its three organs share one group, no organ in it."""
    import shutil

    from helpers_data import SLAKH_SAMPLE
    from midi_extractor.dataset.indexing import build_indices
    from midi_extractor.taxonomy import TaxonomySwitches

    root = tmp_path / "baby"
    shutil.copytree(SLAKH_SAMPLE / "babyslakh_16k" / "Track00001", root / "Track00001")
    track = root / "Track00001"
    assert not any(m["audio_rendered"] for m in yaml.safe_load((track / "metadata.yaml").read_text())["stems"].values())
    for k, wav in enumerate(sorted((track / "stems").glob("*.wav"))):
        sf.write(wav, _sine(110.0 * (k + 2), 0.2), HZ)
    for mid in (track / "MIDI").glob("*.mid"):
        pm = pretty_midi.PrettyMIDI(str(mid))
        for inst in pm.instruments:
            inst.notes = [pretty_midi.Note(100, 40 if inst.is_drum else 60, 0.2, 0.8)]
        pm.write(str(mid))

    def sources(switches, stem: str) -> dict[str, list[str]]:
        out = tmp_path / f"{stem}-{switches.organs_as_keys}"
        build_indices(root, [stem], out / "index", switches=switches)
        prepare_index(out / "index" / f"dataset_{stem}.json", out / "prepared", HZ, splits="test", bleed=True,
                      switches=switches)
        markers = sorted((out / "prepared" / "bleed" / "Track00001").glob("*.json"))
        return {m.stem: [Path(p).stem for p, _ in json.loads(m.read_text())["sources"]] for m in markers}

    everyone = ["S00", "S01", "S02", "S03", "S04", "S05", "S07", "S08", "S09", "S10"]
    assert sources(TaxonomySwitches(), "bass") == {"S03": [s for s in everyone if s != "S03"]}
    keys = sources(TaxonomySwitches(organs_as_keys=True), "piano")
    assert sorted(keys) == ["S02", "S05", "S09", "S10"]
    assert all(v == ["S00", "S01", "S03", "S04", "S07", "S08"] for v in keys.values())
