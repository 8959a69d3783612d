"""The generated Slakh-format data set: procedural songs rendered stem by stem.

``midi-extractor synth --out DIR --tracks N --seconds S --seed K [--sf2 PATH] [--sample-rate HZ]``
and :func:`generate_dataset` write::

    DIR/{train,validation,test}/TrackNNNNN/
        metadata.yaml     Slakh's keys (UUID, audio_dir, midi_dir, stems: {Sxx: ...}, ...)
        MIDI/Sxx.mid      one instrument per file (drums: is_drum, program_num 128 in metadata)
        stems/Sxx.flac    mono, 16-bit, sample_rate_hz, exactly seconds * rate samples
        mix.flac          overall_gain * sum of the stems
        all_src.mid       every stem's instrument in one file

Songs come from :mod:`songs` (composition); this module renders each stem with
FluidSynth from one SoundFont (pretty_midi's TimGM6mb.sf2 unless ``sf2`` names
another), peak-normalises it to :data:`TARGET_PEAK_DB`, and writes the files.
Track ``k`` of seed ``K`` depends only on (K, k, seconds, rate, SoundFont), so
the same call writes byte-identical files, and a larger set starts with the
same songs. Splits are the folder: the last ~10% of tracks are ``test``, the
~10% before them ``validation`` (at least one each from 3 tracks on).
"""
from __future__ import annotations

import argparse
import ctypes
import hashlib
import math
import os
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import pretty_midi
import soundfile as sf
import yaml

from midi_extractor.dataset import songs

DEFAULT_SF2 = Path(pretty_midi.__file__).parent / "TimGM6mb.sf2"
TARGET_PEAK_DB = -1.0    # every stem, and the mix, peak at this level (dBFS)
SLAKH_DRUM_PROGRAM = 128
SPLIT_NAMES = ("train", "validation", "test")
_INSTALL_HINT = ("FluidSynth's system library was not found; install it "
                 "(Debian/Ubuntu: apt-get update && apt-get install -y libfluidsynth3; "
                 "macOS: brew install fluid-synth) and pyfluidsynth (pip install pyfluidsynth)")


class SynthError(RuntimeError):
    """The data set cannot be rendered (no FluidSynth, unreadable SoundFont, bad arguments)."""


# ------------------------------------------------------------------ rendering
def _import_fluidsynth():
    try:
        import fluidsynth  # pyfluidsynth; raises ImportError when libfluidsynth is missing
    except (ImportError, OSError) as exc:
        raise SynthError(f"{_INSTALL_HINT} ({exc})") from None
    return fluidsynth


class Renderer:
    """One FluidSynth instance with one SoundFont loaded, rendering a part at a time
    to float32 mono (the mean of FluidSynth's two channels, reverb and chorus included)."""

    def __init__(self, sf2: str | Path | None, sample_rate_hz: int):
        self.sf2 = Path(sf2) if sf2 else DEFAULT_SF2
        if not self.sf2.is_file():
            raise SynthError(f"SoundFont not found: {self.sf2}")
        if not os.access(self.sf2, os.R_OK):
            raise SynthError(f"SoundFont not readable: {self.sf2}")
        fluidsynth = _import_fluidsynth()
        self.sample_rate_hz = int(sample_rate_hz)
        # the C library pyfluidsynth loaded: float output straight into numpy buffers
        self._fl = getattr(fluidsynth, "_fl", None) or ctypes.CDLL(fluidsynth.find_libfluidsynth())
        self._fl.fluid_synth_write_float.restype = ctypes.c_int
        self._fl.fluid_synth_write_float.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p, ctypes.c_int,
                                                     ctypes.c_int, ctypes.c_void_p, ctypes.c_int, ctypes.c_int]
        self.synth = fluidsynth.Synth(gain=0.5, samplerate=float(self.sample_rate_hz))
        self.sfid = self.synth.sfload(str(self.sf2))
        if self.sfid == -1:
            self.synth.delete()
            raise SynthError(f"FluidSynth could not load the SoundFont {self.sf2} (not a valid .sf2 file?)")

    def close(self) -> None:
        if self.synth is not None:
            self.synth.delete()
            self.synth = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _select(self, part: songs.Part) -> int:
        channel, bank = (9, 128) if part.is_drum else (0, 0)
        for program in (part.program, 0):
            if self.synth.program_select(channel, self.sfid, bank, program) == 0:
                return channel
        raise SynthError(f"SoundFont {self.sf2} has no preset for bank {bank} program {part.program} (nor 0)")

    def render(self, part: songs.Part, n_samples: int) -> np.ndarray:
        """The part's notes as exactly ``n_samples`` float32 mono samples."""
        self._flush()
        room, level = part.reverb
        self.synth.set_reverb(roomsize=room, damping=0.3, width=0.8, level=level)
        channel = self._select(part)
        events = []
        for start, end, pitch, velocity in part.notes:
            events.append((int(round(start * self.sample_rate_hz)), 1, pitch, velocity))
            events.append((int(round(end * self.sample_rate_hz)), 0, pitch, 0))
        events.sort()  # note-offs (0) before note-ons (1) at the same sample
        left = np.zeros(n_samples, np.float32)
        right = np.zeros(n_samples, np.float32)
        pos = 0
        for when, is_on, pitch, velocity in events:
            when = min(when, n_samples)
            if when > pos:
                self._write(left, right, pos, when - pos)
                pos = when
            if is_on:
                self.synth.noteon(channel, pitch, velocity)
            else:
                self.synth.noteoff(channel, pitch)
        if pos < n_samples:
            self._write(left, right, pos, n_samples - pos)
        return (left + right) * np.float32(0.5)

    def _flush(self, block: int = 4096, max_blocks: int = 200) -> None:
        """Silence the last part: kill its voices, then render (and drop) audio
        until the reverb and chorus tails have died away."""
        for channel in (0, 9):
            self.synth.all_sounds_off(channel)
        self.synth.system_reset()
        left = np.zeros(block, np.float32)
        right = np.zeros(block, np.float32)
        for _ in range(max_blocks):
            self._write(left, right, 0, block)
            if max(float(np.max(np.abs(left))), float(np.max(np.abs(right)))) < 1e-7:
                return

    def _write(self, left: np.ndarray, right: np.ndarray, offset: int, n: int) -> None:
        lp = left.ctypes.data + 4 * offset
        rp = right.ctypes.data + 4 * offset
        if self._fl.fluid_synth_write_float(self.synth.synth, n, lp, 0, 1, rp, 0, 1) != 0:
            raise SynthError("FluidSynth failed to render audio")


# -------------------------------------------------------------------- helpers
def peak_normalise(x: np.ndarray, peak_db: float = TARGET_PEAK_DB) -> np.ndarray:
    peak = float(np.max(np.abs(x))) if x.size else 0.0
    if peak <= 1e-9:
        return np.zeros_like(x, dtype=np.float32)
    return (x * (10.0 ** (peak_db / 20.0) / peak)).astype(np.float32)


def integrated_loudness_db(x: np.ndarray, sample_rate_hz: int) -> float | None:
    """An RMS-based stand-in for Slakh's integrated loudness: mean power of the
    400 ms blocks above -70 dBFS (BS.1770's absolute gate, without its K-weighting
    and relative gate), in dB. ``None`` for silence (Slakh omits the key then)."""
    block = max(1, int(0.4 * sample_rate_hz))
    n = len(x) // block
    if n == 0:
        powers = np.array([np.mean(np.square(x, dtype=np.float64))]) if len(x) else np.array([0.0])
    else:
        powers = np.mean(np.square(x[: n * block].reshape(n, block), dtype=np.float64), axis=1)
    gated = powers[powers > 10.0 ** (-70.0 / 10.0)]
    if gated.size == 0:
        return None
    return round(float(10.0 * math.log10(np.mean(gated))), 4)


def split_counts(tracks: int) -> dict[str, int]:
    """Tracks per split: ~80/10/10, at least one validation and one test track from 3 tracks on."""
    if tracks < 3:
        return {"train": tracks, "validation": 0, "test": 0} if tracks < 2 else \
            {"train": tracks - 1, "validation": 0, "test": 1}
    n_val = n_test = max(1, int(round(0.1 * tracks)))
    return {"train": tracks - n_val - n_test, "validation": n_val, "test": n_test}


def track_split(index: int, tracks: int) -> str:
    """Split of track ``index`` (0-based): train first, then validation, then test."""
    counts = split_counts(tracks)
    if index < counts["train"]:
        return "train"
    return "validation" if index < counts["train"] + counts["validation"] else "test"


def _track_rng(seed: int, index: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([int(seed) & 0xFFFFFFFF, int(index)]))


# --------------------------------------------------------------------- writing
def render_track(track_dir: Path, song: songs.Song, renderer: Renderer, uuid: str) -> Path:
    """Write one track folder (MIDI, stems, mix, metadata) for ``song``."""
    sr = renderer.sample_rate_hz
    n_samples = int(round(song.seconds * sr))
    (track_dir / "MIDI").mkdir(parents=True, exist_ok=True)
    (track_dir / "stems").mkdir(parents=True, exist_ok=True)
    all_src = pretty_midi.PrettyMIDI(initial_tempo=song.bpm)
    mix = np.zeros(n_samples, np.float64)
    stems_meta = {}
    for k, part in enumerate(song.parts):
        stem_id = f"S{k:02d}"
        pm = pretty_midi.PrettyMIDI(initial_tempo=song.bpm)
        pm.instruments.append(part.to_instrument())
        pm.write(str(track_dir / "MIDI" / f"{stem_id}.mid"))
        all_src.instruments.append(part.to_instrument())
        audio = peak_normalise(renderer.render(part, n_samples))
        sf.write(str(track_dir / "stems" / f"{stem_id}.flac"), audio, sr, format="FLAC", subtype="PCM_16")
        mix += audio
        meta = {
            "audio_rendered": True,
            "inst_class": part.inst_class,
            "integrated_loudness": integrated_loudness_db(audio, sr),
            "is_drum": part.is_drum,
            "midi_program_name": part.name,
            "midi_saved": True,
            "plugin_name": renderer.sf2.name,
            "program_num": SLAKH_DRUM_PROGRAM if part.is_drum else part.program,
        }
        if meta["integrated_loudness"] is None:
            del meta["integrated_loudness"]
        stems_meta[stem_id] = meta
    all_src.write(str(track_dir / "all_src.mid"))
    peak = float(np.max(np.abs(mix))) if n_samples else 0.0
    overall_gain = 10.0 ** (TARGET_PEAK_DB / 20.0) / peak if peak > 0 else 1.0
    sf.write(str(track_dir / "mix.flac"), (mix * overall_gain).astype(np.float32), sr,
             format="FLAC", subtype="PCM_16")
    metadata = {
        "UUID": uuid,
        "audio_dir": f"{track_dir.name}/stems",   # relative to the split folder, as in Slakh2100
        "lmd_midi_dir": None,                    # no Lakh MIDI source: the song is procedural
        "midi_dir": f"{track_dir.name}/MIDI",
        "normalization_factor": TARGET_PEAK_DB,  # stems are peak-normalised to this many dBFS
        "normalized": True,
        "overall_gain": round(overall_gain, 10),
        "stems": stems_meta,
        "target_peak": TARGET_PEAK_DB,
    }
    (track_dir / "metadata.yaml").write_text(yaml.safe_dump(metadata, sort_keys=True))
    return track_dir


def generate_dataset(out_dir: str | Path, tracks: int, seconds: float, seed: int,
                     sf2: str | Path | None = None, sample_rate_hz: int = 16000,
                     progress: bool = True) -> list[Path]:
    """Write ``tracks`` procedural songs of ``seconds`` each under
    ``out_dir/{train,validation,test}/TrackNNNNN`` and return the track folders.

    Raises :class:`SynthError` for a missing or unreadable SoundFont (naming it),
    a missing FluidSynth library (saying what to install) or bad arguments."""
    if int(tracks) < 1:
        raise SynthError(f"--tracks must be at least 1, got {tracks}")
    if not float(seconds) >= 0.5:
        raise SynthError(f"--seconds must be at least 0.5, got {seconds}")
    if not 8000 <= int(sample_rate_hz) <= 96000:
        raise SynthError(f"--sample-rate must be 8000-96000 Hz (FluidSynth's range), got {sample_rate_hz}")
    tracks, seconds, sample_rate_hz = int(tracks), float(seconds), int(sample_rate_hz)
    out_dir = Path(out_dir)
    from tqdm import tqdm

    written: list[Path] = []
    with Renderer(sf2, sample_rate_hz) as renderer:
        dropped: set[str] = set()
        for k in tqdm(range(tracks), desc="synth", unit="track", file=sys.stderr, disable=not progress):
            rng = _track_rng(seed, k)
            stems, dropped = songs.choose_stems(rng, dropped)
            if rng.random() < 0.45:
                stems.append("organ")
            song = songs.compose_song(rng, seconds, stems)
            name = f"Track{k + 1:05d}"
            track_dir = out_dir / track_split(k, tracks) / name
            for split in SPLIT_NAMES:  # a track of an earlier run in another split
                if (out_dir / split / name).is_dir():
                    shutil.rmtree(out_dir / split / name)
            key = f"midi-extractor synth|{seed}|{k}|{seconds}|{sample_rate_hz}|{renderer.sf2.name}"
            uuid = hashlib.md5(key.encode()).hexdigest()
            written.append(render_track(track_dir, song, renderer, uuid))
    stale = sorted(str(d) for split in SPLIT_NAMES for d in (out_dir / split).glob("Track*")
                   if d.is_dir() and d not in written)
    if stale:
        print(f"synth: warning: {len(stale)} track folder(s) in {out_dir} were not written by this run "
              f"(an earlier, larger run?) and will be read with this set: {', '.join(stale[:3])}"
              f"{' ...' if len(stale) > 3 else ''}; use an empty --out", file=sys.stderr)
    return written


# ------------------------------------------------------------------------ CLI
def _cmd_synth(args: argparse.Namespace) -> int:
    t0 = time.perf_counter()
    try:
        dirs = generate_dataset(args.out, args.tracks, args.seconds, args.seed, sf2=args.sf2,
                                sample_rate_hz=args.sample_rate, progress=not args.quiet)
    except SynthError as exc:
        print(f"synth: {exc}", file=sys.stderr)
        return 2
    elapsed = time.perf_counter() - t0
    counts = {s: sum(d.parent.name == s for d in dirs) for s in SPLIT_NAMES}
    split_text = ", ".join(f"{s} {n}" for s, n in counts.items() if n)
    print(f"synth: wrote {len(dirs)} tracks x {args.seconds:g} s ({split_text}) to {args.out} "
          f"in {elapsed:.1f} s ({elapsed / max(1, len(dirs)):.2f} s/track)")
    return 0


def add_cli(subparsers) -> None:
    p = subparsers.add_parser("synth", help="write the generated Slakh-format data set",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True, type=Path, help="output folder (train/ validation/ test/ inside)")
    p.add_argument("--tracks", type=int, default=40, help="number of songs (default 40)")
    p.add_argument("--seconds", type=float, default=24.0, help="length of each song (default 24)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--sf2", default=None, help=f"SoundFont to render with (default {DEFAULT_SF2.name} "
                                               "bundled with pretty_midi)")
    p.add_argument("--sample-rate", type=int, default=16000, help="audio sample rate in Hz (default 16000)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_synth)
