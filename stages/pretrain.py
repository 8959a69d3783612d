"""Stage `pretrain@<base>`: train a shared base model on the union of its stems' filtered
indexes (params: pretrain.<base>, roles.<its role>, features, model, tracking). Every stem
whose `base` names it fine-tunes from the weights-only copy bases/<base>.pt (in git, shipped) in
its own train stage; bases/<base>.json is the run's summary. The stage is frozen in dvc.yaml, so a
fresh clone uses the shipped files: set `frozen: false` in dvc.yaml to rebuild them. Its working
folder (last.pt, best.pt, history.csv) is not a DVC output, so a killed run still resumes."""
import argparse
import logging
from pathlib import Path

from midi_extractor.atomic import write_text
from midi_extractor.config import load_params
from midi_extractor.train.run import pretrain

parser = argparse.ArgumentParser(description=__doc__)
for flag in ("--params", "--base", "--index-dir", "--data", "--out-dir", "--export"):
    parser.add_argument(flag, required=True)
parser.add_argument("--summary-out", default=None, help="a copy of the run's summary.json (bases/<base>.json)")
args = parser.parse_args()
logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
params = load_params(args.params)
indexes = [Path(args.index_dir) / f"filtered_dataset_{stem}.json" for stem in params.pretrain[args.base].stems]
pretrain(args.base, indexes, args.out_dir, params, data_root=args.data, export=args.export)
if args.summary_out:
    write_text(args.summary_out, (Path(args.out_dir) / "summary.json").read_text())
