"""Stage `index@<stem>`: index the data set for one stem
(params: dataset.kind, dataset.root, taxonomy, index.drum_split; dataset.bass_labels_octave_down,
whose default follows dataset.kind). A user error (params, a dataset root that is missing or
holds no Slakh-format tracks) prints one line naming its cause and exits with status 2."""
import argparse
import os
import sys
from pathlib import Path

from midi_extractor.config import load_params
from midi_extractor.dataset.indexing import build_indices, shift_note
from midi_extractor.dataset.problems import print_problems

parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument("--params", required=True)
parser.add_argument("--dataset-root", required=True)
parser.add_argument("--stem", required=True)
parser.add_argument("--out", required=True, type=Path, help="<dir>/dataset_<stem>.json")
parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                    help="processes (default: every core; the output does not depend on it)")
args = parser.parse_args()
if args.out.name != f"dataset_{args.stem}.json":
    sys.exit(f"index: --out must be named dataset_{args.stem}.json, got {args.out}")

problems: list = []
try:
    params = load_params(args.params)
    index = build_indices(args.dataset_root, [args.stem], args.out.parent, switches=params.switches,
                          drum_split=params.index.drum_split, problems=problems, jobs=args.jobs,
                          bass_octave_down=params.dataset.bass_labels_octave_down)[args.stem]
except (FileNotFoundError, ValueError) as exc:  # ConfigError and DataError are ValueErrors
    print(f"index@{args.stem}: {exc}", file=sys.stderr)
    sys.exit(2)
print_problems(problems)
print(f"{args.stem}: {len(index['entries'])} entries{shift_note(index['entries'])}, {len(problems)} problems "
      f"-> {args.out}")
