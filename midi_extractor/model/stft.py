"""The power spectrogram every front end reads, one definition for torch and ONNX.

:class:`PowerSpectrogram` is ``torch.stft`` in torch; while exported
(``torch.onnx.is_in_onnx_export()``) it is the same transform from real-valued ops, since ONNX has
no complex tensors: frames cut from hop-sized blocks (:func:`_frames`) and one Cooley-Tukey step as
matrix products (:func:`two_stage_power`, split where it costs least: :func:`stage_one_size`); a
DFT-basis ``conv1d`` where ``hop`` does not divide a power-of-two ``n_fft``. They agree to float32
rounding.
"""
from __future__ import annotations

import math

import torch
from torch import nn


class PowerSpectrogram(nn.Module):
    """``forward(audio (B, S)) -> (B, hi - lo, S // hop + 1)`` float32 power ``|X|^2`` of FFT bins
    ``lo .. hi - 1`` (bin ``k`` is ``k * sample_rate / n_fft`` Hz) of the ``n_fft``-point STFT:
    periodic Hann window, frame ``t`` centred on sample ``t * hop`` (zero padding of
    ``n_fft // 2`` either side), float32 even under autocast. No trainable parameters."""

    def __init__(self, n_fft: int, hop: int, lo: int = 0, hi: int | None = None):
        super().__init__()
        self.n_fft, self.hop, self.lo = int(n_fft), int(hop), int(lo)
        self.hi = int(n_fft // 2 + 1 if hi is None else hi)
        self.register_buffer("window", torch.hann_window(self.n_fft), persistent=False)

    def dft_basis(self) -> torch.Tensor:
        """``(2 * (hi - lo), 1, n_fft)`` conv1d kernels: window x cos, then window x -sin, per bin."""
        k = torch.arange(self.lo, self.hi, dtype=torch.float64)[:, None]
        n = torch.arange(self.n_fft, dtype=torch.float64)[None, :]
        angle = (2 * math.pi / self.n_fft) * torch.remainder(k * n, self.n_fft)
        window = self.window.detach().to("cpu", torch.float64)
        basis = torch.cat([torch.cos(angle) * window, -torch.sin(angle) * window])
        return basis.float().unsqueeze(1)

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        with torch.autocast(device_type=audio.device.type, enabled=False):
            audio = audio.float()
            if torch.onnx.is_in_onnx_export():
                return self._exported_power(audio)                      # (B, hi - lo, T)
            spec = torch.stft(audio, self.n_fft, self.hop, window=self.window, center=True,
                              pad_mode="constant", return_complex=True)[:, self.lo:self.hi]
            return spec.real ** 2 + spec.imag ** 2

    def _exported_power(self, audio: torch.Tensor) -> torch.Tensor:
        """The STFT's power from real-valued ops (ONNX has no complex tensors):
        :func:`two_stage_power` when ``hop`` divides ``n_fft`` (a power of two), else a strided
        ``conv1d`` with the DFT basis (about ten times the multiplications)."""
        if self.n_fft % self.hop == 0 and self.n_fft & (self.n_fft - 1) == 0 and self.n_fft >= 16:
            return two_stage_power(_frames(audio, self.n_fft, self.hop), self.n_fft, self.lo, self.hi, self.window)
        padded = torch.nn.functional.pad(audio.unsqueeze(1), (self.n_fft // 2, self.n_fft // 2))
        real, imag = torch.nn.functional.conv1d(padded, self.dft_basis().to(audio.device), stride=self.hop).chunk(2, 1)
        return real ** 2 + imag ** 2


def _frames(audio: torch.Tensor, n_fft: int, hop: int) -> torch.Tensor:
    """``(B, T, n_fft)`` frames of ``audio (B, S)``, ``T = S // hop + 1``, frame ``t`` centred on
    sample ``t * hop`` (``n_fft // 2`` zeros either side, as ``torch.stft(center=True)``), cut
    from blocks of ``hop`` samples: ``hop`` must divide ``n_fft``. Traces to ONNX Pad, Reshape,
    Slice and Concat (no unfold)."""
    n_frames = audio.shape[1] // hop + 1
    padded = torch.nn.functional.pad(audio, (n_fft // 2, n_fft // 2 + hop))
    n_blocks = padded.shape[1] // hop
    blocks = padded[:, : n_blocks * hop].reshape(audio.shape[0], n_blocks, hop)
    return torch.cat([blocks[:, j: j + n_frames] for j in range(n_fft // hop)], dim=2)


def stage_one_size(n: int, hi: int) -> int:
    """``N1`` for :func:`two_stage_power`: the power of two (4 .. n / 4) with the fewest
    multiplications ``2 N1 + 4 ceil(hi / N1)`` per sample, the larger on a tie. A band that
    stops low (bins below ``hi``) takes a small ``N1``: the low band's 131 bins of 2048 cost
    half what ``N1 = sqrt(N)`` does."""
    sizes = [1 << b for b in range(2, n.bit_length() - 2)]
    return min(sizes, key=lambda n1: (2 * n1 + 4 * ((hi - 1) // n1 + 1), -n1))


def two_stage_power(frames: torch.Tensor, n: int, lo: int, hi: int, window: torch.Tensor) -> torch.Tensor:
    """Power ``(B, hi - lo, T)`` of the DFT of real ``frames (B, T, n)`` times ``window (n,)``,
    bins ``lo .. hi - 1`` (``n`` a power of two, a Python int: it sizes the matrices while
    traced), as one Cooley-Tukey step written with matrix products: ``N = n = N1 * N2``,
    ``n = N2 * n1 + n2``, ``k = k1 + N1 * k2``.

    1. Per ``n2``, two real matrices ``(N1, N1)`` give the real and imaginary parts of the
       size-``N1`` DFT over ``n1`` already times the twiddles ``exp(-2 pi i n2 k1 / N)``, the
       window folded into their rows: one batched product, no element-wise pass over the frames.
    2. Two real matrices ``(2 K2, N2)``, one for the real and one for the imaginary parts, take
       them over ``n2`` to the size-``N2`` DFT for the ``k2`` that reach ``hi`` (real and
       imaginary parts stacked), each one product over every frame at once, then summed.

    About ``N * (2 N1 + 4 K2)`` multiplications a frame instead of ``N * 2 (hi - lo)``. The
    layouts avoid onnxruntime's slow general transposes: only the frames and the power move."""
    n1_size = stage_one_size(n, hi)
    n2_size = n // n1_size
    k2_size = (hi - 1) // n1_size + 1
    f64 = dict(dtype=torch.float64, device="cpu")
    turn = 2 * math.pi
    n1, n2, k2 = (torch.arange(m, **f64) for m in (n1_size, n2_size, k2_size))
    angle = (turn / n1_size) * torch.outer(n1, n1)[None] + (turn / n) * n2[:, None, None] * n1[None, None, :]
    rows = window.detach().to(**f64).reshape(n1_size, n2_size).T[:, :, None]   # (n2, n1, 1): sample N2 n1 + n2
    real1, imag1 = angle.cos() * rows, -angle.sin() * rows                     # (n2, n1, k1) each
    a2 = (turn / n2_size) * torch.outer(k2, n2)                                # (k2, n2)
    of_real = torch.cat([a2.cos(), -a2.sin()], 0)                               # (re|im x k2, n2)
    of_imag = torch.cat([a2.sin(), a2.cos()], 0)
    real1, imag1, of_real, of_imag = (m.float().to(frames.device) for m in (real1, imag1, of_real, of_imag))
    b, t = frames.shape[0], frames.shape[1]
    x = frames.reshape(b * t, n1_size, n2_size).permute(2, 0, 1)              # (n2, B T, n1)
    flat = lambda m: m.reshape(n2_size, b * t * n1_size)  # noqa: E731            (n2, B T k1)
    xx = of_real @ flat(x @ real1) + of_imag @ flat(x @ imag1)                  # (re|im x k2, B T k1)
    xx = xx.reshape(2, k2_size, b * t, n1_size)                                 # (re|im, k2, B T, k1)
    power = xx[0] * xx[0] + xx[1] * xx[1]                                      # (k2, B T, k1)
    power = power.transpose(0, 1).reshape(b, t, k2_size * n1_size)[:, :, lo:hi]  # bin k = k1 + N1 k2
    return power.transpose(1, 2)                                               # (B, hi - lo, T)
