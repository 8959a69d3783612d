"""Stage `train@<stem>`: fine-tune one stem's model from its base (models/_base/<base>/best.pt)
on its prepared index (params: stems.<stem>, roles.<role>, features, model, tracking).
Resumes from <out-dir>/last.pt when its config and data match. A user error (settings,
data, a base checkpoint missing or unfitting, an unwritable out-dir) prints one line naming
its cause and exits with status 2."""
import argparse
import logging
import sys

from midi_extractor.config import ConfigError, load_params
from midi_extractor.index_io import DataError
from midi_extractor.model.checkpoint import CheckpointError
from midi_extractor.train.outputs import OutDirError
from midi_extractor.train.run import train

parser = argparse.ArgumentParser(description=__doc__)
for flag in ("--params", "--stem", "--index", "--out-dir"):
    parser.add_argument(flag, required=True)
parser.add_argument("--data", default=None, help="dataset root overriding the index's (source indexes only)")
parser.add_argument("--init-from", default=None, help="base checkpoint to fine-tune from")
args = parser.parse_args()
logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
try:
    train(args.index, args.stem, args.out_dir, load_params(args.params), data_root=args.data,
          init_from=args.init_from)
except (ConfigError, DataError, OutDirError, CheckpointError) as exc:
    print(f"train@{args.stem}: {exc}", file=sys.stderr)
    sys.exit(2)
