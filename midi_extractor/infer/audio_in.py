"""The signal the model sees: mono float32 at the model's rate, finite, not above full scale.

``engine`` re-exports these (``engine.load_input``, ``engine.condition``, ...).
"""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

log = logging.getLogger("midi_extractor.infer.engine")  # messages read as the engine's, as before

SILENCE_DB = -90.0  # RMS below this is treated as silence
PEAK_LEVEL = 1.0  # input peaking above full scale (overdriven float audio) is scaled to this peak
CLIPPED_FRACTION = 0.02  # warn when this share of the samples sits at full scale (a full-scale sine: 0.6 %)


def to_float(audio: np.ndarray) -> np.ndarray:
    """float32 samples of an array: floats as they are; integer PCM (``scipy.io.wavfile.read``'s int16,
    int32, uint8) scaled so its full scale is 1.0, as a file of that format reads. Raises
    ``ValueError`` for complex samples."""
    audio = np.asarray(audio)
    if np.iscomplexobj(audio):
        raise ValueError(f"audio array: complex samples ({audio.dtype}); pass the real signal")
    if audio.dtype.kind not in "iu":
        return audio.astype(np.float32, copy=False)
    info = np.iinfo(audio.dtype)
    half = (int(info.max) + 1) / 2 if audio.dtype.kind == "u" else -float(info.min)
    offset = half if audio.dtype.kind == "u" else 0.0  # unsigned PCM: silence sits at mid-range
    return ((audio.astype(np.float64) - offset) / half).astype(np.float32)


def check_rate(sample_rate_hz: float | None) -> float:
    """The sample rate of an audio array, checked: a positive, finite number of Hz."""
    if sample_rate_hz is None:
        raise ValueError("an audio array needs sample_rate_hz")
    try:
        rate = float(sample_rate_hz)
    except (TypeError, ValueError):
        rate = float("nan")
    if not (np.isfinite(rate) and rate >= 1):
        raise ValueError(f"sample_rate_hz must be a positive number of Hz, got {sample_rate_hz!r}")
    return rate


def to_mono(audio: np.ndarray) -> np.ndarray:
    """Mono float32 from ``(S,)``, ``(S, C)`` or ``(C, S)`` (channels = the shorter axis); integer
    samples scaled to full scale 1.0 (:func:`to_float`)."""
    audio = to_float(audio)
    if audio.ndim == 1:
        return audio
    if audio.ndim != 2:
        raise ValueError(f"audio array must be 1-D or 2-D, got shape {audio.shape}")
    return audio.mean(axis=0 if audio.shape[0] < audio.shape[1] else 1).astype(np.float32)


def condition(audio: np.ndarray, name: str = "audio array") -> np.ndarray:
    """The signal the model sees: mono float32, finite, peak at most :data:`PEAK_LEVEL`.

    Raises ``ValueError`` naming ``name`` for NaN or infinite samples. A peak
    above 1.0 (overdriven float audio) is scaled down to :data:`PEAK_LEVEL`
    with a logged warning; anything else passes unchanged."""
    x = to_mono(audio)
    _refuse_non_finite(x, name)
    return fit_full_scale(x, name)


def full_scale_gain(peak: float, own_peak: float, name: str) -> float:
    """The gain that brings a signal peaking at ``peak`` (at the model's rate) to at most
    :data:`PEAK_LEVEL`: 1.0 when it is not above 1.0. The warning names the input's own peak
    (``own_peak``, at its own rate, before resampling) and is logged only when that is above full
    scale (overdriven float audio): a clipped integer file rings a little past 1.0 once resampled,
    and that overshoot is scaled back without a word (its clipping has its own warning)."""
    if peak <= 1.0:
        return 1.0
    if own_peak > 1.0:
        log.warning("%s: peak %.2f is above full scale (overdriven); scaled to peak %.2f", name, own_peak, PEAK_LEVEL)
    return PEAK_LEVEL / peak


def fit_full_scale(x: np.ndarray, name: str, own_peak: float | None = None) -> np.ndarray:
    """``x`` times :func:`full_scale_gain` (``own_peak`` None: the peak of ``x`` itself)."""
    peak = float(np.max(np.abs(x))) if x.size else 0.0
    gain = full_scale_gain(peak, peak if own_peak is None else own_peak, name)
    return x if gain == 1.0 else (x * gain).astype(np.float32)


def _refuse_non_finite(x: np.ndarray, name: str) -> None:
    if not np.all(np.isfinite(x)):
        bad = int(np.size(x) - np.count_nonzero(np.isfinite(x)))
        raise ValueError(f"{name}: contains NaN or infinite samples ({bad} of {x.size}); refusing to transcribe")


def load_input(audio: str | Path | np.ndarray, sample_rate_hz: int | None, target_hz: int) -> tuple[np.ndarray, str]:
    """Mono float32 at ``target_hz``, peak at most :data:`PEAK_LEVEL` (:func:`fit_full_scale`, the
    warning naming the input's own peak), and a name for messages. Raises ``audio.AudioError``
    (path + problem) or ``ValueError`` for an array without a rate, an empty input or
    non-finite samples."""
    from midi_extractor.audio import AudioError, count_full_scale, load_audio, resample

    if isinstance(audio, (str, Path)):
        stats: dict = {}
        x = load_audio(audio, target_hz, stats=stats)
        if x.size == 0:
            raise AudioError(audio, "no audio samples")
        if not np.all(np.isfinite(x)):
            raise AudioError(audio, "contains NaN or infinite samples; refusing to transcribe")
        warn_if_clipped(stats.get("full_scale", 0), stats.get("samples", 0), str(audio))
        return fit_full_scale(x, str(audio), stats.get("peak", 0.0)), str(audio)
    rate = check_rate(sample_rate_hz)
    x = to_mono(audio)
    if x.size == 0:
        raise ValueError("audio array: no samples")
    _refuse_non_finite(x, "audio array")  # before resampling smears them
    warn_if_clipped(count_full_scale(x), x.size, "audio array")
    own_peak = float(np.max(np.abs(x)))
    return fit_full_scale(resample(x, int(round(rate)), target_hz), "audio array", own_peak), "audio array"


def warn_if_clipped(n_full_scale: int, n_samples: int, name: str) -> None:
    """Log a warning when at least :data:`CLIPPED_FRACTION` of an input's samples (counted at
    its own rate, before resampling rounds the flat tops off) sit at full scale: clipped
    audio has lost the peaks the model reads, and its notes change."""
    if n_samples and n_full_scale >= CLIPPED_FRACTION * n_samples:
        log.warning("%s: heavily clipped: %.1f%% of its samples sit at full scale; the notes may be wrong "
                    "(transcribe a copy from before the clipping if there is one)", name,
                    100.0 * n_full_scale / n_samples)


def warn_if_below_model_rate(input_hz: int, model_hz: int, name: str) -> None:
    """Log a warning when an input is sampled below the model's rate: it holds nothing above
    ``input_hz / 2``, which the model was trained to hear (the drum models read hats and
    shakers up to 16 kHz); upsampling does not bring it back."""
    if input_hz < model_hz:
        log.warning("%s: sampled at %d Hz, below the model's %d Hz: it holds nothing above %d Hz, where the "
                    "model expects sound (a drum model hears hats and shakers there and may read them as "
                    "snares); transcribe a copy at %d Hz or more if there is one", name, input_hz, model_hz,
                    input_hz // 2, model_hz)


def is_silent(x: np.ndarray) -> bool:
    from midi_extractor.audio import rms_db

    return rms_db(x) < SILENCE_DB
