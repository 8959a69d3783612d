"""Pure and near-pure tones as Slakh-format folders: does a model hear a note with no harmonics?

Sub basses (a sine, or an 808's sine through a little saturation), sine leads, flutes and
whistles carry their pitch in one partial. Neither the training pool nor the out-of-domain
SoundFonts play such sounds, so the quality tables cannot show how a model treats them.
This script writes one folder per timbre, each a Slakh-format set
(``TrackNNNNN/metadata.yaml``, ``stems/S00.flac``, ``MIDI/S00.mid``) that
``bench_transcribe.py --score`` and the peers' scripts (``../shared/peer/``) score as they
score any Slakh folder::

    python benchmarks/pure_tones.py --out /tmp/tones
    python benchmarks/bench_transcribe.py --score /tmp/tones/sine --models-dir models --bp-python /tmp/bp/bin/python

Timbres (:data:`TIMBRES`): ``sine``; ``soft_sub`` and ``sub`` (a sine through ``tanh``
saturation, :data:`DRIVES`: odd harmonics only, the third about 29 dB and 18 dB down, as an 808 or a
driven sub bass); ``triangle`` (odd harmonics at 1/h^2, the third 19 dB down: the control the
models already transcribe). Parts (:data:`PARTS`): a bass (GM 38, MIDI 28-55),
a lead (GM 80, MIDI 60-84) and a flute (GM 73, MIDI 60-91, scored as ``other``), each a
monophonic random melody of 8th and quarter notes at 120 BPM, with a 5-ms attack, a short
release and velocity setting the level. Everything is drawn from ``--seed``.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

SAMPLE_RATE_HZ = 44100
#: name -> (GM program, lowest MIDI note, highest MIDI note)
PARTS = {"bass": (38, 28, 55), "lead": (80, 60, 84), "flute": (73, 60, 91)}
TIMBRES = ("sine", "soft_sub", "sub", "triangle")
#: tanh drive of the saturated timbres: the third harmonic 29 dB (0.7) and 18 dB (1.5) below the first
DRIVES = {"soft_sub": 0.7, "sub": 1.5}


def melody(rng: np.random.Generator, low: int, high: int, seconds: float) -> list[tuple[float, float, int, int]]:
    """``(start_s, end_s, pitch, velocity)`` notes of a monophonic line filling ``seconds``:
    8th or quarter notes at 120 BPM, steps of up to a fifth, a rest now and then."""
    notes, t, pitch = [], 0.25, int(rng.integers(low, high + 1))
    while t < seconds - 0.6:
        beat_s = float(rng.choice([0.25, 0.5]))
        if rng.random() > 0.1:
            notes.append((t, t + beat_s * float(rng.uniform(0.6, 0.95)), pitch, int(rng.integers(60, 120))))
        t += beat_s
        pitch = int(np.clip(pitch + rng.integers(-7, 8), low, high))
    return notes


def render(notes, timbre: str, seconds: float, rate_hz: int = SAMPLE_RATE_HZ) -> np.ndarray:
    """``notes`` played with ``timbre`` as float32 mono, peak 0.5."""
    out = np.zeros(int(seconds * rate_hz))
    for start_s, end_s, pitch, velocity in notes:
        n = int((end_s - start_s + 0.05) * rate_hz)
        t = np.arange(n) / rate_hz
        hz = 440.0 * 2.0 ** ((pitch - 69) / 12.0)
        phase = 2 * np.pi * hz * t
        if timbre == "triangle":
            tone = sum((-1) ** k / (2 * k + 1) ** 2 * np.sin((2 * k + 1) * phase) for k in range(8)
                       if (2 * k + 1) * hz < rate_hz / 2)
        else:
            tone = np.sin(phase)
            if timbre in DRIVES:
                tone = np.tanh(DRIVES[timbre] * tone) / np.tanh(DRIVES[timbre])
        release = np.clip((end_s - start_s + 0.05 - t) / 0.05, 0.0, 1.0)
        env = np.minimum(1.0, t / 0.005) * release * (velocity / 127.0)
        at = int(start_s * rate_hz)
        out[at:at + n] += (tone * env)[:len(out) - at]
    peak = float(np.abs(out).max()) or 1.0
    return (0.5 * out / peak).astype(np.float32)


def write_track(folder: Path, notes, audio: np.ndarray, program: int, timbre: str) -> None:
    """One Slakh-format track: ``metadata.yaml``, ``stems/S00.flac``, ``MIDI/S00.mid``."""
    import pretty_midi
    import soundfile as sf
    import yaml

    (folder / "stems").mkdir(parents=True, exist_ok=True)
    (folder / "MIDI").mkdir(exist_ok=True)
    sf.write(folder / "stems" / "S00.flac", audio, SAMPLE_RATE_HZ)
    midi = pretty_midi.PrettyMIDI(initial_tempo=120.0)
    inst = pretty_midi.Instrument(program=program)
    inst.notes = [pretty_midi.Note(velocity=v, pitch=p, start=s, end=e) for s, e, p, v in notes]
    midi.instruments.append(inst)
    midi.write(str(folder / "MIDI" / "S00.mid"))
    meta = {"audio_dir": "stems", "midi_dir": "MIDI", "stems": {"S00": {
        "program_num": program, "is_drum": False, "audio_rendered": True, "midi_saved": True,
        "inst_class": pretty_midi.program_to_instrument_class(program),
        "plugin_name": f"pure_tones:{timbre}"}}}
    (folder / "metadata.yaml").write_text(yaml.safe_dump(meta, sort_keys=False))


def write_sets(out: Path, tracks_per_part: int = 2, seconds: float = 20.0, seed: int = 0) -> dict[str, int]:
    """``out/<timbre>/TrackNNNNN`` for every timbre: the same melodies in each. Returns notes a timbre."""
    rng = np.random.default_rng(seed)
    lines = [(name, program, melody(rng, low, high, seconds))
             for name, (program, low, high) in PARTS.items() for _ in range(tracks_per_part)]
    counts = {}
    for timbre in TIMBRES:
        for i, (name, program, notes) in enumerate(lines, start=1):
            write_track(out / timbre / f"Track{i:05d}", notes, render(notes, timbre, seconds), program, timbre)
        counts[timbre] = sum(len(n) for _, _, n in lines)
    return counts


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True, help="folder to write <timbre>/TrackNNNNN/ into")
    ap.add_argument("--tracks", type=int, default=2, help="tracks a part and timbre (default 2)")
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    counts = write_sets(Path(args.out), args.tracks, args.seconds, args.seed)
    for timbre, n in counts.items():
        print(f"{Path(args.out) / timbre}: {len(PARTS) * args.tracks} tracks, {n} notes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
