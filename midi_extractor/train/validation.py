"""Validation during training (:func:`score`): mean losses over the deterministic validation
clips (:func:`validate`) and a micro onset P/R/F1 over the validation tracks, each whole
(:func:`validate_tracks`): run through the inference engine's windows, decoded at every
onset x frame x frame-note threshold point ``evaluate`` chooses from (params' ``decoding``),
matched and scored by :mod:`midi_extractor.matching`, as evaluation does. The F1 is the best
point's, i.e. the score the checkpoint would ship with once ``evaluate`` picks its thresholds;
``val_onset_threshold``, ``val_frame_threshold`` and ``val_frame_note_threshold`` (``None``:
no frame notes) say which point it was.

A track is read up to :data:`VAL_TRACK_S` (the generated set's are 24 s: whole), so that a
real Slakh validation split of four-minute songs costs minutes, not hours, per validation.
The F1 of 4-s clips scored one by one (the loop's measure before 2026-12-05) disagreed with
whole tracks on which step is better: on strings it picked the base, 0.570 out of domain,
over a last step at 0.631 that whole tracks preferred (benchmarks/RESULTS.md, "Which
validation picks the step")."""
from __future__ import annotations

from typing import Sequence

import torch

from midi_extractor.model import thresholds, tone_check, windows
from midi_extractor.model.decoding import decode
from midi_extractor.model.labels import rolls_from_midi
from midi_extractor.model.saturation import saturated
from midi_extractor.model.thresholds import Grid

VAL_TRACK_S = 60.0   # seconds of each validation track scored (from its start)


def validate(model, loader, device: torch.device, amp_dtype=None) -> dict[str, float]:
    """Mean losses (``val_loss_*``) over the validation clips of ``loader``. Leaves the
    model in train mode."""
    model.eval()
    sums: dict[str, float] = {}
    n = 0
    with torch.no_grad():
        for batch in loader:
            batch = {k: (v.to(device) if torch.is_tensor(v) else v) for k, v in batch.items()}
            with torch.autocast(device.type, dtype=amp_dtype or torch.float32, enabled=amp_dtype is not None):
                _, losses = model.run_on_batch(batch)
            b = batch["audio"].shape[0]
            n += b
            for k, v in losses.items():
                sums[k] = sums.get(k, 0.0) + float(v) * b
    model.train()
    return {f"val_loss_{k}": v / max(n, 1) for k, v in sums.items()}


def validate_tracks(model, dataset, grid: Grid, device: torch.device, saturate: float = 0.0) -> dict[str, float]:
    """``val_onset_precision/recall/f1``, ``val_onset_threshold``, ``val_frame_threshold`` and
    ``val_frame_note_threshold`` of the point of ``grid`` that ``evaluate`` would choose (:func:`thresholds.sweep` and
    :func:`thresholds.choose`), over every track of ``dataset`` (the validation
    :class:`~midi_extractor.train.clips.TranscriptionDataset`), each read whole (up to
    :data:`VAL_TRACK_S`) and run in the inference windows (:func:`windows.activations`); the
    reference is the track's label rolls decoded; the model hears each track at the stem's
    ``saturate`` drive (:func:`~midi_extractor.model.saturation.saturated`, 0: off), as
    ``evaluate`` and ``transcribe`` run it (over the peak of the part read: a track longer
    than :data:`VAL_TRACK_S` whose loudest moment comes later is driven a little harder here). Empty when the dataset has no track. Leaves the
    model in train mode."""
    fe, classes = model.front_end, dataset.drum_classes

    def tracks():
        for i in range(len(dataset.entries)):
            audio = dataset.read(i, 0.0, min(dataset.durations[i], VAL_TRACK_S))
            ref = decode(rolls_from_midi(dataset.notes(i), fe.n_frames(len(audio)), fe, classes), fe, classes)
            yield ref, windows.activations(model, saturated(audio, saturate), fe, context_s=windows.context_for(classes),
                                           device=str(device))

    model.eval()
    try:
        results, n_tracks = thresholds.sweep(tracks(), fe, classes, grid)
    finally:
        model.train()
    if not n_tracks:
        return {}
    best = thresholds.choose(results)
    return {"val_onset_precision": best["onset_precision"], "val_onset_recall": best["onset_recall"],
            "val_onset_f1": best["onset_f1"], "val_onset_threshold": best["onset_threshold"],
            "val_frame_threshold": best["frame_threshold"],
            "val_frame_note_threshold": best["frame_note_threshold"]}


def score(model, run) -> dict[str, float]:
    """Everything one validation of ``model`` records: :func:`validate`'s clip losses over
    ``run.val_loader``, :func:`validate_tracks`' scores over ``run.val_ds`` at ``run.grid``
    (``run``: a :class:`~midi_extractor.train.loop.Run`) and, for a pitched model, its wrong
    frames and onsets on plain harmonic tones (:func:`~midi_extractor.model.tone_check.check_tones`).
    The loop scores a step with it and :mod:`~midi_extractor.train.blend` a blend, so both are
    chosen by the same figure."""
    tones = tone_check.check_tones(model) if run.job.drum_classes is None else {}
    return {**validate(model, run.val_loader, run.device, run.amp_dtype),
            **validate_tracks(model, run.val_ds, run.grid, run.device, run.job.settings.saturate), **tones}


def is_better(new: dict, best_key: Sequence[float] | None, tone_guard: bool = False) -> tuple[bool, tuple]:
    """Whether a validation beats the best so far: higher onset F1, ties by lower loss. With
    ``tone_guard`` (a pitched base: ``Job.tone_guard``) a step that hears every harmonic tone's
    fundamental (no wrong frame or onset, :mod:`~midi_extractor.model.tone_check`) beats one that
    does not, whatever their F1."""
    key = (new.get("val_onset_f1", 0.0), -new.get("val_loss_total", 0.0))
    if tone_guard:
        key = (float(new.get("val_tone_wrong_frames", 0) + new.get("val_tone_wrong_onsets", 0) == 0), *key)
    if best_key is not None and len(best_key) < len(key):   # a best from before the guard: taken as passing
        best_key = (1.0, *best_key)
    return best_key is None or key > tuple(best_key), key

