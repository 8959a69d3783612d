"""Stage `synth`: write the embedded generated data set (params: dataset).

For a real data set (dataset.kind != generated) it writes only a note, since the
later stages read dataset.root directly. A user error (params, dataset.root not the --out
folder, a sound source that cannot be found) prints one line naming its cause and exits
with status 2.
"""
import argparse
import sys
from pathlib import Path

from midi_extractor.config import ConfigError, load_params
from midi_extractor.synth.fluid import SynthError
from midi_extractor.synth.generate import generate_from_config

parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument("--params", default="params.yaml")
parser.add_argument("--out", required=True, type=Path)
args = parser.parse_args()

try:
    ds = load_params(args.params).dataset
    if ds.kind != "generated":
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "NOT_USED.txt").write_text(f"dataset.kind is {ds.kind!r}: the pipeline reads {ds.root}\n")
    elif Path(ds.root).resolve() != args.out.resolve():
        raise ConfigError(f"{args.params}: dataset.root is {ds.root!r}, but a generated data set is written "
                          f"to {args.out}; set dataset.root: {args.out}")
    else:
        generate_from_config(args.out, ds)
except (ConfigError, SynthError) as exc:
    print(f"synth: {exc}", file=sys.stderr)
    sys.exit(2)
