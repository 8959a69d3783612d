"""Stage `pretrain@<base>`: train a shared base model on the union of its stems' prepared
indexes (data/prepared/<stem>/index.json; params: pretrain.<base>, roles.<its role>, features, model, tracking). Every stem
whose `base` names it fine-tunes from the weights-only copy bases/<base>.pt (in git, shipped) in
its own train stage; bases/<base>.json is the run's summary. The stage is frozen in dvc.yaml, so a
fresh clone uses the shipped files: set `frozen: false` in dvc.yaml to rebuild them. Its working
folder (last.pt, best.pt, history.csv) is not a DVC output, so a killed run still resumes."""
import argparse
import logging
import sys
from pathlib import Path

from midi_extractor.atomic import write_text
from midi_extractor.config import ConfigError, load_params
from midi_extractor.index_io import DataError
from midi_extractor.train.outputs import OutDirError
from midi_extractor.train.run import pretrain

parser = argparse.ArgumentParser(description=__doc__)
for flag in ("--params", "--base", "--prepared-dir", "--out-dir", "--export"):
    parser.add_argument(flag, required=True)
parser.add_argument("--summary-out", default=None, help="a copy of the run's summary.json (bases/<base>.json)")
args = parser.parse_args()
logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
params = load_params(args.params)
indexes = [Path(args.prepared_dir) / stem / "index.json" for stem in params.pretrain[args.base].stems]
try:
    pretrain(args.base, indexes, args.out_dir, params, export=args.export)
except (ConfigError, DataError, OutDirError) as exc:
    print(f"pretrain-{args.base}: {exc}", file=sys.stderr)
    sys.exit(2)
if args.summary_out:
    write_text(args.summary_out, (Path(args.out_dir) / "summary.json").read_text())
