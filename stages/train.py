"""Stage `train@<stem>`: fine-tune one stem's model from its base (models/_base/<base>/best.pt)
on its filtered index (params: stems.<stem>, roles.<role>, features, model, tracking).
Resumes from <out-dir>/last.pt when its config and data match."""
import argparse
import logging

from midi_extractor.config import load_params
from midi_extractor.train.run import train

parser = argparse.ArgumentParser(description=__doc__)
for flag in ("--params", "--stem", "--index", "--data", "--out-dir"):
    parser.add_argument(flag, required=True)
parser.add_argument("--init-from", default=None, help="base checkpoint to fine-tune from")
args = parser.parse_args()
logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
train(args.index, args.stem, args.out_dir, load_params(args.params), data_root=args.data, init_from=args.init_from)
