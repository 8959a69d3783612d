"""Slakh scale: the data path on Slakh2100-sized tracks, measured on N generated tracks and
extrapolated linearly to the redux release (1,710 tracks), plus what a GPU step consumes.

    python benchmarks/bench_slakh_scale.py --root /tmp/slakh-scale [--tracks 20] [--seconds 240]
        [--jobs 2] [--items 40] [--out benchmarks/slakh_scale.json]

1. Generate (skipped when ``--root`` holds tracks): ``midi-extractor synth`` at 44.1 kHz,
   Slakh2100 split folders, ``--seconds`` per song.
2. Index + filter + prepare, each stem as its own process as ``dvc repro`` runs them:
   wall seconds and the process's peak RSS (GNU time's ``%M``). Real-Slakh settings: the drum
   split's audio heuristic (``index.drum_split: {}``).
3. Loader, one worker (one process, one thread, as a DataLoader worker) per role's stem at
   the seed's settings (20-s clips, the role's augmentation from params.yaml): clips/s and
   peak RSS reading (a) the source FLAC with the augmentation on the CPU, (b) the prepared
   layout with the augmentation on the CPU, (c) the prepared layout with the augmentation
   left to the device (``augment_on: device``; the worker only draws it).
4. The ``paper`` model's forward+backward FLOPs per 20-s clip (torch's FlopCounterMode for
   convolutions and linear layers, LSTMs counted analytically: it does not see them), and
   clips/s one GPU consumes at an assumed sustained throughput.

Every extrapolation is linear in the number of tracks and is labelled as such.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

REDUX_TRACKS = 1710          # Slakh2100 redux: train 1289 + validation 270 + test 151
REDUX_TRAIN_TRACKS = 1289
CLIP_S = 20.0                # the seed's GPU settings
BATCH = 64
#: assumed sustained bf16 throughput of the paper model's mix (convs + LSTMs), TFLOPS:
#: ~25 % of an RTX A6000's 155 dense and ~15 % of an H100 SXM's 989 dense
GPUS = {"A6000": 40.0, "H100": 150.0}
GPU_BOX_CORES, GPUS_PER_BOX = 16, 2
ROLE_STEMS = {"melodic": "bass", "harmonic": "piano", "percussive": "drums"}


def run_measured(cmd: list[str]) -> tuple[float, float, str]:
    """``(wall s, peak RSS MiB, stdout)`` of one child process, run under GNU time
    (``%M``: the child's peak resident set)."""
    t0 = time.perf_counter()
    proc = subprocess.run(["/usr/bin/time", "-f", "maxrss_kb=%M", *cmd], capture_output=True, text=True, cwd=REPO)
    wall = time.perf_counter() - t0
    if proc.returncode:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    rss = next((int(line.split("=", 1)[1]) / 1024 for line in reversed(proc.stderr.splitlines())
                if line.startswith("maxrss_kb=")), float("nan"))
    return wall, rss, proc.stdout


# ---------------------------------------------------------------- pipeline steps
def generate(root: Path, tracks: int, seconds: float) -> dict:
    if list(root.glob("*/Track*")):
        return {"generated_s": None, "note": "reused"}
    n_test = max(2, tracks // 10)
    wall, rss, _ = run_measured([sys.executable, "-m", "midi_extractor", "synth", "--out-dir", str(root), "--tracks",
                                 str(tracks), "--seconds", str(seconds), "--sample-rate", "44100",
                                 "--validation-tracks", str(n_test), "--test-tracks", str(n_test), "--seed", "7",
                                 "--quiet"])
    return {"generated_s": wall, "peak_rss_mb": rss}


def slakh_params(work: Path) -> Path:
    """params.yaml as for real Slakh: the drum split's audio heuristic."""
    import yaml

    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["index"]["drum_split"] = {}
    params["dataset"]["kind"] = "redux"
    path = work / "params.yaml"
    path.write_text(yaml.safe_dump(params, sort_keys=False))
    return path


def index_filter_prepare(root: Path, work: Path, stems: list[str], jobs: int, sample_rate_hz: int) -> dict:
    params = slakh_params(work)
    py = [sys.executable, "-m", "midi_extractor"]
    steps: dict[str, dict] = {"index": {}, "filter": {}, "prepare": {}}
    for stem in stems:
        steps["index"][stem] = run_measured([*py, "build-index", "--dataset-root", str(root), "--stems", stem,
                                             "--out-dir", str(work), "--params", str(params), "--jobs", str(jobs)])[:2]
        steps["filter"][stem] = run_measured([*py, "filter-index", "--index-dir", str(work), "--stems", stem,
                                              "--params", str(params), "--jobs", str(jobs)])[:2]
        steps["prepare"][stem] = run_measured([*py, "prepare", "--index", str(work / f"filtered_dataset_{stem}.json"),
                                               "--out-dir", str(work / "prepared" / stem), "--sample-rate",
                                               str(sample_rate_hz), "--jobs", str(jobs)])[:2]
    return {name: {"wall_s": sum(w for w, _ in per.values()), "peak_rss_mb": max(r for _, r in per.values()),
                   "per_stem": {s: {"wall_s": round(w, 2), "peak_rss_mb": round(r, 1)} for s, (w, r) in per.items()}}
            for name, per in steps.items()}


# ---------------------------------------------------------------- loader probe
def loader_probe(index: str, role: str, mode: str, items: int) -> dict:
    """One worker's clips/s and peak RSS (run in its own process by :func:`loader_rates`)."""
    import resource

    import torch

    from midi_extractor import taxonomy as tx
    from midi_extractor.config import load_params
    from midi_extractor.train.augment import AugmentPolicy
    from midi_extractor.train.clips import TranscriptionDataset

    torch.set_num_threads(1)
    params = load_params(REPO / "params.yaml")
    stem = ROLE_STEMS[role]
    drums = list(tx.MODEL_DRUM_CLASSES) if role == "percussive" else None
    policy = AugmentPolicy.from_params(params.roles[role].augment, role)
    import tracemalloc

    tracemalloc.start()
    ds = TranscriptionDataset(index, "train", params.features, CLIP_S, drums, policy, seed=0, deterministic=False,
                              cache_audio=False, augment_on_device=(mode == "device"), clips_per_epoch=4 * items + 64)
    index_bytes = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    ds[0]
    t0 = time.perf_counter()
    for i in range(1, items + 1):
        ds[i]
    rate = items / (time.perf_counter() - t0)
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    # the same through a DataLoader with one worker process (collate + IPC): after the worker's
    # first batch, the batches it had prefetched (prefetch_factor) are not counted as made in the
    # timed span, so the rate is not inflated by a short run
    batch, prefetch = (BATCH if mode == "device" else 16), 2
    n_batches = max(prefetch + 2, items // batch)
    loader = torch.utils.data.DataLoader(ds, batch_size=batch, num_workers=1, prefetch_factor=prefetch)
    it = iter(loader)
    next(it)  # worker start-up
    t0 = time.perf_counter()
    for _ in range(n_batches):
        next(it)
    loader_rate = (n_batches - prefetch) * batch / (time.perf_counter() - t0)
    del it, loader  # the worker exits: its peak RSS is now the children's
    return {"stem": stem, "role": role, "mode": mode, "clips_per_s": rate, "dataloader_clips_per_s": loader_rate,
            "peak_rss_mb": rss_mb, "worker_peak_rss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
            "entries": len(ds.entries), "dataset_bytes_per_entry": index_bytes / max(1, len(ds.entries))}


def loader_rates(work: Path, items: int) -> list[dict]:
    rows = []
    for role, stem in ROLE_STEMS.items():
        for mode, index in (("source+cpu", work / f"filtered_dataset_{stem}.json"),
                            ("prepared+cpu", work / "prepared" / stem / "index.json"),
                            ("device", work / "prepared" / stem / "index.json")):
            n = items if mode == "device" else max(8, items // 6)
            _, _, out = run_measured([sys.executable, __file__, "--probe", str(index), role,
                                      "cpu" if mode != "device" else "device", str(n)])
            row = json.loads(out.strip().splitlines()[-1])
            row["mode"] = mode
            rows.append(row)
            print(f"  loader {stem:6s} {mode:13s} {row['clips_per_s']:8.1f} clips/s "
                  f"({row['dataloader_clips_per_s']:.1f} through a 1-worker DataLoader)  "
                  f"peak RSS {row['peak_rss_mb']:.0f} MiB (DataLoader worker {row['worker_peak_rss_mb']:.0f})", flush=True)
    return rows


def trainer_rss(work: Path, steps: int = 4) -> dict:
    """Peak RSS of a training process (small model, CPU) on the prepared bass layout at 20-s
    clips with one loader worker, augmentation per batch: the host side of a GPU run
    (on a GPU the activations live on the device)."""
    out = work / "trainer-probe"
    wall, rss, _ = run_measured([sys.executable, "-m", "midi_extractor", "train", str(work / "prepared" / "bass" /
                                 "index.json"), "--stem", "bass", "--out-dir", str(out), "--no-resume",
                                 "--clip-seconds", str(CLIP_S), "--batch-size", "16", "--epochs", "1",
                                 "--steps-per-epoch", str(steps), "--val-interval", str(steps), "--num-workers", "1",
                                 "--augment-on", "device", "--device", "cpu", "--no-progress"])
    return {"steps": steps, "batch": 16, "wall_s": wall, "peak_rss_mb": rss}


# ---------------------------------------------------------------- GPU side
def paper_flops(clip_s: float = CLIP_S) -> dict:
    """Forward+backward FLOPs of the ``paper`` model on one clip (88 pitches)."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from midi_extractor.config import load_params
    from midi_extractor.model.transcriber import create_model

    params = load_params(REPO / "params.yaml")
    fe = params.features
    model = create_model(fe, dataclasses.replace(params.model, size="paper"), 88)
    n = int(clip_s * fe.sample_rate_hz)
    frames = fe.n_frames(n)
    batch = {"audio": torch.randn(1, n), **{k: torch.zeros(1, frames, 88) for k in ("onset", "offset", "frame",
                                                                                     "velocity")}}
    counter = FlopCounterMode(display=False)
    with counter:
        _, losses = model.run_on_batch(batch)
        losses["total"].backward()
    counted = counter.get_total_flops()
    rnn = 0
    for m in model.modules():  # LSTM: 4 gates x (input + hidden) MACs per step and direction
        if isinstance(m, (torch.nn.LSTM, torch.nn.GRU)):
            gates = 4 if isinstance(m, torch.nn.LSTM) else 3
            dirs = 2 if m.bidirectional else 1
            rnn += 2 * gates * m.hidden_size * (m.input_size + m.hidden_size) * dirs * frames
    rnn_fb = 3 * rnn  # backward ~ 2x forward
    total = counted + rnn_fb
    return {"parameters_m": sum(p.numel() for p in model.parameters()) / 1e6, "frames": frames,
            "counted_gflop": counted / 1e9, "lstm_gflop": rnn_fb / 1e9, "gflop_per_clip": total / 1e9}


def gpu_estimates(gflop_per_clip: float) -> dict:
    workers = (GPU_BOX_CORES - GPUS_PER_BOX) // GPUS_PER_BOX
    out = {"workers_per_gpu": workers}
    for name, tflops in GPUS.items():
        clips = tflops * 1e3 / gflop_per_clip
        out[name] = {"assumed_tflops": tflops, "clips_per_s": clips,
                     "target_per_worker": 5 * clips / workers}
    return out


def epoch_estimates(gpu: dict, loader: list[dict], seconds: float) -> dict:
    """Epoch = the train split's audio in 20-s clips (``TranscriptionDataset`` default length)."""
    clips = REDUX_TRAIN_TRACKS * seconds / CLIP_S
    out = {"clips_per_epoch": clips}
    slowest = min(r["clips_per_s"] for r in loader if r["mode"] == "device") * gpu["workers_per_gpu"]
    for name in GPUS:
        rate = min(gpu[name]["clips_per_s"], slowest)
        out[name] = {"one_gpu_s": clips / rate, "two_gpus_s": clips / (2 * rate)}
    return out


def render_markdown(r: dict) -> str:
    """The RESULTS.md tables of one run's JSON."""
    n, scale = r["tracks"], REDUX_TRACKS / r["tracks"]
    lines = [f"| step (nine stems, one stage per stem as `dvc repro` runs them, --jobs {r['jobs']}) | {n} tracks | peak RSS | "
             f"redux, {REDUX_TRACKS} tracks, 16 cores (linear estimate) |", "|---|---|---|---|"]
    for name, step in r["steps"].items():
        how = f"x{scale:.1f} x {r['jobs']}/16 cores"
        lines.append(f"| {name} | {step['wall_s']:.1f} s | {step['peak_rss_mb']:.0f} MiB | "
                     f"{step['redux_16_cores_min']:.1f} min ({how}) |")
    lines += ["", "| stem (role) | reads | augmentation | clips/s, one worker | through a 1-worker DataLoader "
              "(batch 64; 16 for CPU augmentation) | worker peak RSS | dataset bytes per entry |", "|---|---|---|---|---|---|---|"]
    where = {"source+cpu": ("source FLAC 44.1 kHz + resample", "per clip, CPU"),
             "prepared+cpu": ("prepared int16", "per clip, CPU"),
             "device": ("prepared int16", "drawn; rendered per batch on the device")}
    for row in r["loader"]:
        reads, aug = where[row["mode"]]
        lines.append(f"| {row['stem']} ({row['role']}) | {reads} | {aug} | {row['clips_per_s']:.0f} | "
                     f"{row['dataloader_clips_per_s']:.0f} | {row['worker_peak_rss_mb']:.0f} MiB | "
                     f"{row['dataset_bytes_per_entry']:.0f} |")
    m, g = r["paper_model"], r["gpu"]
    lines += ["", f"`paper` model ({m['parameters_m']:.1f} M parameters, 88 pitches): "
              f"{m['gflop_per_clip']:.0f} GFLOP forward+backward per 20-s clip ({m['frames']} frames; "
              f"{m['counted_gflop']:.0f} counted by FlopCounterMode + {m['lstm_gflop']:.0f} for the LSTMs).", "",
              "| GPU | assumed sustained | clips/s one GPU consumes | loader need per worker (5x, "
              f"{g['workers_per_gpu']} workers per GPU) | epoch, one GPU | epoch, two GPUs |", "|---|---|---|---|---|---|"]
    e = r["epoch"]
    for name in GPUS:
        lines.append(f"| {name} | {g[name]['assumed_tflops']:.0f} TFLOPS | {g[name]['clips_per_s']:.0f} | "
                     f"{g[name]['target_per_worker']:.0f} clips/s | {e[name]['one_gpu_s']:.0f} s | "
                     f"{e[name]['two_gpus_s']:.0f} s |")
    t = r["trainer"]
    lines += ["", f"Trainer process (CPU, `small`, {t['batch']} x 20 s, one worker, {t['steps']} steps): peak RSS "
              f"{t['peak_rss_mb']:.0f} MiB."]
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--root", type=Path, default=Path("/tmp/slakh-scale/data"))
    ap.add_argument("--work", type=Path, default=None, help="indexes and prepared layout (default ROOT/../work)")
    ap.add_argument("--tracks", type=int, default=20)
    ap.add_argument("--seconds", type=float, default=240.0)
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--items", type=int, default=640, help="clips per loader probe (device mode; CPU modes /6)")
    ap.add_argument("--stems", default="bass,piano,drums,high_percs,guitar,strings_ensemble,synth_lead,"
                                        "synth_pad_fx,other")
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "slakh_scale.json")
    ap.add_argument("--only-loader", action="store_true",
                    help="rerun the loader probes only, into the saved JSON (--out) of a run on the same --work")
    ap.add_argument("--render", type=Path, default=None, help="print the tables of a saved run's JSON and stop")
    ap.add_argument("--probe", nargs=4, metavar=("INDEX", "ROLE", "MODE", "ITEMS"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.probe:
        print(json.dumps(loader_probe(args.probe[0], args.probe[1], args.probe[2], int(args.probe[3]))))
        return 0
    if args.render:
        print(render_markdown(json.loads(args.render.read_text())))
        return 0
    from midi_extractor.config import load_params

    os.environ.setdefault("MIDI_EXTRACTOR_TRACKING", "0")  # probes are not experiments
    work = args.work or args.root.parent / "work"
    work.mkdir(parents=True, exist_ok=True)
    result = {"date": time.strftime("%Y-%m-%d"), "machine": f"{platform.processor() or platform.machine()}, "
              f"{os.cpu_count()} cores", "tracks": args.tracks, "seconds": args.seconds, "jobs": args.jobs}
    if args.only_loader:
        result = json.loads(args.out.read_text())
        result["loader"] = loader_rates(work, args.items)
        result["loader_date"] = time.strftime("%Y-%m-%d %H:%M")
        result["epoch"] = epoch_estimates(result["gpu"], result["loader"], args.seconds)
        args.out.write_text(json.dumps(result, indent=1))
        print(render_markdown(result))
        return 0
    result["generate"] = generate(args.root, args.tracks, args.seconds)
    n_tracks = len(list(args.root.glob("*/Track*")))
    result["tracks"] = n_tracks
    print(f"{n_tracks} tracks under {args.root}", flush=True)
    stems = args.stems.split(",")
    sr = load_params(REPO / "params.yaml").features.sample_rate_hz
    result["steps"] = index_filter_prepare(args.root, work, stems, args.jobs, sr)
    scale = REDUX_TRACKS / n_tracks
    for name, step in result["steps"].items():
        step["redux_16_cores_min"] = step["wall_s"] * scale * args.jobs / 16 / 60
        print(f"  {name:8s} {step['wall_s']:7.1f} s for {n_tracks} tracks, peak RSS {step['peak_rss_mb']:.0f} MiB;"
              f" redux on 16 cores (linear): {step['redux_16_cores_min']:.1f} min", flush=True)
    result["loader"] = loader_rates(work, args.items)
    result["trainer"] = trainer_rss(work)
    print(f"  trainer (CPU, small, 16 x 20 s, 1 worker): peak RSS {result['trainer']['peak_rss_mb']:.0f} MiB",
          flush=True)
    result["paper_model"] = paper_flops()
    result["gpu"] = gpu_estimates(result["paper_model"]["gflop_per_clip"])
    result["epoch"] = epoch_estimates(result["gpu"], result["loader"], args.seconds)
    args.out.write_text(json.dumps(result, indent=1))
    print(render_markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
