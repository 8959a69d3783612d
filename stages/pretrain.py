"""Stage `pretrain-<base>`: the shared base model every stem whose `base` names it fine-tunes from
(bases/<base>.pt, weights only, in git; bases/<base>.json is its run's summary). Params:
pretrain.<base>, roles.<its role>, features, model, dataset.kind, tracking.

`pretrain.<base>.rebuild` decides whether it trains (`midi_extractor.train.run.why_train_base`):
`auto` keeps the shipped file on the embedded generated data when it fits params' front end and
model size, and trains on the union of the stems' prepared indexes (data/prepared/<stem>/index.json)
and the base's own songs (--songs-dir, stage base_songs) otherwise (real Slakh, another model size); `true` always trains, `false` never does. The working
folder (last.pt, best.pt, history.csv) is not a DVC output, so a killed run resumes."""
import argparse
import logging
import sys
from pathlib import Path

from midi_extractor.atomic import write_text
from midi_extractor.config import ConfigError, load_params
from midi_extractor.index_io import DataError
from midi_extractor.model.checkpoint import CheckpointError
from midi_extractor.train.outputs import OutDirError
from midi_extractor.train.run import base_song_indexes, pretrain, pretrain_config, why_train_base

parser = argparse.ArgumentParser(description=__doc__)
for flag in ("--params", "--base", "--prepared-dir", "--out-dir", "--export"):
    parser.add_argument(flag, required=True)
parser.add_argument("--songs-dir", default=None, help="data/pretrain/<base>: the base's own songs (stage base_songs)")
parser.add_argument("--summary-out", default=None, help="a copy of the run's summary.json (bases/<base>.json)")
args = parser.parse_args()
logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
name = f"pretrain-{args.base}"
try:
    params = load_params(args.params)
    cfg = pretrain_config(params, args.base)
    reason = why_train_base(args.base, params, args.export)
    if reason is None:
        print(f"{name}: kept the shipped {args.export} (pretrain.{args.base}.rebuild: "
              f"{str(cfg.rebuild).lower()}; set it true to train the base here)")
        sys.exit(0)
    print(f"{name}: training the base ({reason})", flush=True)
    indexes = [Path(args.prepared_dir) / stem / "index.json" for stem in cfg.stems]
    indexes += base_song_indexes(params, args.base, args.songs_dir) if args.songs_dir else []
    pretrain(args.base, indexes, args.out_dir, params, export=args.export)
except (ConfigError, DataError, OutDirError, CheckpointError) as exc:
    print(f"{name}: {exc}", file=sys.stderr)
    sys.exit(2)
if args.summary_out:
    write_text(args.summary_out, (Path(args.out_dir) / "summary.json").read_text())
