"""What is wrong with the input, one file at a time: :class:`Problem` and :func:`print_problems`.

Nothing that reads a dataset raises for one bad track or stem: every problem becomes a
:class:`Problem` (file + what is wrong + how bad) collected in a list, printed to stderr by
the caller, and the rest of the dataset is still read.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass


@dataclass
class Problem:
    """One thing wrong with the input: the file, what is wrong, how bad.

    ``error``: the track or stem was skipped; ``warning``: it was read with a
    fallback (or the filter will drop it)."""

    path: str
    problem: str
    severity: str = "warning"

    def __str__(self) -> str:
        return f"{self.severity}: {self.path}: {self.problem}"


def print_problems(problems: list[Problem], stream=None, limit: int = 50) -> None:
    """Print problems to stderr, at most ``limit`` of them, then a count."""
    stream = stream or sys.stderr
    for p in problems[:limit]:
        print(str(p), file=stream)
    if len(problems) > limit:
        print(f"... and {len(problems) - limit} more problems", file=stream)
