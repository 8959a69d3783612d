"""``midi-extractor synth``: the command line of :mod:`midi_extractor.synth.generate` (whose
docstring is the command's help)."""
from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

from midi_extractor.config import DEFAULT_SAMPLE_RATE_HZ
from midi_extractor.synth import generate
from midi_extractor.synth import sources as src
from midi_extractor.synth.fluid import SynthError
from midi_extractor.synth.generate import REPORT_NAME, generate_dataset
from midi_extractor.synth.splits import SPLIT_NAMES


def _names(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


def _cmd_synth(args: argparse.Namespace) -> int:
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(message)s")
    t0 = time.perf_counter()
    try:
        dirs = generate_dataset(args.out, args.tracks, args.seconds, args.seed, sf2=args.sf2,
                                sample_rate_hz=args.sample_rate, progress=not args.quiet,
                                sound_sources=_names(args.sources), ood_sources=_names(args.ood_sources),
                                effects=args.effects, validation_tracks=args.validation_tracks,
                                test_tracks=args.test_tracks, kit_sources=_names(args.kit_sources),
                                kit_tracks=args.kit_tracks, calibration_sources=_names(args.calibration_sources),
                                calibration_tracks=args.calibration_tracks,
                                timbre_sources=_names(args.timbre_sources), timbre_tracks=args.timbre_tracks,
                                workers=args.workers)
    except SynthError as exc:
        print(f"synth: {exc}", file=sys.stderr)
        return 2
    elapsed = time.perf_counter() - t0
    counts = {s: sum(d.parent.name == s for d in dirs) for s in SPLIT_NAMES}
    split_text = ", ".join(f"{s} {n}" for s, n in counts.items() if n)
    print(f"synth: wrote {len(dirs)} tracks x {args.seconds:g} s ({split_text}) to {args.out} "
          f"in {elapsed:.1f} s ({elapsed / max(1, len(dirs)):.2f} s/track); report: {args.out / REPORT_NAME}")
    return 0


def add_cli(subparsers) -> None:
    p = subparsers.add_parser("synth", help="write the generated Slakh-format data set",
                              description=generate.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True, type=Path, help="output folder (train/ validation/ test/ inside)")
    p.add_argument("--tracks", type=int, default=56, help="number of songs (default 56)")
    p.add_argument("--seconds", type=float, default=24.0, help="length of each song (default 24)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--validation-tracks", type=int, default=None, help="validation tracks (default ~10%%)")
    p.add_argument("--test-tracks", type=int, default=None,
                   help="test tracks, half of them out-of-domain (default ~10%%)")
    p.add_argument("--sources", default=",".join(src.DEFAULT_POOL),
                   help=f"training pool, comma-separated (default {','.join(src.DEFAULT_POOL)}; "
                        f"known: {','.join(src.SOURCES)})")
    p.add_argument("--ood-sources", default=",".join(src.DEFAULT_OOD),
                   help=f"held-out sources of the out-of-domain test tracks (default {','.join(src.DEFAULT_OOD)}; "
                        "empty: no out-of-domain tracks)")
    p.add_argument("--effects", type=float, default=1.0, help="effect strength 0-1 (0: none; default 1)")
    p.add_argument("--kit-tracks", type=int, default=0,
                   help="drum-only training tracks after the others, rendered with --kit-sources (default 0)")
    p.add_argument("--kit-sources", default="", help="drum sources of the kit tracks, comma-separated (H2_* kits)")
    p.add_argument("--calibration-tracks", type=int, default=0,
                   help="validation tracks after the others, rendered with --calibration-sources (default 0)")
    p.add_argument("--calibration-sources", default="",
                   help="held-out sources of the calibration tracks, comma-separated (FreePats, H2_* kits)")
    p.add_argument("--timbre-tracks", type=int, default=0,
                   help="training tracks after the others, their pitched parts rendered with --timbre-sources")
    p.add_argument("--timbre-sources", default="Additive",
                   help="sources of the timbre tracks, comma-separated (default Additive: procedural timbres)")
    p.add_argument("--sf2", default=None, help="one SoundFont file as the whole training pool")
    p.add_argument("--sample-rate", type=int, default=DEFAULT_SAMPLE_RATE_HZ,
                   help=f"audio sample rate in Hz (default {DEFAULT_SAMPLE_RATE_HZ})")
    p.add_argument("--workers", type=int, default=None,
                   help="processes applying effects and writing files beside the one rendering "
                        "(default: one a core but one; 0: none); the files are the same however many")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_synth)
