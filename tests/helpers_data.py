"""Small Slakh-format data built by hand for the index/filter/drum-split tests, and the
paths every test shares (``REPO``, ``FIXTURES``, the real-data sample ``SLAKH_SAMPLE``).

Pitched stems are sine renders (pretty_midi.synthesize); drum stems go through
FluidSynth with pretty_midi's bundled TimGM6mb.sf2, so the drum split sees
real drum sounds. Also used by benchmarks/bench_indexing.py for the drum-split
accuracy on hand-made patterns.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pretty_midi
import soundfile as sf
import yaml

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent
FIXTURES = TESTS / "fixtures"
SLAKH_SAMPLE = FIXTURES / "slakh_sample"
SF2 = str(Path(pretty_midi.__file__).parent / "TimGM6mb.sf2")

CORE_KIT = {"kick": (35, 36), "snare": (38, 40, 37), "toms": (41, 43, 45, 47, 48, 50)}
HATS = (42, 44, 46)
CYMBALS = (49, 51, 57, 59)
SHAKERS = (54, 69, 70)


def drum_midi(kind: str, seconds: float = 4.0, seed: int = 0) -> pretty_midi.PrettyMIDI:
    """A drum pattern. ``kit``: kick/snare (+toms) with hats/cymbals;
    ``kit_bare``: kick/snare/toms only; ``high``: hats, cymbals and shakers only."""
    rng = np.random.default_rng(seed)
    bpm = float(rng.uniform(80, 160))
    beat = 60.0 / bpm
    pm = pretty_midi.PrettyMIDI(initial_tempo=bpm)
    inst = pretty_midi.Instrument(program=0, is_drum=True, name="Drums")

    def hit(t, pitch, vel=None):
        if t < seconds - 0.05:
            v = int(vel if vel is not None else rng.integers(60, 120))
            inst.notes.append(pretty_midi.Note(v, int(pitch), float(t), float(t) + 0.1))

    n_beats = int(seconds / beat) + 1
    if kind in ("kit", "kit_bare"):
        kick, snare = rng.choice(CORE_KIT["kick"]), rng.choice(CORE_KIT["snare"])
        for b in range(n_beats):
            t = b * beat
            if b % 2 == 0 or rng.random() < 0.2:
                hit(t, kick)
            if b % 2 == 1:
                hit(t, snare)
            if rng.random() < 0.15:
                for k in range(4):
                    hit(t + k * beat / 4, rng.choice(CORE_KIT["toms"]))
        if kind == "kit":
            hat = rng.choice(HATS + (51,))
            sub = int(rng.choice([1, 2, 4]))
            for k in range(n_beats * sub):
                hit(k * beat / sub, hat, rng.integers(40, 100))
            hit(0.0, 49)
    elif kind == "high":
        pools = [HATS, CYMBALS, SHAKERS, HATS + SHAKERS, HATS + CYMBALS]
        pool = list(pools[int(rng.integers(len(pools)))])
        sub = int(rng.choice([2, 4]))
        for k in range(n_beats * sub):
            if rng.random() < 0.85:
                hit(k * beat / sub, rng.choice(pool))
        if rng.random() < 0.5:
            for b in range(0, n_beats, 4):
                hit(b * beat, rng.choice(CYMBALS))
    else:
        raise ValueError(kind)
    pm.instruments.append(inst)
    return pm


def render_drums(pm: pretty_midi.PrettyMIDI, sample_rate_hz: int, seconds: float) -> np.ndarray:
    y = pm.fluidsynth(fs=sample_rate_hz, synthesizer=SF2)
    return _fit(y, sample_rate_hz, seconds)


def _fit(y: np.ndarray, sr: int, seconds: float) -> np.ndarray:
    n = int(round(sr * seconds))
    out = np.zeros(n, np.float32)
    out[: min(n, len(y))] = y[:n]
    peak = float(np.abs(out).max())
    return out * (0.5 / peak) if peak > 0 else out


def pitched_midi(program: int, seconds: float = 4.0, seed: int = 0, n_notes: int = 8,
                 low: int = 40, high: int = 76) -> pretty_midi.PrettyMIDI:
    rng = np.random.default_rng(seed)
    pm = pretty_midi.PrettyMIDI()
    inst = pretty_midi.Instrument(program=program)
    step = seconds / (n_notes + 1)
    for k in range(n_notes):
        start = 0.1 + k * step
        inst.notes.append(pretty_midi.Note(int(rng.integers(70, 110)), int(rng.integers(low, high)),
                                           start, start + step * 0.8))
    pm.instruments.append(inst)
    return pm


def write_track(track_dir: Path, stems: dict[str, dict], sample_rate_hz: int = 16000,
                seconds: float = 4.0, seed: int = 0, ext: str = "wav",
                channels: int = 1) -> Path:
    """Write one Slakh-format track. ``stems``: ``Sxx -> {program_num, is_drum,
    kind (drum pattern), audio (bool, default True), midi (bool), silent (bool), n_notes}``."""
    track_dir = Path(track_dir)
    (track_dir / "stems").mkdir(parents=True, exist_ok=True)
    (track_dir / "MIDI").mkdir(parents=True, exist_ok=True)
    meta = {"UUID": track_dir.name, "audio_dir": "stems", "midi_dir": "MIDI", "stems": {}}
    for k, (stem_id, spec) in enumerate(sorted(stems.items())):
        is_drum = bool(spec.get("is_drum", False))
        program = int(spec.get("program_num", 128 if is_drum else 0))
        if is_drum:
            pm = drum_midi(spec.get("kind", "kit"), seconds, seed * 100 + k)
        else:
            pm = pitched_midi(max(0, min(program, 127)), seconds, seed * 100 + k, n_notes=spec.get("n_notes", 8))
        if spec.get("midi", True):
            pm.write(str(track_dir / "MIDI" / f"{stem_id}.mid"))
        if spec.get("audio", True):
            if spec.get("silent"):
                y = np.zeros(int(sample_rate_hz * seconds), np.float32)
            elif is_drum:
                y = render_drums(pm, sample_rate_hz, seconds)
            else:
                y = _fit(pm.synthesize(fs=sample_rate_hz), sample_rate_hz, seconds)
            data = np.stack([y] * channels, axis=1) if channels > 1 else y
            sf.write(str(track_dir / "stems" / f"{stem_id}.{ext}"), data, sample_rate_hz)
        name = "Drums" if is_drum else (pretty_midi.program_to_instrument_name(program)
                                       if 0 <= program <= 127 else "Unknown")
        meta["stems"][stem_id] = {
            "audio_rendered": True, "inst_class": "Drums" if is_drum else "Other",
            "integrated_loudness": -20.0, "is_drum": is_drum, "midi_program_name": name,
            "midi_saved": True, "plugin_name": "test.nkm", "program_num": program,
        }
    (track_dir / "metadata.yaml").write_text(yaml.safe_dump(meta, sort_keys=True))
    return track_dir


#: a default mixed track: bass, piano, guitar, a core kit, a hats-only stem, an organ
DEFAULT_STEMS = {
    "S00": {"program_num": 33},
    "S01": {"program_num": 0},
    "S02": {"program_num": 25},
    "S03": {"is_drum": True, "kind": "kit"},
    "S04": {"is_drum": True, "kind": "high"},
    "S05": {"program_num": 17},
}


# ------------------------------------------------------------- whole datasets
_BUILT: dict[str, Path] = {}


def handmade_dataset(base: Path, n_tracks: int = 3, seconds: float = 4.0) -> Path:
    """A flat folder of ``n_tracks`` good tracks (DEFAULT_STEMS), built once per process."""
    key = f"good-{n_tracks}-{seconds}"
    if key not in _BUILT:
        root = Path(base) / key
        for k in range(n_tracks):
            write_track(root / f"Track{k + 1:05d}", DEFAULT_STEMS, seconds=seconds, seed=k)
        _BUILT[key] = root
    return _BUILT[key]


def truncate_midi(path: Path, keep: float = 0.5) -> None:
    data = Path(path).read_bytes()
    Path(path).write_bytes(data[: max(22, int(len(data) * keep))])


BAD_TRACKS = ("TrackBadFlac", "TrackBadMidi", "TrackNoMeta", "TrackBadMeta", "TrackBadProgram", "TrackStereo44k")


def bad_inputs_dataset(base: Path, seconds: float = 2.0) -> Path:
    """A flat folder with one good track and one track per kind of bad input:

    * TrackBadFlac/stems/S00.flac -- corrupt FLAC (bass)
    * TrackBadMidi/MIDI/S00.mid   -- truncated MIDI (bass)
    * TrackNoMeta                 -- no metadata.yaml (bass inferred from MIDI)
    * TrackBadMeta/metadata.yaml  -- malformed YAML (bass inferred from MIDI)
    * TrackBadProgram             -- S01 program_num 200 (S00 bass still fine)
    * TrackStereo44k              -- bass as 44.1 kHz stereo FLAC
    """
    key = f"bad-{seconds}"
    if key in _BUILT:
        return _BUILT[key]
    root = Path(base) / key
    bass = {"S00": {"program_num": 33}}
    write_track(root / "TrackGood", bass, seconds=seconds, seed=1)
    t = write_track(root / "TrackBadFlac", bass, seconds=seconds, seed=2, ext="flac")
    (t / "stems" / "S00.flac").write_bytes(b"fLaC\x00\x00\x00\x22" + b"\x13" * 40)
    t = write_track(root / "TrackBadMidi", bass, seconds=seconds, seed=3)
    truncate_midi(t / "MIDI" / "S00.mid")
    t = write_track(root / "TrackNoMeta", bass, seconds=seconds, seed=4)
    (t / "metadata.yaml").unlink()
    t = write_track(root / "TrackBadMeta", bass, seconds=seconds, seed=5)
    (t / "metadata.yaml").write_text("stems:\n  S00: {program_num: 33\n  is_drum: [\n")
    t = write_track(root / "TrackBadProgram", {"S00": {"program_num": 33}, "S01": {"program_num": 0}},
                    seconds=seconds, seed=6)
    meta = yaml.safe_load((t / "metadata.yaml").read_text())
    meta["stems"]["S01"]["program_num"] = 200
    (t / "metadata.yaml").write_text(yaml.safe_dump(meta))
    write_track(root / "TrackStereo44k", bass, sample_rate_hz=44100, seconds=seconds, seed=7,
                ext="flac", channels=2)
    _BUILT[key] = root
    return root


def sine_stem(root: Path, name: str, seconds: float, pitch0: int, sr: int = 16000, drums: bool = False):
    """``root/name/stems/S00.wav`` and ``root/name/MIDI/S00.mid``: a 0.3 s note every 0.5 s from 0.25 s
    (sines of pitch0 .. pitch0 + 4 at 0.3 amplitude, or 200 Hz sines on kick/snare keys for drums)."""
    (root / name / "stems").mkdir(parents=True, exist_ok=True)
    (root / name / "MIDI").mkdir(parents=True, exist_ok=True)
    pm = pretty_midi.PrettyMIDI()
    inst = pretty_midi.Instrument(0 if drums else 33, is_drum=drums)
    n = int(seconds * sr)
    t = np.arange(n) / sr
    y = np.zeros(n, np.float32)
    for k, start in enumerate(np.arange(0.25, seconds - 0.3, 0.5)):
        pitch = (36, 38)[k % 2] if drums else pitch0 + (k % 5)
        inst.notes.append(pretty_midi.Note(90, pitch, float(start), float(start + 0.3)))
        on = (t >= start) & (t < start + 0.3)
        f = 200.0 if drums else pretty_midi.note_number_to_hz(pitch)
        y += (0.3 * on * np.sin(2 * np.pi * f * t)).astype(np.float32)
    pm.instruments.append(inst)
    pm.write(str(root / name / "MIDI" / "S00.mid"))
    sf.write(str(root / name / "stems" / "S00.wav"), y, sr)


def tracks_after_the_set(tmp_path: Path, name: str, base: dict | None = None, **extra) -> list[Path]:
    """A 3-track generated set (plus what ``base`` adds) written twice, plainly and with ``extra``
    (kit or calibration tracks): asserts that the tracks of the plain set are written to the same
    folders, byte for byte, and returns the folders of the tracks written after them."""
    from midi_extractor.synth import generate

    kw = dict(tracks=3, seconds=2.0, seed=3, progress=False, validation_tracks=0, test_tracks=2, **(base or {}))
    plain = generate.generate_dataset(tmp_path / "plain", **kw)
    made = generate.generate_dataset(tmp_path / name, **kw, **extra)
    n = len(plain)
    assert [d.relative_to(tmp_path / name) for d in made[:n]] == [d.relative_to(tmp_path / "plain") for d in plain]
    for a, b in zip(plain, made):
        for f in sorted(p for p in a.rglob("*") if p.is_file()):
            assert f.read_bytes() == (b / f.relative_to(a)).read_bytes(), f
    return made[n:]


def sine_bass_track(folder: Path):
    """benchmarks/pure_tones.py's sine bass line (seed 1, 8 s, 18 notes): its audio file and notes."""
    tones = script_module("benchmarks/pure_tones.py")
    tones.write_sets(folder, tracks_per_part=1, seconds=8.0, seed=1)
    track = next(t for t in sorted((folder / "sine").iterdir())
                 if yaml.safe_load((t / "metadata.yaml").read_text())["stems"]["S00"]["program_num"] == 38)
    return track / "stems" / "S00.flac", pretty_midi.PrettyMIDI(str(track / "MIDI" / "S00.mid")).instruments[0].notes


def script_module(relpath: str):
    """A script of the repository (``benchmarks/compare_peers.py``, ``scripts/slakh_exp.py``), which is
    no package, imported as a module of that file's name."""
    import importlib.util

    path = REPO / relpath
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
