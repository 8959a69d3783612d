"""Validation during training: mean losses over the deterministic validation clips and a
micro onset P/R/F1 (activations and labels decoded to notes the same way inference does,
matched and scored by :mod:`midi_extractor.matching`, as evaluation does). The F1 is the
best over the onset thresholds ``evaluate`` chooses from (the loop passes
``DecodingConfig.onset_candidates()``: params' ``decoding.onset_grid``), i.e. the
score the checkpoint would ship with once ``evaluate`` picks its threshold;
``val_onset_threshold`` says which one it was."""
from __future__ import annotations

from typing import Sequence

import torch

from midi_extractor.matching import match_counts, prf
from midi_extractor.model.decoding import decode

_KEYS = ("val_onset_precision", "val_onset_recall", "val_onset_f1")


def onset_counts(pred: dict, ref: dict, front_end, drum_classes: Sequence[str] | None,
                 onset_threshold: float = 0.5) -> tuple[int, int, int]:
    """``(matched, n_ref, n_est)`` onset-only note matches of one clip; ``pred`` and ``ref``
    hold ``onset``/``frame``/``velocity`` arrays ``(T, n_outputs)`` in [0, 1]; ``pred`` is
    decoded at ``onset_threshold``."""
    ref_notes = decode(ref, front_end, drum_classes)
    est_notes = decode(pred, front_end, drum_classes, onset_threshold=onset_threshold)
    return match_counts(ref_notes, est_notes)["onset"]


def _best_f1(counts: dict[float, list[int]]) -> dict[str, float]:
    """The threshold with the highest F1 (ties: the higher threshold) and its P/R/F1."""
    scored = [(dict(zip(_KEYS, prf(*c))), t) for t, c in counts.items()]
    best, threshold = max(scored, key=lambda s: (s[0]["val_onset_f1"], s[1]))
    return {**best, "val_onset_threshold": threshold}


def validate(model, loader, device: torch.device, amp_dtype=None, drum_classes=None,
             with_f1: bool = True, *, onset_thresholds: Sequence[float]) -> dict[str, float]:
    """Mean losses (``val_loss_*``) over ``loader`` plus ``val_onset_precision/recall/f1``
    (micro, over all clips, at the best of ``onset_thresholds``) and
    ``val_onset_threshold`` when ``with_f1``. Leaves the model in train mode."""
    model.eval()
    sums: dict[str, float] = {}
    n = 0
    counts = {float(t): [0, 0, 0] for t in onset_thresholds}
    heads = ("onset", "frame", "velocity")
    with torch.no_grad():
        for batch in loader:
            batch = {k: (v.to(device) if torch.is_tensor(v) else v) for k, v in batch.items()}
            with torch.autocast(device.type, dtype=amp_dtype or torch.float32, enabled=amp_dtype is not None):
                preds, losses = model.run_on_batch(batch)
            b = batch["audio"].shape[0]
            n += b
            for k, v in losses.items():
                sums[k] = sums.get(k, 0.0) + float(v) * b
            for i in range(b if with_f1 else 0):
                p = {k: preds[k][i].float().cpu().numpy() for k in heads}
                r = {k: batch[k][i].float().cpu().numpy() for k in heads}
                for t, acc in counts.items():
                    c = onset_counts(p, r, model.front_end, drum_classes, t)
                    acc[:] = [a + x for a, x in zip(acc, c)]
    model.train()
    out = {f"val_loss_{k}": v / max(n, 1) for k, v in sums.items()}
    return {**out, **_best_f1(counts)} if with_f1 else out


def is_better(new: dict, best_key: Sequence[float] | None) -> tuple[bool, tuple[float, float]]:
    """Whether a validation beats the best so far: higher onset F1, ties by lower loss."""
    key = (new.get("val_onset_f1", 0.0), -new.get("val_loss_total", 0.0))
    return best_key is None or key > tuple(best_key), key

