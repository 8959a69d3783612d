"""What a WAV file's header declares, against what the file holds.

libsndfile reads a WAV whose ``data`` chunk declares more bytes than the file has (a copy
cut short, a recording killed mid-write) as a shorter file, without a word: it trims the
header's count to the data present. :func:`declared_frames` reads the RIFF chunks itself;
``audio._open`` warns once per file version when the two disagree (:func:`warn_if_truncated`).
"""
from __future__ import annotations

import logging
import os
from pathlib import Path

log = logging.getLogger("midi_extractor.audio")

#: ``data`` sizes a streaming writer leaves when it cannot seek back: "unknown", not a length
_UNKNOWN_SIZES = (0, 0xFFFFFFFF, 0x7FFFFFFF)
_MAX_CHUNKS = 64
_warned: set[tuple[str, int, int]] = set()


def declared_frames(path: str | Path) -> tuple[int, int, int] | None:
    """``(frames the data chunk declares, frames the file holds, sample rate)`` of a RIFF
    WAVE file; ``None`` for another format, an unknown data size or chunks it cannot follow."""
    with open(path, "rb") as f:
        head = f.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return None
        size, block_align, rate = os.fstat(f.fileno()).st_size, 0, 0
        for _ in range(_MAX_CHUNKS):
            chunk = f.read(8)
            if len(chunk) < 8:
                return None
            cid, n = chunk[:4], int.from_bytes(chunk[4:], "little")
            if cid == b"data":
                if not block_align or n in _UNKNOWN_SIZES:
                    return None
                return n // block_align, max(size - f.tell(), 0) // block_align, rate
            body = f.read(min(n, 16)) if cid == b"fmt " else b""
            if cid == b"fmt " and len(body) >= 14:
                rate, block_align = int.from_bytes(body[4:8], "little"), int.from_bytes(body[12:14], "little")
            f.seek(n - len(body) + (n & 1), os.SEEK_CUR)
    return None


def warn_if_truncated(path: str | Path, stat: os.stat_result) -> None:
    """Log once per file version (path, size, mtime) when a WAV holds fewer frames than its
    header declares: ``FILE: truncated WAV: the header declares N frames (A s) but the file
    holds M (B s); reading what is there``."""
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    if key in _warned or Path(path).suffix.lower() not in (".wav", ".wave"):
        return
    _warned.add(key)
    try:
        found = declared_frames(path)
    except OSError:
        return
    if found is not None and found[1] < found[0]:
        declared, present, rate = found
        log.warning("%s: truncated WAV: the header declares %d frames (%.2f s) but the file holds %d (%.2f s); "
                    "reading what is there", path, declared, declared / max(rate, 1), present,
                    present / max(rate, 1))
