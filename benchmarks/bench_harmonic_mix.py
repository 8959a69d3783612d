"""The harmonic layer's two computations side by side: ``HarmonicMix.stacked`` (its definition:
nine shifted copies stacked as channels, one 1x1 conv) against ``HarmonicMix.forward`` (one
dilated conv per arithmetic run of shifts), on one CPU thread:

* ``onnx_ms``: onnxruntime, one forward pass of the layer alone (min of ``--repeat``);
* ``torch_train_ms``: torch, forward + backward at the training batch (min of ``--repeat``).

    python benchmarks/bench_harmonic_mix.py                 # the `harmonic` size, 10 s windows
    python benchmarks/bench_harmonic_mix.py --channels 48   # harmonic-large's trunk

Prints one JSON object.
"""
from __future__ import annotations

import argparse
import io
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from midi_extractor.model.harmonic_mix import HarmonicMix  # noqa: E402


class _Stacked(torch.nn.Module):
    def __init__(self, mix: HarmonicMix):
        super().__init__()
        self.inner = mix

    def forward(self, x):
        return self.inner.stacked(x)


def _min_time(fn, repeat: int) -> float:
    fn()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return round(1000 * min(times), 2)


def onnx_ms(module: torch.nn.Module, x: torch.Tensor, repeat: int) -> float:
    import onnxruntime as ort

    buf = io.BytesIO()
    torch.onnx.export(module, (x,), buf, opset_version=17, dynamo=False, input_names=["x"])
    options = ort.SessionOptions()
    options.intra_op_num_threads, options.log_severity_level = 1, 3
    session = ort.InferenceSession(buf.getvalue(), options, providers=["CPUExecutionProvider"])
    feed = {"x": x.numpy()}
    return _min_time(lambda: session.run(None, feed), repeat)


def train_ms(fn, x: torch.Tensor, repeat: int) -> float:
    x = x.clone().requires_grad_(True)

    def step():
        fn(x).square().mean().backward()

    return _min_time(step, repeat)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--channels", type=int, default=16)
    ap.add_argument("--semitones", type=int, default=98, help="pitch columns (98 for the default front end)")
    ap.add_argument("--window-frames", type=int, default=313, help="frames of one inference window (10 s)")
    ap.add_argument("--train-batch", type=int, default=16)
    ap.add_argument("--train-frames", type=int, default=126, help="frames of one training clip (4 s)")
    ap.add_argument("--repeat", type=int, default=7)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    torch.manual_seed(0)
    mix = HarmonicMix(args.channels, args.channels).eval()
    x = torch.randn(2, args.channels, args.window_frames, args.semitones)
    with torch.no_grad():
        diff = float((mix(x) - mix.stacked(x)).abs().max())
    xt = torch.randn(args.train_batch, args.channels, args.train_frames, args.semitones)
    result = {"channels": args.channels, "max_abs_difference": diff,
              "onnx_ms": {"stacked": onnx_ms(_Stacked(mix), x, args.repeat), "dilated": onnx_ms(mix, x, args.repeat)},
              "torch_train_ms": {"stacked": train_ms(mix.stacked, xt, args.repeat),
                                 "dilated": train_ms(mix, xt, args.repeat)}}
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
