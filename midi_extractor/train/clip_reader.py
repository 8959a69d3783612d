"""Reading the tracks of an index for training and evaluation: audio windows and corrected notes,
from a source index (audio files, MIDI files) or a prepared one (:mod:`midi_extractor.prepared`).

:class:`ClipReader` is a mixin of :class:`~midi_extractor.train.clips.TranscriptionDataset`:
``read(i, offset_s, duration_s)`` gives ``(round(duration_s * sample_rate_hz),)`` float32 mono
samples of entry ``i`` (zero-padded past its end), ``notes(i)`` its ``(N, 4)`` float64 note array
(start_s, end_s in s; pitch or GM drum key; velocity 1-127). :func:`full_track` reads a whole
track with its four rolls.

Reading a source index: only the window a clip needs is decoded (``audio.load_audio`` with
offset and duration), unless the dataset cached every track at construction (then windows are
slices). Parsed MIDI is cached per track as a compact note array.

Labels: the notes of a source index go through
:func:`~midi_extractor.index_io.label_notes` (the entry's ``label_shift_semitones``, real
Slakh bass -12; a pitched stem's notes outside ``front_end.min_midi..max_midi`` left out, one
log line per entry that has any) and :func:`~midi_extractor.index_io.fit_labels` (prepare's
rule); a prepared index's notes were corrected by ``prepare``, and one prepared at another
rate or for another pitch range than the model's is refused.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from midi_extractor import prepared
from midi_extractor.audio import audio_info, load_audio
from midi_extractor.config import FrontEndConfig
from midi_extractor.index_io import DataError, LabelFitError, entry_paths, fit_labels, label_notes
from midi_extractor.model.labels import MidiError, load_notes, rolls_from_midi

log = logging.getLogger("midi_extractor.train.clips")


def full_track(entry: Mapping, dataset_root: str | Path, front_end: FrontEndConfig,
               drum_classes: Sequence[str] | None = None) -> dict[str, Any]:
    """A whole track for evaluation: ``audio`` ``(S,)`` float32 at the front
    end's rate, the four rolls ``(front_end.n_frames(S), n_outputs)`` float32,
    ``notes`` (``labels.load_notes``: ``(N, 4)`` start_s, end_s, pitch,
    velocity, corrected by ``index_io.label_notes``), ``out_of_range_notes`` (how many it
    left out) and ``track``. Raises ``AudioError``/``MidiError``/``DataError`` naming the file."""
    audio_path, midi_path = entry_paths(entry, dataset_root)
    audio = load_audio(audio_path, front_end.sample_rate_hz)
    notes, n_dropped = label_notes(load_notes(midi_path), entry, front_end.min_midi, front_end.max_midi,
                                   pitched=not drum_classes)
    rolls = rolls_from_midi(notes, front_end.n_frames(len(audio)), front_end, drum_classes)
    return {"audio": audio, **rolls, "notes": notes, "out_of_range_notes": n_dropped, "track": entry.get("track")}


class ClipReader:
    """Mixin of the dataset: needs ``index_path``, ``front_end``, ``sr`` (Hz), ``drum_classes``,
    ``prepared``, ``entries`` (with ``_audio``/``_midi`` paths), ``durations`` (s), ``_notes``
    (a dict) and ``_audio`` (None, or decoded tracks by entry number)."""

    def _check_prepared(self, header: Mapping) -> bool:
        """Whether the index is a prepared layout (:mod:`midi_extractor.prepared`); refuses
        one prepared at another rate than the front end's."""
        info = header.get("prepared")
        if not info:
            return False
        if int(info.get("sample_rate_hz", 0)) != self.sr:
            raise DataError(f"{self.index_path}: prepared at {info.get('sample_rate_hz')} Hz but the model reads "
                            f"{self.sr} Hz; prepare it again with --sample-rate {self.sr}")
        fe = self.front_end
        if "min_midi" in info and (int(info["min_midi"]), int(info["max_midi"])) != (fe.min_midi, fe.max_midi):
            raise DataError(f"{self.index_path}: notes prepared for MIDI {info['min_midi']}-{info['max_midi']} but "
                            f"the model reads {fe.min_midi}-{fe.max_midi}; prepare it again with these features")
        return True

    def _left_out_by_prepare(self, header: Mapping) -> dict[str, str]:
        """The files prepare left out (the index's ``bad_files``): they count among this
        dataset's :attr:`bad_files`, so the run's summary lists every file it could not use."""
        left_out = {str(k): f"left out by prepare: {v}" for k, v in dict(header.get("bad_files") or {}).items()}
        if left_out:
            log.warning("%s: %d file(s) were left out by prepare (they are in this run's skipped_files)",
                        self.index_path, len(left_out))
        return left_out

    def _frames_of(self, entry: Mapping, audio_path: Path) -> tuple[int, int]:
        """``(rate_hz, frames)`` of an entry's audio, from its header."""
        if self.prepared:
            return self.sr, prepared.n_frames(audio_path)
        rate, frames, _ = audio_info(audio_path)
        return rate, frames

    def notes(self, i: int) -> np.ndarray:
        """Note array of entry ``i`` (``labels.load_notes`` corrected by ``index_io.label_notes``;
        cached unless prepared, whose notes prepare corrected)."""
        if self.prepared:
            return prepared.load_note_array(self.entries[i]["_midi"])
        if i not in self._notes:
            e, fe = self.entries[i], self.front_end
            notes, n_dropped = label_notes(load_notes(e["_midi"]), e, fe.min_midi, fe.max_midi,
                                           pitched=self.drum_classes is None)
            try:  # the rule prepare applies (a prepared layout's notes passed it already)
                notes, _ = fit_labels(notes, self.durations[i], e["_midi"])
            except LabelFitError as exc:  # a bad file as any other: skipped, named
                raise MidiError(str(exc)) from None
            if n_dropped:
                log.info("%s: %d notes outside MIDI %d-%d (the model's range) left out", e["_midi"], n_dropped,
                         fe.min_midi, fe.max_midi)
            self._notes[i] = notes
        return self._notes[i]

    def with_bleed(self, i: int, x: np.ndarray, offset_s: float, sbr_db: float | None) -> np.ndarray:
        """``x`` (entry ``i``'s samples from ``offset_s``) with the rest of its song mixed in
        ``sbr_db`` below it (:mod:`midi_extractor.dataset.bleed`); ``x`` itself when the entry
        has no bleed or ``sbr_db`` is None."""
        e = self.entries[i]
        if sbr_db is None or not e.get("bleed"):
            return x
        rest = prepared.read_window(Path(self.root) / e["bleed"], int(round(offset_s * self.sr)), len(x),
                                    float(e.get("bleed_scale", 1.0)))
        return (x + rest * np.float32(10.0 ** (-sbr_db / 20.0))).astype(np.float32)

    def read(self, i: int, offset_s: float, duration_s: float) -> np.ndarray:
        """``duration_s`` seconds of entry ``i`` from ``offset_s`` (zero-padded); a validation
        twin's (``bleed_sbr_db``) with its bleed mixed in."""
        n = int(round(duration_s * self.sr))
        if self.prepared:
            e = self.entries[i]
            x = prepared.read_window(e["_audio"], int(round(offset_s * self.sr)), n, float(e.get("scale", 1.0)))
            return self.with_bleed(i, x, offset_s, e.get("bleed_sbr_db"))
        if self._audio is None:
            return load_audio(self.entries[i]["_audio"], self.sr, offset_s, duration_s)
        full = self._audio[i]
        o = int(round(offset_s * self.sr))
        out = np.zeros(n, dtype=np.float32)
        piece = full[o: o + n]
        out[: len(piece)] = piece
        return out
