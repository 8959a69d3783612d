"""The generated Slakh-format data set (midi_extractor.synth.generate / songs)."""
from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pretty_midi
import pytest
import soundfile as sf
import yaml

from helpers_data import SLAKH_SAMPLE
from midi_extractor import cli, config
from midi_extractor.midi_notes import octave_doublings
from midi_extractor.synth import songs
from midi_extractor.synth import fluid, generate, sources
from midi_extractor.synth.splits import split_counts, track_layout
from midi_extractor import taxonomy as tx

FIXTURE = SLAKH_SAMPLE
REAL_META = FIXTURE / "slakh2100_flac_redux" / "train" / "Track00001" / "metadata.yaml"
SR = 16000
SECONDS = 8.0


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("generated")
    dirs = generate.generate_dataset(root, tracks=6, seconds=SECONDS, seed=7, sample_rate_hz=SR, progress=False)
    return root, dirs


def _meta(track: Path) -> dict:
    return yaml.safe_load((track / "metadata.yaml").read_text())


def _tree_digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def _percussive_stem(notes) -> str:
    """high_percs when every note is a hat/cymbal/shaker, else drums (a kit, maybe a whole one)."""
    high = set(tx.STEM_DRUM_CLASSES["high_percs"])
    return "high_percs" if all(tx.drum_class(n.pitch) in high for n in notes) else "drums"


def test_layout_and_metadata_keys_match_real_slakh(dataset):
    root, dirs = dataset
    real = yaml.safe_load(REAL_META.read_text())
    # Slakh's keys plus the generated set's domain and effects
    real_stem_keys = set(next(s for s in real["stems"].values() if s["audio_rendered"])) | {"domain", "effects"}
    assert len(dirs) == 6 and sorted(d.name for d in dirs) == [f"Track{k:05d}" for k in range(1, 7)]
    splits = [d.parent.name for d in dirs]
    assert set(splits) == {"train", "validation", "test"} and splits.count("train") == 4
    assert all(d.parent.parent == root for d in dirs)
    for track in dirs:
        meta = _meta(track)
        assert set(meta) == set(real), set(meta) ^ set(real)
        assert meta["audio_dir"] == f"{track.name}/stems" and meta["midi_dir"] == f"{track.name}/MIDI"
        assert len(meta["UUID"]) == 32 and int(meta["UUID"], 16) >= 0
        assert (track / "mix.flac").is_file() and (track / "all_src.mid").is_file()
        assert len(meta["stems"]) >= 6
        for stem_id, stem in meta["stems"].items():
            assert set(stem) == real_stem_keys, (track, stem_id, set(stem) ^ real_stem_keys)
            assert (track / "MIDI" / f"{stem_id}.mid").is_file()
            assert (track / "stems" / f"{stem_id}.flac").is_file()
        all_src = pretty_midi.PrettyMIDI(str(track / "all_src.mid"))
        assert len(all_src.instruments) == len(meta["stems"])


def test_midi_program_and_drum_flag_match_metadata(dataset):
    _, dirs = dataset
    for track in dirs:
        for stem_id, stem in _meta(track)["stems"].items():
            pm = pretty_midi.PrettyMIDI(str(track / "MIDI" / f"{stem_id}.mid"))
            assert len(pm.instruments) == 1
            inst = pm.instruments[0]
            assert inst.is_drum == stem["is_drum"]
            if stem["is_drum"]:
                assert stem["program_num"] == tx.SLAKH_DRUM_PROGRAM and stem["inst_class"] == "Drums"
            else:
                assert inst.program == stem["program_num"]
                assert stem["midi_program_name"] == pretty_midi.program_to_instrument_name(inst.program)


def test_audio_length_rate_and_sound_where_notes_are(dataset):
    _, dirs = dataset
    n = int(SECONDS * SR)
    for track in dirs:
        meta = _meta(track)
        mix, sr = sf.read(str(track / "mix.flac"), dtype="float32")
        assert sr == SR and mix.ndim == 1 and len(mix) == n and 0.5 < np.abs(mix).max() <= 1.0
        total = np.zeros(n)
        for stem_id, stem in meta["stems"].items():
            y, sr = sf.read(str(track / "stems" / f"{stem_id}.flac"), dtype="float32")
            assert sr == SR and y.ndim == 1 and len(y) == n
            assert np.abs(y).max() <= 1.0
            total += y
            notes = pretty_midi.PrettyMIDI(str(track / "MIDI" / f"{stem_id}.mid")).instruments[0].notes
            assert notes
            # sound within 150 ms of an onset (velocity 30 is quiet, not silent; slow string attacks)
            heard = [max(np.sqrt(np.mean(y[a:a + 800] ** 2)) for a in range(int(nt.start * SR),
                                                                              int(nt.start * SR) + 2400, 800))
                     for nt in notes]
            assert np.mean(np.array(heard) > 10 ** (-60 / 20)) > 0.9, (track, stem_id)
            # nothing of the previous stem bleeds in before the first note
            first = min(nt.start for nt in notes)
            assert np.abs(y[: max(0, int(first * SR) - 64)]).max(initial=0.0) < 1e-3, (track, stem_id)
            assert stem["integrated_loudness"] < 0
        # the mix is the scaled sum of the stems
        corr = np.corrcoef(total, mix)[0, 1]
        assert corr > 0.999


def test_every_trainable_stem_occurs_and_programs_vary(dataset):
    _, dirs = dataset
    per_stem: dict[str, set[int]] = {}
    tracks_with: dict[str, int] = {}
    for track in dirs:
        found = set()
        for stem_id, stem in _meta(track)["stems"].items():
            inst = pretty_midi.PrettyMIDI(str(track / "MIDI" / f"{stem_id}.mid")).instruments[0]
            name = _percussive_stem(inst.notes) if inst.is_drum else tx.stem_for_program(inst.program)
            found.add(name)
            per_stem.setdefault(name, set()).add(stem["program_num"])
        for name in found:
            tracks_with[name] = tracks_with.get(name, 0) + 1
    assert set(tx.TRAINABLE_STEMS) <= set(per_stem), set(tx.TRAINABLE_STEMS) - set(per_stem)
    assert all(tracks_with[s] >= 4 for s in tx.TRAINABLE_STEMS), tracks_with
    assert tracks_with["drums"] == tracks_with["bass"] == 6
    for name in ("bass", "piano", "guitar", "synth_lead", "other"):
        assert len(per_stem[name]) >= 2, (name, per_stem[name])


def test_musical_content_ranges_and_variety(dataset):
    _, dirs = dataset
    tempi, overlaps, velocities = set(), 0, []
    for track in dirs:
        pm = pretty_midi.PrettyMIDI(str(track / "all_src.mid"))
        tempi.add(round(pm.get_tempo_changes()[1][0]))
        for inst in pm.instruments:
            for a, b in zip(inst.notes, inst.notes[1:]):
                overlaps += (not inst.is_drum) and b.start < a.end and b.pitch != a.pitch
            for nt in inst.notes:
                assert 21 <= nt.pitch <= 108 and 30 <= nt.velocity <= 127 and nt.end <= SECONDS
                velocities.append(nt.velocity)
    assert len(tempi) == 6 and all(70 <= t <= 160 for t in tempi)
    assert overlaps > 10 and np.std(velocities) > 8 and min(velocities) < 50


def test_same_seed_identical_bytes_other_seed_differs(tmp_path):
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    for out, seed in ((a, 3), (b, 3), (c, 4)):  # 1 train, 2 test (in- and out-of-domain), effects on
        generate.generate_dataset(out, tracks=3, seconds=3.0, seed=seed, progress=False, validation_tracks=0,
                               test_tracks=2)
    assert _tree_digest(a) == _tree_digest(b)
    assert "synth_report.json" in _tree_digest(a)
    da, dc = _tree_digest(a), _tree_digest(c)
    assert da.keys() & dc.keys()
    assert all(da[k] != dc[k] for k in da.keys() & dc.keys() if k.endswith((".mid", ".flac")))


def test_songs_have_tempo_changes_low_registers_and_articulations():
    """Composition only (cheap): 80 songs of 12 s hold every kind of variety."""
    found = {"tempo_change": 0, "bass_below_E1": 0, "piano_below_C1": 0, "staccato": 0, "repeated": 0}
    for k in range(80):
        song = songs.compose_song(np.random.default_rng(k), 12.0, list(songs.CORE_STEMS + songs.OPTIONAL_STEMS))
        found["tempo_change"] += bool(song.tempo_changes)
        for part in song.parts:
            pitches = [p for _, _, p, _ in part.notes]
            found["bass_below_E1"] += part.stem == "bass" and min(pitches) < 28
            found["piano_below_C1"] += part.stem == "piano" and min(pitches) < 24
            if not part.is_drum and len(part.notes) > 8:
                lengths = [e - s for s, e, _, _ in part.notes]
                found["staccato"] += max(lengths) <= 0.15
                found["repeated"] += part.stem == "synth_lead" and sum(
                    a[2] == b[2] for a, b in zip(part.notes, part.notes[1:])) >= 3
    assert all(n >= 3 for n in found.values()), found
    assert all(60 <= bpm <= 210 for s in [songs.compose_song(np.random.default_rng(3), 30.0, ["bass"])]
               for _, bpm in s.tempo_changes)


def test_double_bottom_notes_doubles_every_other_three_note_chord():
    c, e, g = 60, 64, 67
    notes = [(0.0, 0.9, c, 80), (0.0, 0.9, e, 81), (0.0, 0.9, g, 82),         # block triad: doubled
             (1.0, 1.9, c, 70), (1.0, 1.9, e, 70), (1.0, 1.9, g, 70),         # the next: kept
             (2.0, 2.9, e, 90), (2.02, 2.9, g, 90), (2.05, 2.9, 72, 90),      # a strum (E G C): doubled
             (3.0, 3.9, c, 60), (3.0, 3.9, e, 60), (3.0, 3.9, g, 60), (3.0, 3.9, 72, 60),  # four notes
             (4.0, 4.2, c, 50), (4.25, 4.5, e, 50), (4.5, 4.7, g, 50)]        # an arpeggio
    out = songs.double_bottom_notes(notes)
    assert out[:len(notes)] == notes
    assert out[len(notes):] == [(0.0, 0.9, 72, 80), (2.0, 2.9, 76, 90)]
    assert songs.double_bottom_notes([(0.0, 1.0, 100, 80), (0.0, 1.0, 104, 80), (0.0, 1.0, 107, 80)]) == \
        [(0.0, 1.0, 100, 80), (0.0, 1.0, 104, 80), (0.0, 1.0, 107, 80)]   # C8 is the top key


def test_calibration_songs_hold_octave_doublings_and_are_otherwise_the_same():
    """_song_for(double_triads=True), the calibration tracks' songs: the same song with doubled
    triads, so their piano parts hold about as many octave doublings as the test tracks' (the eight
    songs after the default set hold 4 in 1,029 piano notes as drawn)."""
    found = {False: [0, 0], True: [0, 0]}
    for k in range(56, 64):
        plain, doubled = (generate._song_for(0, k, 24.0, True, set(), double_triads=d)[0] for d in (False, True))
        for a, b in zip(plain.parts, doubled.parts):
            assert (a.stem, a.program) == (b.stem, b.program) and b.notes[:len(a.notes)] == a.notes
            assert all(any(q == p - 12 and s == s2 for s2, _, q, _ in a.notes) for s, _, p, _ in b.notes[len(a.notes):])
            if a.is_drum or a.stem == "synth_lead":
                assert a.notes == b.notes
            for key, part in ((False, a), (True, b)):
                if part.stem == "piano":
                    found[key][0] += int(octave_doublings(part.notes).sum())
                    found[key][1] += len(part.notes)
    share = {key: n / total for key, (n, total) in found.items()}
    assert share[False] < 0.01 and 0.08 <= share[True] <= 0.2, share


def test_songs_compose_is_seeded():
    one = songs.compose_song(np.random.default_rng(1), 6.0, ["bass", "drums"])
    two = songs.compose_song(np.random.default_rng(1), 6.0, ["bass", "drums"])
    assert [p.notes for p in one.parts] == [p.notes for p in two.parts]


def test_other_soundfont_path_and_missing_one(tmp_path, capsys):
    copy = tmp_path / "fonts" / "my font.sf2"
    copy.parent.mkdir()
    shutil.copy(generate.DEFAULT_SF2, copy)
    out = tmp_path / "set"
    rc = cli.main(["synth", "--out", str(out), "--tracks", "1", "--seconds", "2", "--seed", "1",
                   "--sf2", str(copy), "--sample-rate", "22050", "--quiet"])
    assert rc == 0
    track = out / "train" / "Track00001"
    meta = _meta(track)
    assert all(s["plugin_name"].startswith("my font.sf2:bank") for s in meta["stems"].values())
    assert sf.info(str(track / "mix.flac")).samplerate == 22050
    assert "wrote 1 tracks" in capsys.readouterr().out

    missing = tmp_path / "nowhere" / "gone.sf2"
    with pytest.raises(generate.SynthError, match="gone.sf2"):
        generate.generate_dataset(tmp_path / "x", 1, 2.0, 0, sf2=missing, progress=False)
    rc = cli.main(["synth", "--out", str(tmp_path / "y"), "--tracks", "1", "--seconds", "2", "--sf2", str(missing)])
    assert rc == 2 and str(missing) in capsys.readouterr().err
    bogus = tmp_path / "bogus.sf2"
    bogus.write_bytes(b"RIFF not a soundfont")
    with pytest.raises(generate.SynthError, match="bogus.sf2"):
        generate.generate_dataset(tmp_path / "z", 1, 2.0, 0, sf2=bogus, progress=False)


def test_missing_fluidsynth_library_says_what_to_install(monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "fluidsynth", None)  # import now raises ImportError
    with pytest.raises(generate.SynthError, match="apt-get install -y libfluidsynth3.*brew install fluid-synth"):
        fluid.Renderer(SR)


def test_bad_arguments():
    with pytest.raises(generate.SynthError, match="tracks"):
        generate.generate_dataset("/nonexistent", 0, 2.0, 0, progress=False)


def test_build_index_reads_the_generated_set(dataset, tmp_path):
    from midi_extractor.dataset import indexing

    root, _ = dataset
    problems = []
    result = indexing.build_indices(root, "all", tmp_path, problems=problems)
    assert not [p for p in problems if p.severity == "error"], problems
    for stem in tx.TRAINABLE_STEMS:
        assert result[stem]["entries"], stem
    assert {e["split"] for e in result["bass"]["entries"]} == {"train", "validation", "test"}


# ------------------------------------------------------- sound sources and domains
@pytest.fixture(scope="module")
def pooled(tmp_path_factory):
    """7 tracks x 3 s: 4 train, 1 validation, 2 test (1 in-domain, 1 out-of-domain)."""
    root = tmp_path_factory.mktemp("pooled")
    dirs = generate.generate_dataset(root, tracks=7, seconds=3.0, seed=11, progress=False,
                                  validation_tracks=1, test_tracks=2)
    return root, dirs


def _sources_by_track(dirs) -> dict[Path, set[str]]:
    return {d: {s["plugin_name"].split(":")[0] for s in _meta(d)["stems"].values()} for d in dirs}


def test_every_pool_source_used_and_recorded(pooled):
    root, dirs = pooled
    used = set().union(*_sources_by_track(dirs).values())
    assert used == set(sources.DEFAULT_POOL) | set(sources.DEFAULT_OOD), used
    report = json.loads((root / generate.REPORT_NAME).read_text())
    assert set(report["stems_by_source"]) == used and report["skipped_stems"] == 0
    assert report["tracks"] == {"train/in_domain": 4, "validation/in_domain": 1, "test/in_domain": 1,
                                "test/out_of_domain": 1}
    for d in dirs:
        for stem in _meta(d)["stems"].values():
            name, bank, prog = stem["plugin_name"].split(":")
            assert bank.startswith("bank") and prog.startswith("prog")
            if not stem["is_drum"]:
                assert int(prog[4:]) == stem["program_num"]


def test_out_of_domain_tracks_share_no_source_with_training(pooled):
    _, dirs = pooled
    by_track = _sources_by_track(dirs)
    domains = {d: {s["domain"] for s in _meta(d)["stems"].values()} for d in dirs}
    ood = [d for d in dirs if domains[d] == {"out_of_domain"}]
    assert [d.name for d in ood] == ["Track00007"] and ood[0].parent.name == "test"
    trained = set().union(*(by_track[d] for d in dirs if d.parent.name in ("train", "validation")))
    assert all(domains[d] == {"in_domain"} for d in dirs if d.parent.name != "test")
    assert by_track[ood[0]] <= set(sources.DEFAULT_OOD) and not by_track[ood[0]] & trained


def test_index_entries_carry_source_and_domain(pooled, tmp_path):
    from midi_extractor.dataset import indexing

    root, _ = pooled
    result = indexing.build_indices(root, "bass,drums", tmp_path)
    entries = result["bass"]["entries"] + result["drums"]["entries"]
    assert {e["metadata"]["domain"] for e in entries if e["split"] == "test"} == {"in_domain", "out_of_domain"}
    assert all(":bank" in e["metadata"]["plugin_name"] for e in entries)


def test_silent_and_unloadable_sources_are_skipped_and_counted(tmp_path, monkeypatch, caplog):
    bogus = tmp_path / "fonts"
    bogus.mkdir()
    (bogus / "OPL-3_FM_128M.sf2").write_bytes(b"RIFF\x04\x00\x00\x00sfbk")  # found first, fails to load
    monkeypatch.setenv(sources.ENV_PATH, str(bogus))
    real_render = fluid.Renderer.render

    def render(self, notes, n_samples, sfid, bank, program, is_drum, reverb=(0.2, 0.3)):
        y = real_render(self, notes, n_samples, sfid, bank, program, is_drum, reverb)
        return y * 0 if is_drum and bank == 0 else y  # the AVL kit renders silence

    monkeypatch.setattr(fluid.Renderer, "render", render)
    out = tmp_path / "set"
    dirs = generate.generate_dataset(out, tracks=4, seconds=2.0, seed=5, progress=False, ood_sources=[])
    report = json.loads((out / generate.REPORT_NAME).read_text())
    reasons = report["skipped_by_reason"]
    assert reasons.get("load_failed", 0) >= 1 and reasons.get("silent", 0) >= 1, reasons
    assert report["skipped_stems"] == sum(reasons.values()) == len(report["skipped"])
    assert {s["source"] for s in report["skipped"] if s["reason"] == "load_failed"} == {"OPL3_FM"}
    assert "OPL3_FM" in caplog.text and "stem skipped" in caplog.text
    written = {s["plugin_name"].split(":")[0] for d in dirs for s in _meta(d)["stems"].values()}
    assert written == {"TimGM6mb", "csound_GMbank"}  # the rest of the set is made
    for d in dirs:
        stems = _meta(d)["stems"]
        assert sorted(p.stem for p in (d / "stems").glob("*.flac")) == sorted(stems)


def test_missing_soundfont_names_its_package(tmp_path, monkeypatch):
    monkeypatch.setattr(sources, "SYSTEM_SF2_DIRS", (tmp_path / "none",))
    monkeypatch.delenv(sources.ENV_PATH, raising=False)
    with pytest.raises(generate.SynthError, match=r"sf_GMbank.sf2 not found.*apt-get install -y csound-soundfont"):
        generate.generate_dataset(tmp_path / "x", 2, 2.0, 0, progress=False)
    with pytest.raises(generate.SynthError, match="unknown sound source.*NoSuchFont"):
        generate.generate_dataset(tmp_path / "y", 2, 2.0, 0, progress=False, sound_sources=["NoSuchFont"])
    with pytest.raises(generate.SynthError, match="held out.*TimGM6mb"):
        generate.generate_dataset(tmp_path / "z", 2, 2.0, 0, progress=False, ood_sources=["TimGM6mb"])


def test_default_test_split_has_300_notes_per_stem_and_domain():
    """The shipped params' test tracks (composition only: rendering keeps the notes) hold
    at least 300 reference notes of every trainable stem in each domain."""
    ds = config.DatasetConfig()
    assert (ds.sound_sources, ds.ood_sources) == (list(sources.DEFAULT_POOL), list(sources.DEFAULT_OOD))
    counts = split_counts(ds.tracks, ds.validation_tracks, ds.test_tracks)
    notes: dict[str, dict[str, int]] = {"in_domain": {}, "out_of_domain": {}}
    dropped: set[str] = set()
    for k, (split, domain, _) in enumerate(track_layout(counts, with_ood=True)):
        song, dropped = generate._song_for(ds.seed, k, ds.seconds, split == "test", dropped)
        for part in song.parts if split == "test" else ():
            stem = part.stem if part.is_drum else tx.stem_for_program(part.program)
            notes[domain][stem] = notes[domain].get(stem, 0) + len(part.notes)
    for domain, per_stem in notes.items():
        short = {s: per_stem.get(s, 0) for s in tx.TRAINABLE_STEMS if per_stem.get(s, 0) < 300}
        assert not short, (domain, short)


def test_every_other_song_has_the_whole_kit_in_its_drums_stem():
    import numpy as np

    from midi_extractor import taxonomy as tx
    from midi_extractor.synth import songs

    rng = np.random.default_rng(5)
    song = songs.compose_song(rng, 8.0, ["drums", "high_percs", "bass"])
    before = {p.stem: list(p.notes) for p in song.parts}
    songs.merge_kit(song)
    parts = {p.stem: p for p in song.parts}
    classes = {tx.drum_class(n[2]) for n in parts["drums"].notes}
    assert {"kick", "snare"} <= classes and classes & {"hihat", "cymbal", "shaker"}
    assert parts["high_percs"].notes == before["high_percs"] and parts["bass"].notes == before["bass"]
    assert sorted(before["drums"] + before["high_percs"]) == parts["drums"].notes


def test_off_a_terminal_synth_says_how_far_it_is(tmp_path, capsys, monkeypatch):
    """Under dvc repro (no terminal, no bar) a line every PROGRESS_EVERY tracks."""
    monkeypatch.setattr(generate, "PROGRESS_EVERY", 1)
    generate.generate_dataset(tmp_path / "d", tracks=3, seconds=1.0, seed=0, progress=False, validation_tracks=0,
                              test_tracks=0)
    lines = [x for x in capsys.readouterr().err.splitlines() if x.startswith("synth: ")]
    assert [x.split(",")[0] for x in lines] == ["synth: 1/3 tracks", "synth: 2/3 tracks"]
