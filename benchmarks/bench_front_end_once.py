"""Model time of one signal through onnxruntime, one thread: the front end once a signal
(``model.windows.WindowFeed``: ``features.onnx`` over each window's new frames, ``model.onnx`` a
window) against the front end once a window (the same two graphs, ``features.onnx`` on each
whole window's audio) and, with ``--previous``, against a folder of format-2 exports (one graph a
window, audio in: the code before 2026-12-06's ninth session). Alternating runs in one process;
min and median of ``--repeat``. Reading, resampling and decoding are not timed.

    python benchmarks/bench_front_end_once.py --stem piano --models-dir models \
        [--previous /tmp/prev_models] [--seconds 60] [--repeat 25]
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from midi_extractor.config import FrontEndConfig  # noqa: E402
from midi_extractor.infer.onnx_runtime import OnnxModel  # noqa: E402
from midi_extractor.model import windows as W  # noqa: E402


def _cut(audio: np.ndarray, w: W.Window) -> np.ndarray:
    out = np.zeros(w.length, np.float32)
    lo, hi = max(w.start, 0), min(w.start + w.length, len(audio))
    out[lo - w.start: hi - w.start] = audio[lo:hi]
    return out


def runs(model: OnnxModel, fe: FrontEndConfig, audio: np.ndarray, previous: Path | None) -> dict:
    """``{name: callable}`` of the ways to run the model over ``audio``."""
    wins = W.plan_windows(len(audio), fe)

    def once_a_signal():
        feed = W.WindowFeed(model, wins, fe)
        for _, f in feed.feed(audio) + feed.feed(None):
            model.logits_from_features(f[None])

    def once_a_window():
        for w in wins:
            model.logits_from_features(model.features(_cut(audio, w)[None]))

    out = {"front end once a signal": once_a_signal, "front end once a window": once_a_window}
    if previous is not None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads, options.inter_op_num_threads, options.log_severity_level = 1, 1, 3
        one_graph = ort.InferenceSession(str(previous), options, providers=["CPUExecutionProvider"])
        out["one graph a window (format 2)"] = lambda: [one_graph.run(None, {"audio": _cut(audio, w)[None]})
                                                       for w in wins]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--stem", default="piano")
    ap.add_argument("--models-dir", default="models")
    ap.add_argument("--previous", type=Path, default=None, help="folder of <stem>/model.onnx in export format 2")
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--repeat", type=int, default=25)
    args = ap.parse_args()
    onnx_path = Path(args.models_dir) / args.stem / "model.onnx"
    meta = json.loads(onnx_path.with_name("model.onnx.json").read_text())
    fe = FrontEndConfig(**meta["front_end"])
    audio = (0.1 * np.random.default_rng(0).standard_normal(int(args.seconds * fe.sample_rate_hz))).astype(np.float32)
    previous = args.previous / args.stem / "model.onnx" if args.previous else None
    ways = runs(OnnxModel(onnx_path, meta, threads=1), fe, audio, previous)
    times: dict[str, list[float]] = {k: [] for k in ways}
    for f in ways.values():
        f()
    for _ in range(args.repeat):
        for name, f in ways.items():
            t = time.perf_counter()
            f()
            times[name].append(time.perf_counter() - t)
    for name, t in times.items():
        print(f"{args.stem} {args.seconds:g} s, {name}: min {1e3 * min(t):.1f} ms, median {1e3 * np.median(t):.1f} ms")


if __name__ == "__main__":
    main()
