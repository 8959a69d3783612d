"""Stage `filter@<stem>`: drop entries with missing or silent audio, unreadable MIDI or
too few notes (params: index.filter)."""
import argparse
import os

from midi_extractor.config import load_params
from midi_extractor.dataset.filtering import filter_index_file

parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument("--params", required=True)
parser.add_argument("--index", required=True)
parser.add_argument("--out", required=True)
parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                    help="processes (default: every core; the output does not depend on it)")
args = parser.parse_args()
filter_index_file(args.index, args.out, thresholds=load_params(args.params).index.filter, jobs=args.jobs)
