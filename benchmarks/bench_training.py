"""Training throughput in clips/s (one clip = ``--clip-seconds`` of audio).

Two figures, both on the repository's front end (params.yaml ``features``):

* ``step``: forward + backward + optimizer step on one fixed in-memory batch
  (the model's compute alone, AMP on CUDA as in training);
* ``train``: ``training.train()`` end to end on a generated sine set (data
  reading, labels, augmentation, DataLoader workers, the step; validation
  time excluded), as reported in its summary.

    python benchmarks/bench_training.py                       # CPU, harmonic (the default model), 16 x 4 s
    python benchmarks/bench_training.py --device cuda --size paper --steps 50
    python benchmarks/bench_training.py --device cuda --amp off   # fp32 on the GPU
    python benchmarks/bench_training.py --device cuda --size harmonic-large --compile on --peak-tflops 989

``--compile on``: the step under ``torch.compile`` (``compile_s``: the first warm-up step's
wall time, mostly compiling). The step figure also counts the step's FLOPs (torch's
FlopCounterMode, forward + backward) and gives the achieved TFLOPS and, with
``--peak-tflops`` (the chip's dense bf16 peak, e.g. 989 for an H100/H200 SXM), the share of it.

Prints one JSON object (also written to ``--json`` when given).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO))

import torch  # noqa: E402

from midi_extractor.config import ModelConfig, Params, StemConfig, load_params  # noqa: E402
from midi_extractor.model.transcriber import create_model, count_parameters  # noqa: E402


def cpu_name() -> str:
    from midi_extractor.run_context import system_info

    return system_info().get("sys.cpu") or platform.machine()


def sine_set(root: Path, n_tracks: int, seconds: float, sr: int) -> Path:
    from helpers_data import write_track

    entries = []
    for k in range(n_tracks):
        name = f"Track{k + 1:05d}"
        write_track(root / name, {"S00": {"program_num": 33, "n_notes": int(seconds * 2)}}, sample_rate_hz=sr,
                    seconds=seconds, seed=k)
        entries.append({"track": name, "stem_id": "S00", "split": "validation" if k == 0 else "train",
                        "audio": f"{name}/stems/S00.wav", "midi": f"{name}/MIDI/S00.mid",
                        "metadata": {"program_num": 33, "is_drum": False, "role": "melodic"}})
    index = root / "filtered_dataset_bass.json"
    index.write_text(json.dumps({"stem": "bass", "taxonomy_version": 1, "dataset_root": str(root),
                                 "entries": entries}))
    return index


def step_flops(model, data: dict, amp_dtype, device: torch.device) -> float:
    """FLOPs of one forward + backward (FlopCounterMode; ops it does not know count 0)."""
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with counter, torch.autocast(device.type, dtype=amp_dtype or torch.float32, enabled=amp_dtype is not None):
        model.compute_losses(model(data["audio"]), data)["total"].backward()
    model.zero_grad(set_to_none=True)
    return float(counter.get_total_flops())


def bench_step(params: Params, device: torch.device, batch: int, clip_s: float, steps: int, warmup: int,
               amp: bool, compile_model: bool = False, peak_tflops: float | None = None) -> dict:
    fe = params.features
    model = create_model(fe, params.model, fe.n_pitches, params.role("bass")).to(device).train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    n = int(clip_s * fe.sample_rate_hz)
    t = fe.n_frames(n)
    g = torch.Generator().manual_seed(0)
    data = {"audio": torch.randn(batch, n, generator=g) * 0.1,
            **{k: (torch.rand(batch, t, fe.n_pitches, generator=g) > 0.97).float()
               for k in ("onset", "offset", "frame", "velocity")}}
    data = {k: v.to(device) for k, v in data.items()}
    dtype = (torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16) if amp else None
    scaler = torch.amp.GradScaler("cuda", enabled=dtype == torch.float16)
    flops = step_flops(model, data, dtype, device)
    forward = torch.compile(model) if compile_model else model

    def one():
        with torch.autocast(device.type, dtype=dtype or torch.float32, enabled=amp):
            losses = model.compute_losses(forward(data["audio"]), data)
        opt.zero_grad(set_to_none=True)
        scaler.scale(losses["total"]).backward()
        scaler.unscale_(opt)
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        scaler.step(opt)
        scaler.update()

    t0 = time.perf_counter()
    for k in range(warmup):
        one()
        if k == 0:
            if device.type == "cuda":
                torch.cuda.synchronize()
            first_s = time.perf_counter() - t0
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(steps):
        one()
    if device.type == "cuda":
        torch.cuda.synchronize()
    dt = time.perf_counter() - start
    out = {"clips_per_s": round(steps * batch / dt, 2), "s_per_step": round(dt / steps, 4),
           "n_parameters": count_parameters(model), "amp": str(dtype) if dtype else None,
           "compiled": compile_model, "first_step_s": round(first_s, 2) if warmup else None,
           "gflop_per_step": round(flops / 1e9, 1), "achieved_tflops": round(flops * steps / dt / 1e12, 3)}
    if peak_tflops:
        out["peak_share"] = round(out["achieved_tflops"] / peak_tflops, 4)
    if device.type == "cuda":
        out["peak_memory_gb"] = round(torch.cuda.max_memory_allocated(device) / 2**30, 2)
    return out


def bench_train(params: Params, device: str, batch: int, clip_s: float, steps: int, workers: int,
                tracks: int, track_s: float, amp: bool) -> dict:
    from midi_extractor.train.run import train

    os.environ.setdefault("MIDI_EXTRACTOR_TRACKING", "0")
    with tempfile.TemporaryDirectory() as tmp:
        index = sine_set(Path(tmp) / "data", tracks, track_s, params.features.sample_rate_hz)
        params.stems["bass"] = StemConfig(role="melodic", epochs=1, steps_per_epoch=steps, batch_size=batch,
                                          clip_seconds=clip_s, num_workers=workers, val_interval=10**9)
        s = train(index, "bass", Path(tmp) / "models", params, device=device, log_every=max(1, steps // 4),
                  progress=False, resume=False, val_clips_per_track=1, amp=amp)
    return {"clips_per_s": round(s["throughput_clips_per_s"], 2), "steps": s["steps"], "workers": workers,
            "wall_time_s": round(s["wall_time_s"], 1)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="auto", help="auto | cpu | cuda")
    ap.add_argument("--size", default="harmonic", choices=("small", "paper", "harmonic", "harmonic-large"))
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--clip-seconds", type=float, default=4.0)
    ap.add_argument("--steps", type=int, default=10, help="timed steps")
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--workers", type=int, default=2, help="DataLoader workers for the end-to-end figure")
    ap.add_argument("--tracks", type=int, default=6)
    ap.add_argument("--track-seconds", type=float, default=20.0)
    ap.add_argument("--amp", default="auto", choices=("auto", "on", "off"), help="auto = on for CUDA")
    ap.add_argument("--skip-train", action="store_true", help="only the in-memory step figure")
    ap.add_argument("--threads", type=int, default=None, help="torch.set_num_threads")
    ap.add_argument("--compile", default="off", choices=("on", "off"), help="torch.compile the step")
    ap.add_argument("--peak-tflops", type=float, default=None, help="the chip's dense peak, for peak_share")
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device("cuda" if args.device == "auto" and torch.cuda.is_available() else
                          ("cpu" if args.device == "auto" else args.device))
    amp = device.type == "cuda" and args.amp != "off"
    params = load_params(REPO / "params.yaml")
    params.model = ModelConfig(size=args.size)
    result = {"device": str(device),
              "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else cpu_name(), "threads": torch.get_num_threads(), "cpu_count": os.cpu_count(),
              "torch": torch.__version__, "size": args.size, "batch_size": args.batch_size,
              "clip_seconds": args.clip_seconds}
    result["step"] = bench_step(params, device, args.batch_size, args.clip_seconds, args.steps, args.warmup, amp,
                                args.compile == "on", args.peak_tflops)
    print(json.dumps(result["step"]), file=sys.stderr)
    if not args.skip_train:
        result["train"] = bench_train(params, str(device), args.batch_size, args.clip_seconds, args.steps,
                                      args.workers, args.tracks, args.track_seconds, amp)
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        Path(args.json).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
