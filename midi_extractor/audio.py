"""Reading audio: one window of a file, mono float32, at the rate asked for.

Only the frames the window needs are read (``soundfile`` seek + frame
count), so a 4 s training window of a 5-minute Slakh FLAC costs about 4 s of
decoding. Resampling uses soxr (``soxr.resample``, "HQ"), the fastest of the
resamplers installed here (librosa's default is the same library).

A window read at a new rate matches the same stretch of a full read (up to
float rounding): the read starts on a sample that falls on the output grid,
with some context either side that is trimmed after resampling.

Anything that cannot be read (missing, empty, corrupt, truncated, unknown
format) raises :class:`AudioError`, whose message starts with the file's path.
Non-finite samples (NaN, +-inf) are refused, never repaired: every read checks
the frames it decoded and raises :class:`NonFiniteAudioError` (an
``AudioError``) with how many NaN and inf samples it found. :func:`scan_audio`
decodes a whole file once (the filter's check: truncation, corruption,
non-finite samples and the loudest block in one pass). A WAV cut short, which
libsndfile reads as a shorter file, is named with a warning once
(``wav_header.warn_if_truncated``).
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import soundfile as sf

from midi_extractor.wav_header import warn_if_truncated

try:  # soxr ships with librosa; fall back to librosa's own call if absent
    import soxr as _soxr
except ImportError:  # pragma: no cover
    _soxr = None

#: file extensions the package treats as audio (what libsndfile can read here)
AUDIO_EXTENSIONS = (".flac", ".wav", ".mp3", ".ogg", ".aiff", ".aif")

#: output samples of context read either side of a resampled window
_CONTEXT_OUT = 512

#: floor of :func:`rms_db` (digital silence)
SILENCE_DB = -200.0

#: a sample this loud sits at full scale: int16's largest (32767 / 32768) up to 1.0
FULL_SCALE = 32767 / 32768


def count_full_scale(data: np.ndarray) -> int:
    """Samples at full scale (clipped): ``FULL_SCALE <= |x| <= 1.0``. Float samples past 1.0 are
    overdriven, not clipped (they kept their peaks; ``infer.audio_in`` scales them down)."""
    a = np.abs(data)
    return int(np.count_nonzero((a >= FULL_SCALE) & (a <= 1.0)))


class AudioError(ValueError):
    """An audio file that cannot be read; the message names the file and the problem."""

    def __init__(self, path: str | Path, problem: str):
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{path}: {problem}")


class NonFiniteAudioError(AudioError):
    """Audio holding NaN or infinite samples (refused, not repaired)."""


def nonfinite_counts(x: np.ndarray) -> tuple[int, int]:
    """``(NaN samples, infinite samples)`` of an array (any shape)."""
    finite = np.isfinite(x)
    if finite.all():
        return 0, 0
    n_nan = int(np.count_nonzero(np.isnan(x)))
    return n_nan, int(x.size - np.count_nonzero(finite) - n_nan)


def check_finite(x: np.ndarray, name: str | Path, where: str = "") -> np.ndarray:
    """``x`` unchanged when every sample is finite; else raise
    :class:`NonFiniteAudioError` naming ``name`` and the NaN/inf counts
    (``where``: e.g. ``"in frames 0-16000"``). For arrays handed to the
    package directly (``transcribe(array)``) as files are checked on read."""
    n_nan, n_inf = nonfinite_counts(x)
    if n_nan or n_inf:
        raise NonFiniteAudioError(name, f"{n_nan} NaN and {n_inf} infinite samples{' ' + where if where else ''} "
                                        "(non-finite audio is refused, not repaired)")
    return x


def _open(path: str | Path) -> sf.SoundFile:
    path = Path(path)
    if not path.exists():
        raise AudioError(path, "audio file not found")
    if path.is_dir():
        raise AudioError(path, "is a folder, not an audio file")
    stat = path.stat()
    if stat.st_size == 0:
        raise AudioError(path, "empty file (0 bytes)")
    try:
        f = sf.SoundFile(str(path))
    except (sf.LibsndfileError, RuntimeError, OSError, TypeError) as exc:
        raise AudioError(path, f"unreadable or corrupt audio ({exc})") from None
    warn_if_truncated(path, stat)  # libsndfile reads a cut-short WAV as a shorter file, silently
    return f


def audio_info(path: str | Path) -> tuple[int, int, int]:
    """``(sample_rate_hz, n_frames, channels)`` of an audio file, from its header.

    Raises :class:`AudioError` for a missing, empty or unreadable file.
    """
    with _open(path) as f:
        return int(f.samplerate), int(f.frames), int(f.channels)


def resample(x: np.ndarray, from_hz: int, to_hz: int) -> np.ndarray:
    """Resample a mono float32 signal (soxr HQ)."""
    if from_hz == to_hz or x.size == 0:
        return x.astype(np.float32, copy=False)
    if _soxr is not None:
        return _soxr.resample(x, from_hz, to_hz, quality="HQ").astype(np.float32, copy=False)
    import librosa  # pragma: no cover

    return librosa.resample(x, orig_sr=from_hz, target_sr=to_hz, res_type="soxr_hq").astype(np.float32)


def _read(f: sf.SoundFile, path: str | Path, start: int, n: int, stats: dict | None = None) -> np.ndarray:
    """Read ``n`` frames from ``start`` as mono float32; frames past the end are
    zeros (so are frames before 0). ``stats``: add ``samples`` read and how many sat at
    ``full_scale`` (:func:`count_full_scale`, in any channel, before the mono mix), and keep
    the ``peak`` of the mono mix at the file's own rate."""
    out = np.zeros(max(n, 0), dtype=np.float32)
    lo, hi = max(start, 0), min(start + n, f.frames)
    if hi <= lo:
        return out
    try:
        f.seek(lo)
        data = f.read(hi - lo, dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, OSError) as exc:
        raise AudioError(path, f"corrupt audio: reading frames {lo}-{hi} failed ({exc})") from None
    if len(data) < hi - lo:
        raise AudioError(path, f"truncated audio: header declares {f.frames} frames, "
                               f"decoding stopped at frame {lo + len(data)}")
    check_finite(data, path, f"in frames {lo}-{hi}")
    if stats is not None:
        stats["samples"] = stats.get("samples", 0) + data.size
        stats["full_scale"] = stats.get("full_scale", 0) + count_full_scale(data)
    mono = data.mean(axis=1) if data.shape[1] > 1 else data[:, 0]
    if stats is not None and mono.size:
        stats["peak"] = max(stats.get("peak", 0.0), float(np.max(np.abs(mono))))
    out[lo - start: lo - start + len(mono)] = mono
    return out


def load_audio(path: str | Path, sample_rate_hz: int, offset_s: float = 0.0,
               duration_s: float | None = None, stats: dict | None = None) -> np.ndarray:
    """Read ``duration_s`` seconds from ``offset_s`` (the rest of the file if
    None) as float32 mono at ``sample_rate_hz``.

    Stereo (any channel count) is averaged to mono. A window that runs past the
    end is zero-padded to exactly ``round(duration_s * sample_rate_hz)``
    samples. A full read has ``round(n_frames * sample_rate_hz / file_rate)``
    samples. Raises :class:`AudioError` (message: path and problem) for a
    missing, empty, corrupt or unreadable file; ``ValueError`` for a negative
    offset or duration. ``stats`` (a dict): counts of the file's own samples, see :func:`_read`.
    """
    if offset_s < 0 or (duration_s is not None and duration_s < 0):
        raise ValueError(f"{path}: offset_s and duration_s must be >= 0 "
                         f"(got offset_s={offset_s}, duration_s={duration_s})")
    sample_rate_hz = int(sample_rate_hz)
    with _open(path) as f:
        native = int(f.samplerate)
        if f.frames <= 0:
            raise AudioError(path, "no audio frames (empty audio stream)")
        total_out = int(round(f.frames * sample_rate_hz / native))
        o0 = int(round(offset_s * sample_rate_hz))
        n_out = (max(total_out - o0, 0) if duration_s is None
                 else int(round(duration_s * sample_rate_hz)))
        if n_out == 0:
            return np.zeros(0, dtype=np.float32)
        if native == sample_rate_hz:
            return _read(f, path, o0, n_out, stats)
        # start on a sample shared by both grids, with context either side
        g = math.gcd(native, sample_rate_hz)
        step_out, step_in = sample_rate_hz // g, native // g
        ctx_start = max(o0 - _CONTEXT_OUT, 0) // step_out * step_out
        start_in = ctx_start // step_out * step_in
        want_out = (o0 - ctx_start) + n_out + _CONTEXT_OUT
        n_in = int(math.ceil(want_out * native / sample_rate_hz))
        # never read past what a full read would read: trailing zeros are
        # padding, and the full read ends at the file's end too
        n_in_real = min(n_in, max(f.frames - start_in, 0))
        x = _read(f, path, start_in, n_in_real, stats)
    y = resample(x, native, sample_rate_hz)
    lo = o0 - ctx_start
    out = np.zeros(n_out, dtype=np.float32)
    piece = y[lo: lo + n_out]
    # a full read stops at total_out; anything the resampler rang past it is padding
    piece = piece[: max(total_out - o0, 0)]
    out[: len(piece)] = piece
    return out


def iter_blocks(path: str | Path, block_s: float = 0.5):
    """Yield consecutive mono float32 blocks of ``block_s`` seconds at the file's
    own rate (the last may be shorter), decoding as it goes: a caller that
    stops early decodes only what it used. Raises :class:`AudioError`."""
    with _open(path) as f:
        if f.frames <= 0:
            raise AudioError(path, "no audio frames (empty audio stream)")
        block = max(int(f.samplerate * block_s), 1)
        pos = 0
        while pos < f.frames:
            n = min(block, f.frames - pos)
            x = _read(f, path, pos, n)
            pos += n
            yield x


def _loudest_block_db(data: np.ndarray, block: int) -> float:
    """Loudest RMS (dBFS) over consecutive ``block``-frame blocks of ``(frames, channels)`` data, mono mix."""
    mono = data.mean(axis=1) if data.shape[1] > 1 else data[:, 0]
    n_full = len(mono) // block
    loudest = SILENCE_DB
    if n_full:
        power = np.square(mono[: n_full * block].reshape(n_full, block), dtype=np.float64).mean(axis=1)
        peak = float(power.max())
        loudest = max(10.0 * math.log10(peak), SILENCE_DB) if peak > 0 else SILENCE_DB
    if len(mono) > n_full * block:
        loudest = max(loudest, rms_db(mono[n_full * block:]))
    return loudest


def scan_audio(path: str | Path, block_s: float = 0.5, chunk_s: float = 10.0) -> tuple[float, int]:
    """Decode a whole file once, in order: ``(loudest block RMS in dBFS, frames
    decoded)``, blocks of ``block_s`` at the file's own rate (mono mix).

    Raises :class:`AudioError` naming the file for a missing, empty, corrupt or
    truncated file (fewer frames decode than its header declares) and
    :class:`NonFiniteAudioError` with the NaN/inf counts of the whole file.
    Cost: about 0.3 s for a 4-minute 44.1 kHz stereo FLAC on one core here."""
    loudest, done, n_nan, n_inf = SILENCE_DB, 0, 0, 0
    with _open(path) as f:
        if f.frames <= 0:
            raise AudioError(path, "no audio frames (empty audio stream)")
        block = max(int(f.samplerate * block_s), 1)
        chunk = max(int(f.samplerate * chunk_s) // block, 1) * block
        while done < f.frames:
            want = min(chunk, f.frames - done)
            try:
                data = f.read(want, dtype="float32", always_2d=True)
            except (sf.LibsndfileError, RuntimeError, OSError) as exc:
                raise AudioError(path, f"corrupt or truncated audio: decoding frames {done}-{done + want} "
                                       f"of {f.frames} failed ({exc})") from None
            if len(data) == 0:
                break
            a, b = nonfinite_counts(data)
            n_nan, n_inf = n_nan + a, n_inf + b
            if not (a or b):
                loudest = max(loudest, _loudest_block_db(data, block))
            done += len(data)
        frames = int(f.frames)
    if n_nan or n_inf:
        raise NonFiniteAudioError(path, f"{n_nan} NaN and {n_inf} infinite samples "
                                        "(non-finite audio is refused, not repaired)")
    if done < frames:
        raise AudioError(path, f"truncated audio: header declares {frames} frames, only {done} decode")
    return loudest, done


def rms_db(x: np.ndarray) -> float:
    """RMS level in dB full scale (a full-scale sine is about -3 dB); silence
    and empty arrays give :data:`SILENCE_DB` (-200). Raises
    :class:`NonFiniteAudioError` for NaN/inf samples (their level is undefined,
    never "silent")."""
    x = np.asarray(x, dtype=np.float64)
    if x.size == 0:
        return SILENCE_DB
    check_finite(x, "signal")
    level = rms(x)
    return max(20.0 * math.log10(level), SILENCE_DB) if level > 0 else SILENCE_DB


def rms(x: np.ndarray) -> float:
    """Root mean square of ``x`` (linear, float64 arithmetic); 0.0 for an empty array."""
    x = np.asarray(x, dtype=np.float64)
    return math.sqrt(float(np.mean(x * x))) if x.size else 0.0
