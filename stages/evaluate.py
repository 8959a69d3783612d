"""Stage `evaluate@<stem>`: score models/<stem>/best.pt on the test split with mir_eval
(params: decoding, tracking). Writes the metrics JSON, per-track CSV and piano-roll PNGs."""
import argparse
import logging

from midi_extractor.config import load_params
from midi_extractor.evaluate.scoring import evaluate

parser = argparse.ArgumentParser(description=__doc__)
for flag in ("--params", "--stem", "--index", "--data", "--model", "--summary", "--split", "--out",
             "--tracks-out", "--plots-dir"):
    parser.add_argument(flag, required=True)
args = parser.parse_args()
logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
evaluate(args.stem, args.index, args.model, args.split, args.out, load_params(args.params),
         data_root=args.data, tracks_out=args.tracks_out, plots_dir=args.plots_dir, summary_path=args.summary)
