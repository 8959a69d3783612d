"""Tempo and beat grid of a stem (or a folder's mix), and quantisation of note starts.

:func:`estimate_tempo` computes a spectral-flux onset envelope (128-sample
hop; :class:`OnsetStream` computes it block by block, so a long file's envelope
costs a block of memory, as its transcription streams) and a tempo prior from its autocorrelation, tracks beats with Ellis's
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
N_FFT = 1024          # onset-strength frame (samples)


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
    level = rms_db(x) if x.size else -np.inf
    envelope = onset_envelope(x) if level >= SILENCE_DB else np.zeros(0)
    return tempo_of_envelope(envelope, sample_rate_hz / HOP, level, name)


def tempo_of_envelope(envelope: np.ndarray, fps: float, level_db: float, name: str = "audio") -> TempoEstimate:
    """:func:`estimate_tempo` from an onset envelope at ``fps`` frames per second (a
    whole signal's, or an :class:`OnsetStream`'s) and the signal's RMS level in dB."""
    if len(envelope) == 0 or level_db < SILENCE_DB:
        raise TempoError(f"{name}: silent audio, no tempo to estimate (give a tempo with --tempo BPM, "
                         f"or --no-tempo for {DEFAULT_BPM:g})")
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


def onset_envelope(x: np.ndarray, n_fft: int = N_FFT) -> np.ndarray:
    """Spectral flux ``(T,)`` of a whole signal: :class:`OnsetStream` fed it at once."""
    x = np.asarray(x, dtype=np.float32)
    stream = OnsetStream(float(np.max(np.abs(x))) if x.size else 0.0, n_fft)
    stream.feed(x)
    return stream.finish()


class OnsetStream:
    """Spectral flux at :data:`HOP` of a signal fed in blocks, in memory bounded by a block:
    the half-wave rectified rise of the log power spectrum (dB) averaged over frequency;
    frames centred (``n_fft // 2`` zeros either side), ``1 + len(x) // HOP`` of them.
    Power is floored 80 dB under the most a frame can hold (``peak`` times the window's
    sum, known before the stream, unlike the loudest frame), so quiet noise adds no
    flux. Any split of the signal into blocks gives the same envelope."""

    def __init__(self, peak: float, n_fft: int = N_FFT, block_frames: int = 512):
        self.n_fft, self.block = n_fft, block_frames
        self.window = np.hanning(n_fft).astype(np.float32)
        self.floor = max((float(peak) * float(self.window.sum())) ** 2 * 1e-8, 1e-20)
        self.tail = np.zeros(n_fft // 2, dtype=np.float32)  # samples of frames not yet complete
        self.prev: np.ndarray | None = None  # the last frame's floored log power
        self.parts: list[np.ndarray] = []

    def feed(self, x: np.ndarray) -> None:
        import scipy.fft

        buf = np.concatenate([self.tail, np.asarray(x, dtype=np.float32)])
        n = 1 + (len(buf) - self.n_fft) // HOP if len(buf) >= self.n_fft else 0
        step = buf.strides[0]
        for i in range(0, n, self.block):
            m = min(self.block, n - i)
            frames = np.lib.stride_tricks.as_strided(buf[i * HOP:], (m, self.n_fft), (step * HOP, step))
            spec = scipy.fft.rfft(frames * self.window, axis=1)
            logp = np.log(np.maximum(spec.real ** 2 + spec.imag ** 2, self.floor))
            first = logp[:1] if self.prev is None else self.prev
            rise = np.maximum(np.diff(np.concatenate([first, logp]), axis=0), 0.0)
            self.parts.append(rise.mean(axis=1, dtype=np.float64) * (10.0 / np.log(10.0)))
            self.prev = logp[-1:]
        self.tail = buf[n * HOP:].copy()

    def finish(self) -> np.ndarray:
        """The envelope ``(T,)`` (float64); the first frame's flux is 0."""
        self.feed(np.zeros(self.n_fft // 2, dtype=np.float32))
        return np.concatenate(self.parts) if self.parts else np.zeros(0)


def _autocorrelation(env: np.ndarray) -> np.ndarray:
    """Linear autocorrelation of ``env`` at lags ``0 .. len - 1``, through an FFT zero-padded to
    a fast length of at least twice it (a 30-min envelope's 2 x 225,001 points needed Bluestein's
    algorithm: 0.4 s and ~60 MB of buffers per call)."""
    import scipy.fft

    n = scipy.fft.next_fast_len(2 * len(env), real=True)
    spec = scipy.fft.rfft(env, n)
    return scipy.fft.irfft(spec * np.conj(spec), n)[: len(env)]


def tempo_prior(envelope: np.ndarray, fps: float, centre_bpm: float = 120.0) -> float:
    """The envelope's strongest periodicity in [MIN_BPM, MAX_BPM] (autocorrelation
    weighted by a log-normal prior around ``centre_bpm``, one octave wide), in BPM;
    0 when there is none."""
    env = np.asarray(envelope, dtype=float) - np.mean(envelope)
    if env.size < 4 or not np.any(env):
        return 0.0
    acf = _autocorrelation(env)
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
    acf = _autocorrelation(env)
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
    cum, back = _cumulate(local, offsets, penalty)
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


def _cumulate(local: np.ndarray, offsets: np.ndarray, penalty: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The dynamic programme's cumulative score and back-pointers: frame ``i`` adds
    ``local[i]`` to the best ``cum[i + offset] + penalty`` (the first best on ties; none
    before frame 0). Offsets are at least ``gap`` frames back, so ``gap`` frames at a
    time are computed at once from frames already done (same values as one by one)."""
    cum = np.zeros_like(local)
    back = np.full(len(local), -1, dtype=int)
    gap = max(1, int(-offsets.max()))
    for start in range(0, len(local), gap):
        rows = np.arange(start, min(start + gap, len(local)))
        prev = rows[:, None] + offsets[None, :]
        ok = prev >= 0
        scores = np.where(ok, cum[np.maximum(prev, 0)] + penalty[None, :], -np.inf)
        j = np.argmax(scores, axis=1)
        has = ok.any(axis=1)
        cum[rows] = local[rows] + np.where(has, scores[np.arange(len(rows)), j], 0.0)
        back[rows] = np.where(has, prev[np.arange(len(rows)), j], -1)
    return cum, back


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
    seconds, its length kept; sorted by start. Notes of one pitch (one track's) that land on
    the same start are one note (the loudest velocity, the latest end), and a note that would
    still sound when the next of its pitch starts ends there: a MIDI note-off cannot tell two
    sounding notes of one pitch apart, so a DAW would cut the later one short."""
    step_s = grid_beats * 60.0 / check_bpm(bpm, "tempo")
    snapped = []
    for n in notes:
        start = round(n.start_s / step_s) * step_s
        snapped.append(replace(n, start_s=float(start), end_s=float(start + (n.end_s - n.start_s))))
    out: list[Note] = []
    last: dict[int, int] = {}  # pitch -> index in out of its latest note
    for n in sorted(snapped, key=note_key):
        i = last.get(n.pitch)
        if i is not None and out[i].start_s == n.start_s:
            out[i] = replace(out[i], end_s=max(out[i].end_s, n.end_s), velocity=max(out[i].velocity, n.velocity))
            continue
        if i is not None and out[i].end_s > n.start_s:
            out[i] = replace(out[i], end_s=n.start_s)
        last[n.pitch] = len(out)
        out.append(n)
    return out
