"""Training and evaluation clips from a (filtered) index JSON (contract 1).

:class:`TranscriptionDataset` yields dicts of tensors

* ``audio``: ``(S,)`` float32 mono at ``front_end.sample_rate_hz``,
  ``S = round(clip_seconds * sample_rate_hz)``;
* ``onset``, ``offset``, ``frame``, ``velocity``: ``(T, n_outputs)`` float32,
  ``T = front_end.n_frames(S)`` (encodings: :mod:`midi_extractor.model.labels`),

which the default ``DataLoader`` collate stacks to ``(B, S)`` / ``(B, T, N)``
for :meth:`model.Transcriber.run_on_batch`.

Two modes:

* random (``deterministic=False``, the default for ``train``): each item is a
  clip from a random track (weighted by duration) at a random offset, with the
  role's augmentation (:mod:`midi_extractor.train.augment`). A clip without any
  onset is redrawn up to ``empty_retries`` times (silent stretches of stems
  teach little). Item ``index`` is a pure function of ``(seed, epoch,
  index)``, whatever the worker layout or call order: call
  :meth:`TranscriptionDataset.set_epoch` before each epoch for fresh clips
  (``len()`` is ``clips_per_epoch``, default total duration / clip length).
* deterministic (the default for ``validation``/``test``): the first
  ``max_clips_per_track`` consecutive clips of every track (offsets 0,
  clip_seconds, 2 clip_seconds, ...; None = every whole clip, at least one),
  never augmented.

Paths: an entry's ``audio``/``midi`` are relative to the index's
``dataset_root``; an absolute root is used as is, a relative one is tried
against the current directory (where it was written), then the index file's
folder and its parents (:func:`resolve_dataset_root`).

Splits: ``train``/``validation``/``test`` as in the index. An empty
``validation`` split becomes a deterministic 10 % of the train *tracks*
(CRC32 of the track name), and ``train`` then leaves those tracks out; an
empty ``test`` split falls back to validation. Each fallback is logged.

Reading: only the window a clip needs is decoded (``audio.load_audio`` with
offset and duration), unless the whole set fits in ``cache_mb`` of memory,
in which case every track is decoded once at construction and clips are
slices (``cache_audio="auto"``). Parsed MIDI is cached per track as a
compact note array.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import torch

from midi_extractor.audio import AudioError, audio_info, load_audio
from midi_extractor.train.augment import AugmentPolicy, Draw, apply_audio
from midi_extractor.config import FrontEndConfig
from midi_extractor.index_io import DataError, entry_paths, load_index, select_split
from midi_extractor.model.labels import KEYS, MidiError, load_notes, rolls_from_midi

log = logging.getLogger(__name__)

def full_track(entry: Mapping, dataset_root: str | Path, front_end: FrontEndConfig,
               drum_classes: Sequence[str] | None = None) -> dict[str, Any]:
    """A whole track for evaluation: ``audio`` ``(S,)`` float32 at the front
    end's rate, the four rolls ``(front_end.n_frames(S), n_outputs)`` float32,
    ``notes`` (``labels.load_notes``: ``(N, 4)`` start_s, end_s, pitch,
    velocity) and ``track``. Raises ``AudioError``/``MidiError``/``DataError``
    naming the file."""
    audio_path, midi_path = entry_paths(entry, dataset_root)
    audio = load_audio(audio_path, front_end.sample_rate_hz)
    notes = load_notes(midi_path)
    rolls = rolls_from_midi(notes, front_end.n_frames(len(audio)), front_end, drum_classes)
    return {"audio": audio, **rolls, "notes": notes, "track": entry.get("track")}


# ----------------------------------------------------------------- dataset
class TranscriptionDataset(torch.utils.data.Dataset):
    """Clips of one split of a filtered index; see the module docstring.

    ``augment_policy``: an :class:`~midi_extractor.train.augment.AugmentPolicy`, the
    ``roles.<role>.augment`` dict (role inferred: percussive when
    ``drum_classes`` is given, else melodic; pass a policy for harmonic) or
    None. ``deterministic``: None = ``split != "train"``.

    Keyword-only: ``max_clips_per_track`` (deterministic mode; None = all
    whole clips), ``clips_per_epoch`` (random mode ``len()``),
    ``cache_audio`` (True / False / ``"auto"``: cache when the decoded set fits
    in ``cache_mb`` MiB), ``empty_retries``, ``dataset_root`` (overrides the
    index's root).
    """

    def __init__(self, index_path: str | Path, split: str, front_end: FrontEndConfig,
                 clip_seconds: float, drum_classes: Sequence[str] | None = None,
                 augment_policy: AugmentPolicy | Mapping | None = None, seed: int = 0,
                 deterministic: bool | None = None, *, max_clips_per_track: int | None = None,
                 clips_per_epoch: int | None = None, cache_audio: bool | str = "auto",
                 cache_mb: float = 1024.0, empty_retries: int = 2,
                 dataset_root: str | Path | None = None):
        self.index_path = str(index_path)
        self.split = split
        self.front_end = front_end
        self.clip_seconds = float(clip_seconds)
        if self.clip_seconds <= 0:
            raise ValueError(f"clip_seconds must be > 0, got {clip_seconds}")
        self.drum_classes = tuple(drum_classes) if drum_classes else None
        self.deterministic = (split != "train") if deterministic is None else bool(deterministic)
        if isinstance(augment_policy, Mapping):
            augment_policy = AugmentPolicy.from_params(augment_policy,
                                                       "percussive" if self.drum_classes else "melodic")
        self.augment = None if self.deterministic else augment_policy
        self.seed = int(seed)
        self.epoch = 0
        self.empty_retries = int(empty_retries)
        self.sr = front_end.sample_rate_hz
        self.n_samples = int(round(self.clip_seconds * self.sr))
        self.n_frames = front_end.n_frames(self.n_samples)

        self.root, all_entries = load_index(index_path, dataset_root)
        chosen = select_split(all_entries, split, self.index_path)
        self.entries: list[dict] = []
        self.durations: list[float] = []
        skipped: list[str] = []
        for e in chosen:
            try:
                audio_path, midi_path = entry_paths(e, self.root)
                if not midi_path.is_file():
                    raise DataError(f"{midi_path}: MIDI file not found")
                rate, frames, _ = audio_info(audio_path)
            except (DataError, AudioError) as exc:
                skipped.append(str(exc))
                continue
            self.entries.append({**e, "_audio": str(audio_path), "_midi": str(midi_path)})
            self.durations.append(frames / rate)
        if skipped:
            log.warning("%s: skipped %d bad %s entr%s, e.g. %s", self.index_path, len(skipped), split,
                        "y" if len(skipped) == 1 else "ies", skipped[0])
        if not self.entries:
            raise DataError(f"{self.index_path}: no usable entries in split {split!r} "
                            f"({len(chosen)} listed, {len(skipped)} bad)")
        self._notes: dict[int, np.ndarray] = {}
        self._bad: set[int] = set()
        total_mb = sum(self.durations) * self.sr * 4 / 2**20
        if cache_audio == "auto":
            cache_audio = total_mb <= cache_mb
        self._audio: dict[int, np.ndarray] | None = None
        if cache_audio:
            self._audio = {i: load_audio(e["_audio"], self.sr) for i, e in enumerate(self.entries)}
        if self.deterministic:
            self.clips: list[tuple[int, float]] = []
            for i, dur in enumerate(self.durations):
                n = max(1, int(dur // self.clip_seconds))
                if max_clips_per_track is not None:
                    n = min(n, int(max_clips_per_track))
                self.clips.extend((i, k * self.clip_seconds) for k in range(n))
            self.length = len(self.clips)
        else:
            self.length = int(clips_per_epoch) if clips_per_epoch else \
                max(len(self.entries), int(sum(self.durations) // self.clip_seconds))
        self._weights = np.asarray(self.durations, dtype=np.float64) / sum(self.durations)

    # ------------------------------------------------------------ helpers
    @property
    def n_outputs(self) -> int:
        return len(self.drum_classes) if self.drum_classes else self.front_end.n_pitches

    def set_epoch(self, epoch: int) -> None:
        """Mix the epoch into the random clips' seed (call before each epoch)."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return self.length

    def notes(self, i: int) -> np.ndarray:
        """Cached note array of entry ``i`` (``labels.load_notes``)."""
        if i not in self._notes:
            self._notes[i] = load_notes(self.entries[i]["_midi"])
        return self._notes[i]

    def read(self, i: int, offset_s: float, duration_s: float) -> np.ndarray:
        """``duration_s`` seconds of entry ``i`` from ``offset_s`` (zero-padded)."""
        n = int(round(duration_s * self.sr))
        if self._audio is None:
            return load_audio(self.entries[i]["_audio"], self.sr, offset_s, duration_s)
        full = self._audio[i]
        o = int(round(offset_s * self.sr))
        out = np.zeros(n, dtype=np.float32)
        piece = full[o: o + n]
        out[: len(piece)] = piece
        return out

    def _item(self, i: int, offset_s: float, draw: Draw, rng: np.random.Generator | None) -> dict:
        src_s = draw.source_seconds(self.clip_seconds)
        rolls = rolls_from_midi(self.notes(i), self.n_frames, self.front_end, self.drum_classes,
                                start_s=offset_s, time_scale=draw.time_scale, transpose=draw.transpose)
        return {"rolls": rolls, "i": i, "offset_s": offset_s, "src_s": src_s, "draw": draw, "rng": rng}

    def _finish(self, item: dict) -> dict[str, torch.Tensor]:
        i, draw = item["i"], item["draw"]
        if draw.is_identity:
            audio = self.read(i, item["offset_s"], self.clip_seconds)
        else:
            x = self.read(i, item["offset_s"], item["src_s"])
            audio = apply_audio(x, draw, self.sr, self.n_samples, item["rng"])
        out = {"audio": torch.from_numpy(np.ascontiguousarray(audio))}
        out.update({k: torch.from_numpy(item["rolls"][k]) for k in KEYS})
        return out

    # ------------------------------------------------------------- access
    def clip(self, i: int, offset_s: float) -> dict[str, torch.Tensor]:
        """The un-augmented clip of entry ``i`` starting at ``offset_s`` seconds."""
        return self._finish(self._item(i, offset_s, Draw(), None))

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        if self.deterministic:
            i, offset = self.clips[index]
            return self.clip(i, offset)
        rng = np.random.default_rng([self.seed, self.epoch, int(index)])
        attempt = 0
        while True:
            i = int(rng.choice(len(self.entries), p=self._weights))
            if i in self._bad:
                continue
            attempt += 1
            draw = self.augment.draw(rng) if self.augment is not None else Draw()
            src_s = draw.source_seconds(self.clip_seconds)
            offset = float(rng.uniform(0.0, max(self.durations[i] - src_s, 0.0)))
            try:
                item = self._item(i, offset, draw, rng)
            except MidiError as exc:
                log.warning("skipping entry: %s", exc)
                self._bad.add(i)
                if len(self._bad) == len(self.entries):
                    raise DataError(f"{self.index_path}: every entry of split {self.split!r} is unreadable") from exc
                continue
            if attempt <= self.empty_retries and not item["rolls"]["onset"].any():
                continue
            return self._finish(item)
