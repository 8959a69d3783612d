"""Long files: peak RSS and wall time of ``midi-extractor transcribe`` on a 30-minute stem,
with and without the tempo estimate, on the ONNX and the torch runtime.

Each row is one fresh ``python -m midi_extractor transcribe`` process measured by
``/usr/bin/time -f "%e %M"`` (wall seconds, peak RSS in KiB). The model is the shipped
pitched base (``bases/pitched.pt``) as ``bass``, exported beside itself for the ONNX
runtime (as ``benchmarks/bench_startup.py``); the input is the golden test's bass clip
repeated to ``--minutes`` (a 16 kHz 16-bit WAV, the model's rate; ``--rate 44100
--channels 2`` makes a CD-rate stereo file, which is resampled as it streams).
Also printed: the notes (equal across runtimes and tempo switches) and the tempo written.

    python benchmarks/bench_long.py                        # 30 min, both runtimes, with and without tempo
    python benchmarks/bench_long.py --minutes 30 --rate 44100 --channels 2 --repeat 2
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))

from bench_startup import shipped_models  # noqa: E402


def long_stem(path: Path, minutes: float, rate: int, channels: int) -> Path:
    """The golden bass clip repeated to ``minutes``, written block by block (16-bit WAV)."""
    from midi_extractor.audio import load_audio

    clip = load_audio(REPO / "tests" / "fixtures" / "golden" / "bass_clip.flac", rate)
    total = int(minutes * 60 * rate)
    with sf.SoundFile(path, "w", rate, channels, subtype="PCM_16") as f:
        for done in range(0, total, 60 * rate):  # a minute at a time
            piece = np.take(clip, np.arange(done, min(done + 60 * rate, total)), mode="wrap")
            f.write(np.repeat(piece[:, None], channels, axis=1) if channels > 1 else piece)
    return path


def one_run(models: Path, wav: Path, runtime: str, tempo: bool, out: Path, code: str | None = None) -> dict:
    """Wall seconds, peak RSS (MB), notes and tempo of one ``transcribe`` process
    (``code``: a folder holding another version's ``midi_extractor``, put first on the path)."""
    cmd = ["/usr/bin/time", "-f", "TIME %e %M", sys.executable, "-m", "midi_extractor", "transcribe", str(wav),
           "--stem", "bass", "--models-dir", str(models), "--runtime", runtime, "-o", str(out),
           "--save-note-events", *([] if tempo else ["--no-tempo"])]
    start = time.perf_counter()
    env = {**os.environ, "PYTHONPATH": code} if code else None
    done = subprocess.run(cmd, cwd=code or REPO, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{done.stderr[-2000:]}")
    seconds, kib = re.search(r"TIME ([\d.]+) (\d+)", done.stderr).groups()
    notes, bpm = re.search(r"bass (\d+) notes; ([\d.]+) BPM", done.stdout).groups()
    return {"wall_s": float(seconds), "outside_s": wall, "peak_rss_mb": int(kib) * 1024 / 1e6,
            "notes": int(notes), "bpm": float(bpm)}


def tempo_cost(wav: Path, rate: int = 16000) -> dict:
    """In-process seconds of the tempo estimate alone: the file read and resampled in blocks,
    the onset envelope streamed, then the beat tracking (``tempo.tempo_of_envelope``)."""
    from midi_extractor.infer.reading import resampled_blocks
    from midi_extractor.infer.tempo import HOP, OnsetStream, tempo_of_envelope

    start = time.perf_counter()
    peak = max(float(np.max(np.abs(y))) for y in resampled_blocks(wav, rate))
    read = time.perf_counter()
    onsets = OnsetStream(peak)
    for y in resampled_blocks(wav, rate):
        onsets.feed(y)
    envelope = onsets.finish()
    enveloped = time.perf_counter()
    bpm = tempo_of_envelope(envelope, rate / HOP, 0.0, str(wav)).bpm
    done = time.perf_counter()
    return {"read_s": read - start, "envelope_s": enveloped - read, "beats_s": done - enveloped, "bpm": bpm}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--rate", type=int, default=16000)
    parser.add_argument("--channels", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--runtimes", default="onnx,torch")
    parser.add_argument("--out", help="write the rows as JSON here")
    parser.add_argument("--code", help="run transcribe from this folder's midi_extractor (before/after rows: "
                                       "git archive <commit> midi_extractor | tar -x -C DIR)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench_long_"))
    try:
        models = shipped_models(work / "models")
        wav = long_stem(work / "bass.wav", args.minutes, args.rate, args.channels)
        print(f"{args.minutes:g}-min stem, {args.rate} Hz x {args.channels} ({wav.stat().st_size / 1e6:.1f} MB WAV); "
              f"median of {args.repeat} fresh processes")
        print("| runtime | tempo | wall s | peak RSS MB | notes | BPM written |")
        print("|---|---|---|---|---|---|")
        rows = []
        for runtime in args.runtimes.split(","):
            for tempo in (False, True):
                runs = [one_run(models, wav, runtime, tempo, work / "out", args.code) for _ in range(args.repeat)]
                row = {"runtime": runtime, "tempo": tempo, **{k: statistics.median(r[k] for r in runs)
                                                              for k in ("wall_s", "peak_rss_mb")},
                       "notes": runs[0]["notes"], "bpm": runs[0]["bpm"]}
                rows.append(row)
                print(f"| {runtime} | {'estimated' if tempo else '--no-tempo'} | {row['wall_s']:.1f} | "
                      f"{row['peak_rss_mb']:.0f} | {row['notes']} | {row['bpm']:g} |", flush=True)
        cost = tempo_cost(wav)
        print(f"tempo alone, in process: a read pass {cost['read_s']:.1f} s, onset envelope (read included) "
              f"{cost['envelope_s']:.1f} s, beat tracking {cost['beats_s']:.1f} s ({cost['bpm']:g} BPM)")
        rows.append({"tempo_alone": cost})
        if args.out:
            Path(args.out).write_text(json.dumps(rows, indent=2) + "\n")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
