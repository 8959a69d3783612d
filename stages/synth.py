"""Stage `synth`: write the embedded generated data set (params: dataset).

For a real data set (dataset.kind != generated) it writes only a note, since the
later stages read dataset.root directly.
"""
import argparse
from pathlib import Path

from midi_extractor.config import ConfigError, load_params
from midi_extractor.synth.generate import generate_from_config

parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument("--params", default="params.yaml")
parser.add_argument("--out", required=True, type=Path)
args = parser.parse_args()

ds = load_params(args.params).dataset
if ds.kind != "generated":
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "NOT_USED.txt").write_text(f"dataset.kind is {ds.kind!r}: the pipeline reads {ds.root}\n")
elif Path(ds.root).resolve() != args.out.resolve():
    raise ConfigError(f"{args.params}: dataset.root is {ds.root!r}, but a generated data set is written "
                      f"to {args.out}; set dataset.root: {args.out}")
else:
    generate_from_config(args.out, ds)
