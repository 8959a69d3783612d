"""Tempo and beat grid of a stem (or a folder's mix), and quantisation of note starts.

:func:`estimate_tempo` computes a spectral-flux onset envelope (128-sample
hop) and a tempo prior from its autocorrelation, tracks beats with Ellis's
dynamic programme (:func:`track_beats`: the algorithm of
``librosa.beat.beat_track``, in numpy, because importing librosa's numba code
and compiling its beat tracker cost 5-7 s in every new process here) and fits
a straight line through the beat times: the slope is the beat period, so
the tempo is not limited to tempogram bins (a 120 BPM click track comes back
as 120.00 where the tempogram says 120.97). The MIDI file then carries that
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
    envelope = onset_envelope(x)
    fps = sample_rate_hz / HOP
    prior_bpm = tempo_prior(envelope, fps)
    beats = track_beats(envelope, fps, prior_bpm) / fps if prior_bpm > 0 else np.zeros(0)
    beats = np.asarray(beats, dtype=float)
    if len(beats) < MIN_BEATS:
        log.warning("%s: found %d beat(s), too few to estimate a tempo; writing %g BPM (or give one with "
                    "--tempo BPM)", name, len(beats), DEFAULT_BPM)
        return TempoEstimate(DEFAULT_BPM, tuple(float(b) for b in beats))
    bpm = refine_tempo(envelope, fps, prior_bpm)
    while bpm > MAX_BPM:
        bpm /= 2
    while bpm < MIN_BPM:
        bpm *= 2
    return TempoEstimate(round(bpm, 2), tuple(float(b) for b in beats))


def onset_envelope(x: np.ndarray, n_fft: int = 1024) -> np.ndarray:
    """Spectral flux ``(T,)`` at :data:`HOP`: the half-wave rectified rise of the log
    magnitude spectrum (dB, floored 80 dB under the peak) summed over frequency."""
    pad = np.pad(np.asarray(x, dtype=np.float32), n_fft // 2)
    n = 1 + (len(pad) - n_fft) // HOP
    if n < 2:
        return np.zeros(max(n, 0))
    frames = np.lib.stride_tricks.as_strided(pad, (n, n_fft), (pad.strides[0] * HOP, pad.strides[0]))
    mag = np.abs(np.fft.rfft(frames * np.hanning(n_fft).astype(np.float32), axis=1))
    db = 20 * np.log10(np.maximum(mag, 1e-10))
    db = np.maximum(db, db.max() - 80.0)
    flux = np.maximum(np.diff(db, axis=0), 0.0).mean(axis=1)
    return np.concatenate([[0.0], flux])


def tempo_prior(envelope: np.ndarray, fps: float, centre_bpm: float = 120.0) -> float:
    """The envelope's strongest periodicity in [MIN_BPM, MAX_BPM] (autocorrelation
    weighted by a log-normal prior around ``centre_bpm``, one octave wide), in BPM;
    0 when there is none."""
    env = np.asarray(envelope, dtype=float) - np.mean(envelope)
    if env.size < 4 or not np.any(env):
        return 0.0
    spec = np.fft.rfft(env, 2 * len(env))
    acf = np.fft.irfft(spec * np.conj(spec))[: len(env)]
    lags = np.arange(len(acf))
    bpm = np.where(lags > 0, 60.0 * fps / np.maximum(lags, 1), np.inf)
    ok = (bpm >= MIN_BPM) & (bpm <= MAX_BPM)
    if not ok.any():
        return 0.0
    weight = np.exp(-0.5 * (np.log2(bpm[ok] / centre_bpm)) ** 2)
    return float(bpm[ok][int(np.argmax(acf[ok] * weight))])


def refine_tempo(envelope: np.ndarray, fps: float, bpm: float, n_multiples: int = 16) -> float:
    """``bpm`` made precise: the autocorrelation peaks near 1, 2, ... ``n_multiples``
    beat periods (each to a fraction of a frame by parabolic interpolation), fitted
    by a line through the origin whose slope is the period."""
    env = np.asarray(envelope, dtype=float) - np.mean(envelope)
    spec = np.fft.rfft(env, 2 * len(env))
    acf = np.fft.irfft(spec * np.conj(spec))[: len(env)]
    period = fps * 60.0 / bpm
    ks, lags = [], []
    for k in range(1, n_multiples + 1):
        centre = k * period
        lo, hi = int(np.floor(centre - 0.1 * period)), int(np.ceil(centre + 0.1 * period))
        if hi + 1 >= len(acf) // 2:
            break
        i = lo + int(np.argmax(acf[lo:hi + 1]))
        a, b, c = acf[i - 1], acf[i], acf[i + 1]
        shift = 0.5 * (a - c) / (a - 2 * b + c) if (a - 2 * b + c) < 0 else 0.0
        ks.append(k)
        lags.append(i + float(np.clip(shift, -0.5, 0.5)))
        period = lags[-1] / k  # follow the refined period
    if not ks:
        return bpm
    ks_arr, lags_arr = np.array(ks, dtype=float), np.array(lags)
    return 60.0 * fps / float(ks_arr @ lags_arr / (ks_arr @ ks_arr))


def track_beats(envelope: np.ndarray, fps: float, bpm: float, tightness: float = 100.0) -> np.ndarray:
    """Beat frames of an onset envelope ``(T,)`` by Ellis's dynamic programme (the
    algorithm of ``librosa.beat.beat_track``, in numpy: librosa's numba version
    compiles for ~7 s in every new process). ``bpm`` is the tempo prior."""
    env = np.asarray(envelope, dtype=float)
    if env.size == 0 or not np.any(env > 0):
        return np.zeros(0, dtype=int)
    env = env / (env.std() + 1e-12)
    period = fps * 60.0 / bpm
    offsets = np.arange(-round(2 * period), -round(period / 2) + 1)  # where the previous beat may be
    penalty = -tightness * np.log(-offsets / period) ** 2
    kernel = np.exp(-0.5 * (np.arange(-period, period + 1) * 32.0 / period) ** 2)
    local = np.convolve(env, kernel, "same")
    cum = np.zeros_like(local)
    back = np.full(len(local), -1, dtype=int)
    for i in range(len(local)):
        prev = i + offsets
        ok = prev >= 0
        if ok.any():
            scores = cum[prev[ok]] + penalty[ok]
            j = int(np.argmax(scores))
            cum[i], back[i] = local[i] + scores[j], prev[ok][j]
        else:
            cum[i] = local[i]
    # last beat: the best local maximum of the cumulative score that is still strong
    peaks = np.flatnonzero((cum[1:-1] >= cum[:-2]) & (cum[1:-1] >= cum[2:])) + 1
    if peaks.size == 0:
        return np.zeros(0, dtype=int)
    strong = peaks[cum[peaks] >= 0.5 * np.median(cum[peaks])]
    beats = [int(strong[-1])]
    while back[beats[-1]] >= 0:
        beats.append(int(back[beats[-1]]))
    beats = np.array(beats[::-1])
    strong_beats = np.flatnonzero(local[beats] > 0.5 * local[beats].mean())  # trim weak beats at either end
    return beats[strong_beats[0]: strong_beats[-1] + 1] if strong_beats.size else beats[:0]


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
