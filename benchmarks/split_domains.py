"""Link a generated set's test tracks into one folder per domain, so Basic Pitch's peer script
and ``bench_transcribe.py --score`` score exactly the same files per domain::

    python benchmarks/split_domains.py data/generated/test /tmp/domains
    python benchmarks/bench_transcribe.py --score /tmp/domains/out_of_domain --models-dir models \\
        --bp-python /tmp/bp/bin/python --out /tmp/ood.json

A track goes to ``out_of_domain`` when every stem of it says so in metadata.yaml (the generator
renders such tracks with held-out sources only), else to ``in_domain``.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml


def split(test_dir: Path, out: Path) -> dict[str, int]:
    counts = {"in_domain": 0, "out_of_domain": 0}
    for track in sorted(test_dir.glob("Track*")):
        stems = (yaml.safe_load((track / "metadata.yaml").read_text()) or {}).get("stems") or {}
        ood = bool(stems) and all(s.get("domain") == "out_of_domain" for s in stems.values())
        domain = "out_of_domain" if ood else "in_domain"
        link = out / domain / track.name
        link.parent.mkdir(parents=True, exist_ok=True)
        if not link.exists():
            link.symlink_to(track.resolve(), target_is_directory=True)
        counts[domain] += 1
    return counts


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("test_dir", type=Path)
    ap.add_argument("out", type=Path)
    args = ap.parse_args(argv)
    print(split(args.test_dir, args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
