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

Architectures (``model_config.size``, see :func:`architectures`): ``harmonic`` and
``harmonic-large`` (:mod:`midi_extractor.model.harmonic`, pitch-equivariant, the default),
``small`` and ``paper`` (:mod:`midi_extractor.model.onsets_frames`, the older bin-as-channel
models; their checkpoints still load).

Loss (:meth:`Transcriber.run_on_batch`, the model owns it): binary
cross-entropy (mean over frames and outputs) for onset, offset and frame;
velocity is the O&F masked MSE, ``sum(onset * (sigmoid(v) - velocity)^2) /
sum(onset)``. Each is multiplied by its weight from ``loss_weights`` (the
role's ``onset_weight`` ... ``velocity_weight``); a weight of 0 skips the head
(its loss is a constant 0). ``losses["total"]`` is the sum. ``loss_weights["restrike"]``
(the role's ``restrike_weight``, default 1) multiplies the onset BCE of every re-strike:
an onset frame whose column sounded in any of the ``RESTRIKE_S`` (0.1 s) before it, the
re-attacks a model most often misses (benchmarks/RESULTS.md, "Where piano loses").
``loss_weights["held"]`` (the role's ``held_weight``, default 1) multiplies the onset BCE of every
held cell: its column sounds (frame target on) and no onset of that column lies within
``HELD_MARGIN_S`` (0.064 s), the cells where a piano's onset head fires again on a held pitch when
other notes start (benchmarks/RESULTS.md, "A probe of piano's false notes").
``loss_weights["octave"]`` (the role's ``octave_weight``, default 1) multiplies the onset and frame
BCE of an octave doubling's cells: a note's onset or frame cell while the pitch 12 columns below
sounds, which a model hears as that pitch's second harmonic (benchmarks/RESULTS.md, "Octave
doublings"); models whose columns are drum classes ignore it.

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

from midi_extractor.config import LOSS_WEIGHT_KEYS, FrontEndConfig, ModelConfig, RoleConfig
from midi_extractor.model.features import make_front_end
from midi_extractor.model.labels import HEADS

RESTRIKE_S = 0.1   # an onset within this long after its column sounded is a re-strike
HELD_MARGIN_S = 0.064   # a sounding cell this far from any onset of its column is "held"


def loss_weights_from_role(role: RoleConfig) -> dict[str, float]:
    """``{"onset": role.onset_weight, ..., "restrike": role.restrike_weight}``."""
    return {k: float(getattr(role, f"{k}_weight")) for k in LOSS_WEIGHT_KEYS}


def normalise_loss_weights(loss_weights: Mapping[str, float] | RoleConfig | None) -> dict[str, float]:
    """Weights keyed ``onset/offset/frame/velocity/restrike`` (``onset_weight`` etc. accepted);
    a missing one weighs 1.0. Raises ``ValueError`` on unknown keys or negative weights."""
    if isinstance(loss_weights, RoleConfig):
        return loss_weights_from_role(loss_weights)
    out = {k: 1.0 for k in LOSS_WEIGHT_KEYS}
    for key, value in (loss_weights or {}).items():
        head = key[:-len("_weight")] if key.endswith("_weight") else key
        if head not in LOSS_WEIGHT_KEYS:
            raise ValueError(f"unknown loss weight {key!r}; known: {', '.join(LOSS_WEIGHT_KEYS)}")
        if float(value) < 0:
            raise ValueError(f"loss weight {key!r} must be >= 0, got {value}")
        out[head] = float(value)
    return out


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

    def trunk_modules(self) -> list[nn.Module]:
        """The layers below the heads (frozen by ``train_layers: heads``); architectures without
        that split raise ``ValueError``."""
        raise ValueError(f"model.size {self.model_config.size!r} has no trunk apart from its heads: "
                         "train_layers: heads needs a harmonic size")

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
    def restrike_frames(self) -> int:
        """Frames before an onset that make it a re-strike when its column sounded in one."""
        return max(1, round(RESTRIKE_S * self.front_end.frame_rate_hz))

    def held_margin_frames(self) -> int:
        """Frames around an onset that are never "held" cells of its column."""
        return max(1, round(HELD_MARGIN_S * self.front_end.frame_rate_hz))

    def _cell_weights(self, targets: Mapping[str, torch.Tensor],
                      batch: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor | None]:
        """Per-cell weights of the onset and frame BCE, from the batch's frame roll taken once
        (``targets``: head -> target roll ``(B, T, n_outputs)`` float32, the heads whose loss is
        on; ``None``: all 1).

        * onset: ``restrike`` on re-strikes, ``held`` on held cells (:func:`restrike_mask`,
          :func:`held_mask`), 1 elsewhere;
        * onset and frame: times ``octave`` on octave doublings (:func:`octave_mask`); not for
          drum-class columns, which are not pitches.

        A mask is built only where its factor is not 1; all ``None`` without a frame roll."""
        lw = self.loss_weights
        restrike, held, octave = lw["restrike"], lw["held"], lw["octave"]
        octave_on = octave != 1.0 and self.n_outputs == self.front_end.n_pitches
        onset_on = "onset" in targets and (restrike != 1.0 or held != 1.0)
        weights: dict[str, torch.Tensor | None] = {"onset": None, "frame": None}
        if not targets or "frame" not in batch or not (octave_on or onset_on):
            return weights
        device = next(iter(targets.values())).device
        frame = batch["frame"].to(device).float()
        if onset_on:
            onset = targets["onset"]
            weight = torch.ones_like(onset)
            if restrike != 1.0:
                weight = weight + (restrike - 1.0) * restrike_mask(onset, frame, self.restrike_frames())
            if held != 1.0:
                weight = weight + (held - 1.0) * held_mask(onset, frame, self.held_margin_frames())
            weights["onset"] = weight
        for head in ("onset", "frame"):
            if octave_on and head in targets:
                factor = 1.0 + (octave - 1.0) * octave_mask(targets[head], frame)
                weights[head] = factor if weights[head] is None else weights[head] * factor
        return weights

    def compute_losses(self, logits: Mapping[str, torch.Tensor],
                       batch: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Weighted losses per head plus ``total`` (see the module docstring)."""
        zero = logits["onset"].new_zeros(())
        targets: dict[str, torch.Tensor] = {}
        for head in ("onset", "offset", "frame"):
            if self.loss_weights[head] != 0 and head in batch:
                targets[head] = batch[head].to(logits[head].device, logits[head].dtype).float()
        weights = self._cell_weights(targets, batch)
        losses: dict[str, torch.Tensor] = {}
        for head in ("onset", "offset", "frame"):
            if head not in targets:
                losses[head] = zero
                continue
            losses[head] = self.loss_weights[head] * F.binary_cross_entropy_with_logits(
                logits[head].float(), targets[head], weight=weights.get(head))
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


def restrike_mask(onset: torch.Tensor, frame: torch.Tensor, n_before: int) -> torch.Tensor:
    """1 where ``onset`` ``(B, T, P)`` is on and ``frame`` was on in the same column in any of the
    ``n_before`` frames before it (a re-strike), else 0."""
    before = torch.zeros_like(frame)
    for shift in range(1, min(n_before, frame.shape[1] - 1) + 1):
        before[:, shift:] = torch.maximum(before[:, shift:], frame[:, :-shift])
    return onset * before


def held_mask(onset: torch.Tensor, frame: torch.Tensor, margin: int) -> torch.Tensor:
    """1 where ``frame`` ``(B, T, P)`` is on and ``onset`` is off in the same column in every frame
    from ``margin`` before to ``margin`` after (a held note, away from its attack), else 0."""
    near = F.max_pool1d(onset.transpose(1, 2), kernel_size=2 * margin + 1, stride=1,
                        padding=margin).transpose(1, 2)
    return frame * (1.0 - near)


def octave_mask(target: torch.Tensor, frame: torch.Tensor) -> torch.Tensor:
    """1 where ``target`` ``(B, T, P)`` (an onset or frame roll, columns one semitone apart) is on
    while ``frame`` is on 12 columns below (an octave doubling), else 0."""
    below = torch.zeros_like(frame)
    below[..., 12:] = frame[..., :-12]
    return target * below


def architectures() -> dict[str, type[Transcriber]]:
    """``model.size`` -> class: the older Onsets & Frames style sizes
    (:mod:`midi_extractor.model.onsets_frames`) and the harmonic family
    (:mod:`midi_extractor.model.harmonic`), imported here as they subclass :class:`Transcriber`."""
    from midi_extractor.model.harmonic import HARMONIC_SIZES, HarmonicTranscriber
    from midi_extractor.model.onsets_frames import PaperTranscriber, SmallTranscriber

    return {"small": SmallTranscriber, "paper": PaperTranscriber,
            **{size: HarmonicTranscriber for size in HARMONIC_SIZES}}


def create_model(front_end: FrontEndConfig, model_config: ModelConfig, n_outputs: int,
                 loss_weights: Mapping[str, float] | RoleConfig | None = None) -> Transcriber:
    """The architecture ``model_config.size`` names (see :func:`architectures`)."""
    known = architectures()
    if model_config.size not in known:
        raise ValueError(f"model.size must be one of {', '.join(known)}, got {model_config.size!r}")
    return known[model_config.size](front_end, model_config, n_outputs, loss_weights)



def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
