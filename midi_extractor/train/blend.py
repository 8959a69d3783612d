"""Blend the fine-tune back toward its base (weight-space ensembling, WiSE-FT: Wortsman et al.,
"Robust fine-tuning of zero-shot models", CVPR 2022), chosen on validation.

A fine-tune learns its stem's training sounds and forgets some of what the base knew about
others; the weights ``w * fine_tune + (1 - w) * base`` for ``0 < w < 1`` often keep more of
both. After the last step, rank 0 mixes the best step's weights (``best.pt``) with the base's at
every ``w`` of ``stems.<stem>.base_blends`` and validates each, as the loop validates a step
(:func:`midi_extractor.train.validation.score`: the validation tracks at the shipped decoding grid).
A blend that beats ``best.pt`` (higher onset F1, ties by lower loss) replaces it; its weight is
the checkpoint's and the summary's ``base_blend``. Each try is a history row (``base_blend``
column). Validation sounds are held out of training, so the choice never reads the test tracks.
Nothing happens when the base itself is the best step (every blend would be the base) or the
run has no base or no validation set.
"""
from __future__ import annotations

import logging
from typing import Mapping

import torch

from midi_extractor.model.checkpoint import load_checkpoint
from midi_extractor.train import distributed as ddp
from midi_extractor.train import outputs
from midi_extractor.train import validation

log = logging.getLogger(__name__)


def blend_weights(fine: Mapping[str, torch.Tensor], base: Mapping[str, torch.Tensor],
                  w: float) -> dict[str, torch.Tensor]:
    """``w * fine + (1 - w) * base`` for every floating-point tensor (computed in float32, given
    back in ``fine``'s dtype and device); other tensors (counters) are ``fine``'s. Both must hold
    the same keys and shapes (ValueError naming the first that differs)."""
    if set(fine) != set(base):
        raise ValueError(f"cannot blend: keys differ ({sorted(set(fine) ^ set(base))[:3]})")
    out = {}
    for k, v in fine.items():
        b = base[k]
        if b.shape != v.shape:
            raise ValueError(f"cannot blend {k}: shape {tuple(v.shape)} against the base's {tuple(b.shape)}")
        if v.is_floating_point():
            mixed = w * v.float() + (1.0 - w) * b.to(v.device).float()
            out[k] = mixed.to(v.dtype)
        else:
            out[k] = v
    return out


def choose(state, run) -> float | None:
    """Try ``run.job.settings.base_blends`` (see the module's docstring); returns the weight of
    the blend written to ``best.pt``, or None when none beat it (``state.base_blend`` too)."""
    job, weights = run.job, list(run.job.settings.base_blends)
    if not (weights and run.base_weights is not None and run.info.is_main and run.val_loader is not None):
        return None
    if not state.best_step or not job.best_path.is_file():
        log.info("%s: the base validates best; no blend to try", job.name)
        return None
    best = load_checkpoint(job.best_path, map_location=run.device)
    model = ddp.unwrap(state.model)
    current = {k: v.detach().clone() for k, v in model.state_dict().items()}
    try:
        for w in weights:
            model.load_state_dict(blend_weights(best["model"], run.base_weights, w))
            val = validation.score(model, run)
            improved, key = validation.is_better(val, state.best_key, job.tone_guard)
            _record(state, run, w, val, improved)
            if improved:
                state.best_key, state.best_metric, state.base_blend = key, val.get("val_onset_f1"), w
                outputs.save(job.best_path, {**best, "model": model.state_dict(),
                                             "best_metric": state.best_metric, "base_blend": w})
    finally:
        model.load_state_dict(current)  # the state stays the last step's (last.pt, the summary's losses)
    return state.base_blend


def _record(state, run, w: float, val: dict, improved: bool) -> None:
    """A history row for the try, the tracker's metrics and a log line."""
    row = {"step": state.step, "base_blend": w, **val}
    state.history.append(row)
    outputs.write_history(run.job.out_dir / "history.csv", state.history)
    run.tracker.log_metrics({f"blend_{k}": v for k, v in val.items()}, state.step, flush=True)
    f1 = val.get("val_onset_f1")
    log.info("%s: blend %.2f x step %s + %.2f x base: val onset F1 %s%s", run.job.name, w, state.best_step,
             1.0 - w, f"{f1:.3f}" if f1 is not None else "-", " (best so far: best.pt)" if improved else "")
