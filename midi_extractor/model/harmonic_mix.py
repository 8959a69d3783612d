"""The harmonic layer of the ``harmonic`` transcriber (:mod:`midi_extractor.model.harmonic`):
:class:`HarmonicMix` reads every semitone column at the distances of its harmonics and mixes
them with one 1x1 conv, computed as one dilated convolution per :func:`arithmetic_runs` run."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

#: semitone distances read by HarmonicMix: harmonics 1-8 above, one octave below
HARMONIC_SHIFTS = tuple(round(12 * math.log2(k)) for k in range(1, 9)) + (-12,)


def arithmetic_runs(shifts: tuple[int, ...]) -> list[tuple[int, int, tuple[int, ...]]]:
    """``shifts`` split into arithmetic runs ``(first, step, members)``, longest run first
    (greedy): ``(-12, 0, 12, 19, 24, 28, 31, 34, 36)`` -> step 12 from -12 (five members),
    step 3 from 28 (three), then 19 alone (step 1)."""
    left, runs = sorted(set(shifts)), []
    while left:
        best = (left[0], 1, (left[0],))
        for i, a in enumerate(left):
            for b in left[i + 1:]:
                run = [a]
                while run[-1] + (b - a) in left:
                    run.append(run[-1] + (b - a))
                if len(run) > len(best[2]):
                    best = (a, b - a, tuple(run))
        runs.append(best)
        left = [s for s in left if s not in best[2]]
    return runs


class HarmonicMix(nn.Module):
    """``(B, C, T, S) -> (B, c_out, T, S)``: column ``s`` of the output mixes (1x1 conv) the
    input columns ``s + d`` for every ``d`` in ``shifts`` (zero beyond the edges).

    The weights are one 1x1 conv over the nine shifted copies stacked as channels
    (``mix.weight (c_out, len(shifts) * c_in, 1, 1)``, copy ``i`` = shift ``shifts[i]``); the
    forward pass computes the same sum as one dilated ``(1 x k)`` convolution per
    :func:`arithmetic_runs` run, which reads the input in place instead of stacking copies
    (a third of the time under onnxruntime, ``benchmarks/bench_harmonic_mix.py``)."""

    def __init__(self, c_in: int, c_out: int, shifts: tuple[int, ...] = HARMONIC_SHIFTS):
        super().__init__()
        self.shifts = tuple(int(s) for s in shifts)
        if len(set(self.shifts)) != len(self.shifts):
            raise ValueError(f"HarmonicMix shifts must differ from one another, got {self.shifts}")
        self.mix = nn.Conv2d(c_in * len(self.shifts), c_out, 1)
        self._runs = [(first, step, [self.shifts.index(d) for d in members])
                      for first, step, members in arithmetic_runs(self.shifts)]

    def _padded(self, x: torch.Tensor) -> tuple[torch.Tensor, int]:
        """``x`` zero-padded along the pitch axis for every shift; column ``j`` = input ``j - lo``."""
        lo, hi = max(0, -min(self.shifts)), max(0, max(self.shifts))
        return F.pad(x, (lo, hi)), lo

    def stacked(self, x: torch.Tensor) -> torch.Tensor:
        """The layer's definition computed literally: the 1x1 conv over the shifted copies
        stacked as channels (slower than :meth:`forward`; tests and benchmarks compare them)."""
        n = x.shape[-1]
        padded, lo = self._padded(x)
        return self.mix(torch.cat([padded[..., lo + d: lo + d + n] for d in self.shifts], dim=1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = x.shape[-1]
        padded, lo = self._padded(x)
        w = self.mix.weight.view(self.mix.out_channels, len(self.shifts), -1)           # (c_out, shift, c_in)
        out = None
        for first, step, index in self._runs:
            kernel = w[:, index].transpose(1, 2).unsqueeze(2)                  # (c_out, c_in, 1, k)
            start = lo + first
            span = padded[..., start: start + n + step * (len(index) - 1)]
            term = F.conv2d(span, kernel, self.mix.bias if out is None else None, dilation=(1, step))
            out = term if out is None else out + term
        return out
