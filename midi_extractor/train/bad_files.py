"""Which files of a split a :class:`~midi_extractor.train.clips.TranscriptionDataset` leaves out,
and why: bad files never stop a run.

At construction, an entry without MIDI, with a missing, empty or 0-frame audio file is left
out (:meth:`BadFileBook._usable`), and so is one whose files fail a probe read
(:meth:`BadFileBook._keep`, deterministic mode). While drawing random clips, an entry whose
audio or MIDI fails to decode is marked bad in a table shared (shared memory) by the
DataLoader workers of one process (:meth:`BadFileBook._mark_bad`) and no clip is drawn from
it again. Each file gets one warning naming it; :attr:`BadFileBook.bad_files` lists them all
for the run's summary.
"""
from __future__ import annotations

import logging
from typing import Mapping, Sequence

import numpy as np
import torch

from midi_extractor.audio import AudioError
from midi_extractor.index_io import DataError, entry_paths
from midi_extractor.model.labels import MidiError

log = logging.getLogger("midi_extractor.train.clips")

#: bytes per entry of the shared bad-file table (kind byte + reason)
_REASON_BYTES = 256


def _problem(exc: Exception, path: str) -> str:
    """An exception's message without the leading ``path: `` it usually carries."""
    if isinstance(exc, AudioError):
        return exc.problem
    text = str(exc)
    return text[len(path) + 2:] if text.startswith(f"{path}: ") else text


class BadFileBook:
    """Mixin of the dataset: needs ``index_path``, ``split``, ``root``, ``entries``,
    ``durations``, ``_notes``, ``_audio`` and ``_frames_of(entry, audio_path) -> (rate, frames)``."""

    def _start_book(self) -> None:
        self._bad_at_start: dict[str, str] = {}

    def _share_book(self) -> None:
        """The table the DataLoader workers share: row i = [kind (0 ok, 1 audio, 2 MIDI),
        UTF-8 reason, NUL-padded]."""
        self._bad_rows = torch.zeros((len(self.entries), _REASON_BYTES), dtype=torch.uint8).share_memory_()

    def _usable(self, chosen: Sequence[Mapping]) -> tuple[list[dict], list[float]]:
        """Entries whose files exist, whose MIDI is given and whose audio header
        declares frames; the others go to ``bad_files`` (one warning each)."""
        entries, durations = [], []
        for e in chosen:
            given = e.get("audio") or e.get("midi")
            key = str(self.root / given) if given else f"{e.get('track')}/{e.get('stem_id')}"
            try:
                audio_path, midi_path = entry_paths(e, self.root)
                key = str(midi_path)
                if not midi_path.is_file():
                    raise DataError(f"{midi_path}: MIDI file not found")
                key = str(audio_path)
                rate, frames = self._frames_of(e, audio_path)
                if frames <= 0:
                    raise AudioError(audio_path, "no audio frames (0-length stem)")
            except (DataError, AudioError) as exc:
                self._note_bad(key, _problem(exc, key))
                continue
            entries.append({**e, "_audio": str(audio_path), "_midi": str(midi_path)})
            durations.append(frames / rate)
        self._check_some_left(entries, len(chosen))
        return entries, durations

    def _keep(self, probe) -> None:
        """Run ``probe(i, entry)`` on every entry; drop those whose files fail
        (AudioError / MidiError) into ``bad_files``, renumbering the rest."""
        keep = []
        for i, e in enumerate(self.entries):
            try:
                probe(i, e)
                keep.append(i)
            except (AudioError, MidiError) as exc:
                key = exc.path if isinstance(exc, AudioError) else e["_midi"]
                self._note_bad(key, _problem(exc, key))
        if len(keep) == len(self.entries):
            return
        self._check_some_left(keep, len(self.entries))
        notes = {new: self._notes[old] for new, old in enumerate(keep) if old in self._notes}
        audio = None if self._audio is None else {new: self._audio[old] for new, old in enumerate(keep)
                                                  if old in self._audio}
        self.entries = [self.entries[i] for i in keep]
        self.durations = [self.durations[i] for i in keep]
        self._notes, self._audio = notes, audio

    def _note_bad(self, key: str, reason: str) -> None:
        if key not in self._bad_at_start:
            log.warning("%s: skipping %s: %s", self.index_path, key, reason)
        self._bad_at_start[key] = reason

    def _check_some_left(self, left: Sequence, listed: int) -> None:
        if not left:
            raise DataError(f"{self.index_path}: no usable entries in split {self.split!r} "
                            f"({listed} listed, {len(self._bad_at_start)} bad files, e.g. "
                            f"{next(iter(self._bad_at_start.items()), ('-', '-'))[0]})")

    @property
    def bad_files(self) -> dict[str, str]:
        """``{file path: reason}`` of every file this dataset skipped: at
        construction and, in random mode, while drawing clips (in any
        DataLoader worker of this process). For the run's summary."""
        out = dict(self._bad_at_start)
        rows = self._bad_rows.numpy()
        for i in np.flatnonzero(rows[:, 0]):
            key = self.entries[i]["_audio" if rows[i, 0] == 1 else "_midi"]
            out[key] = bytes(rows[i, 1:]).rstrip(b"\0").decode("utf-8", "replace")
        return out

    def _is_bad(self, i: int) -> bool:
        return bool(self._bad_rows[i, 0])

    def _mark_bad(self, i: int, exc: Exception) -> None:
        """Record entry ``i`` as bad (shared with the other workers); one warning per file."""
        if self._is_bad(i):
            return
        kind = 1 if isinstance(exc, AudioError) else 2
        key = self.entries[i]["_audio" if kind == 1 else "_midi"]
        reason = _problem(exc, key)
        log.warning("%s: skipping %s for the rest of the run: %s", self.index_path, key, reason)
        data = reason.encode("utf-8")[: _REASON_BYTES - 1]
        self._bad_rows[i, 1:1 + len(data)] = torch.frombuffer(bytearray(data), dtype=torch.uint8)
        self._bad_rows[i, 0] = kind
        n_bad = int(torch.count_nonzero(self._bad_rows[:, 0]))
        if n_bad >= len(self.entries):
            raise DataError(f"{self.index_path}: every entry of split {self.split!r} is unreadable "
                            f"({n_bad} files; last: {key}: {reason})") from exc
