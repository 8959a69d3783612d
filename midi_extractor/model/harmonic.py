"""The pitch-equivariant harmonic transcriber (``model.size``: ``harmonic`` for CPUs,
``harmonic-large`` for GPUs).

Ideas from HPPNet (harmonic dilated convolutions), Basic Pitch (harmonic stacking) and the
Harmonica paper (arXiv 2609.04640, section 3.3: a harmonic layer, instance norm, heads shared
across pitches); the code is this project's own.

Shapes (``B`` batch, ``T`` frames, ``F`` log-frequency bands at ``bins_per_semitone`` a
semitone, ``S`` semitones, ``P = front_end.n_pitches``):

1. ``feats (B, T, F)`` (the ``logfreq`` front end; log power) -> ``(B, 1, T, F)``, scaled by
   fixed constants (no statistic of the clip: a window scores the same alone or in a file).
2. ``stem``: Conv2d ``(3 frames x 5 bands)`` -> :class:`InstanceNorm` -> ReLU, at ``F`` bands.
3. ``to_semitones``: a Conv2d along frequency with stride ``bins_per_semitone``, aligned so
   that column ``j`` is MIDI pitch ``min_midi + j`` -> ``(B, C, T, S)``; ``S`` reaches the
   highest semitone the bands hold (8 kHz: MIDI 119), so the upper notes' harmonics are seen.
4. ``blocks``: residual [Conv2d 3x3 -> norm -> ReLU -> :class:`HarmonicMix` -> norm -> ReLU].
   :class:`HarmonicMix` reads every column at the distances of harmonics 1-8 above it
   (0, 12, 19, 24, 28, 31, 34, 36 semitones) and one octave below, and mixes them with one
   1x1 conv: a pitch's harmonics are one layer away, whatever the pitch.
5. heads: :class:`TemporalHead`, dilated Conv2d ``(3 x 1)`` over time only, with weights
   shared by every pitch column. Pitched models read columns ``0 .. P-1`` (one output a
   column); drum models (``n_outputs != P``) pool the semitone axis into ``DRUM_BANDS`` bands
   (``DRUM_HEAD_WIDTH`` x the pitched head's channels: one head serves every class), read
   beside them the input's level and its rise from the frame before (spectral flux) in
   ``RAW_DRUM_BANDS`` bands of the whole range (a hi-hat under a kick shows there), and give
   ``n_outputs`` classes from all of them (drum classes have no pitch order).

Every layer before the heads commutes with a shift along the pitch axis (up to the edges), and
the heads are the same at every pitch, so a tone a semitone higher yields the same output one
column higher: the model learns a timbre once, not per pitch. Logits ``(B, T, n_outputs)`` for
onset, offset, frame (conditioned on onset and offset, as Onsets & Frames) and velocity.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from midi_extractor.matching import midi_to_hz
from midi_extractor.model.features import logfreq_centres_hz
from midi_extractor.model.harmonic_mix import HarmonicMix
from midi_extractor.model.transcriber import Transcriber

#: size -> (channels, head channels, residual blocks)
HARMONIC_SIZES = {"harmonic": (16, 16, 2), "harmonic-large": (48, 64, 4)}
#: bands the semitone axis is pooled into for drum classes
DRUM_BANDS = 16
#: the drum head's channels as a multiple of the pitched head's (its channels serve every class,
#: where a pitched head's serve one pitch: 16 channels for 7 classes missed most closed hats)
DRUM_HEAD_WIDTH = 4
#: bands of the input's level and flux the drum head reads beside the trunk
RAW_DRUM_BANDS = 32
#: fixed input scaling of the log power (about -14 .. 4): (x - LOG_CENTRE) / LOG_SPREAD
LOG_CENTRE, LOG_SPREAD = -6.0, 4.0
#: dilations of the onset stack and of the frame stack (frames)
ONSET_DILATIONS = (1, 2, 4, 8)
FRAME_DILATIONS = (1, 2, 4, 8, 16)


class InstanceNorm(nn.GroupNorm):
    """``GroupNorm(channels, channels)`` (fast in bf16, unlike BatchNorm), exported as one ONNX
    ``InstanceNormalization`` with its scale and shift: torch's own export of it (reshape, norm,
    reshape, Mul, Add) costs onnxruntime about 7 % of the graph (``benchmarks/RESULTS.md``)."""

    def __init__(self, channels: int):
        super().__init__(channels, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if torch.onnx.is_in_onnx_export():
            return F.instance_norm(x, weight=self.weight, bias=self.bias, eps=self.eps)
        return super().forward(x)


class _Block(nn.Module):
    """Residual block at semitone resolution: conv 3x3 -> norm -> ReLU -> harmonic mix -> norm."""

    def __init__(self, c: int):
        super().__init__()
        self.conv = nn.Conv2d(c, c, 3, padding=1)
        self.norm1 = InstanceNorm(c)
        self.harmonic = HarmonicMix(c, c)
        self.norm2 = InstanceNorm(c)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.relu(self.norm1(self.conv(x)))
        return F.relu(x + self.norm2(self.harmonic(h)))


class TemporalHead(nn.Module):
    """``(B, c_in, T, N) -> dict of (B, k, T, N)`` logits for onset, offset, frame, velocity,
    ``k = n_classes`` per column; dilated convolutions over time only (kernel ``3 x 1``), so
    the same weights serve every column ``N``. The frame stack also reads sigmoid(onset) and
    sigmoid(offset), without gradient into them."""

    def __init__(self, c_in: int, hidden: int, n_classes: int = 1):
        super().__init__()
        self.inp = nn.Conv2d(c_in, hidden, 1)
        self.onset_stack = nn.ModuleList(nn.Conv2d(hidden, hidden, (3, 1), padding=(d, 0), dilation=(d, 1))
                                         for d in ONSET_DILATIONS)
        self.onset_head = nn.Conv2d(hidden, n_classes, 1)
        self.offset_head = nn.Conv2d(hidden, n_classes, 1)
        self.velocity_head = nn.Conv2d(hidden, n_classes, 1)
        self.frame_inp = nn.Conv2d(hidden + 2 * n_classes, hidden, 1)
        self.frame_stack = nn.ModuleList(nn.Conv2d(hidden, hidden, (3, 1), padding=(d, 0), dilation=(d, 1))
                                         for d in FRAME_DILATIONS)
        self.frame_head = nn.Conv2d(hidden, n_classes, 1)

    @staticmethod
    def _run(stack: nn.ModuleList, h: torch.Tensor) -> torch.Tensor:
        for conv in stack:
            h = h + F.relu(conv(h))
        return h

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        h = self._run(self.onset_stack, F.relu(self.inp(x)))
        onset, offset = self.onset_head(h), self.offset_head(h)
        f = self._run(self.frame_stack, F.relu(self._frame_input(h, onset, offset)))
        return {"onset": onset, "offset": offset, "frame": self.frame_head(f),
                "velocity": self.velocity_head(h)}

    def _frame_input(self, h: torch.Tensor, onset: torch.Tensor, offset: torch.Tensor) -> torch.Tensor:
        """``frame_inp`` over ``[h | sigmoid(onset) | sigmoid(offset)]``; exported as the same sum
        of a convolution over ``h`` and one over the probabilities, so that onnxruntime keeps the
        frame stack in its blocked layout (``hidden + 2 k`` channels break it: ``benchmarks/RESULTS.md``)."""
        probs = [torch.sigmoid(onset).detach(), torch.sigmoid(offset).detach()]
        if not torch.onnx.is_in_onnx_export():
            return self.frame_inp(torch.cat([h] + probs, dim=1))
        weight, hidden = self.frame_inp.weight, self.inp.out_channels
        return (F.conv2d(h, weight[:, :hidden], self.frame_inp.bias)
                + F.conv2d(torch.cat(probs, dim=1), weight[:, hidden:]))


def band_average_matrix(n_columns: int, n_bands: int) -> torch.Tensor:
    """``(n_columns, n_bands)``: column ``j`` of the result averages input columns
    ``floor(j * n / k) .. ceil((j + 1) * n / k) - 1`` (torch's adaptive average pooling bins),
    as a fixed matrix, so the pooling is one matmul in torch and in an ONNX graph alike."""
    m = torch.zeros(n_columns, n_bands)
    for j in range(n_bands):
        lo, hi = j * n_columns // n_bands, -(-(j + 1) * n_columns // n_bands)
        m[lo:hi, j] = 1.0 / (hi - lo)
    return m


def semitone_layout(front_end) -> tuple[int, int, int]:
    """``(first_band, pad_left, n_semitones)``: the band (after padding the band axis by
    ``pad_left`` zeros on the left) where the stride-``bins_per_semitone`` window of MIDI
    ``min_midi`` starts, and how many semitones from ``min_midi`` the bands hold (at least
    ``n_pitches``)."""
    bps = int(front_end.bins_per_semitone)
    centres = logfreq_centres_hz(front_end)
    hz0 = midi_to_hz(front_end.min_midi)
    centre0 = round(bps * 12 * math.log2(hz0 / front_end.f_min_hz))   # band of min_midi (may be < 0)
    half = bps // 2
    pad_left = max(0, half - centre0)
    top_band = len(centres) - 1
    n_semitones = max(front_end.n_pitches, (top_band - centre0 - half) // bps + 1)
    return centre0 - half + pad_left, pad_left, n_semitones


class HarmonicTranscriber(Transcriber):
    """``harmonic`` / ``harmonic-large`` (see the module docstring). ``model.conv_channels``
    and ``model.rnn_units`` override the trunk's and the heads' channels."""

    def __init__(self, front_end, model_config, n_outputs, loss_weights=None):
        super().__init__(front_end, model_config, n_outputs, loss_weights)
        if front_end.kind != "logfreq":
            raise ValueError(f"model.size {model_config.size!r} needs features.kind: logfreq "
                             f"(a pitch axis), got {front_end.kind!r}")
        c, hidden, n_blocks = HARMONIC_SIZES[model_config.size]
        c, hidden = int(model_config.conv_channels or c), int(model_config.rnn_units or hidden)
        bps = int(front_end.bins_per_semitone)
        self._first_band, self._pad_left, self.n_semitones = semitone_layout(front_end)
        self._kernel = 2 * (bps // 2) + 1
        self.stem = nn.Sequential(nn.Conv2d(1, c, (3, 5), padding=(1, 2)), InstanceNorm(c), nn.ReLU())
        self.to_semitones = nn.Sequential(nn.Conv2d(c, c, (1, self._kernel), stride=(1, bps)), InstanceNorm(c), nn.ReLU())
        self.blocks = nn.Sequential(*[_Block(c) for _ in range(n_blocks)])
        self.pitched = self.n_outputs == front_end.n_pitches
        if self.pitched:
            self.head = TemporalHead(c, hidden, 1)
        else:
            self.register_buffer("band_average", band_average_matrix(self.n_semitones, DRUM_BANDS),
                                 persistent=False)
            self.register_buffer("raw_average", band_average_matrix(self.features.n_features, RAW_DRUM_BANDS),
                                 persistent=False)
            self.head = TemporalHead(c * DRUM_BANDS + 2 * RAW_DRUM_BANDS, DRUM_HEAD_WIDTH * hidden, self.n_outputs)
        for name in ("onset", "offset", "frame"):
            nn.init.constant_(getattr(self.head, f"{name}_head").bias,
                              math.log(self.prior_rate / (1.0 - self.prior_rate)))

    def map_class_weights(self, weights: dict, rows: list[int], n_base: int) -> dict:
        """As :meth:`Transcriber.map_class_weights`, plus the frame stack's input
        ``[hidden | sigmoid(onset) | sigmoid(offset)]`` cut to this model's classes."""
        out = super().map_class_weights(weights, rows, n_base)
        key = "head.frame_inp.weight"
        if key in out and not self.pitched and out[key].shape[1] != self.head.frame_inp.in_channels:
            hidden = out[key].shape[1] - 2 * n_base
            keep = list(range(hidden)) + [hidden + r for r in rows] + [hidden + n_base + r for r in rows]
            out[key] = out[key][:, keep]
        return out

    def trunk_modules(self) -> list[nn.Module]:
        """Every layer before :class:`TemporalHead`: ``stem``, ``to_semitones``, ``blocks``."""
        return [self.stem, self.to_semitones, self.blocks]

    def _semitone_input(self, h: torch.Tensor) -> torch.Tensor:
        """``(B, C, T, F)`` bands -> the slice whose stride-``bps`` windows centre on MIDI
        ``min_midi``, ``min_midi + 1`` ... (zero-padded where the bands stop)."""
        bps = int(self.front_end.bins_per_semitone)
        need = self._first_band + (self.n_semitones - 1) * bps + self._kernel
        pad_right = max(0, need - (self.features.n_features + self._pad_left))   # a Python int, also traced
        if self._pad_left or pad_right:
            h = F.pad(h, (self._pad_left, pad_right))
        return h[..., self._first_band:need]

    def logits_from_features(self, feats: torch.Tensor) -> dict[str, torch.Tensor]:
        x = ((feats - LOG_CENTRE) / LOG_SPREAD).unsqueeze(1)                 # (B, 1, T, F)
        h = self.blocks(self.to_semitones(self._semitone_input(self.stem(x))))  # (B, C, T, S)
        if self.pitched:
            out = self.head(h[..., :self.n_outputs])                        # (B, 1, T, P) each
            return {k: v[:, 0] for k, v in out.items()}                      # (B, T, P)
        return self._drum_logits(x, h)

    def _drum_logits(self, x: torch.Tensor, h: torch.Tensor) -> dict[str, torch.Tensor]:
        """Drum classes from the trunk ``h (B, C, T, S)`` pooled into bands, plus the scaled
        input ``x (B, 1, T, F)``'s level and positive flux in :data:`RAW_DRUM_BANDS` bands."""
        pooled = h @ self.band_average.to(h.dtype)                           # (B, C, T, bands)
        b, c, t, n = pooled.shape
        level = (x @ self.raw_average.to(x.dtype))[:, 0]                     # (B, T, raw bands)
        flux = F.relu(level - F.pad(level, (0, 0, 1, 0))[:, :-1])            # rise from frame t-1
        raw = torch.cat([level, flux], dim=-1).transpose(1, 2)               # (B, 2 raw, T)
        trunk = pooled.permute(0, 1, 3, 2).reshape(b, c * n, t)
        out = self.head(torch.cat([trunk, raw.to(trunk.dtype)], dim=1).unsqueeze(-1))  # (B, n_out, T, 1)
        return {k: v[..., 0].transpose(1, 2) for k, v in out.items()}       # (B, T, n_out)
