"""Rendering the generated set in one process and in worker processes: seconds, tracks a second, and
whether both wrote the same bytes.

    python benchmarks/bench_synth.py [--params params.yaml] [--tracks 24] [--workers 0,1] [--repeats 1]

The set is `params.yaml`'s `dataset` (pool, effects, length, rate) cut to --tracks songs (about a tenth
validation, a tenth test, half of those out of domain), written to a temporary folder per run; the
calibration, kit and timbre tracks are left out.
"""
from __future__ import annotations

import argparse
import hashlib
import tempfile
import time
from pathlib import Path

from midi_extractor.config import load_params
from midi_extractor.synth.generate import generate_dataset


def _digest(root: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        if p.is_file():
            h.update(str(p.relative_to(root)).encode())
            h.update(p.read_bytes())
    return h.hexdigest()[:16]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--params", default="params.yaml")
    ap.add_argument("--tracks", type=int, default=24)
    ap.add_argument("--workers", default="0,1", help="comma-separated worker counts (processes finishing tracks beside the renderer)")
    ap.add_argument("--repeats", type=int, default=1)
    args = ap.parse_args()
    ds = load_params(args.params).dataset
    print(f"{args.tracks} tracks x {ds.seconds:g} s at {ds.sample_rate_hz} Hz, effects {ds.effects}")
    print("| workers | seconds (each run) | tracks/s (best) | files (sha256) |\n|---|---|---|---|")
    for n in [int(w) for w in args.workers.split(",")]:
        times, digest = [], None
        for _ in range(args.repeats):
            with tempfile.TemporaryDirectory() as tmp:
                t0 = time.perf_counter()
                generate_dataset(tmp, args.tracks, ds.seconds, ds.seed, sample_rate_hz=ds.sample_rate_hz, progress=False,
                                 sound_sources=ds.sound_sources, ood_sources=ds.ood_sources, effects=ds.effects,
                                 workers=n)
                times.append(time.perf_counter() - t0)
                digest = _digest(Path(tmp))
        print(f"| {n} | {', '.join(f'{t:.1f}' for t in times)} | {args.tracks / min(times):.2f} | {digest} |")


if __name__ == "__main__":
    main()
