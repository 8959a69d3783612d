"""Stage `filter@<stem>`: drop entries with missing or silent audio, unreadable MIDI or
too few notes (params: index.filter). A user error (params, a missing or malformed index)
prints one line naming its cause and exits with status 2."""
import argparse
import os
import sys
from pathlib import Path

from midi_extractor.config import load_params
from midi_extractor.dataset.filtering import filter_index_file

parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument("--params", required=True)
parser.add_argument("--index", required=True)
parser.add_argument("--out", required=True)
parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                    help="processes (default: every core; the output does not depend on it)")
args = parser.parse_args()
try:
    filter_index_file(args.index, args.out, thresholds=load_params(args.params).index.filter, jobs=args.jobs)
except (FileNotFoundError, ValueError) as exc:  # ConfigError and DataError are ValueErrors
    print(f"filter@{Path(args.out).stem.removeprefix('filtered_dataset_')}: {exc}", file=sys.stderr)
    sys.exit(2)
