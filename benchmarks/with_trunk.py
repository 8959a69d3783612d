"""Run one of the project's entry points with the ``harmonic`` size changed, for probes of a
smaller model before it becomes a size of its own (``benchmarks/RESULTS.md``, 2026-12-07):

    python benchmarks/with_trunk.py --blocks 1 stages/pretrain.py --params P.yaml --base pitched ...
    python benchmarks/with_trunk.py --blocks 1 midi_extractor evaluate --stem piano --model M ...

``--blocks`` / ``--channels`` / ``--head-channels`` replace the size's residual blocks, trunk
channels and head channels in this process; the rest of the command line is the script (a
``.py`` path) or module and its own arguments. A checkpoint of another shape starts a probe:
the weights that fit load (``train.state.start_from_base`` skips the rest).
"""
from __future__ import annotations

import argparse
import runpy
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import midi_extractor.model.harmonic as harmonic  # noqa: E402


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--blocks", type=int, default=None)
    ap.add_argument("--channels", type=int, default=None)
    ap.add_argument("--head-channels", type=int, default=None)
    ap.add_argument("target", help="a script (.py) or a module, e.g. midi_extractor")
    ap.add_argument("args", nargs=argparse.REMAINDER)
    a = ap.parse_args(argv)
    c, hidden, blocks = harmonic.HARMONIC_SIZES["harmonic"]
    harmonic.HARMONIC_SIZES["harmonic"] = (a.channels or c, a.head_channels or hidden, a.blocks or blocks)
    sys.argv = [a.target] + a.args
    if a.target.endswith(".py"):
        runpy.run_path(a.target, run_name="__main__")
    else:
        runpy.run_module(a.target, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
