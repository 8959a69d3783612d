"""Stage `evaluate@<stem>`: choose decoding thresholds for models/<stem>/best.pt on the validation
split (written to --decoding-out), then score the test split with mir_eval, in-domain and
out-of-domain with bootstrap intervals (params: decoding, tracking). Writes the metrics JSON,
per-track CSV, piano-roll PNGs and a new MLflow run nested under the training run."""
import argparse
import logging

from midi_extractor.config import load_params
from midi_extractor.evaluate.run import add_arguments, evaluate

parser = argparse.ArgumentParser(description=__doc__)
add_arguments(parser, stage=True)
args = parser.parse_args()
logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
evaluate(args.stem, args.index, args.model, args.split, args.out, load_params(args.params),
         data_root=args.data, tracks_out=args.tracks_out, plots_dir=args.plots_dir, max_plots=args.max_plots,
         summary_path=args.summary, decoding_out=args.decoding_out, device=args.device)
