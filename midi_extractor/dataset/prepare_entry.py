"""Prepare one index entry (one stem): decode and resample its audio once, parse and correct its
notes once, write both arrays and a marker into the prepared layout (:mod:`midi_extractor.prepared`).

Arrays: the audio as int16 mono ``(S,)`` at ``sample_rate_hz`` (``S`` samples, with a float
``scale`` back to [-1, 1]), the notes as float64 ``(N, 4)``: start_s, end_s (s), pitch (MIDI
number, or GM drum key), velocity (1-127). Labels: :func:`midi_extractor.index_io.label_notes`
(label shift, notes outside ``pitch_range`` dropped and counted) then
:func:`midi_extractor.index_io.fit_labels` (notes past the audio trimmed, or the entry refused).

The marker (``audio/<track>/<stem_id>.json``) is written last, after both arrays, each file
atomically; an entry whose marker matches the rate, the arrays' headers, the source audio's size
(bytes) and the label correction is skipped. Bad input never raises: the result names the file
and the problem. The driver over a whole index is :mod:`midi_extractor.dataset.prepare`.
"""
from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from midi_extractor import prepared
from midi_extractor import taxonomy as tx
from midi_extractor.atomic import atomic_open, clean_stale_tmp, write_json
from midi_extractor.audio import AudioError, audio_info, load_audio
from midi_extractor.config import FrontEndConfig
from midi_extractor.index_io import (DataError, OutsideRootError, fit_labels, inside_root, label_notes,
                                     label_shift)
from midi_extractor.midi_notes import MidiError, load_notes

log = logging.getLogger("midi_extractor.dataset.prepare")  # said as the driver's own

#: the model's pitch range when none is given (``features.min_midi``, ``features.max_midi``)
DEFAULT_PITCH_RANGE = (FrontEndConfig.min_midi, FrontEndConfig.max_midi)


def _safe_part(value: Any) -> bool:
    """A track / stem id usable as one path component."""
    s = str(value)
    return bool(s) and s not in (".", "..") and "/" not in s and "\\" not in s and "\0" not in s


def _write_npy(path: Path, array: np.ndarray) -> None:
    clean_stale_tmp(path)
    with atomic_open(path, "wb") as f:
        np.lib.format.write_array(f, np.ascontiguousarray(array), allow_pickle=False)


def pitched_entry(entry: Mapping, stem: Any) -> bool:
    """Whether an entry's notes are pitches (not drum keys): not a drum stem's, not ``is_drum``."""
    meta = entry.get("metadata") if isinstance(entry.get("metadata"), Mapping) else {}
    return stem not in tx.STEM_DRUM_CLASSES and not meta.get("is_drum")


def _complete(out_dir: Path, track: str, stem_id: str, sample_rate_hz: int, source_bytes: int,
              labels: dict) -> dict | None:
    """The marker of an entry whose outputs are all there and match (rate, source size and
    the label correction ``labels``), else None."""
    try:
        marker = json.loads((out_dir / prepared.marker_relpath(track, stem_id)).read_text())
        if (marker.get("format") != prepared.FORMAT or int(marker["sample_rate_hz"]) != sample_rate_hz
                or int(marker["source_bytes"]) != source_bytes
                or any(marker.get(k) != v for k, v in labels.items())):
            return None
        if prepared.n_frames(out_dir / prepared.audio_relpath(track, stem_id)) != int(marker["frames"]):
            return None
        notes = prepared.load_note_array(out_dir / prepared.notes_relpath(track, stem_id))  # whole (N, 4)
        return marker if len(notes) == int(marker["notes"]) else None
    except (OSError, ValueError, KeyError, TypeError):  # AudioError, MidiError: ValueErrors
        return None


def _bad(source_root: Path, track: Any, stem_id: Any, rel: Any, reason: str) -> dict:
    """An entry's "bad" result: its file (as the entry names it, else ``<track>/<stem_id>``), that
    file's full path and the problem."""
    rel = str(rel) if rel else f"{track}/{stem_id}"
    return {"status": "bad", "file": rel, "path": str(source_root / rel), "reason": reason}


def _source_files(entry: Mapping, source_root: Path) -> tuple[Path, Path] | dict:
    """``(audio path, MIDI path)`` of an entry, both existing files inside ``source_root``,
    else the entry's "bad" result (nothing outside the root is opened)."""
    track, stem_id = entry.get("track"), entry.get("stem_id")
    audio_rel, midi_rel = entry.get("audio"), entry.get("midi")
    bad = partial(_bad, source_root, track, stem_id)
    if not _safe_part(track) or not _safe_part(stem_id):
        return bad(audio_rel, f"entry needs a track and stem_id usable as file names "
                              f"(track={track!r}, stem_id={stem_id!r})")
    if not audio_rel:
        return bad(midi_rel, "entry has no audio file")
    if not midi_rel:
        return bad(audio_rel, "entry has no MIDI file (audio without MIDI)")
    try:
        audio_path, midi_path = inside_root(source_root, audio_rel), inside_root(source_root, midi_rel)
    except DataError as exc:
        return bad(audio_rel, str(exc).split(": ", 1)[1])
    if not audio_path.is_file():
        return bad(audio_rel, "audio file not found" if not audio_path.exists() else "audio path is not a file")
    if not midi_path.is_file():
        return bad(midi_rel, "MIDI file not found")
    return audio_path, midi_path


def _skipped(marker: Mapping) -> dict:
    """The result of an entry already prepared, from its marker."""
    return {"status": "skipped", "frames": int(marker["frames"]), "scale": float(marker["scale"]),
            "notes": int(marker["notes"]), "out_of_range_notes": int(marker.get("out_of_range_notes", 0)),
            "trimmed_notes": int(marker.get("trimmed_notes", 0))}


def prepare_entry(entry: Mapping, source_root: str | Path, out_dir: str | Path,
                  sample_rate_hz: int, pitch_range: tuple[int, int] = DEFAULT_PITCH_RANGE,
                  pitched: bool = True) -> dict:
    """Prepare one entry (decode, resample, correct its notes with
    :func:`~midi_extractor.index_io.label_notes`, write its arrays and marker). Returns
    ``{"status": "prepared" | "skipped", "frames", "scale", "notes", "out_of_range_notes"}`` or
    ``{"status": "bad", "file": <source path, relative to the root when it was>,
    "path": <its full path>, "reason": <problem>}``. Never raises for bad input."""
    source_root, out_dir = Path(source_root), Path(out_dir)
    track, stem_id = entry.get("track"), entry.get("stem_id")
    audio_rel, midi_rel = entry.get("audio"), entry.get("midi")
    bad = partial(_bad, source_root, track, stem_id)
    found = _source_files(entry, source_root)
    if isinstance(found, dict):
        return found
    audio_path, midi_path = found
    source_bytes = audio_path.stat().st_size
    try:
        labels = {"label_shift_semitones": label_shift(entry) if pitched else 0,
                  "pitch_range": [int(pitch_range[0]), int(pitch_range[1])] if pitched else None}
    except DataError as exc:
        return bad(midi_rel, str(exc))

    marker = _complete(out_dir, track, stem_id, sample_rate_hz, source_bytes, labels)
    if marker is not None:
        return _skipped(marker)

    try:
        notes, n_dropped = label_notes(load_notes(midi_path), entry, *pitch_range, pitched=pitched)
    except MidiError as exc:
        return bad(midi_rel, str(exc).removeprefix(f"{midi_path}: "))
    try:
        y = load_audio(audio_path, sample_rate_hz)
    except AudioError as exc:
        return bad(audio_rel, exc.problem)
    if y.size == 0:
        return bad(audio_rel, f"no audio samples at {sample_rate_hz} Hz (0-length stem)")
    try:
        notes, n_trimmed = fit_labels(notes, y.size / sample_rate_hz, midi_path)
    except DataError as exc:
        return bad(midi_rel, str(exc).removeprefix(f"{midi_path}: "))
    q, scale = prepared.encode(y)
    del y
    marker = {"format": prepared.FORMAT, "sample_rate_hz": int(sample_rate_hz), "frames": len(q),
              "scale": scale, "notes": len(notes), "source_bytes": int(source_bytes), **labels,
              "out_of_range_notes": n_dropped, **({"trimmed_notes": n_trimmed} if n_trimmed else {})}
    _write_entry(out_dir, track, stem_id, q, notes, marker)
    return {"status": "prepared", "frames": marker["frames"], "scale": scale, "notes": marker["notes"],
            "out_of_range_notes": n_dropped, "trimmed_notes": n_trimmed}


def _write_entry(out_dir: Path, track: str, stem_id: str, q: np.ndarray, notes: np.ndarray, marker: dict) -> None:
    """Write an entry's audio and note arrays, then its marker (complete once the marker is there)."""
    marker_path = out_dir / prepared.marker_relpath(track, stem_id)
    marker_path.unlink(missing_ok=True)  # incomplete until the arrays are written
    _write_npy(out_dir / prepared.audio_relpath(track, stem_id), q)
    _write_npy(out_dir / prepared.notes_relpath(track, stem_id), np.asarray(notes, dtype=np.float64))
    clean_stale_tmp(marker_path)
    write_json(marker_path, marker)


def _source_rate(entry: Mapping, source_root: Path) -> int | None:
    """An entry's audio rate: the index's ``metadata.sample_rate_hz`` (build-index reads each
    header), else the file's header; None when neither can be read (prepare names that file)."""
    rate = (entry.get("metadata") or {}).get("sample_rate_hz")
    if rate is None and entry.get("audio"):
        try:
            rate = audio_info(inside_root(source_root, entry["audio"]))[0]
        except (AudioError, OutsideRootError, OSError):
            return None
    return int(rate) if rate else None


def warn_below_rate(index_path: Path, stem: Any, chosen: Sequence[Mapping], source_root: Path,
                    sample_rate_hz: int) -> None:
    """One warning for the stem when entries are sampled below the rate its model hears:
    upsampled, they hold nothing above their Nyquist frequency (BabySlakh's 16 kHz for the
    32 kHz kit base: no hats or shakers above 8 kHz)."""
    rates = [r for r in (_source_rate(e, source_root) for e in chosen) if r is not None and r < sample_rate_hz]
    if rates:
        low = sorted(set(rates))
        drums = " (where hats and shakers sound)" if stem in tx.STEMS and tx.STEMS[stem].is_drum else ""
        log.warning("%s: %d of %d entries of stem %s are sampled at %s Hz, below the %d Hz its model hears: "
                    "upsampled, they hold nothing above %d Hz%s, so the model learns silence there; use a copy "
                    "of the data at %d Hz or more if there is one", index_path, len(rates), len(chosen), stem,
                    "/".join(map(str, low)), sample_rate_hz, low[0] // 2, drums, sample_rate_hz)
