"""Training and evaluation clips from a (filtered) index JSON (contract 1).

:class:`TranscriptionDataset` yields dicts of tensors

* ``audio``: ``(S,)`` float32 mono at ``front_end.sample_rate_hz``,
  ``S = round(clip_seconds * sample_rate_hz)``;
* ``onset``, ``offset``, ``frame``, ``velocity``: ``(T, n_outputs)`` float32,
  ``T = front_end.n_frames(S)`` (encodings: :mod:`midi_extractor.model.labels`),

which the default ``DataLoader`` collate stacks to ``(B, S)`` / ``(B, T, N)``
for :meth:`midi_extractor.model.transcriber.Transcriber.run_on_batch`.

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
folder and its parents (:func:`midi_extractor.index_io.resolve_dataset_root`).

Splits: ``train``/``validation``/``test`` as in the index. An empty
``validation`` split becomes a deterministic 10 % of the train *tracks*
(CRC32 of the track name), and ``train`` then leaves those tracks out; an
empty ``test`` split falls back to validation. Each fallback is logged.

Reading and labels (:mod:`midi_extractor.train.clip_reader`): only the window a clip needs
is decoded, unless the whole set fits in ``cache_mb`` of memory, in which case every track is
decoded once at construction and clips are slices (``cache_audio="auto"``); the notes of a
source index are corrected as prepare corrects them (:func:`~midi_extractor.index_io.label_notes`,
:func:`~midi_extractor.index_io.fit_labels`), a prepared index's notes were corrected by
``prepare``, and one prepared at another rate or for another pitch range than the model's is
refused.

Bad files never stop a run: an entry without MIDI, with a missing, empty or
0-frame audio file is left out at construction; one whose audio or MIDI fails
to decode (truncated FLAC "lost sync", NaN/inf samples, unreadable MIDI) is
left out at construction in deterministic mode (the clips it would give are
decoded then) and, in random mode, skipped from the moment a clip hits it:
another clip is drawn. Each file gets one warning naming it and lands in
:attr:`TranscriptionDataset.bad_files` (``{path: reason}``, shared across the
DataLoader workers of one process; each DDP rank has its own). When no entry
is left, :class:`~midi_extractor.index_io.DataError` names the index.
"""
from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import torch

from midi_extractor import prepared
from midi_extractor.audio import AudioError, load_audio
from midi_extractor.config import FrontEndConfig
from midi_extractor.index_io import read_index, select_split
from midi_extractor.model.labels import HEADS, MidiError, rolls_from_midi
from midi_extractor.train import batch_augment
from midi_extractor.train.augment import AugmentPolicy, Draw, apply_audio
from midi_extractor.train.bad_files import BadFileBook
from midi_extractor.train.clip_reader import ClipReader


# ----------------------------------------------------------------- dataset
class TranscriptionDataset(BadFileBook, ClipReader, torch.utils.data.Dataset):
    """Clips of one split of a filtered index; see the module docstring.

    ``augment_policy``: an :class:`~midi_extractor.train.augment.AugmentPolicy`, the
    ``roles.<role>.augment`` dict (role inferred: percussive when
    ``drum_classes`` is given, else melodic; pass a policy for harmonic) or
    None. ``deterministic``: None = ``split != "train"``.

    Keyword-only: ``max_clips_per_track`` (deterministic mode; None = all
    whole clips), ``clips_per_epoch`` (random mode ``len()``),
    ``cache_audio`` (True / False / ``"auto"``: cache when the decoded set fits
    in ``cache_mb`` MiB; a prepared index is never cached), ``empty_retries``,
    ``dataset_root`` (overrides the index's root), ``augment_on_device``
    (random mode: yield the source audio and an ``augment`` row for
    :func:`~midi_extractor.train.batch_augment.augment_batch` instead of
    augmenting here), ``bleed_twins`` (False: leave out the validation twins that hear their
    song's bleed, :mod:`midi_extractor.dataset.bleed`).
    """

    def __init__(self, index_path: str | Path, split: str, front_end: FrontEndConfig,
                 clip_seconds: float, drum_classes: Sequence[str] | None = None,
                 augment_policy: AugmentPolicy | Mapping | None = None, seed: int = 0,
                 deterministic: bool | None = None, *, max_clips_per_track: int | None = None,
                 clips_per_epoch: int | None = None, cache_audio: bool | str = "auto",
                 cache_mb: float = 1024.0, empty_retries: int = 2,
                 dataset_root: str | Path | None = None, augment_on_device: bool = False,
                 bleed_twins: bool = True):
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

        self.on_device = bool(augment_on_device) and self.augment is not None
        self.n_source = batch_augment.source_samples(self.augment, self.clip_seconds, self.sr)

        self.root, all_entries, header = read_index(index_path, dataset_root)
        self.prepared = self._check_prepared(header)
        chosen = select_split(all_entries, split, self.index_path)
        if not bleed_twins:  # validation twins heard with their song's bleed (dataset/bleed.py) left out
            chosen = [e for e in chosen if "bleed_sbr_db" not in e]
        self._start_book()
        self._bad_at_start.update(self._left_out_by_prepare(header))
        self.entries, self.durations = self._usable(chosen)
        self._notes: dict[int, np.ndarray] = {}
        self._audio: dict[int, np.ndarray] | None = None
        self._cache(cache_audio, cache_mb)
        if self.deterministic:
            self._list_clips(max_clips_per_track)
        else:
            self.length = int(clips_per_epoch) if clips_per_epoch else \
                max(len(self.entries), int(sum(self.durations) // self.clip_seconds))
        self._share_book()
        self._weights = np.asarray(self.durations, dtype=np.float64) / sum(self.durations)

    def _cache(self, cache_audio: bool | str, cache_mb: float) -> None:
        """Decode every entry's audio into memory now when ``cache_audio`` says so (``"auto"``:
        when it fits ``cache_mb`` MiB); a prepared index is never cached."""
        if self.prepared:
            cache_audio = False  # windows of a memory-mapped array are as cheap as a cache
        elif cache_audio == "auto":
            cache_audio = sum(self.durations) * self.sr * 4 / 2**20 <= cache_mb
        if cache_audio:
            self._audio = {}
            self._keep(lambda i, e: self._audio.__setitem__(i, load_audio(e["_audio"], self.sr)))

    def _list_clips(self, max_clips_per_track: int | None) -> None:
        """Deterministic mode: ``self.clips``, every whole clip of each entry (at most
        ``max_clips_per_track``), read once now so a bad file is dropped once, not mid-run."""
        def n_clips(duration_s: float) -> int:
            n = max(1, int(duration_s // self.clip_seconds))
            return n if max_clips_per_track is None else min(n, int(max_clips_per_track))

        self._keep(lambda i, e: (self.notes(i), self.read(i, 0.0, n_clips(self.durations[i]) * self.clip_seconds)))
        self.clips: list[tuple[int, float]] = [(i, k * self.clip_seconds)
                                               for i, d in enumerate(self.durations) for k in range(n_clips(d))]
        self.length = len(self.clips)

    # ------------------------------------------------------------ helpers
    @property
    def n_outputs(self) -> int:
        return len(self.drum_classes) if self.drum_classes else self.front_end.n_pitches

    def set_epoch(self, epoch: int) -> None:
        """Mix the epoch into the random clips' seed (call before each epoch)."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return self.length

    def _item(self, i: int, offset_s: float, draw: Draw) -> dict:
        src_s = draw.source_seconds(self.clip_seconds)
        rolls = rolls_from_midi(self.notes(i), self.n_frames, self.front_end, self.drum_classes,
                                start_s=offset_s, time_scale=draw.time_scale, transpose=draw.transpose)
        if draw.lowpass_ratio is not None:  # set above the clip's highest sounding note
            sounding = np.flatnonzero(rolls["frame"].any(axis=0))
            draw = draw.with_lowpass(int(sounding[-1]) + self.front_end.min_midi if sounding.size else None)
        return {"rolls": rolls, "i": i, "offset_s": offset_s, "src_s": src_s, "draw": draw}

    def _finish(self, item: dict) -> dict[str, torch.Tensor]:
        i, draw = item["i"], item["draw"]
        if self.on_device:  # source audio (int16 when prepared) + what to do with it (batch_augment)
            n = min(int(round(item["src_s"] * self.sr)), self.n_source)
            if self.prepared and self.augment.bleed_db is None:  # the padded width straight from the file
                e, scale = self.entries[i], float(self.entries[i].get("scale", 1.0))
                x = prepared.read_window(e["_audio"], int(round(item["offset_s"] * self.sr)), self.n_source, raw=True)
            else:  # float32 for every clip of a policy with bleed (a batch stacks one dtype)
                x, scale = np.zeros(self.n_source, dtype=np.float32), 1.0
                x[:n] = self._source(i, item)[:n]
            return {"audio": torch.from_numpy(x), "augment": torch.from_numpy(batch_augment.encode(draw, n, scale)),
                    **batch_augment.compact_rolls(item["rolls"])}
        if draw.is_identity:
            audio = self.read(i, item["offset_s"], self.clip_seconds)
        else:
            audio = apply_audio(self._source(i, item), draw, self.sr, self.n_samples)
        out = {"audio": torch.from_numpy(np.ascontiguousarray(audio))}
        out.update({k: torch.from_numpy(item["rolls"][k]) for k in HEADS})
        return out

    def _source(self, i: int, item: dict) -> np.ndarray:
        """The source audio a random clip is rendered from, its song's bleed mixed in when drawn."""
        x = self.read(i, item["offset_s"], item["src_s"])
        return self.with_bleed(i, x, item["offset_s"], item["draw"].bleed_db)

    # ------------------------------------------------------------- access
    def clip(self, i: int, offset_s: float) -> dict[str, torch.Tensor]:
        """The un-augmented clip of entry ``i`` starting at ``offset_s`` seconds."""
        return self._finish(self._item(i, offset_s, Draw()))

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        if self.deterministic:
            i, offset = self.clips[index]
            return self.clip(i, offset)
        rng = np.random.default_rng([self.seed, self.epoch, int(index)])
        attempt = 0
        while True:
            # the same draws whether an entry is known bad or found bad now, so an
            # item stays a function of (seed, epoch, index, files found bad so far)
            i = int(rng.choice(len(self.entries), p=self._weights))
            draw = self.augment.draw(rng) if self.augment is not None else Draw()
            src_s = draw.source_seconds(self.clip_seconds)
            offset = float(rng.uniform(0.0, max(self.durations[i] - src_s, 0.0)))
            if self._is_bad(i):
                continue
            try:
                item = self._item(i, offset, draw)
                if attempt < self.empty_retries and not item["rolls"]["onset"].any():
                    attempt += 1
                    continue
                return self._finish(item)
            except (AudioError, MidiError) as exc:  # truncated FLAC, NaN, unreadable MIDI: redraw
                self._mark_bad(i, exc)
