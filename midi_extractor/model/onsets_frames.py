"""The older Onsets & Frames style architectures (``model.size``: ``small``, ``paper``): the
frequency bins are channels, so each pitch is learned on its own. Kept so their checkpoints
load; new models use :mod:`midi_extractor.model.harmonic`.

``small`` (CPU, 0.70 M parameters with 88 pitches, 0.48 M with 4 drum classes): per-bin BatchNorm of
the log-mel, two ``Conv1d(k=3)`` layers over time with the mel bins as
channels (``conv_channels`` = 192), then
  * onset stack: BiGRU(``rnn_units`` = 96) -> Linear -> onset, offset and
    velocity logits;
  * frame stack: Linear(trunk) -> frame activation; the O&F "combined" stack
    BiGRU(``rnn_units``) over ``[sigmoid(onset).detach(), sigmoid(offset).detach(),
    sigmoid(activation)]`` -> Linear -> frame logits (onset-conditioned frames).

``paper`` (GPU, Onsets & Frames sizes, 22.6 M parameters with 88 pitches): the O&F 2-D
conv acoustic model (``conv_channels`` = 48 -> 48 -> 96 channels, FC of
16 x 48 = 768) feeding separate onset / offset stacks (BiLSTM ``rnn_units`` =
256), a frame activation and velocity head, and the combined BiLSTM(256).

"""
from __future__ import annotations

import torch
from torch import nn

from midi_extractor.config import ModelConfig
from midi_extractor.model.transcriber import Transcriber

#: (conv_channels, rnn_units) per size
SIZES = {"small": (192, 96), "paper": (48, 256)}


def model_sizes(model_config: ModelConfig) -> tuple[int, int]:
    """``(conv_channels, rnn_units)`` of a config (explicit values override the size)."""
    if model_config.size not in SIZES:
        raise ValueError(f"model.size must be one of {', '.join(SIZES)}, got {model_config.size!r}")
    conv, rnn = SIZES[model_config.size]
    return (int(model_config.conv_channels or conv), int(model_config.rnn_units or rnn))


class _BiRNN(nn.Module):
    """Bidirectional GRU/LSTM ``(B, T, F) -> (B, T, 2H)``."""

    def __init__(self, n_in: int, hidden: int, kind: str = "gru"):
        super().__init__()
        cls = nn.GRU if kind == "gru" else nn.LSTM
        self.rnn = cls(n_in, hidden, batch_first=True, bidirectional=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.rnn(x)[0]


class _ConvStack1d(nn.Module):
    """Small acoustic model: log-mel ``(B, T, M)`` -> ``(B, T, C)`` with two
    Conv1d(k=3) layers over time (mel bins as channels)."""

    def __init__(self, n_mels: int, channels: int):
        super().__init__()
        self.norm = nn.BatchNorm1d(n_mels)
        self.net = nn.Sequential(
            nn.Conv1d(n_mels, channels, 3, padding=1), nn.BatchNorm1d(channels), nn.ReLU(),
            nn.Conv1d(channels, channels, 3, padding=1), nn.BatchNorm1d(channels), nn.ReLU(),
        )
        self.n_out = channels

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        return self.net(self.norm(mel.transpose(1, 2))).transpose(1, 2)


class _ConvStack2d(nn.Module):
    """Onsets & Frames acoustic model: ``(B, T, M)`` -> ``(B, T, 16 * c)``."""

    def __init__(self, n_mels: int, c: int):
        super().__init__()
        fc = 16 * c
        self.cnn = nn.Sequential(
            nn.Conv2d(1, c, 3, padding=1), nn.BatchNorm2d(c), nn.ReLU(),
            nn.Conv2d(c, c, 3, padding=1), nn.BatchNorm2d(c), nn.ReLU(),
            nn.MaxPool2d((1, 2)), nn.Dropout(0.25),
            nn.Conv2d(c, 2 * c, 3, padding=1), nn.BatchNorm2d(2 * c), nn.ReLU(),
            nn.MaxPool2d((1, 2)), nn.Dropout(0.25),
        )
        self.fc = nn.Sequential(nn.Linear(2 * c * (n_mels // 4), fc), nn.Dropout(0.5))
        self.n_out = fc

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        x = self.cnn(mel.unsqueeze(1))               # (B, 2c, T, M/4)
        x = x.transpose(1, 2).flatten(-2)            # (B, T, 2c * M/4)
        return self.fc(x)


class SmallTranscriber(Transcriber):
    """``small``: per-bin BatchNorm, two Conv1d over time (features as channels), one BiGRU
    feeding onset/offset/velocity, a linear frame activation and the combined BiGRU."""

    def __init__(self, front_end, model_config, n_outputs, loss_weights=None):
        super().__init__(front_end, model_config, n_outputs, loss_weights)
        conv, hidden = model_sizes(model_config)
        n = self.n_outputs
        self.trunk = _ConvStack1d(self.features.n_features, conv)
        self.onset_rnn = _BiRNN(conv, hidden, "gru")
        self.onset_head = nn.Linear(2 * hidden, n)
        self.offset_head = nn.Linear(2 * hidden, n)
        self.velocity_head = nn.Linear(2 * hidden, n)
        self.activation_head = nn.Linear(conv, n)
        self.combined = _BiRNN(3 * n, hidden, "gru")
        self.frame_head = nn.Linear(2 * hidden, n)
        self._init_heads()

    def logits_from_features(self, feats: torch.Tensor) -> dict[str, torch.Tensor]:
        h = self.trunk(feats)                           # (B, T, C)
        r = self.onset_rnn(h)                           # (B, T, 2H)
        onset, offset, velocity = self.onset_head(r), self.offset_head(r), self.velocity_head(r)
        frame = self._combine(onset, offset, self.activation_head(h))
        return {"onset": onset, "offset": offset, "frame": frame, "velocity": velocity}


class PaperTranscriber(Transcriber):
    """``paper``: Onsets & Frames sizes; separate 2-D conv acoustic models for onset, offset,
    frame activation and velocity, BiLSTM(256) stacks and the combined BiLSTM."""

    def __init__(self, front_end, model_config, n_outputs, loss_weights=None):
        super().__init__(front_end, model_config, n_outputs, loss_weights)
        conv, hidden = model_sizes(model_config)
        n, n_feat = self.n_outputs, self.features.n_features
        self.onset_stack = nn.Sequential(_ConvStack2d(n_feat, conv))
        fc = self.onset_stack[0].n_out
        self.onset_stack.append(_BiRNN(fc, hidden, "lstm"))
        self.offset_stack = nn.Sequential(_ConvStack2d(n_feat, conv), _BiRNN(fc, hidden, "lstm"))
        self.frame_trunk = _ConvStack2d(n_feat, conv)
        self.velocity_trunk = _ConvStack2d(n_feat, conv)
        self.onset_head = nn.Linear(2 * hidden, n)
        self.offset_head = nn.Linear(2 * hidden, n)
        self.activation_head = nn.Linear(fc, n)
        self.velocity_head = nn.Linear(fc, n)
        self.combined = _BiRNN(3 * n, hidden, "lstm")
        self.frame_head = nn.Linear(2 * hidden, n)
        self._init_heads()

    def logits_from_features(self, feats: torch.Tensor) -> dict[str, torch.Tensor]:
        onset = self.onset_head(self.onset_stack(feats))
        offset = self.offset_head(self.offset_stack(feats))
        frame = self._combine(onset, offset, self.activation_head(self.frame_trunk(feats)))
        return {"onset": onset, "offset": offset, "frame": frame, "velocity": self.velocity_head(self.velocity_trunk(feats))}
