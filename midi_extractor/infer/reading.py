"""Pass 1 of a streamed transcription (:mod:`midi_extractor.infer.stream`): a file read block by
block at the model's rate, and what the whole-file path would decide from it.

:func:`resampled_blocks` decodes ``soundfile`` blocks and resamples them with one
``soxr.ResampleStream`` (the same samples as ``audio.load_audio``'s one-shot resampling);
:func:`scan_file` measures the file's length, peak and level (the conditioning, the silence
check and the clipping warning of ``audio_in``) and keeps its blocks when it is no longer than
:data:`REPLAY_MAX_S`, so pass 2 replays them (:meth:`Scan.replay`) instead of reading and
resampling again (about a fifth of a minute's transcription time). A bad file (non-finite,
truncated, corrupt) fails here, before the model runs.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np

from midi_extractor.infer.audio_in import SILENCE_DB, warn_if_clipped

BLOCK_FRAMES = 1 << 16  # file frames decoded per read (1.5 s at 44.1 kHz)
#: files up to this long keep their resampled blocks for pass 2 (38 MB at 16 kHz)
REPLAY_MAX_S = 600.0


@dataclass(frozen=True)
class Scan:
    """A file at the model's rate: samples, peak and mean square, and its resampled blocks
    where it is no longer than :data:`REPLAY_MAX_S` (else ``None``: read it again)."""

    n_samples: int
    peak: float
    mean_square: float
    own_peak: float = 0.0  # the file's peak at its own rate, before resampling (the one a warning names)
    blocks: tuple[np.ndarray, ...] | None = field(default=None, repr=False, compare=False)

    def replay(self, path: str | Path, rate_hz: int) -> Iterator[np.ndarray]:
        """The file's blocks at ``rate_hz`` again: the kept ones, else read anew."""
        return iter(self.blocks) if self.blocks is not None else resampled_blocks(path, rate_hz)

    @property
    def level_db(self) -> float:
        return 10.0 * float(np.log10(self.mean_square)) if self.mean_square > 0 else -np.inf

    @property
    def silent(self) -> bool:
        return self.level_db < SILENCE_DB


def resampled_blocks(path: str | Path, rate_hz: int, stats: dict | None = None) -> Iterator[np.ndarray]:
    """Mono float32 blocks of a file at ``rate_hz``, ``round(frames * rate_hz / file rate)``
    samples in all (as ``audio.load_audio``). Raises ``audio.AudioError``."""
    import soxr

    from midi_extractor.audio import AudioError, _open, _read

    with _open(path) as f:
        native, frames = int(f.samplerate), int(f.frames)
        if frames <= 0:
            raise AudioError(path, "no audio frames (empty audio stream)")
        total = int(round(frames * rate_hz / native))
        stream = soxr.ResampleStream(native, rate_hz, 1, dtype="float32", quality="HQ") if native != rate_hz else None
        done, pos = 0, 0
        while pos < frames:
            x = _read(f, path, pos, min(BLOCK_FRAMES, frames - pos), stats)
            pos += len(x)
            y = x if stream is None else stream.resample_chunk(x, last=pos >= frames)
            y = y[: total - done]
            done += len(y)
            if len(y):
                yield y
    if done < total:
        yield np.zeros(total - done, dtype=np.float32)


def scan_file(path: str | Path, rate_hz: int) -> Scan:
    """Pass 1 over a file (:func:`resampled_blocks`); warns once when it is heavily clipped."""
    from midi_extractor.audio import AudioError

    stats: dict = {}
    n, peak, sum_sq = 0, 0.0, 0.0
    kept: list[np.ndarray] | None = []
    for y in resampled_blocks(path, rate_hz, stats):
        n += len(y)
        peak = max(peak, float(np.max(np.abs(y))))
        # np.square, not np.dot: BLAS's threads, idle or contended, cost more than this sum (a minute's
        # scan took 27 ms with one BLAS thread against 145 ms with two beside a busy core)
        sum_sq += float(np.square(y, dtype=np.float64).sum())
        if kept is not None and n <= REPLAY_MAX_S * rate_hz:
            kept.append(y)
        else:
            kept = None                               # too long to keep: pass 2 reads it again
    if n == 0:
        raise AudioError(path, "no audio samples")
    warn_if_clipped(stats.get("full_scale", 0), stats.get("samples", 0), str(path))
    return Scan(n, peak, sum_sq / n, stats.get("peak", 0.0), None if kept is None else tuple(kept))
