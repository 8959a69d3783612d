"""Stage `base_songs`: the songs only the shared bases train on (params: pretrain.<base>.songs,
songs_seed; dataset for the pool, effects, length and rate), written, indexed and prepared under
data/pretrain/<base>/ for every base (a note where a base has none: songs 0, real data, or a
base whose stage keeps its shipped --bases/<base>.pt, which needs none)."""
import argparse
import logging
import os
import sys
from pathlib import Path

from midi_extractor.config import ConfigError, load_params
from midi_extractor.base_songs import write_base_songs
from midi_extractor.index_io import DataError
from midi_extractor.model.checkpoint import CheckpointError
from midi_extractor.synth.fluid import SynthError

parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument("--params", required=True)
parser.add_argument("--out", required=True, type=Path, help="data/pretrain: one folder per base inside")
parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
parser.add_argument("--bases", type=Path, default=None,
                    help="the shipped bases' folder (bases/): no songs for a base its stage keeps")
args = parser.parse_args()
logging.basicConfig(level=logging.INFO, format="%(message)s")
try:
    params = load_params(args.params)
    for base in params.pretrain:
        shipped = args.bases / f"{base}.pt" if args.bases else None
        prepared = write_base_songs(params, base, args.out / base, jobs=args.jobs, shipped=shipped)
        cfg = params.pretrain[base]
        print(f"base_songs: {base}: {cfg.songs if prepared else 0} songs"
              + (f" and {cfg.sub_bass_songs} sub bass songs" if prepared and cfg.sub_bass_songs else "")
              + (f", prepared for {', '.join(prepared)}" if prepared else f" ({args.out / base}/NOT_USED.txt)"))
except (ConfigError, DataError, SynthError, CheckpointError, OSError) as exc:
    print(f"base_songs: {exc}", file=sys.stderr)
    sys.exit(2)
