"""Tempo and beat grid of a stem (or a folder's mix), and quantisation of note starts.

:func:`estimate_tempo` runs librosa's beat tracker (onset strength at a
128-sample hop, ``librosa.beat.beat_track``) and fits a straight line through
the beat times: the slope is the beat period, so the tempo is not limited to
the tracker's tempogram bins (a 120 BPM click track comes back as 120.00, where
``beat_track``'s own estimate says 120.97). The MIDI file then carries that
tempo (``midi_io.notes_to_midi(..., tempo_bpm=)``) so a DAW's bars line up with
the music; note times in seconds are unchanged by it.

:func:`parse_grid` reads ``1/16``, ``16``, ``1/8t`` (triplet) and
:func:`quantize_notes` moves each note start to the nearest grid line, counted
from 0 s at the written tempo (what a DAW shows; stems exported from a DAW
start on bar 1), keeping the note's length.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from typing import Sequence

import numpy as np

from midi_extractor.model.decoding import Note, note_key

log = logging.getLogger(__name__)

DEFAULT_BPM = 120.0   # MIDI's default tempo, what --no-tempo writes
MIN_BPM, MAX_BPM = 20.0, 400.0  # what the options accept
HOP = 128             # onset-strength hop (samples) for the beat tracker
SILENCE_DB = -90.0    # RMS below this has no tempo to estimate (the engine's silence level too)
MIN_BEATS = 4         # fewer tracked beats than this give no estimate


class TempoError(ValueError):
    """A tempo that cannot be estimated or is not valid; the message says which input and why."""


@dataclass(frozen=True)
class TempoEstimate:
    """``bpm`` (quarter notes per minute) and the tracked beat times in seconds."""

    bpm: float
    beat_times_s: tuple[float, ...]


def check_bpm(bpm: float, where: str = "--tempo") -> float:
    """``bpm`` as a float when it lies in [MIN_BPM, MAX_BPM]; else ``TempoError``."""
    try:
        value = float(bpm)
    except (TypeError, ValueError):
        raise TempoError(f"{where}: expected a tempo in BPM, got {bpm!r}") from None
    if not (MIN_BPM <= value <= MAX_BPM):
        raise TempoError(f"{where}: tempo must be between {MIN_BPM:g} and {MAX_BPM:g} BPM, got {bpm!r}")
    return value


def estimate_tempo(audio: np.ndarray, sample_rate_hz: int, name: str = "audio") -> TempoEstimate:
    """Tempo of a mono signal ``(S,)``. Raises :class:`TempoError` naming ``name``
    for silence; with fewer than :data:`MIN_BEATS` beats (one held note, a few
    hits) it logs a warning and returns :data:`DEFAULT_BPM`. The estimate is
    brought into [MIN_BPM, MAX_BPM] by halving/doubling."""
    from midi_extractor.audio import rms_db

    x = np.asarray(audio, dtype=np.float32)
    if x.size == 0 or rms_db(x) < SILENCE_DB:
        raise TempoError(f"{name}: silent audio, no tempo to estimate (give a tempo with --tempo BPM, "
                         f"or --no-tempo for {DEFAULT_BPM:g})")
    import librosa

    envelope = librosa.onset.onset_strength(y=x, sr=sample_rate_hz, hop_length=HOP)
    _, beats = librosa.beat.beat_track(onset_envelope=envelope, sr=sample_rate_hz, hop_length=HOP,
                                       units="time")
    beats = np.asarray(beats, dtype=float)
    if len(beats) < MIN_BEATS:
        log.warning("%s: found %d beat(s), too few to estimate a tempo; writing %g BPM (or give one with "
                    "--tempo BPM)", name, len(beats), DEFAULT_BPM)
        return TempoEstimate(DEFAULT_BPM, tuple(float(b) for b in beats))
    period_s = float(np.polyfit(np.arange(len(beats)), beats, 1)[0])
    bpm = 60.0 / period_s
    while bpm > MAX_BPM:
        bpm /= 2
    while bpm < MIN_BPM:
        bpm *= 2
    return TempoEstimate(round(bpm, 2), tuple(float(b) for b in beats))


def parse_grid(text: str | int) -> float:
    """Grid step in beats (quarter notes) of ``1/16`` (0.25), ``16``, ``1/8t``
    (a triplet eighth, 1/3). Raises ``ValueError`` for anything else."""
    spec = str(text).strip().lower()
    triplet = spec.endswith("t")
    body = spec[:-1] if triplet else spec
    body = body[2:] if body.startswith("1/") else body
    if not body.isdigit() or int(body) <= 0 or int(body) > 128:
        raise ValueError(f"quantize grid {text!r}: expected a note value like 1/16, 1/8 or 1/8t")
    beats = 4.0 / int(body)
    return beats * 2.0 / 3.0 if triplet else beats


def quantize_notes(notes: Sequence[Note], bpm: float, grid_beats: float) -> list[Note]:
    """Each note's start moved to the nearest multiple of ``grid_beats * 60 / bpm``
    seconds, its length kept; sorted by start."""
    step_s = grid_beats * 60.0 / check_bpm(bpm, "tempo")
    out = []
    for n in notes:
        start = round(n.start_s / step_s) * step_s
        out.append(replace(n, start_s=float(start), end_s=float(start + (n.end_s - n.start_s))))
    return sorted(out, key=note_key)
