"""Stage `stem_songs`: the training songs the stems share (params: stem_songs.count, seed,
double_triads; dataset for the pool, effects, length and rate), written once under --out for every
stem that takes some (stems.<stem>.songs: the first that many; stage prepare@<stem> prepares them
at the stem's front end). A note (--out/NOT_USED.txt) where there are none: count 0, or real data.
A user error is one line naming its cause, exit status 2."""
import argparse
import logging
import sys
from pathlib import Path

from midi_extractor.config import ConfigError, load_params
from midi_extractor.own_songs import NOTE, write_stem_songs
from midi_extractor.synth.fluid import SynthError

parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument("--params", required=True)
parser.add_argument("--out", required=True, type=Path, help="data/stem_songs: train/TrackNNNNN, synth_report.json")
args = parser.parse_args()
logging.basicConfig(level=logging.INFO, format="%(message)s")
try:
    params = load_params(args.params)
    count = write_stem_songs(params, args.out)
except (ConfigError, SynthError, OSError) as exc:
    print(f"stem_songs: {exc}", file=sys.stderr)
    sys.exit(2)
takers = [s for s in params.stems if params.stem_songs_of(s)[0]]
where = f"taken by {', '.join(takers)}" if count else args.out / NOTE
print(f"stem_songs: {count} songs -> {args.out} ({where})")
