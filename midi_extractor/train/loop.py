"""The training loop behind :func:`midi_extractor.train.run.train` and its helpers
(settings, keyed data, validation, outputs, RNG state); see training.py's docstring."""
from __future__ import annotations

import csv
import dataclasses
import hashlib
import json
import logging
import math
import os
import random
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from midi_extractor.train import distributed as ddp
from midi_extractor import taxonomy as tx
from midi_extractor.atomic import write_json
from midi_extractor.model.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from midi_extractor.config import Params, StemConfig

log = logging.getLogger(__name__)

OVERRIDE_FIELDS = ("epochs", "batch_size", "clip_seconds", "lr", "seed", "num_workers", "val_interval",
                   "early_stop_patience", "steps_per_epoch", "grad_clip")
HISTORY_FIELDS = ("step", "epoch", "lr", "loss_total", "loss_onset", "loss_offset", "loss_frame", "loss_velocity",
                  "grad_norm", "clips_per_s", "val_loss_total", "val_onset_precision", "val_onset_recall",
                  "val_onset_f1")


# ------------------------------------------------------------------ settings
def stem_settings(params: Params, stem: str, **overrides: Any) -> StemConfig:
    """``params.stems[stem]`` (defaults when absent) with non-None overrides applied."""
    base = params.stems.get(stem) or StemConfig(role=tx.role_of(stem, params.switches))
    unknown = set(overrides) - set(OVERRIDE_FIELDS)
    if unknown:
        raise TypeError(f"unknown training override(s): {', '.join(sorted(unknown))}")
    hints = {f.name: f.type for f in dataclasses.fields(StemConfig)}
    values = {k: (float(v) if hints[k] in ("float", float) else int(v)) for k, v in overrides.items() if v is not None}
    return dataclasses.replace(base, **values)


def _fingerprint(config: dict, index_path: Path) -> str:
    train = {k: v for k, v in config["train"].items() if k != "num_workers"}
    blob = json.dumps({**config, "train": train, "index_sha256": hashlib.sha256(index_path.read_bytes()).hexdigest()},
                      sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def lr_factor(step: int, total: int, warmup: int, floor: float = 0.02) -> float:
    """Linear warmup over ``warmup`` steps, then cosine down to ``floor``."""
    if step < warmup:
        return (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return floor + (1.0 - floor) * 0.5 * (1.0 + math.cos(math.pi * progress))


# ---------------------------------------------------------------------- data
class _Keyed(torch.utils.data.Dataset):
    """Random clips keyed ``(epoch, item)`` so an item is the same whenever it is drawn."""

    def __init__(self, dataset):
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, key):
        epoch, item = key
        self.dataset.set_epoch(epoch)
        if hasattr(self.dataset, "_calls"):  # data.py mixes a call counter into the seed
            self.dataset._calls = 0
        return self.dataset[item]


def _epoch_loader(dataset, epoch: int, first_step: int, steps: int, batch: int, info: ddp.DistInfo,
                  workers: int, seed: int, pin: bool):
    """Batches of steps ``first_step..steps-1`` of ``epoch``; returns ``(loader, n_skip)``:
    with workers, the loader starts at a multiple of ``workers`` so each batch
    goes to the same worker as in an uninterrupted epoch; skip ``n_skip`` batches."""
    skip = first_step % workers if workers > 0 else 0
    start = first_step - skip
    global_batch = batch * info.world_size
    batches = [[(epoch, s * global_batch + info.rank * batch + j) for j in range(batch)] for s in range(start, steps)]
    generator = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    loader = torch.utils.data.DataLoader(_Keyed(dataset), batch_sampler=batches, num_workers=workers,
                                         generator=generator, pin_memory=pin,
                                         persistent_workers=False)
    return loader, skip


def _to(batch: dict, device: torch.device) -> dict:
    return {k: (v.to(device, non_blocking=True) if torch.is_tensor(v) else v) for k, v in batch.items()}


# ---------------------------------------------------------------- validation
def _onset_counts(pred: dict, ref: dict, fe, drum_classes) -> tuple[int, int, int]:
    import mir_eval

    from midi_extractor.model.decoding import decode

    def notes(act):
        ns = decode(act, fe, drum_classes)
        iv = np.array([[n.start_s, n.end_s] for n in ns], dtype=float).reshape(-1, 2)
        hz = 440.0 * 2.0 ** ((np.array([n.pitch for n in ns], dtype=float) - 69) / 12.0)
        return iv, hz

    ri, rp = notes(ref)
    ei, ep = notes(pred)
    if len(ri) == 0 or len(ei) == 0:
        return 0, len(ri), len(ei)
    matched = mir_eval.transcription.match_notes(ri, rp, ei, ep, onset_tolerance=0.05, offset_ratio=None)
    return len(matched), len(ri), len(ei)


def validate(model, loader, device: torch.device, amp_dtype, drum_classes=None, with_f1: bool = True) -> dict:
    """Mean losses (``val_loss_*``) over the loader, plus micro onset precision/recall/F1
    (decoded activations vs decoded labels, mir_eval matching) when ``with_f1``."""
    model.eval()
    sums: dict[str, float] = {}
    n = 0
    tp = n_ref = n_est = 0
    fe = getattr(model, "front_end", None)
    with torch.no_grad():
        for batch in loader:
            batch = _to(batch, device)
            with torch.autocast(device.type, dtype=amp_dtype or torch.float32, enabled=amp_dtype is not None):
                preds, losses = model.run_on_batch(batch)
            b = batch["audio"].shape[0]
            n += b
            for k, v in losses.items():
                sums[k] = sums.get(k, 0.0) + float(v) * b
            if with_f1 and fe is not None:
                for i in range(b):
                    p = {k: preds[k][i].float().cpu().numpy() for k in ("onset", "frame", "velocity")}
                    r = {k: batch[k][i].float().cpu().numpy() for k in ("onset", "frame", "velocity")}
                    c = _onset_counts(p, r, fe, drum_classes)
                    tp, n_ref, n_est = tp + c[0], n_ref + c[1], n_est + c[2]
    model.train()
    out = {f"val_loss_{k}": v / max(n, 1) for k, v in sums.items()}
    if with_f1 and fe is not None:
        p = tp / n_est if n_est else 0.0
        r = tp / n_ref if n_ref else 0.0
        out.update(val_onset_precision=p, val_onset_recall=r, val_onset_f1=(2 * p * r / (p + r)) if p + r else 0.0)
    return out


def _decoding_available() -> bool:
    try:
        import mir_eval  # noqa: F401

        from midi_extractor.model import decoding  # noqa: F401
        return True
    except ImportError:
        return False


# ------------------------------------------------------------------- outputs
def _write_history(path: Path, rows: list[dict]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=HISTORY_FIELDS, extrasaction="ignore")
        w.writeheader()
        for row in rows:
            w.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()})
    os.replace(tmp, path)


def _read_history(path: Path, up_to_step: int) -> list[dict]:
    if not path.is_file():
        return []
    with path.open() as f:
        rows = [{k: v for k, v in r.items() if v not in ("", None)} for r in csv.DictReader(f)]
    return [r for r in rows if int(float(r.get("step", 0))) <= up_to_step]


def _rng_state() -> dict:
    np_state = np.random.get_state()
    state = {"torch": torch.get_rng_state(), "numpy_keys": torch.from_numpy(np_state[1].astype(np.int64)),
             "numpy_pos": int(np_state[2]), "python": list(random.getstate()[1]),
             "python_version": int(random.getstate()[0])}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    np.random.set_state(("MT19937", state["numpy_keys"].numpy().astype(np.uint32), state["numpy_pos"], 0, 0.0))
    random.setstate((state["python_version"], tuple(state["python"]), None))
    if "cuda" in state and torch.cuda.is_available() and len(state["cuda"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(state["cuda"])



# ---------------------------------------------------------------------- train
def _with_root(index_path: Path, data_root: str | Path | None, tmp: Path) -> Path:
    """The index, or a copy of it whose ``dataset_root`` is ``data_root`` (absolute)."""
    if data_root is None:
        return index_path
    data = json.loads(index_path.read_text())
    data["dataset_root"] = str(Path(data_root).resolve())
    out = tmp / index_path.name
    out.write_text(json.dumps(data))
    return out


def _datasets(index_path: Path, stem: str, params: Params, s: StemConfig, drum_classes, val_clips_per_track: int):
    from midi_extractor.train.augment import AugmentPolicy
    from midi_extractor.train.clips import DataError, TranscriptionDataset

    role = tx.role_of(stem, params.switches)
    policy = AugmentPolicy.from_params(params.roles[role].augment, role) if role in params.roles else None
    train_ds = TranscriptionDataset(index_path, "train", params.features, s.clip_seconds, drum_classes, policy,
                                    s.seed, deterministic=False)
    try:
        val_ds = TranscriptionDataset(index_path, "validation", params.features, s.clip_seconds, drum_classes,
                                      None, s.seed, deterministic=True, max_clips_per_track=val_clips_per_track)
    except DataError as exc:
        log.warning("no validation clips (%s); best.pt follows last.pt", exc)
        val_ds = None
    return train_ds, val_ds


def _better(new: dict, best: tuple | None) -> tuple[bool, tuple]:
    key = (new.get("val_onset_f1", 0.0), -new.get("val_loss_total", 0.0))
    return best is None or key > tuple(best), key


def train(index_path: str | Path, stem: str, out_dir: str | Path, params: Params | None = None, *,
          epochs: int | None = None, batch_size: int | None = None, clip_seconds: float | None = None,
          lr: float | None = None, seed: int | None = None, num_workers: int | None = None,
          val_interval: int | None = None, early_stop_patience: int | None = None,
          steps_per_epoch: int | None = None, grad_clip: float | None = None, device: str | None = "auto",
          data_root: str | Path | None = None, resume: bool = True, log_every: int = 10,
          progress: bool = True, amp: bool | None = None, val_clips_per_track: int = 4,
          with_f1: bool | None = None, weights_out: str | Path | None = None) -> dict[str, Any]:
    """Train ``stem``'s model on ``index_path`` (a filtered index) into ``out_dir``;
    keyword overrides beat ``params.stems[stem]``. Returns the summary written to
    ``out_dir/summary.json`` (on every rank; only rank 0 writes files).
    ``weights_out`` (tests, debugging): every rank also saves its final state
    dict to ``str(weights_out).format(rank=rank)``."""
    from midi_extractor.model.transcriber import Transcriber
    from midi_extractor import tracking

    t_start = time.time()
    params = params or Params()
    s = stem_settings(params, stem, epochs=epochs, batch_size=batch_size, clip_seconds=clip_seconds, lr=lr,
                      seed=seed, num_workers=num_workers, val_interval=val_interval,
                      early_stop_patience=early_stop_patience, steps_per_epoch=steps_per_epoch, grad_clip=grad_clip)
    role = tx.role_of(stem, params.switches)
    drum_classes = list(tx.STEM_DRUM_CLASSES[stem]) if stem in tx.STEM_DRUM_CLASSES else None
    out_dir = Path(out_dir)
    index_path = Path(index_path)
    info, dev = ddp.setup(device)
    main = info.is_main
    if main:
        out_dir.mkdir(parents=True, exist_ok=True)
    # Trained GRUs produce subnormal floats that slow CPU arithmetic ~9x (see inference.run_model).
    torch.set_flush_denormal(True)
    random.seed(s.seed)
    np.random.seed(s.seed % 2**32)
    torch.manual_seed(s.seed)
    with tempfile.TemporaryDirectory() as tmp:
        train_ds, val_ds = _datasets(_with_root(index_path, data_root, Path(tmp)), stem, params, s, drum_classes,
                                     val_clips_per_track)
    n_outputs = len(drum_classes) if drum_classes else params.features.n_pitches
    model = Transcriber(params.features, params.model, n_outputs, params.role(stem)).to(dev)
    config = {**model.config_dict(), "drum_classes": drum_classes, "train": dataclasses.asdict(s)}
    fingerprint = _fingerprint(config, index_path)
    use_amp = dev.type == "cuda" if amp is None else (bool(amp) and dev.type == "cuda")
    amp_dtype = (torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16) if use_amp else None
    scaler = torch.amp.GradScaler("cuda", enabled=amp_dtype == torch.float16)
    optimizer = torch.optim.AdamW(model.parameters(), lr=s.lr, weight_decay=1e-4)
    total = s.epochs * s.steps_per_epoch
    warmup = max(1, min(200, total // 20))
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda k: lr_factor(k, total, warmup))

    step, best_key, best_metric, bad_validations, run_id, resumed_from = 0, None, None, 0, None, None
    history: list[dict] = []
    last_path, best_path = out_dir / "last.pt", out_dir / "best.pt"
    if resume and last_path.is_file():
        try:
            ck = load_checkpoint(last_path)
        except CheckpointError as exc:
            log.warning("cannot resume: %s; starting afresh", exc)
            ck = None
        state = (ck or {}).get("train_state") or {}
        if ck is not None and state.get("fingerprint") != fingerprint:
            log.warning("%s was written with other settings or data; starting afresh", last_path)
        elif ck is not None and (state.get("stopped") or int(ck["step"]) >= total):
            log.info("%s is a finished run; training afresh", last_path)  # e.g. `dvc repro` after a code change
        elif ck is not None:
            model.load_state_dict(ck["model"])
            optimizer.load_state_dict(ck["optimizer"])
            scheduler.load_state_dict(ck["scheduler"])
            if ck["scaler"]:
                scaler.load_state_dict(ck["scaler"])
            step = resumed_from = int(ck["step"])
            best_metric, best_key = ck["best_metric"], state.get("best_key")
            bad_validations, run_id = int(state.get("bad_validations", 0)), state.get("mlflow_run_id")
            _set_rng_state(state["rng"])
            history = _read_history(out_dir / "history.csv", step)
            log.info("resuming %s from %s at step %d of %d", stem, last_path, step, total)
    inner = model
    if info.enabled:
        model = torch.nn.parallel.DistributedDataParallel(  # a 0-weight head gets no gradient
            model, device_ids=[dev.index] if dev.type == "cuda" else None,
            find_unused_parameters=any(w == 0 for w in inner.loss_weights.values()))
    with_f1 = _decoding_available() if with_f1 is None else with_f1
    val_loader = None
    if val_ds is not None and main:
        val_loader = torch.utils.data.DataLoader(val_ds, batch_size=s.batch_size, shuffle=False)
    tracker = tracking.Tracker()
    if main:
        tracker = tracking.start_run(params.tracking.experiment, f"train-{stem}",
                                     {"stem": stem, "role": role, "dataset": str(index_path),
                                      "dataset_root": str(data_root or train_ds.root), "device": str(dev),
                                      "world_size": info.world_size}, run_id=run_id)
        tracker.log_params({"stem": stem, "role": role, "train": dataclasses.asdict(s),
                            "features": dataclasses.asdict(params.features), "model": dataclasses.asdict(params.model),
                            "loss_weights": inner.loss_weights, "n_outputs": n_outputs,
                            "n_parameters": sum(p.numel() for p in inner.parameters()),
                            "world_size": info.world_size, "amp": str(amp_dtype)})

    def checkpoint(stopped: bool) -> dict:
        return {"model": inner.state_dict(), "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(), "scaler": scaler.state_dict(), "step": step,
                "epoch": step // s.steps_per_epoch, "best_metric": best_metric, "config": config, "stem": stem,
                "role": role, "taxonomy_version": tx.TAXONOMY_VERSION,
                "train_state": {"fingerprint": fingerprint, "rng": _rng_state(), "best_key": best_key,
                                "bad_validations": bad_validations, "mlflow_run_id": tracker.run_id,
                                "stopped": stopped, "global_batch": s.batch_size * info.world_size}}

    from tqdm.auto import tqdm

    bar = tqdm(total=total, initial=step, desc=f"train {stem}", disable=not (main and progress), unit="step")
    window: dict[str, float] = {}
    window_n, clips_done, train_time, stopped, last_val = 0, 0, 0.0, False, {}
    tick = time.perf_counter()
    model.train()
    try:
        while step < total and not stopped:
            epoch, first = divmod(step, s.steps_per_epoch)
            loader, skip = _epoch_loader(train_ds, epoch, first, s.steps_per_epoch, s.batch_size, info,
                                         s.num_workers, s.seed, dev.type == "cuda")
            for k, batch in enumerate(loader):
                if k < skip:
                    continue
                batch = _to(batch, dev)
                with torch.autocast(dev.type, dtype=amp_dtype or torch.float32, enabled=use_amp):
                    logits = model(batch["audio"])
                    losses = inner.compute_losses(logits, batch)
                optimizer.zero_grad(set_to_none=True)
                scaler.scale(losses["total"]).backward()
                scaler.unscale_(optimizer)
                grad_norm = torch.nn.utils.clip_grad_norm_(inner.parameters(), s.grad_clip if s.grad_clip > 0
                                                           else float("inf"))
                scaler.step(optimizer)
                scaler.update()
                scheduler.step()
                step += 1
                clips_done += batch["audio"].shape[0] * info.world_size
                for name, v in losses.items():  # tensors: no device sync until the log step
                    window[name] = window.get(name, 0.0) + v.detach().float()
                window["grad_norm"] = window.get("grad_norm", 0.0) + grad_norm.detach().float()
                window_n += 1
                row = None
                if step % log_every == 0 or step == total:
                    now = time.perf_counter()
                    train_time += now - tick
                    tick = now
                    row = {"step": step, "epoch": epoch, "lr": optimizer.param_groups[0]["lr"],
                           **{f"loss_{k}" if k != "grad_norm" else k: float(v) / window_n for k, v in window.items()},
                           "clips_per_s": clips_done / train_time if train_time else 0.0}
                    window, window_n = {}, 0
                    bar.set_postfix(loss=f"{row['loss_total']:.4f}", clips_s=f"{row['clips_per_s']:.1f}")
                bar.update(1)
                if step % s.val_interval == 0 or step == total:
                    now = time.perf_counter()
                    train_time += now - tick
                    stop_here = False
                    if main:
                        if val_loader is not None:
                            last_val = validate(inner, val_loader, dev, amp_dtype, drum_classes, with_f1)
                            improved, key = _better(last_val, best_key)
                        else:
                            last_val, improved, key = {}, True, None
                        if improved:
                            best_key, bad_validations = key, 0
                            best_metric = last_val.get("val_onset_f1" if with_f1 else "val_loss_total")
                        else:
                            bad_validations += 1
                        stop_here = bool(s.early_stop_patience and bad_validations >= s.early_stop_patience)
                        row = {**(row or {"step": step, "epoch": epoch, "lr": optimizer.param_groups[0]["lr"]}),
                               **last_val}
                        history.append(row)  # history first: a kill before the checkpoint is trimmed on resume
                        _write_history(out_dir / "history.csv", history)
                        tracker.log_metrics({k: v for k, v in row.items() if k not in ("step", "epoch")}, step,
                                            flush=True)
                        ck = checkpoint(stop_here)
                        save_checkpoint(last_path, ck)
                        if improved:
                            save_checkpoint(best_path, ck)
                    row = None
                    stopped = ddp.broadcast_flag(info, stop_here, dev)
                    tick = time.perf_counter()
                if row is not None and main:
                    history.append(row)
                    tracker.log_metrics({k: v for k, v in row.items() if k not in ("step", "epoch")}, step)
                if stopped:
                    log.info("early stop at step %d: %d validations without improvement", step, bad_validations)
                    break
        if main and not best_path.is_file():  # no validation ran (zero steps)
            save_checkpoint(last_path, checkpoint(stopped))
            save_checkpoint(best_path, checkpoint(stopped))
    except BaseException:
        bar.close()
        tracker.end("FAILED" if main else "FINISHED")
        ddp.teardown(info)
        raise
    bar.close()
    final = {k: float(v) for k, v in history[-1].items() if k.startswith("loss_")} if history else {}
    summary = {"stem": stem, "role": role, "steps": step, "total_steps": s.epochs * s.steps_per_epoch,
               "epochs_completed": step / s.steps_per_epoch, "stopped_early": stopped,
               "best_metric_name": "val_onset_f1" if with_f1 else "val_loss_total", "best_metric": best_metric,
               "final_losses": final, "final_validation": last_val,
               "throughput_clips_per_s": clips_done / train_time if train_time else 0.0,
               "wall_time_s": time.time() - t_start, "device": str(dev),
               "device_name": torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu",
               "world_size": info.world_size, "amp": str(amp_dtype) if amp_dtype else None,
               "resumed_from_step": resumed_from, "n_parameters": sum(p.numel() for p in inner.parameters()),
               "mlflow_run_id": tracker.run_id, "rank": info.rank,
               "checkpoints": {"best": str(best_path), "last": str(last_path)},
               "params": {**dataclasses.asdict(s), "model": dataclasses.asdict(params.model)}}
    if weights_out is not None:
        torch.save(inner.state_dict(), str(weights_out).format(rank=info.rank))
    if main:
        write_json(out_dir / "summary.json", summary, indent=2, default=str)
        tracker.log_metrics({"throughput_clips_per_s": summary["throughput_clips_per_s"],
                             "wall_time_s": summary["wall_time_s"]}, step, flush=True)
        tracker.log_artifact(out_dir / "summary.json")
        tracker.log_artifact(out_dir / "history.csv")
        tracker.log_checkpoint_ref(best_path, "best")
        tracker.end()
    ddp.teardown(info)
    return summary
