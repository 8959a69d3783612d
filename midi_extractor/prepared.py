"""The prepared layout: every stem of an index resampled once to the model's rate and
its notes parsed once, so a training window is a slice of a memory-mapped array.

Written by :mod:`midi_extractor.dataset.prepare` (``midi-extractor prepare``); read
here (numpy only: no torch, no audio decoding, no MIDI parsing). Layout of ``<out>``::

    <out>/index.json                      a contract-1 index (see below), written last
    <out>/audio/<track>/<stem_id>.npy     int16, shape (frames,), mono at sample_rate_hz
    <out>/audio/<track>/<stem_id>.json    per-entry marker written after both arrays:
                                          format, sample_rate_hz, frames, scale, notes,
                                          source_bytes (a rerun skips entries whose
                                          marker and array headers match)
    <out>/notes/<track>/<stem_id>.npy     float64, shape (N, 4): start_s, end_s, pitch,
                                          velocity, sorted by start (``midi_notes.load_notes``)

``index.json`` has the source index's top-level fields, plus:

* ``"dataset_root": "."``: entry paths are relative to the folder holding
  ``index.json``; :func:`midi_extractor.index_io.read_index` reads a prepared
  index from its own folder whatever the current one, so the folder can be moved
  as a whole.
* ``"prepared": {"format": FORMAT, "sample_rate_hz": int, "source_index": str,
  "splits": [str, ...]}`` (:func:`is_prepared` tests for the key).
* ``"bad_files": {path: reason}``: source files (relative to the source
  dataset root) that could not be prepared; their entries are left out.

Each entry keeps its source fields (``track``, ``stem_id``, ``split``,
``metadata``...) with ``audio`` = ``audio/<track>/<stem_id>.npy``, ``midi`` =
``notes/<track>/<stem_id>.npy``, and adds ``source_audio``/``source_midi``
(the source entry's paths), ``frames`` (samples at ``sample_rate_hz``) and
``scale``: the stored int16 ``q`` is ``round(x / scale * 32768)`` (clipped to
int16), read back as ``q * scale / 32768``, with ``scale = max(1, peak |x|)``,
so a stem whose resampled peak exceeds 1.0 is kept unclipped (and a quiet stem
keeps the full int16 resolution of the -1..1 range: error <= 1.5e-5 * scale).

Readers open the file, copy what was asked and let go: nothing is cached, so
memory and open files do not grow with the number of tracks (a 20 s window at
16 kHz costs well under 1 ms).
"""
from __future__ import annotations

from collections.abc import Mapping
import os
import re
from pathlib import Path

import numpy as np

from midi_extractor.audio import AudioError
from midi_extractor.midi_notes import MidiError

#: the layout version written into ``index["prepared"]["format"]``
FORMAT = "int16-npy/1"

#: int16 full scale: stored ``q`` reads back as ``q * scale / INT16_SCALE``
INT16_SCALE = 32768.0


def is_prepared(index: Mapping) -> bool:
    """Whether an index (the parsed JSON) is a prepared layout (has ``"prepared"``)."""
    return "prepared" in index


#: the keys of a prepared entry that are paths relative to its index's folder (``bleed``:
#: :mod:`midi_extractor.dataset.bleed`, on entries that have it)
PATH_KEYS = ("audio", "midi", "bleed")


def rerooted(entry: Mapping, move) -> dict:
    """``entry`` with each of its :data:`PATH_KEYS` passed through ``move``, which turns a path
    relative to the entry's index folder into one relative to another folder."""
    return {**entry, **{k: move(entry[k]) for k in PATH_KEYS if entry.get(k)}}


def audio_relpath(track: str, stem_id: str) -> str:
    """``audio/<track>/<stem_id>.npy`` (relative to the prepared folder)."""
    return f"audio/{track}/{stem_id}.npy"


def notes_relpath(track: str, stem_id: str) -> str:
    """``notes/<track>/<stem_id>.npy`` (relative to the prepared folder)."""
    return f"notes/{track}/{stem_id}.npy"


def marker_relpath(track: str, stem_id: str) -> str:
    """``audio/<track>/<stem_id>.json``: the per-entry marker (relative to the prepared folder)."""
    return f"audio/{track}/{stem_id}.json"


def encode(y: np.ndarray) -> tuple[np.ndarray, float]:
    """``(q, scale)``: float samples as stored, int16 ``q = round(y / scale * 32768)``
    (clipped) with ``scale = max(1, peak |y|)``; :func:`read_window` gives back ``q * scale / 32768``."""
    peak = float(np.max(np.abs(y))) if y.size else 0.0
    scale = max(1.0, peak)
    q = np.rint(y * np.float32(INT16_SCALE / scale))
    np.clip(q, -32768, 32767, out=q)
    return q.astype(np.int16), scale


_SHAPE = re.compile(rb"'shape':\s*\(([0-9, ]*)\)")


def _quick_header(f, descr: bytes) -> tuple[tuple[int, ...], int]:
    """``(shape, data offset)`` of an open ``.npy`` file written by prepare (C order, dtype
    ``descr``), parsed without ``ast`` (numpy's parser was the dearest part of a 20-s read).
    Raises ``ValueError`` for anything else (the caller names the file)."""
    head = f.read(10)
    if len(head) < 10 or head[:6] != b"\x93NUMPY":
        raise ValueError("not a .npy file")
    if head[6] == 1:
        length, offset = int.from_bytes(head[8:10], "little"), 10
    else:
        head += f.read(2)
        length, offset = int.from_bytes(head[8:12], "little"), 12
    text = f.read(length)
    shape = _SHAPE.search(text)
    if len(text) < length or shape is None or b"'fortran_order': False" not in text or \
            (b"'descr': '%s'" % descr) not in text:
        raise ValueError(f"unexpected .npy header {text[:80]!r} (want {np.dtype(descr.decode()).name}, C order)")
    return tuple(int(v) for v in shape.group(1).split(b",") if v.strip()), offset + length


def _audio_header(f) -> tuple[int, int]:
    """``(frames, data offset)`` of an open prepared audio array: int16, 1-D, and as many
    bytes as its header declares. Raises ``ValueError`` (the caller names the file)."""
    shape, offset = _quick_header(f, b"<i2")
    if len(shape) != 1:
        raise ValueError(f"prepared audio must be 1-D (frames,), found shape {shape}")
    if os.fstat(f.fileno()).st_size < offset + 2 * shape[0]:
        raise ValueError(f"truncated: the header declares {shape[0]} frames")
    return shape[0], offset


def _audio_error(path, exc: Exception) -> AudioError:
    """The :class:`AudioError` naming ``path`` for a failed open or header check."""
    if isinstance(exc, FileNotFoundError):
        return AudioError(path, "prepared audio file not found (run prepare again)")
    return AudioError(path, f"not a prepared audio array ({exc}); run prepare again")


def n_frames(path: str | Path) -> int:
    """Samples in a prepared audio array (header only; checks it against the file size).
    Raises :class:`~midi_extractor.audio.AudioError` naming the file."""
    try:
        with open(path, "rb") as f:
            return _audio_header(f)[0]
    except (OSError, ValueError) as exc:
        raise _audio_error(path, exc) from None


def read_window(path: str | Path, start_frame: int, n_frames: int, scale: float = 1.0,
                raw: bool = False) -> np.ndarray:
    """``n_frames`` samples from ``start_frame`` of a prepared audio array as float32
    ``(n_frames,)``, ``q * scale / 32768`` (``raw``: the int16 ``q`` as stored, for a
    conversion on the training device); samples outside the file (a negative start,
    past the end) are zeros. Reads only the window's bytes; nothing stays open.
    Raises :class:`~midi_extractor.audio.AudioError` naming the file when it is
    missing or not a (whole) prepared array; ``ValueError`` for a negative ``n_frames``."""
    start, n = int(start_frame), int(n_frames)
    if n < 0:
        raise ValueError(f"{path}: n_frames must be >= 0, got {n_frames}")
    out = np.zeros(n, dtype=np.int16 if raw else np.float32)
    try:
        with open(path, "rb") as f:
            frames, offset = _audio_header(f)
            lo, hi = max(start, 0), min(start + n, frames)
            if hi <= lo:
                return out
            f.seek(offset + 2 * lo)
            data = np.fromfile(f, dtype="<i2", count=hi - lo)
    except (OSError, ValueError) as exc:
        raise _audio_error(path, exc) from None
    if len(data) < hi - lo:
        raise AudioError(path, f"truncated prepared audio: {len(data)} of {hi - lo} frames from frame {lo} "
                               "could be read; run prepare again")
    dst = out[lo - start: hi - start]
    dst[...] = data
    if not raw:
        dst *= np.float32(float(scale) / INT16_SCALE)
    return out


def load_note_array(path: str | Path) -> np.ndarray:
    """A prepared notes array as float64 ``(N, 4)`` (start_s, end_s, pitch,
    velocity). Raises :class:`~midi_extractor.midi_notes.MidiError` whose
    message starts with the path when it is missing or not such an array."""
    try:
        with open(path, "rb") as f:
            shape, _ = _quick_header(f, b"<f8")
            notes = np.fromfile(f, dtype="<f8")
    except FileNotFoundError:
        raise MidiError(f"{path}: prepared notes file not found (run prepare again)") from None
    except (OSError, ValueError) as exc:
        raise MidiError(f"{path}: not a prepared notes array ({exc})") from None
    if len(shape) != 2 or shape[1] != 4 or notes.size != shape[0] * 4:
        raise MidiError(f"{path}: prepared notes must be a whole float64 (N, 4) array, found shape {shape} "
                        f"with {notes.size} values")
    return notes.reshape(shape)
