"""Loader throughput vs what a training step consumes.

    python benchmarks/bench_loader.py [--index data/index/filtered_dataset_bass.json]
        [--stem bass] [--batch 16] [--clip-seconds 4] [--steps 10] [--items 64]

Loader: clips/s of one worker (``TranscriptionDataset.__getitem__`` in this
process, one torch thread), random training clips with the role's
augmentation from params.yaml, with the whole-set audio cache and with
windowed reads (``cache_audio=False``), plus without augmentation.
Training step: clips/s of forward + backward + Adam step of the ``small``
model on a batch (audio already in memory), on CPU with 1 and 2 threads, and
on CUDA when present. The loader keeps up when workers x clips/s per worker
>= the step's clips/s.

Without ``--index`` (or when it is missing) a small sine data set is written
to a temporary folder.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from midi_extractor import taxonomy as tx  # noqa: E402
from midi_extractor.train.augment import AugmentPolicy  # noqa: E402
from midi_extractor.config import ModelConfig, load_params  # noqa: E402
from midi_extractor.train.clips import TranscriptionDataset  # noqa: E402
from midi_extractor.model.transcriber import Transcriber, create_model, loss_weights_from_role  # noqa: E402


def _sine_set(folder: Path, n_tracks: int = 8, seconds: float = 24.0, sr: int = 16000) -> Path:
    import pretty_midi
    import soundfile as sf

    rng = np.random.default_rng(0)
    entries = []
    for k in range(n_tracks):
        name = f"Track{k:05d}"
        (folder / name / "stems").mkdir(parents=True)
        (folder / name / "MIDI").mkdir()
        pm = pretty_midi.PrettyMIDI()
        inst = pretty_midi.Instrument(33)
        t = 0.1
        while t < seconds - 0.5:
            d = float(rng.uniform(0.1, 0.5))
            inst.notes.append(pretty_midi.Note(int(rng.integers(60, 110)), int(rng.integers(28, 60)), t, t + d))
            t += d + float(rng.uniform(0, 0.2))
        pm.instruments.append(inst)
        pm.write(str(folder / name / "MIDI" / "S00.mid"))
        y = pm.synthesize(fs=sr)[: int(seconds * sr)]
        sf.write(str(folder / name / "stems" / "S00.flac"), (0.5 * y / max(np.abs(y).max(), 1e-9)), sr)
        entries.append({"track": name, "stem_id": "S00", "split": "validation" if k == 0 else "train",
                        "audio": f"{name}/stems/S00.flac", "midi": f"{name}/MIDI/S00.mid"})
    index = folder / "index.json"
    index.write_text(json.dumps({"stem": "bass", "dataset_root": str(folder), "entries": entries}))
    return index


def loader_rate(ds: TranscriptionDataset, items: int) -> float:
    ds[0]  # warm caches (MIDI parse, imports)
    t0 = time.perf_counter()
    for i in range(1, items + 1):
        ds[i % len(ds)]
    return items / (time.perf_counter() - t0)


def step_rate(model: Transcriber, batch: dict, steps: int, device: str) -> float:
    model = model.to(device).train()
    batch = {k: v.to(device) for k, v in batch.items()}
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)

    def step():
        _, losses = model.run_on_batch(batch)
        opt.zero_grad()
        losses["total"].backward()
        opt.step()

    for _ in range(2):
        step()
    if device == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    if device == "cuda":
        torch.cuda.synchronize()
    return steps * batch["audio"].shape[0] / (time.perf_counter() - t0)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--index", default="data/index/filtered_dataset_bass.json")
    ap.add_argument("--stem", default="bass")
    ap.add_argument("--params", default="params.yaml")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--clip-seconds", type=float, default=4.0)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--items", type=int, default=64)
    ap.add_argument("--size", default="small")
    args = ap.parse_args(argv)

    params = load_params(args.params)
    fe = params.features
    role = params.role(args.stem)
    role_name = tx.role_of(args.stem, params.switches)
    drum_classes = tx.STEM_DRUM_CLASSES.get(args.stem)
    policy = AugmentPolicy.from_params(role.augment, role_name)
    tmp = None
    index = Path(args.index)
    if not index.exists():
        tmp = tempfile.TemporaryDirectory()
        index = _sine_set(Path(tmp.name))
        print(f"(no {args.index}: using 8 generated 24 s sine tracks)")
    torch.set_num_threads(1)
    torch.set_flush_denormal(True)  # trained GRUs drift into subnormals (see Transcription)
    rates = {}
    for name, kw in (("cached audio + augment", dict(cache_audio=True, augment_policy=policy)),
                     ("windowed reads + augment", dict(cache_audio=False, augment_policy=policy)),
                     ("cached audio, no augment", dict(cache_audio=True, augment_policy=None))):
        ds = TranscriptionDataset(index, "train", fe, args.clip_seconds, drum_classes, seed=0, **kw)
        rates[name] = loader_rate(ds, args.items)
    n_out = ds.n_outputs
    batch = {k: torch.stack([ds[i][k] for i in range(args.batch)]) for k in ("audio", "onset", "offset", "frame", "velocity")}
    model = create_model(fe, ModelConfig(size=args.size), n_out, loss_weights_from_role(role))
    steps = {}
    for threads in (1, 2):
        torch.set_num_threads(threads)
        steps[f"cpu, {threads} thread(s)"] = step_rate(model, batch, args.steps, "cpu")
    if torch.cuda.is_available():
        steps["cuda"] = step_rate(model, batch, max(args.steps, 20), "cuda")
    print(f"stem {args.stem} ({role_name}), {len(ds.entries)} train entries, clips {args.clip_seconds} s, "
          f"augment {role.augment}")
    print("loader, one worker (clips/s):")
    for k, v in rates.items():
        print(f"  {k:28s} {v:8.1f}")
    print(f"training step, {args.size} model, batch {args.batch} x {args.clip_seconds} s (clips/s):")
    for k, v in steps.items():
        need = v / rates["windowed reads + augment"]
        print(f"  {k:28s} {v:8.1f}   ({v / args.batch:.2f} steps/s; workers needed: "
              f"{v / rates['cached audio + augment']:.2f} cached, {need:.2f} windowed)")
    if tmp:
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
