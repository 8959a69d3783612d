"""The ``train`` and ``train-per-stem`` commands (flags generated from StemConfig's fields)."""
from __future__ import annotations

import argparse
import json
import logging
import sys
import typing
from pathlib import Path
from typing import Any

from midi_extractor import taxonomy as tx
from midi_extractor.atomic import write_json
from midi_extractor.config import ConfigError, Params, StemConfig, resolve_params
from midi_extractor.train.run import OVERRIDE_FIELDS, train

log = logging.getLogger(__name__)


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
              "grad_clip": "max gradient norm; 0 = off",
              "base_blends": "weights w of w*fine-tune + (1-w)*base validated after the last step, comma-separated",
              "augment_on": "loader (per clip, CPU), device (per batch on the training device) or auto "
                            "(device on CUDA)"}


def _numbers(text: str) -> list[float]:
    """``0.25,0.5`` -> ``[0.25, 0.5]`` (a list setting's flag); argparse names the flag on a bad one."""
    return [float(x) for x in text.split(",") if x.strip()]


_numbers.__name__ = "comma-separated numbers"  # argparse's "invalid <name> value: ..."


def _add_overrides(p: argparse.ArgumentParser) -> None:
    """One flag per :data:`OVERRIDE_FIELDS` entry, generated from StemConfig's fields so the
    CLI cannot drift from the params (``--num-workers``, alias ``--workers``)."""
    p.add_argument("--params", default=None, help="params.yaml (default: ./params.yaml when present)")
    hints = typing.get_type_hints(StemConfig)
    for name in OVERRIDE_FIELDS:
        flags = [f"--{name.replace('_', '-')}"] + (["--workers"] if name == "num_workers" else [])
        listed = typing.get_origin(hints[name]) is list  # --base-blends 0.5,0.75 (no nargs: the index follows)
        p.add_argument(*flags, dest=name, type=_numbers if listed else hints[name],
                       help=_FLAG_HELP.get(name, f"overrides stems.<stem>.{name}"))
    p.add_argument("--device", default="auto", help="auto (CUDA if available), cpu, cuda, cuda:N")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def _overrides(args) -> dict:
    return {k: getattr(args, k) for k in OVERRIDE_FIELDS if getattr(args, k, None) is not None}


def _cmd_train(args) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    from midi_extractor.index_io import DataError
    from midi_extractor.model.checkpoint import CheckpointError
    from midi_extractor.train.outputs import OutDirError

    try:
        summary = train(args.index, args.stem, args.out_dir, resolve_params(args.params), device=args.device,
                        data_root=args.data, init_from=args.init_from, resume=not args.no_resume,
                        progress=not args.no_progress, log_every=args.log_every, **_overrides(args))
    except (ConfigError, DataError, FileNotFoundError, OutDirError, CheckpointError) as exc:
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
    p.add_argument("index", help="data/prepared/<stem>/index.json (or a filtered index, read from the source audio)")
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
