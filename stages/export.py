"""Stage `export@<stem>`: models/<stem>/best.pt as models/<stem>/model.onnx and features.onnx
(the front end) and their metadata models/<stem>/model.onnx.json (checkpoint SHA-256), traced from the torch model and checked
against it (midi_extractor.infer.onnx_export). transcribe uses the export only while it matches
the checkpoint, so a retrained stem is never run through a stale export."""
import argparse
import sys
from pathlib import Path

from midi_extractor.infer.onnx_export import export_onnx
from midi_extractor.infer.onnx_runtime import export_paths

parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument("--model", required=True, help="the stem's checkpoint, models/<stem>/best.pt")
parser.add_argument("--out", required=True, help="model.onnx beside --model (where transcribe looks)")
parser.add_argument("--features-out", required=True, help="features.onnx beside --model")
parser.add_argument("--meta-out", required=True, help="model.onnx.json beside --model")
args = parser.parse_args()
expected = export_paths(args.model)
if (Path(args.out), Path(args.features_out), Path(args.meta_out)) != expected:
    sys.exit(f"export: the export of {args.model} is {', '.join(map(str, expected))}, "
             f"not {args.out}, {args.features_out} and {args.meta_out}")
try:
    export_onnx(args.model)
except (ValueError, FileNotFoundError, RuntimeError) as exc:
    sys.exit(f"export: {exc}")
