"""Run one of the project's entry points with the ``harmonic`` size changed, for probes of a
smaller model before it becomes a size of its own (``benchmarks/RESULTS.md``, 2026-12-07):

    python benchmarks/with_trunk.py --blocks 1 stages/pretrain.py --params P.yaml --base pitched ...
    python benchmarks/with_trunk.py --blocks 1 midi_extractor evaluate --stem piano --model M ...

``--blocks`` / ``--channels`` / ``--head-channels`` replace the size's residual blocks, trunk
channels and head channels in this process; the rest of the command line is the script (a
``.py`` path) or module and its own arguments. A checkpoint of another shape starts a probe:
the weights that fit load (``train.state.start_from_base`` skips the rest).
:func:`harmonic_shape` is the same change for code in one process (``bench_trunk_variants.py``).
"""
from __future__ import annotations

import argparse
import contextlib
import runpy
import sys
from pathlib import Path
from typing import Iterator

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import midi_extractor.model.harmonic as harmonic  # noqa: E402


@contextlib.contextmanager
def harmonic_shape(channels: int | None = None, head_channels: int | None = None, blocks: int | None = None,
                   onset_dilations: tuple[int, ...] | None = None,
                   frame_dilations: tuple[int, ...] | None = None) -> Iterator[None]:
    """The ``harmonic`` size with the given parts replaced (``None``: as shipped) while inside;
    the module's values come back on leaving."""
    saved = harmonic.HARMONIC_SIZES["harmonic"], harmonic.ONSET_DILATIONS, harmonic.FRAME_DILATIONS
    c, hidden, n = saved[0]
    harmonic.HARMONIC_SIZES["harmonic"] = (channels or c, head_channels or hidden, blocks or n)
    harmonic.ONSET_DILATIONS = tuple(onset_dilations or saved[1])
    harmonic.FRAME_DILATIONS = tuple(frame_dilations or saved[2])
    try:
        yield
    finally:
        harmonic.HARMONIC_SIZES["harmonic"], harmonic.ONSET_DILATIONS, harmonic.FRAME_DILATIONS = saved


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--blocks", type=int, default=None)
    ap.add_argument("--channels", type=int, default=None)
    ap.add_argument("--head-channels", type=int, default=None)
    ap.add_argument("target", help="a script (.py) or a module, e.g. midi_extractor")
    ap.add_argument("args", nargs=argparse.REMAINDER)
    a = ap.parse_args(argv)
    sys.argv = [a.target] + a.args
    with harmonic_shape(a.channels, a.head_channels, a.blocks):
        if a.target.endswith(".py"):
            runpy.run_path(a.target, run_name="__main__")
        else:
            runpy.run_module(a.target, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
