"""Stage `pretrain@<base>`: train a shared base model on the union of its stems' filtered
indexes (params: pretrain.<base>, roles.<its role>, features, model, tracking). Every stem
whose `base` names it fine-tunes from the weights-only copy bases/<base>.pt (in git, shipped) in
its own train stage. The stage is frozen in dvc.yaml: `dvc unfreeze pretrain-<base>` to rebuild."""
import argparse
import logging
from pathlib import Path

from midi_extractor.config import load_params
from midi_extractor.train.run import pretrain

parser = argparse.ArgumentParser(description=__doc__)
for flag in ("--params", "--base", "--index-dir", "--data", "--out-dir", "--export"):
    parser.add_argument(flag, required=True)
args = parser.parse_args()
logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
params = load_params(args.params)
indexes = [Path(args.index_dir) / f"filtered_dataset_{stem}.json" for stem in params.pretrain[args.base].stems]
pretrain(args.base, indexes, args.out_dir, params, data_root=args.data, export=args.export)
