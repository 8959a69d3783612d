"""Front ends, computed inside the model on the model's device.

``make_front_end(front_end)`` returns the module ``front_end.kind`` names. Each maps audio
``(B, S)`` float32 in [-1, 1] at ``front_end.sample_rate_hz`` to features ``(B, T, F)`` with
``T = front_end.n_frames(S) = S // hop_length + 1`` (torch ``center=True`` framing, zero
padding: outside the clip is silence, as in inference windows); frame ``t`` is centred on
sample ``t * hop_length``, i.e. ``t * hop_s`` seconds, the grid :mod:`midi_extractor.model.labels`
uses. Values are ``log(power + LOG_EPS)``.

* :class:`LogMel` (``kind: mel``): ``n_mels`` HTK-mel bands (Slaney-normalised) on one STFT
  of ``n_fft``. At 16 kHz with n_fft 2048 (7.8 Hz bins) its lowest bands are empty: E1 and F1
  bass notes were all but inaudible to it.
* :class:`LogFreq` (``kind: logfreq``): triangles ``bins_per_semitone`` per semitone from
  ``f_min_hz`` to ``f_max_hz``; centres below ``split_hz`` read a long-window STFT
  (``n_fft_low`` = 8192 at 16 kHz, computed as 1024 points on the audio decimated to 2 kHz:
  1.95 Hz bins, so B0 = 30.9 Hz and C1 = 32.7 Hz fall in different bins), the rest read the
  ``n_fft`` STFT (sharp onsets). Every triangle is at least one FFT
  bin wide either side, so no band is empty; each has unit area.

Both are one definition for torch and ONNX: ``infer.onnx_export`` traces these very modules,
whose STFT is :class:`midi_extractor.model.stft.PowerSpectrogram` (``torch.stft``, or real-valued
ops while exported). Audio in, features out, so an export holds the decimation filter and
filterbanks too. The low band's decimation is polyphase (:func:`decimate`) and the high bands
multiply only the FFT bins they read (:func:`band_groups`): the same numbers, a fraction of the work.
"""
from __future__ import annotations

import math
import warnings

import torch
from torch import nn

from midi_extractor.config import FrontEndConfig
from midi_extractor.model.stft import PowerSpectrogram

#: floor added before the log (power units; about -120 dB re full scale)
LOG_EPS = 1e-6


def _as_batch(audio: torch.Tensor) -> torch.Tensor:
    if audio.dim() == 1:
        audio = audio.unsqueeze(0)
    if audio.dim() != 2:
        raise ValueError(f"audio must be (B, S) or (S,), got shape {tuple(audio.shape)}")
    return audio


class LogMel(nn.Module):
    """``forward(audio (B, S) or (S,)) -> (B, T, n_mels)`` log-mel power. No trainable
    parameters: the filterbank and window are buffers rebuilt from the config."""

    def __init__(self, front_end: FrontEndConfig):
        super().__init__()
        import torchaudio

        self.front_end = front_end
        with warnings.catch_warnings():
            # 229 bands from 30 Hz on a 7.8 Hz FFT grid leave a few empty low bands (see LogFreq)
            warnings.filterwarnings("ignore", message=".*filterbank.*")
            self.mel = torchaudio.transforms.MelSpectrogram(
                sample_rate=front_end.sample_rate_hz, n_fft=front_end.n_fft,
                hop_length=front_end.hop_length, f_min=front_end.f_min_hz, f_max=front_end.f_max_hz,
                n_mels=front_end.n_mels, power=2.0, center=True, pad_mode="constant",
                norm="slaney", mel_scale="htk")
        # The STFT is ours (exportable; the same periodic Hann); the filterbank is mel_scale's.
        self.stft = PowerSpectrogram(front_end.n_fft, front_end.hop_length)

    @property
    def n_features(self) -> int:
        return self.front_end.n_mels

    @property
    def reach_samples(self) -> int:
        """How far either side of its centre sample a frame reads: half the STFT."""
        return self.front_end.n_fft // 2

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        power = self.stft(_as_batch(audio))             # (B, n_fft // 2 + 1, T)
        with torch.autocast(device_type=power.device.type, enabled=False):
            mel = self.mel.mel_scale(power)             # (B, n_mels, T)
        return torch.log(mel + LOG_EPS).transpose(1, 2)  # (B, T, n_mels)


def logfreq_centres_hz(front_end: FrontEndConfig) -> list[float]:
    """Band centres: ``bins_per_semitone`` per semitone from f_min_hz up to f_max_hz."""
    per_octave = 12 * front_end.bins_per_semitone
    n = int(math.floor(per_octave * math.log2(front_end.f_max_hz / front_end.f_min_hz))) + 1
    return [front_end.f_min_hz * 2.0 ** (k / per_octave) for k in range(n)]


def triangle_filters(centres_hz: list[float], n_fft: int, sample_rate_hz: int) -> torch.Tensor:
    """``(len(centres), n_fft // 2 + 1)`` unit-area triangles reaching the neighbouring
    centres, widened to at least one FFT bin either side."""
    bin_hz = sample_rate_hz / n_fft
    freqs = torch.arange(n_fft // 2 + 1, dtype=torch.float64) * bin_hz
    ratio = centres_hz[1] / centres_hz[0] if len(centres_hz) > 1 else 2 ** (1 / 24)
    rows = []
    for c in centres_hz:
        lo, hi = min(c / ratio, c - bin_hz), max(c * ratio, c + bin_hz)
        up = (freqs - lo) / (c - lo)
        down = (hi - freqs) / (hi - c)
        tri = torch.clamp(torch.minimum(up, down), min=0.0)
        rows.append(tri / tri.sum().clamp(min=1e-12))
    return torch.stack(rows).float()


def decimation_factor(front_end: FrontEndConfig) -> int:
    """How much the low band's audio is decimated before its STFT: the largest of 8, 4, 2, 1
    that divides hop_length and n_fft_low and keeps the decimated rate >= 8 x split_hz.
    Same bins and frame times, a fraction of the work (an 8192-point STFT of 16 kHz audio
    cost 15x the 2048-point one; 1024 points at 2 kHz cost about the same as it)."""
    for d in (8, 4, 2):
        if (front_end.hop_length % d == 0 and front_end.n_fft_low % d == 0
                and front_end.sample_rate_hz / d >= 8 * front_end.split_hz):
            return d
    return 1


def lowpass_taps(factor: int, taps_per_factor: int = 16) -> torch.Tensor:
    """Hamming-windowed sinc low-pass at 0.8 x the decimated Nyquist, unit DC gain."""
    n = taps_per_factor * factor + 1
    k = torch.arange(n, dtype=torch.float64) - (n - 1) / 2
    cutoff = 0.8 / factor                      # of the input Nyquist
    h = cutoff * torch.sinc(cutoff * k) * torch.hamming_window(n, periodic=False, dtype=torch.float64)
    return (h / h.sum()).float()


def polyphase_taps(taps: torch.Tensor, factor: int) -> torch.Tensor:
    """``(1, factor, J)`` conv1d weights, ``J = ceil(len(taps) / factor)``: channel ``r``, tap
    ``j`` holds ``taps[factor * j + r]`` (zero past the end), for :func:`decimate`."""
    n_blocks = -(-taps.numel() // factor)
    padded = torch.nn.functional.pad(taps, (0, n_blocks * factor - taps.numel()))
    return padded.view(n_blocks, factor).t().contiguous().unsqueeze(0)


def decimate(audio: torch.Tensor, weights: torch.Tensor, n_taps: int) -> torch.Tensor:
    """``(B, S) -> (B, ceil(S / d))``: the FIR of ``n_taps`` taps centred on sample ``d * n``
    (``n_taps // 2`` zeros either side), kept every ``d``-th sample, where ``weights`` is
    :func:`polyphase_taps` ``(1, d, J)``. The same numbers as ``conv1d(padding=n_taps // 2,
    stride=d)``, at a fifth of its time: the audio is cut into blocks of ``d`` samples (one
    channel a phase) and one unstrided conv of ``J`` taps runs over the blocks."""
    d, n_blocks_kernel = weights.shape[1], weights.shape[2]
    n_out = (audio.shape[1] + d - 1) // d
    padded = torch.nn.functional.pad(audio, (n_taps // 2, n_blocks_kernel * d + d))
    n_blocks = padded.shape[1] // d
    blocks = padded[:, : n_blocks * d].reshape(audio.shape[0], n_blocks, d).transpose(1, 2)  # (B, d, M)
    return torch.nn.functional.conv1d(blocks, weights)[:, 0, :n_out]


def band_groups(filters: torch.Tensor, bands_per_group: int) -> list[tuple[int, int, int, int]]:
    """``(first_band, end_band, first_bin, end_bin)`` per run of ``bands_per_group`` consecutive
    bands of ``filters (bands, bins)``: the FFT bins any of them reads. Log-spaced triangles
    read a few bins each, so the product per group skips the zeros of the dense matrix
    (at 32 kHz, about a sixth of its multiplications)."""
    groups = []
    for lo in range(0, filters.shape[0], bands_per_group):
        hi = min(lo + bands_per_group, filters.shape[0])
        used = (filters[lo:hi].sum(0) > 0).nonzero()
        groups.append((lo, hi, int(used.min()), int(used.max()) + 1))
    return groups


class LogFreq(nn.Module):
    """``forward(audio (B, S) or (S,)) -> (B, T, n_bands)`` log power in log-frequency bands
    from two STFTs (see the module docstring); the low band's STFT runs on audio low-passed and
    decimated by :func:`decimation_factor` (same bin width, same frame times). No trainable
    parameters."""

    def __init__(self, front_end: FrontEndConfig):
        super().__init__()
        self.front_end = front_end
        centres = logfreq_centres_hz(front_end)
        low = [c for c in centres if c < front_end.split_hz]
        high = [c for c in centres if c >= front_end.split_hz]
        sr, d = front_end.sample_rate_hz, decimation_factor(front_end)
        self._decimate = d
        low_f = triangle_filters(low, front_end.n_fft_low // d, sr // d)
        high_f = triangle_filters(high, front_end.n_fft, sr)
        # Only the FFT bins some band reads take part in the product.
        self._low_bins = int((low_f.sum(0) > 0).nonzero().max()) + 1 if low else 0
        self._high_from = int((high_f.sum(0) > 0).nonzero().min()) if high else 0
        self.register_buffer("low_filters", low_f[:, :self._low_bins].contiguous(), persistent=False)
        high_f = high_f[:, self._high_from:]
        self._high_groups = band_groups(high_f, 12 * int(front_end.bins_per_semitone))
        self.register_buffer("high_filters", high_f.contiguous(), persistent=False)  # the definition; groups compute it
        for g, (b0, b1, f0, f1) in enumerate(self._high_groups):
            self.register_buffer(f"high_filters_{g}", high_f[b0:b1, f0:f1].contiguous(), persistent=False)
        taps = lowpass_taps(d)
        self._n_taps = taps.numel()
        self.register_buffer("lowpass", polyphase_taps(taps, d), persistent=False)
        self.low_stft = PowerSpectrogram(front_end.n_fft_low // d, front_end.hop_length // d, 0, self._low_bins)
        self.high_stft = PowerSpectrogram(front_end.n_fft, front_end.hop_length, self._high_from)
        self._n = len(centres)

    @property
    def n_features(self) -> int:
        return self._n

    @property
    def reach_samples(self) -> int:
        """How far either side of its centre sample a frame reads: half the longer STFT, plus
        the decimation filter's half length. Features of a signal cut this far beyond the frames
        kept are those of the whole signal (``model.windows.WindowFeed``)."""
        return max(self.front_end.n_fft, self.front_end.n_fft_low) // 2 + self._n_taps // 2

    def _low_audio(self, audio: torch.Tensor) -> torch.Tensor:
        d = self._decimate
        if d == 1:
            return audio
        return decimate(audio.float(), self.lowpass, self._n_taps)

    def _high_bands(self, power: torch.Tensor) -> torch.Tensor:
        """``(B, bins, T)`` power of the high STFT -> ``(B, n_high, T)`` band power: the
        ``high_filters`` product, computed per group of bands on the bins it reads."""
        return torch.cat([getattr(self, f"high_filters_{g}") @ power[:, f0:f1]
                          for g, (_, _, f0, f1) in enumerate(self._high_groups)], dim=1)

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        audio = _as_batch(audio)
        high = self._high_bands(self.high_stft(audio))       # (B, n_high, T), T = S // hop + 1
        # The decimated audio has ceil(S / d) samples, so its STFT has T or T + 1 frames, never fewer.
        low = self.low_filters @ self.low_stft(self._low_audio(audio))[..., :high.shape[-1]]
        return torch.log(torch.cat([low, high], dim=1) + LOG_EPS).transpose(1, 2)  # (B, T, F)


FRONT_ENDS = {"mel": LogMel, "logfreq": LogFreq}


def make_front_end(front_end: FrontEndConfig) -> nn.Module:
    """The front end ``front_end.kind`` names."""
    if front_end.kind not in FRONT_ENDS:
        raise ValueError(f"features.kind must be one of {', '.join(FRONT_ENDS)}, got {front_end.kind!r}")
    return FRONT_ENDS[front_end.kind](front_end)
