"""Log-mel front end, computed inside the model on the model's device.

``LogMel(front_end)`` maps audio ``(B, S)`` float32 in [-1, 1] at
``front_end.sample_rate_hz`` to log-mel features ``(B, T, n_mels)`` with
``T = front_end.n_frames(S) = S // hop_length + 1`` (torch ``center=True``
framing, zero padding: outside the clip is silence, as in inference windows): frame ``t`` is centred on sample ``t * hop_length``,
i.e. ``t * hop_s`` seconds, the same grid :mod:`midi_extractor.model.labels` uses.

Values are ``log(mel_power + eps)`` (natural log of the power mel spectrogram,
HTK mel scale, Slaney-normalised filters); every constant comes from
:class:`~midi_extractor.config.FrontEndConfig`.
"""
from __future__ import annotations

import warnings

import torch
from torch import nn

from midi_extractor.config import FrontEndConfig

#: floor added before the log (power units; about -120 dB re full scale)
LOG_EPS = 1e-6


class LogMel(nn.Module):
    """``forward(audio (B, S) or (S,)) -> (B, T, n_mels)`` log-mel power.

    No trainable parameters; the mel filterbank and window are buffers, so the
    module follows ``.to(device)`` and is rebuilt from the config, not stored
    as learned state.
    """

    def __init__(self, front_end: FrontEndConfig):
        super().__init__()
        import torchaudio

        self.front_end = front_end
        with warnings.catch_warnings():
            # 229 bands from 30 Hz on a 7.8 Hz FFT grid leave a few empty low bands
            warnings.filterwarnings("ignore", message=".*filterbank.*")
            self.mel = torchaudio.transforms.MelSpectrogram(
                sample_rate=front_end.sample_rate_hz, n_fft=front_end.n_fft,
                hop_length=front_end.hop_length, f_min=front_end.f_min_hz, f_max=front_end.f_max_hz,
                n_mels=front_end.n_mels, power=2.0, center=True, pad_mode="constant",
                norm="slaney", mel_scale="htk")

    @property
    def n_features(self) -> int:
        return self.front_end.n_mels

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        if audio.dim() == 1:
            audio = audio.unsqueeze(0)
        if audio.dim() != 2:
            raise ValueError(f"audio must be (B, S) or (S,), got shape {tuple(audio.shape)}")
        # the STFT runs in float32 even under autocast (half-precision FFTs are lossy)
        with torch.autocast(device_type=audio.device.type, enabled=False):
            mel = self.mel(audio.float())            # (B, n_mels, T)
        return torch.log(mel + LOG_EPS).transpose(1, 2)  # (B, T, n_mels)
