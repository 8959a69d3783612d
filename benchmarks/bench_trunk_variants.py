"""What a smaller ``harmonic`` model would save at transcription, before any base is trained
for it: untrained variants of the piano model exported to ONNX and timed through onnxruntime on
one thread, one 10-s window each, alternating in one process (min and median of ``--repeat``).

Speed does not depend on the weights, so untrained models time as trained ones would; their
quality is unknown until bases are trained for them (a GPU). Each variant (:data:`VARIANTS`)
changes the trunk's or the heads' channels, the residual blocks or the heads' dilations:

    python benchmarks/bench_trunk_variants.py --repeat 15

Prints one JSON object: per variant its parameters and ``model.onnx`` time per window.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from midi_extractor.config import load_params  # noqa: E402
from midi_extractor.infer.onnx_export import check_audio  # noqa: E402
from midi_extractor.model.transcriber import count_parameters, create_model  # noqa: E402
from with_trunk import harmonic_shape  # noqa: E402

#: name -> what differs from the shipped ``harmonic`` size (``with_trunk.harmonic_shape``'s arguments)
VARIANTS = {
    "shipped": {},
    "one block": dict(blocks=1),
    "trunk 8 channels": dict(channels=8),
    "trunk 12 channels": dict(channels=12),
    "heads 12 channels": dict(head_channels=12),
    "shorter heads": dict(onset_dilations=(1, 2, 4), frame_dilations=(1, 2, 4, 8)),
    "one block, trunk 8 channels": dict(blocks=1, channels=8),
}


def _export(params, changes: dict, folder: Path) -> tuple[Path, int]:
    """``model.onnx`` of an untrained piano model of the ``harmonic`` size with ``changes``
    (``midi-extractor export``'s own code, its check against torch included); its parameter count."""
    from bench_transcribe import untrained_models_dir
    from midi_extractor.infer.onnx_export import export_onnx
    from midi_extractor.model.checkpoint import build_model, load_checkpoint

    with harmonic_shape(**changes):
        checkpoint = untrained_models_dir(folder, "piano", params) / "piano" / "best.pt"
        return export_onnx(checkpoint), count_parameters(build_model(load_checkpoint(checkpoint)))


def main(argv: list[str] | None = None) -> int:
    import onnxruntime as ort
    import torch

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--params", default="params.yaml")
    ap.add_argument("--repeat", type=int, default=15)
    args = ap.parse_args(argv)
    params = load_params(args.params)
    torch.set_num_threads(1)
    options = ort.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads, options.log_severity_level = 1, 1, 3
    sessions, n_params = {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        for k, (name, changes) in enumerate(VARIANTS.items()):
            folder = Path(tmp) / str(k)
            folder.mkdir()
            path, n_params[name] = _export(params, changes, folder)
            sessions[name] = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    model = create_model(params.features, params.model, params.features.n_pitches, params.role("piano"))
    with torch.no_grad():
        feats = model.features(torch.from_numpy(check_audio(params.features.sample_rate_hz, 1, 10.0))).numpy()
    times = {name: [] for name in sessions}
    for _ in range(args.repeat + 1):                    # the first round warms every session up
        for name, session in sessions.items():
            t = time.perf_counter()
            session.run(None, {"features": feats})
            times[name].append(time.perf_counter() - t)
    ref = min(times[next(iter(times))][1:])
    out = {name: {"parameters": n_params[name], "window_ms_min": round(1000 * min(v[1:]), 2),
                  "window_ms_median": round(1000 * float(np.median(v[1:])), 2),
                  "relative_to_shipped": round(min(v[1:]) / ref, 3)} for name, v in times.items()}
    print(json.dumps({"window_s": 10.0, "frames": int(feats.shape[1]), "repeat": args.repeat,
                      "threads": 1, "variants": out}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
