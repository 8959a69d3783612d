"""Stage `prepare@<stem>`: resample each stem of a filtered index once to the model's rate
(params: features.sample_rate_hz) and parse its notes once, for fast training reads; the
notes are stored corrected (label shift, notes outside features.min_midi..max_midi left out)."""
import argparse
import os
import json

from midi_extractor.config import load_params
from midi_extractor.dataset.prepare import prepare_index

parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument("--params", required=True)
parser.add_argument("--index", required=True)
parser.add_argument("--out", required=True, help="folder: index.json, audio/, notes/")
parser.add_argument("--splits", default="train,validation")
parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                    help="processes (default: every core; the output does not depend on it)")
parser.add_argument("--dataset-root", default=None, help="the data folder the index's paths are relative to")
args = parser.parse_args()
features = load_params(args.params).features
report = prepare_index(args.index, args.out, features.sample_rate_hz, splits=args.splits, jobs=args.jobs,
                       dataset_root=args.dataset_root, pitch_range=(features.min_midi, features.max_midi))
print(json.dumps(report))
