"""Train one stem's transcription model: ``train(...)`` and the ``train`` /
``train-per-stem`` commands.

Loop: forward under autocast (AMP on CUDA only: bf16 when supported, else fp16
with a GradScaler) -> backward -> ``scaler.unscale_`` -> ``clip_grad_norm_`` ->
``scaler.step`` -> ``scaler.update`` -> ``scheduler.step`` (linear warmup, then
cosine). Every ``val_interval`` steps (and at the end) rank 0 validates on the
deterministic validation clips (loss, and onset P/R/F1 through ``decoding`` +
``mir_eval``), writes ``last.pt`` and, on a better validation figure
(onset F1, ties broken by lower loss), ``best.pt`` -- both atomically.

Outputs in ``out_dir``: ``best.pt``, ``last.pt`` (contract 2), ``summary.json``
and ``history.csv`` (one row per ``log_every`` steps, validation columns
filled on validation steps).

Exact resumption: the data of step ``s`` depends only on ``(seed, epoch, s)``
(item keys ``s * global_batch + rank * batch + j``; a per-epoch DataLoader
generator), and ``last.pt`` carries the torch/CUDA/numpy/python RNG states, so
a run killed after a checkpoint continues with the very losses an
uninterrupted run would have had. ``last.pt`` is used only when its config and
index fingerprint match; otherwise training starts afresh (with a warning).

Under ``torchrun --nproc-per-node N`` the model is wrapped in
DistributedDataParallel and each rank draws its own shard of the step's items
(``batch_size`` is per rank)::

    torchrun --nproc-per-node 2 -m midi_extractor.cli train data/index/filtered_dataset_bass.json \
        --stem bass --out-dir models/bass
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import sys
import typing
from pathlib import Path
from typing import Any, Sequence

from midi_extractor import taxonomy as tx
from midi_extractor.atomic import write_json
from midi_extractor.config import ConfigError, Params, PretrainConfig, RoleConfig, StemConfig, _coerce, resolve_params

log = logging.getLogger(__name__)

#: StemConfig fields a caller (or a CLI flag) may override per run
OVERRIDE_FIELDS = tuple(f.name for f in dataclasses.fields(StemConfig) if f.name not in ("role", "base", "loss_weights"))
_RUN_OPTIONS = ("device", "resume", "log_every", "progress", "amp", "val_clips_per_track", "weights_out")


def stem_settings(params: Params, stem: str, **overrides: Any) -> StemConfig:
    """``params.stems[stem]`` (defaults when absent) with non-None overrides applied, each
    coerced by its field's type and the result checked (:meth:`StemConfig.check`)."""
    base = params.stems.get(stem) or StemConfig(role=tx.role_of(stem, params.switches))
    unknown = set(overrides) - set(OVERRIDE_FIELDS)
    if unknown:
        raise TypeError(f"unknown training override(s): {', '.join(sorted(unknown))}")
    hints = typing.get_type_hints(StemConfig)
    values = {k: _coerce(v, hints[k], f"override {k}") for k, v in overrides.items() if v is not None}
    settings = dataclasses.replace(base, **values)
    settings.check(f"stems.{stem}")
    return settings


def _run_kwargs(kwargs: dict) -> tuple[dict, dict]:
    run = {k: kwargs.pop(k) for k in list(kwargs) if k in _RUN_OPTIONS}
    return run, kwargs


def train(index_path: str | Path, stem: str, out_dir: str | Path, params: Params | None = None, *,
          data_root: str | Path | None = None, init_from: str | Path | None = None, **kwargs: Any) -> dict[str, Any]:
    """Train ``stem``'s model on ``index_path`` (a filtered index) into ``out_dir``.

    ``init_from``: a base checkpoint to fine-tune from (``models/_base/<base>/best.pt``).
    Keyword arguments are either :data:`OVERRIDE_FIELDS` (beat ``params.stems[stem]``) or
    run options (``device``, ``resume``, ``log_every``, ``progress``, ``amp``,
    ``val_clips_per_track``, ``weights_out``; see :func:`midi_extractor.train.fit.fit`).
    Returns the summary written to ``out_dir/summary.json``."""
    from midi_extractor.train.fit import fit
    from midi_extractor.train.loop import Job

    params = params or Params()
    run, overrides = _run_kwargs(dict(kwargs))
    settings = stem_settings(params, stem, **overrides)
    classes = tx.MODEL_DRUM_CLASSES.get(stem)
    job = Job(stem, tx.role_of(stem, params.switches), settings, params.role(stem), params, Path(index_path),
              Path(out_dir), list(classes) if classes else None, data_root, Path(init_from) if init_from else None)
    return fit(job, **run)


def merge_indexes(index_paths: Sequence[str | Path], out: str | Path) -> Path:
    """One index holding every entry of ``index_paths`` (which must share a dataset_root),
    written atomically to ``out``: the training set of a shared base model."""
    entries, roots = [], set()
    for path in index_paths:
        data = json.loads(Path(path).read_text())
        roots.add(data.get("dataset_root", "."))
        entries += [{**e, "source_index": Path(path).name} for e in data.get("entries", [])]
    if len(roots) > 1:
        raise ConfigError(f"indexes {', '.join(map(str, index_paths))} point at different data sets: {sorted(roots)}")
    return write_json(out, {"dataset_root": roots.pop() if roots else ".", "entries": entries}, indent=1)


def pretrain(name: str, index_paths: Sequence[str | Path], out_dir: str | Path, params: Params, *,
             data_root: str | Path | None = None, **run: Any) -> dict[str, Any]:
    """Train the shared base ``params.pretrain[name]`` on the union of ``index_paths`` (its
    stems' filtered indexes) into ``out_dir`` (``best.pt``, ``index.json`` = the union)."""
    from midi_extractor.train.fit import fit
    from midi_extractor.train.loop import Job

    if name not in params.pretrain:
        raise ConfigError(f"pretrain base {name!r} is not in params (listed: {', '.join(params.pretrain) or 'none'})")
    cfg: PretrainConfig = params.pretrain[name]
    out_dir = Path(out_dir)
    index = merge_indexes(index_paths, out_dir / "index.json")
    role_config = dataclasses.replace(params.roles.get(cfg.role, RoleConfig()),
                                      **{f"{k}_weight": float(v) for k, v in cfg.loss_weights.items()})
    classes = tx.MODEL_DRUM_CLASSES.get(cfg.drum_stem)
    job = Job(f"base-{name}", cfg.role, cfg, role_config, params, index, out_dir,
              list(classes) if classes else None, data_root)
    return fit(job, **run)


# ---------------------------------------------------------------- per stem
def train_per_stem(dataset_root: str | Path, stems: str | list[str], outdir: str | Path = "models",
                   params: Params | str | Path | None = None, index_dir: str | Path = "data/index",
                   **overrides: Any) -> dict[str, dict]:
    """Index, filter and train each stem in turn; returns ``{stem: summary}`` and
    writes ``outdir/train_per_stem.json``. A stem that fails is reported, not fatal."""
    from midi_extractor.dataset.filtering import filter_indices
    from midi_extractor.dataset.indexing import build_indices, parse_stems

    params = resolve_params(params)
    stems = parse_stems(stems)
    build_indices(dataset_root, stems, index_dir, params.switches, params.index.drum_split)
    filter_indices(index_dir, stems, params.index.filter)
    results: dict[str, dict] = {}
    for stem in stems:
        try:
            results[stem] = train(Path(index_dir) / f"filtered_dataset_{stem}.json", stem, Path(outdir) / stem,
                                  params, **overrides)
        except Exception as exc:  # noqa: BLE001 - one stem's failure must not stop the others
            log.error("training %s failed: %s", stem, exc)
            results[stem] = {"stem": stem, "error": f"{type(exc).__name__}: {exc}"}
    Path(outdir).mkdir(parents=True, exist_ok=True)
    write_json(Path(outdir) / "train_per_stem.json", results, indent=2, default=str)
    return results


def format_table(results: dict[str, dict]) -> str:
    head = f"{'stem':<12} {'role':<11} {'steps':>6} {'best metric':>22} {'loss':>8} {'clips/s':>8} {'wall s':>7}"
    lines = [head, "-" * len(head)]
    for stem, s in results.items():
        if "error" in s:
            lines.append(f"{stem:<12} FAILED: {s['error']}")
            continue
        best = s.get("best_metric")
        best_txt = f"{s.get('best_metric_name', '')}={best:.4f}" if isinstance(best, (int, float)) else "-"
        loss = s.get("final_losses", {}).get("loss_total")
        lines.append(f"{stem:<12} {s.get('role', ''):<11} {s.get('steps', 0):>6} {best_txt:>22} "
                     f"{(loss if loss is not None else float('nan')):>8.4f} {s.get('throughput_clips_per_s', 0):>8.2f} "
                     f"{s.get('wall_time_s', 0):>7.1f}")
    return "\n".join(lines)


# ----------------------------------------------------------------------- CLI
_FLAG_HELP = {"num_workers": "DataLoader worker processes", "val_interval": "steps between validations",
              "early_stop_patience": "validations without improvement; 0 = off",
              "grad_clip": "max gradient norm; 0 = off"}


def _add_overrides(p: argparse.ArgumentParser) -> None:
    """One flag per :data:`OVERRIDE_FIELDS` entry, generated from StemConfig's fields so the
    CLI cannot drift from the params (``--num-workers``, alias ``--workers``)."""
    p.add_argument("--params", default=None, help="params.yaml (default: ./params.yaml when present)")
    hints = typing.get_type_hints(StemConfig)
    for name in OVERRIDE_FIELDS:
        flags = [f"--{name.replace('_', '-')}"] + (["--workers"] if name == "num_workers" else [])
        p.add_argument(*flags, dest=name, type=hints[name], help=_FLAG_HELP.get(name, f"overrides stems.<stem>.{name}"))
    p.add_argument("--device", default="auto", help="auto (CUDA if available), cpu, cuda, cuda:N")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def _overrides(args) -> dict:
    return {k: getattr(args, k) for k in OVERRIDE_FIELDS if getattr(args, k, None) is not None}


def _cmd_train(args) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    from midi_extractor.index_io import DataError

    try:
        summary = train(args.index, args.stem, args.out_dir, resolve_params(args.params), device=args.device,
                        data_root=args.data, init_from=args.init_from, resume=not args.no_resume,
                        progress=not args.no_progress, log_every=args.log_every, **_overrides(args))
    except (ConfigError, DataError, FileNotFoundError) as exc:
        if getattr(args, "verbose", False):
            raise
        print(f"midi-extractor train: error: {exc}", file=sys.stderr)
        return 2
    if summary.get("rank", 0) == 0:
        print(json.dumps({k: v for k, v in summary.items() if k != "params"}, indent=2))
    return 0


def _cmd_train_per_stem(args) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    results = train_per_stem(args.dataset_root, args.stems, args.outdir, resolve_params(args.params), args.index_dir,
                             device=args.device, progress=not args.no_progress, **_overrides(args))
    print(format_table(results))
    print(json.dumps({s: {k: v for k, v in r.items() if k != "params"} for s, r in results.items()}, indent=2))
    return 1 if any("error" in r for r in results.values()) else 0


def add_cli(subparsers) -> None:
    p = subparsers.add_parser("train", help="train one stem's model from its filtered index")
    p.add_argument("index", help="data/index/filtered_dataset_<stem>.json")
    p.add_argument("--stem", required=True, choices=tx.TRAINABLE_STEMS)
    p.add_argument("--out-dir", required=True, help="models/<stem>")
    p.add_argument("--data", default=None, help="dataset root (default: the index's dataset_root)")
    p.add_argument("--no-resume", action="store_true", help="ignore an existing last.pt")
    p.add_argument("--init-from", default=None, help="fine-tune from this base checkpoint (models/_base/<base>/best.pt)")
    p.add_argument("--log-every", type=int, default=10, help="steps per history/MLflow loss record")
    _add_overrides(p)
    p.set_defaults(func=_cmd_train)

    q = subparsers.add_parser("train-per-stem", help="index, filter and train each stem in turn")
    q.add_argument("--dataset-root", required=True)
    q.add_argument("--stems", required=True, help="comma-separated stems, e.g. bass,drums")
    q.add_argument("--out-dir", "--outdir", dest="outdir", default="models", help="models/<stem> go here")
    q.add_argument("--index-dir", default="data/index")
    _add_overrides(q)
    q.set_defaults(func=_cmd_train_per_stem)


if __name__ == "__main__":
    from midi_extractor.cli import main

    sys.exit(main(["train", *sys.argv[1:]]))
