"""Stage `filter@<stem>`: drop entries with missing or silent audio, unreadable MIDI or
too few notes (params: index.filter)."""
import argparse

from midi_extractor.config import load_params
from midi_extractor.dataset.filtering import filter_index_file

parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument("--params", required=True)
parser.add_argument("--index", required=True)
parser.add_argument("--out", required=True)
args = parser.parse_args()
filter_index_file(args.index, args.out, thresholds=dict(load_params(args.params).index.filter))
