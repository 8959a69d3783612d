"""The transcription network (Onsets & Frames style) and its loss.

``Transcriber(front_end, model_config, n_outputs, loss_weights)``

* input: audio ``(B, S)`` float32 at ``front_end.sample_rate_hz``; the log-mel
  front end (:class:`~midi_extractor.model.features.LogMel`) runs inside the model,
  on its device, giving ``T = front_end.n_frames(S) = S // hop + 1`` frames.
* ``forward(audio) -> {"onset", "offset", "frame", "velocity"}``: logits
  ``(B, T, n_outputs)``. Apply a sigmoid to get probabilities; the velocity
  head's sigmoid is ``velocity / 127`` (the label encoding of
  :mod:`midi_extractor.model.labels`).
* ``n_outputs``: ``front_end.n_pitches`` (column = MIDI pitch - ``min_midi``)
  for pitched stems, ``len(drum_classes)`` for percussive ones.

Architecture (``model_config.size``):

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

Loss (:meth:`Transcriber.run_on_batch`, the model owns it): binary
cross-entropy (mean over frames and outputs) for onset, offset and frame;
velocity is the O&F masked MSE, ``sum(onset * (sigmoid(v) - velocity)^2) /
sum(onset)``. Each is multiplied by its weight from ``loss_weights`` (the
role's ``onset_weight`` ... ``velocity_weight``); a weight of 0 skips the head
(its loss is a constant 0). ``losses["total"]`` is the sum.

Checkpoints rebuild the model from a plain dict: :meth:`Transcriber.config_dict`
gives ``{"front_end", "model", "n_outputs", "loss_weights"}`` (all plain
values), :meth:`Transcriber.from_config` takes it back (other keys ignored).
"""
from __future__ import annotations

import dataclasses
import math
from typing import Any, Mapping

import torch
import torch.nn.functional as F
from torch import nn

from midi_extractor.config import FrontEndConfig, ModelConfig, RoleConfig
from midi_extractor.model.features import make_front_end

HEADS = ("onset", "offset", "frame", "velocity")

#: (conv_channels, rnn_units) per size
SIZES = {"small": (192, 96), "paper": (48, 256)}


def loss_weights_from_role(role: RoleConfig) -> dict[str, float]:
    """``{"onset": role.onset_weight, ...}`` from a :class:`RoleConfig`."""
    return {h: float(getattr(role, f"{h}_weight")) for h in HEADS}


def normalise_loss_weights(loss_weights: Mapping[str, float] | RoleConfig | None) -> dict[str, float]:
    """Weights keyed ``onset/offset/frame/velocity`` (``onset_weight`` etc. accepted);
    a missing head weighs 1.0. Raises ``ValueError`` on unknown keys or negative weights."""
    if isinstance(loss_weights, RoleConfig):
        return loss_weights_from_role(loss_weights)
    out = {h: 1.0 for h in HEADS}
    for key, value in (loss_weights or {}).items():
        head = key[:-len("_weight")] if key.endswith("_weight") else key
        if head not in HEADS:
            raise ValueError(f"unknown loss weight {key!r}; known: {', '.join(HEADS)}")
        if float(value) < 0:
            raise ValueError(f"loss weight {key!r} must be >= 0, got {value}")
        out[head] = float(value)
    return out


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


class Transcriber(nn.Module):
    """Base of the architectures: config, loss and :meth:`run_on_batch`; subclasses build
    the layers and :meth:`logits_from_features`. Build one with :func:`create_model` (or
    :meth:`from_config`), which picks the class from ``model_config.size``."""

    def __init__(self, front_end: FrontEndConfig, model_config: ModelConfig, n_outputs: int,
                 loss_weights: Mapping[str, float] | RoleConfig | None = None):
        super().__init__()
        self.front_end = front_end
        self.model_config = model_config
        self.n_outputs = int(n_outputs)
        self.loss_weights = normalise_loss_weights(loss_weights)
        self.features = make_front_end(front_end)

    def _init_heads(self) -> None:
        # Start the sparse heads at a prior rate instead of 0.5: the first few
        # hundred steps otherwise go into learning "mostly off" (focal-loss style init).
        prior = math.log(self.prior_rate / (1.0 - self.prior_rate))
        for head in (self.onset_head, self.offset_head, self.frame_head, self.activation_head):
            nn.init.constant_(head.bias, prior)

    @property
    def prior_rate(self) -> float:
        """Initial probability of the onset/offset/frame heads: ``min(0.05, 1 / n_outputs)``."""
        return min(0.05, 1.0 / max(self.n_outputs, 1))

    # ------------------------------------------------------------ config
    def config_dict(self) -> dict[str, Any]:
        """Plain-dict config that :meth:`from_config` rebuilds the model from."""
        return {"front_end": dataclasses.asdict(self.front_end),
                "model": dataclasses.asdict(self.model_config),
                "n_outputs": self.n_outputs,
                "loss_weights": dict(self.loss_weights)}

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> "Transcriber":
        """Build an (untrained) model from :meth:`config_dict`'s dict (extra keys,
        such as a checkpoint's ``drum_classes`` or ``train``, are ignored)."""
        def build(dc, values):
            names = {f.name for f in dataclasses.fields(dc)}
            return dc(**{k: v for k, v in dict(values or {}).items() if k in names})

        return create_model(build(FrontEndConfig, config.get("front_end")), build(ModelConfig, config.get("model")),
                            int(config["n_outputs"]), config.get("loss_weights"))

    def map_class_weights(self, weights: dict, rows: list[int], n_base: int) -> dict:
        """``weights`` of a model whose outputs are ``n_base`` drum classes, cut to this
        model's classes: ``rows[i]`` is the base's column of this model's class ``i``. Output
        layers (one row a class) keep their rows; the combined RNN's ``[onset|offset|frame]``
        inputs keep their columns. Subclasses add their own class-shaped layers."""
        own = self.state_dict()
        out = dict(weights)
        for key, value in weights.items():
            if key not in own or value.shape == own[key].shape:
                continue
            if value.shape[0] == n_base:                                 # heads: one row per class
                out[key] = value[rows]
            elif value.dim() == 2 and value.shape[1] == 3 * n_base:      # combined RNN inputs
                out[key] = value[:, [b * n_base + r for b in range(3) for r in rows]]
        return out

    # ----------------------------------------------------------- forward
    def forward(self, audio: torch.Tensor) -> dict[str, torch.Tensor]:
        """Logits ``(B, T, n_outputs)`` for ``onset``, ``offset``, ``frame``,
        ``velocity`` from audio ``(B, S)``; ``T = S // hop + 1``."""
        return self.logits_from_features(self.features(audio))

    def logits_from_features(self, feats: torch.Tensor) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def _combine(self, onset, offset, activation) -> torch.Tensor:
        """Onset-conditioned frames: the combined BiRNN over sigmoid(onset, offset) (no
        gradient into them) and sigmoid(activation)."""
        combined = torch.cat([torch.sigmoid(onset).detach(), torch.sigmoid(offset).detach(),
                              torch.sigmoid(activation)], dim=-1)
        return self.frame_head(self.combined(combined))

    # -------------------------------------------------------------- loss
    def compute_losses(self, logits: Mapping[str, torch.Tensor],
                       batch: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Weighted losses per head plus ``total`` (see the module docstring)."""
        losses: dict[str, torch.Tensor] = {}
        zero = logits["onset"].new_zeros(())
        for head in ("onset", "offset", "frame"):
            w = self.loss_weights[head]
            if w == 0 or head not in batch:
                losses[head] = zero
                continue
            target = batch[head].to(logits[head].device, logits[head].dtype)
            losses[head] = w * F.binary_cross_entropy_with_logits(logits[head].float(), target.float())
        w = self.loss_weights["velocity"]
        if w == 0 or "velocity" not in batch or "onset" not in batch:
            losses["velocity"] = zero
        else:
            dev = logits["velocity"].device
            mask = batch["onset"].to(dev).float()
            err = (torch.sigmoid(logits["velocity"].float()) - batch["velocity"].to(dev).float()) ** 2
            losses["velocity"] = w * (mask * err).sum() / mask.sum().clamp(min=1.0)
        losses["total"] = sum(losses[h] for h in HEADS)
        return losses

    def run_on_batch(self, batch: Mapping[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        """``batch``: ``audio (B, S)`` plus rolls ``(B, T, n_outputs)``.
        Returns ``(predictions, losses)``: sigmoid probabilities per head and the
        weighted losses with ``total``."""
        device = next(self.parameters()).device
        logits = self(batch["audio"].to(device))
        n_frames = logits["onset"].shape[1]
        for key in ("onset", "offset", "frame", "velocity"):
            if key in batch and batch[key].shape[1] != n_frames:
                raise ValueError(f"batch[{key!r}] has {batch[key].shape[1]} frames but the model made "
                                 f"{n_frames} from {batch['audio'].shape[-1]} samples")
        losses = self.compute_losses(logits, batch)
        predictions = {k: torch.sigmoid(v) for k, v in logits.items()}
        return predictions, losses


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


#: model.size -> architecture
ARCHITECTURES: dict[str, type[Transcriber]] = {"small": SmallTranscriber, "paper": PaperTranscriber}


def architectures() -> dict[str, type[Transcriber]]:
    """``model.size`` -> class: :data:`ARCHITECTURES` plus the harmonic family
    (:mod:`midi_extractor.model.harmonic`, imported here as it subclasses :class:`Transcriber`)."""
    from midi_extractor.model.harmonic import HARMONIC_SIZES, HarmonicTranscriber

    return {**ARCHITECTURES, **{size: HarmonicTranscriber for size in HARMONIC_SIZES}}


def create_model(front_end: FrontEndConfig, model_config: ModelConfig, n_outputs: int,
                 loss_weights: Mapping[str, float] | RoleConfig | None = None) -> Transcriber:
    """The architecture ``model_config.size`` names (see :func:`architectures`)."""
    known = architectures()
    if model_config.size not in known:
        raise ValueError(f"model.size must be one of {', '.join(known)}, got {model_config.size!r}")
    return known[model_config.size](front_end, model_config, n_outputs, loss_weights)



def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
