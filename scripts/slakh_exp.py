#!/usr/bin/env python
"""One command to real Slakh2100 at the seed's settings: ``dvc exp run`` with every ``-S``
flag ``params/slakh2100.yaml`` implies.

    python scripts/slakh_exp.py --root /data/slakh2100_flac_redux            # run it
    python scripts/slakh_exp.py --root /data/slakh2100_flac_redux --dry-run  # print the command
    python scripts/slakh_exp.py --root /data/slakh2100_flac_redux -- --queue -n slakh  # queue it

The overlay (``--overlay``, default ``params/slakh2100.yaml``) holds the settings in one
place; ``"*"`` under ``pretrain`` / ``stems`` stands for every base / stem ``params.yaml``
lists. Before anything runs, the merged params are loaded with ``midi_extractor.config`` (a bad
value stops it, naming the overlay) and the data root is checked. The bases are trained on the
real data: ``pretrain.<base>.rebuild: auto`` trains them whenever ``dataset.kind`` is not the
embedded ``generated`` set; ``--keep-shipped-bases`` sets ``rebuild: false`` instead (the stems
fine-tune the shipped ones, which must fit the overlay's model size). A stage someone marked
``frozen`` in ``dvc.yaml`` would never be rebuilt (not even with ``--force``), so the script
stops and names it. Arguments after ``--`` go to ``dvc exp run`` as they are.
"""
from __future__ import annotations

import argparse
import copy
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
#: sections whose ``"*"`` entry applies to every name params.yaml lists there
WILDCARD_SECTIONS = ("pretrain", "stems")


class SetupError(ValueError):
    """An overlay, params file or dvc.yaml this run cannot use; the message names the file."""


def read_yaml(path: Path) -> dict:
    """A YAML mapping, or :class:`SetupError` naming the file."""
    try:
        data = yaml.safe_load(Path(path).read_text())
    except FileNotFoundError:
        raise SetupError(f"{path}: not found") from None
    except yaml.YAMLError as exc:
        raise SetupError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise SetupError(f"{path}: expected a mapping at the top")
    return data


def expand(overlay: dict, base: dict, source: str = "overlay") -> dict:
    """The overlay with each ``"*"`` of :data:`WILDCARD_SECTIONS` replaced by one entry per
    name ``base`` lists in that section (a named overlay entry overrides the ``"*"`` one). A
    named entry ``base`` does not list is a :class:`SetupError` naming ``source``."""
    out = copy.deepcopy(overlay)
    for section in WILDCARD_SECTIONS:
        given = out.get(section) or {}
        names = list(base.get(section) or {})
        unknown = [n for n in given if n != "*" and n not in names]
        if unknown:
            raise SetupError(f"{source}: {section}.{unknown[0]} is not in params.yaml's {section} "
                             f"(listed: {', '.join(names) or 'none'})")
        every = given.pop("*", {}) or {}
        if every or given:
            out[section] = {n: {**every, **(given.get(n) or {})} for n in names if every or n in given}
    return out


def flatten(tree: Any, prefix: str = "") -> list[tuple[str, Any]]:
    """``(dotted key, leaf value)`` pairs; an empty mapping is a leaf."""
    if isinstance(tree, dict) and tree:
        pairs: list[tuple[str, Any]] = []
        for key, value in tree.items():
            pairs += flatten(value, f"{prefix}.{key}" if prefix else str(key))
        return pairs
    return [(prefix, tree)]


def present(tree: dict, key: str) -> bool:
    """Whether ``tree`` holds the dotted ``key`` (``stems.bass.lr``)."""
    node: Any = tree
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


def set_flags(pairs: list[tuple[str, Any]], base: dict, source: str = "overlay") -> list[str]:
    """``-S key=value`` arguments, each value written as YAML flow (what ``-S`` parses); a key
    ``base`` lacks is written ``+key=value`` (DVC's Hydra overrides refuse to add one without
    the ``+``). An empty mapping is refused, naming ``source``: ``-S`` merges a mapping into
    the one there, so ``{}`` would change nothing."""
    flags = []
    for key, value in pairs:
        if value == {}:
            raise SetupError(f"{source}: {key}: {{}} cannot clear a section through dvc exp run -S (it merges); "
                             f"set the values it should have")
        text = yaml.safe_dump(value, default_flow_style=True, width=10**6).strip()
        flags += ["-S", f"{'' if present(base, key) else '+'}{key}={text.removesuffix('...').strip()}"]
    return flags


def deep_merge(base: dict, overlay: dict) -> dict:
    """``base`` with ``overlay``'s leaves written over it (what the ``-S`` flags do)."""
    return with_leaves(base, flatten(overlay))


def with_leaves(base: dict, pairs: list[tuple[str, Any]]) -> dict:
    """A copy of ``base`` with each ``(dotted key, value)`` of ``pairs`` set, sections made as needed."""
    out = copy.deepcopy(base)
    for key, value in pairs:
        node = out
        *parents, last = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = copy.deepcopy(value)
    return out


def check_params(merged: dict, source: str) -> None:
    """Load the merged params as the pipeline will; a :class:`SetupError` naming ``source``."""
    from midi_extractor.config import ConfigError, load_params

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "params.yaml"
        path.write_text(yaml.safe_dump(merged, sort_keys=False))
        try:
            load_params(path)
        except ConfigError as exc:
            raise SetupError(f"{source}: {str(exc).removeprefix(f'{path}: ')}") from None


def frozen_stages(dvc_yaml: Path) -> list[str]:
    """Names of the stages ``dvc_yaml`` marks ``frozen: true``."""
    stages = read_yaml(dvc_yaml).get("stages") or {}
    return [name for name, stage in stages.items() if isinstance(stage, dict) and stage.get("frozen")]


def build_command(args: argparse.Namespace) -> list[str]:
    """The ``dvc exp run`` command line; raises :class:`SetupError` for anything it cannot run."""
    base = read_yaml(args.params)
    overlay = read_yaml(args.overlay)
    if args.root is not None:
        overlay.setdefault("dataset", {})["root"] = str(args.root)
    if args.kind is not None:
        overlay.setdefault("dataset", {})["kind"] = args.kind
    if args.keep_shipped_bases:
        overlay.setdefault("pretrain", {}).setdefault("*", {})["rebuild"] = False
    overlay = expand(overlay, base, str(args.overlay))
    check_params(deep_merge(base, overlay), f"{args.overlay} over {args.params}")
    root = Path(str((overlay.get("dataset") or {}).get("root", "")))
    if not args.dry_run and not root.is_dir():
        raise SetupError(f"{args.overlay}: dataset.root {root} is not a folder (pass --root)")
    frozen = frozen_stages(args.dvc_yaml)
    if frozen and not args.keep_shipped_bases:
        raise SetupError(f"{args.dvc_yaml}: {', '.join(frozen)} {'is' if len(frozen) == 1 else 'are'} frozen, so "
                         f"DVC never rebuilds {'it' if len(frozen) == 1 else 'them'} from this data; remove "
                         f"`frozen: true` there, or pass --keep-shipped-bases to fine-tune from the shipped ones")
    return ["dvc", "exp", "run", *set_flags(flatten(overlay), base, str(args.overlay)), *args.dvc_args]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--root", type=Path, default=None, help="the Slakh folder (replaces the overlay's dataset.root)")
    p.add_argument("--kind", default=None, choices=("slakh2100", "redux", "babyslakh"),
                   help="dataset.kind (default: the overlay's)")
    p.add_argument("--overlay", type=Path, default=REPO / "params" / "slakh2100.yaml")
    p.add_argument("--params", type=Path, default=REPO / "params.yaml")
    p.add_argument("--dvc-yaml", type=Path, default=REPO / "dvc.yaml")
    p.add_argument("--keep-shipped-bases", action="store_true",
                   help="pretrain.*.rebuild: false: the stems fine-tune the shipped bases (trained on the "
                        "generated set) instead of bases trained on this data")
    p.add_argument("--dry-run", action="store_true", help="print the command, run nothing")
    p.add_argument("dvc_args", nargs="*", help="after --: passed to dvc exp run (e.g. --queue -n NAME)")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        command = build_command(args)
    except SetupError as exc:
        print(f"slakh_exp: {exc}", file=sys.stderr)
        return 2
    print(shlex.join(command))
    if args.dry_run:
        return 0
    return subprocess.call(command, cwd=REPO)


if __name__ == "__main__":
    sys.exit(main())
