"""Reading a (filtered) index JSON (contract 1) and its split policy: the one place that does.

Paths: an entry's ``audio``/``midi`` are relative to the index's ``dataset_root``; an absolute
root is used as is, a relative one is tried against the current directory (where it was
written), then the index file's folder and its parents (:func:`resolve_dataset_root`).

Splits: ``train``/``validation``/``test`` as in the index. An empty ``validation`` split
becomes a deterministic 10 % of the train *tracks* (CRC32 of the track name), and ``train``
then leaves those tracks out; an empty ``test`` split falls back to validation. Each fallback
is logged.

Labels: :func:`label_notes` is the one place an entry's notes are corrected before anything
learns from or is scored against them: the entry's ``label_shift_semitones`` (the index
writes -12 on real Slakh's bass entries, whose audio sounds an octave below the MIDI) is
added to every pitch, and a pitched stem's notes outside the model's range are dropped and
counted. Prepare stores the corrected notes and renames the field
``label_shift_applied_semitones``, so a prepared entry is never shifted twice.
:func:`fit_labels` is the one rule for notes that do not fit their audio (prepare, filter-index
and evaluate call it): notes ending more than :data:`LABEL_OVERRUN_TOLERANCE_S` past the audio's
end, or more onsets than :data:`MAX_MEAN_ONSETS_PER_S` a second over the stem or
:data:`MAX_ONSETS_IN_1S` in any 1-s window, refuse the stem (:class:`LabelFitError`, with the
filter's drop reason); notes ending less than the tolerance past the end are trimmed to it.

Roots: :func:`inside_root` is the one check that an entry's path stays inside the root it was
given (``..`` past the top, an absolute path elsewhere, or a folder on the way that is a symlink
to elsewhere are refused with :class:`OutsideRootError`); every reader of an entry's files goes
through it: :func:`read_index` leaves such entries out with one warning each (training's reader;
prepare lists them as bad files instead), filter-index drops them (``outside_root``), evaluate
skips them, build-index skips track folders linked outside. The exception is a base model's
merged prepared index (``prepared.source_index`` a list: ``train.run.merge_indexes``), whose
entries point into its stems' prepared folders by design.
"""
from __future__ import annotations

import json
import logging
import os
import zlib
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

log = logging.getLogger(__name__)

SPLITS = ("train", "validation", "test")
VALIDATION_FRACTION = 0.1
#: entry field: semitones added to the pitches of the entry's MIDI (real Slakh bass: -12)
LABEL_SHIFT_KEY = "label_shift_semitones"
#: what prepare renames it to once its stored notes carry the shift
LABEL_SHIFT_APPLIED_KEY = "label_shift_applied_semitones"


#: notes may end this far past their audio's end (trimmed to it); further, the stem is refused
LABEL_OVERRUN_TOLERANCE_S = 1.0
#: more onsets than this a second, averaged over the stem (at least 1 s), is not music but a broken file
MAX_MEAN_ONSETS_PER_S = 50.0
#: ... or more than this many onsets within any 1-s window
MAX_ONSETS_IN_1S = 100


class DataError(ValueError):
    """An index or data set that cannot give clips; the message names the file."""


class OutsideRootError(DataError):
    """An entry path that leaves the root it is relative to; the message names the path and the root."""


class LabelFitError(DataError):
    """Notes that do not fit their audio; ``reason`` is the filter's drop reason
    (``labels_past_audio`` | ``implausible_density``), the message names the file."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


# --------------------------------------------------------------- the index
def resolve_dataset_root(index_path: str | Path, dataset_root: str | Path,
                         entries: Sequence[Mapping] = ()) -> Path:
    """Folder the entry paths are relative to (see the module docstring): the
    first candidate folder that holds the first entry's audio (or MIDI), else
    the first that exists. Raises :class:`DataError` when none exists."""
    root = Path(dataset_root)
    if root.is_absolute():
        if not root.is_dir():
            raise DataError(f"{index_path}: dataset_root {root} does not exist")
        return root
    index_dir = Path(index_path).resolve().parent
    candidates = [c for c in (Path.cwd() / root, index_dir / root, *(p / root for p in index_dir.parents))
                  if c.is_dir()]
    probe = next((e.get("audio") or e.get("midi") for e in entries
                  if isinstance(e, Mapping) and (e.get("audio") or e.get("midi"))), None)
    if probe and not Path(probe).is_absolute():
        for c in candidates:
            if (c / probe).exists():
                return c.resolve()
    if candidates:
        return candidates[0].resolve()
    raise DataError(f"{index_path}: dataset_root {str(root)!r} not found relative to the current folder "
                    f"({Path.cwd()}) nor to the index's folder or its parents")


def parse_index(index_path: str | Path) -> dict:
    """An index JSON as a dict, checked to hold an ``entries`` list: the one place an index
    file is parsed. A missing file raises ``FileNotFoundError`` (callers say what to run);
    bad JSON or another object raises :class:`DataError` naming the file."""
    try:
        data = json.loads(Path(index_path).read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataError(f"{index_path}: not valid JSON ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("entries"), list):
        raise DataError(f"{index_path}: not an index (no 'entries' list)")
    return data


def read_index(index_path: str | Path, dataset_root: str | Path | None = None, *, check_roots: bool = True
               ) -> tuple[Path, list[dict], dict]:
    """``(resolved dataset_root, entries, header)`` of an index JSON, parsed once; the
    header is every top-level field but ``entries`` (``prepared``, ``bad_files``...).
    ``dataset_root`` overrides the index's own (a moved data folder, ``--data``); a prepared index
    (``prepared`` in its header, a base's union of them too) is read from its own folder, whatever
    the current one (a union's paths such as ``../x/audio/...`` could otherwise also exist
    from there, and the probe of :func:`resolve_dataset_root` would pick the wrong root). With
    ``check_roots`` an entry whose audio or MIDI path leaves the root is left out with one
    warning naming the path and the root (:func:`entries_inside`)."""
    try:
        data = parse_index(index_path)
    except FileNotFoundError:
        raise DataError(f"{index_path}: index file not found") from None
    header = {k: v for k, v in data.items() if k != "entries"}
    if dataset_root is not None:
        root = Path(dataset_root)
        if not root.is_dir():
            raise DataError(f"{index_path}: dataset root {root} (given) does not exist")
        root = root.resolve()
    elif isinstance(header.get("prepared"), Mapping):
        root = Path(index_path).resolve().parent   # a prepared index, or a union: relative to its folder
    else:
        root = resolve_dataset_root(index_path, data.get("dataset_root", "."), data["entries"])
    entries = data["entries"]
    if check_roots and not merged_prepared(header):
        entries = entries_inside(entries, root, index_path)
    return root, entries, header


def merged_prepared(header: Mapping) -> bool:
    """A base model's union of prepared indexes (``train.run.merge_indexes``): its entries
    point into the prepared folders it was built from (``prepared.source_index``, a list)."""
    layout = header.get("prepared")
    return isinstance(layout, Mapping) and isinstance(layout.get("source_index"), list)


def entries_inside(entries: Sequence[Mapping], root: str | Path, source: str | Path) -> list:
    """``entries`` without those whose ``audio`` or ``midi`` path leaves ``root``
    (:func:`inside_root`); one warning each, naming ``source``, the path and the root."""
    kept = []
    for e in entries:
        try:
            for key in ("audio", "midi"):
                if isinstance(e, Mapping) and e.get(key):
                    inside_root(root, e[key])
        except OutsideRootError as exc:
            log.warning("%s: entry %s/%s left out: %s", source, e.get("track"), e.get("stem_id"), exc)
            continue
        kept.append(e)
    return kept


def load_index(index_path: str | Path, dataset_root: str | Path | None = None) -> tuple[Path, list[dict]]:
    """``(resolved dataset_root, entries)`` of an index JSON (:func:`read_index` without the header)."""
    root, entries, _ = read_index(index_path, dataset_root)
    return root, entries


def _in_holdout(track: str) -> bool:
    return zlib.crc32(str(track).encode()) % 100 < VALIDATION_FRACTION * 100


def select_split(entries: Sequence[Mapping], split: str, source: str = "index") -> list[Mapping]:
    """Entries of one split with the fallbacks of the module docstring."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {', '.join(SPLITS)}, got {split!r}")
    by = {s: [e for e in entries if e.get("split") == s] for s in SPLITS}
    train = by["train"]
    holdout: list[Mapping] = []
    if not by["validation"] and train:
        tracks = sorted({e.get("track", "") for e in train})
        held = {t for t in tracks if _in_holdout(t)}
        if not held and len(tracks) > 1:
            held = {min(tracks, key=lambda t: zlib.crc32(str(t).encode()))}
        holdout = [e for e in train if e.get("track", "") in held]
        train = [e for e in train if e.get("track", "") not in held]
    if split == "train":
        if holdout:
            log.info("%s: no validation split; holding out %d train track(s) for validation",
                     source, len({e.get('track') for e in holdout}))
        return train
    if split == "validation":
        if not by["validation"]:
            log.warning("%s: validation split is empty; using a deterministic %d%% of the train tracks "
                        "(%d entries)", source, int(VALIDATION_FRACTION * 100), len(holdout))
            return holdout
        return by["validation"]
    if not by["test"]:
        log.warning("%s: test split is empty; falling back to the validation split", source)
        return select_split(entries, "validation", source)
    return by["test"]


def inside_root(root: str | Path, rel: str | Path, *, final_link_ok: bool = True) -> Path:
    """``root / rel``, checked to stay inside ``root``: lexically (no ``..`` past the top, no
    absolute path elsewhere) and once symlinks are resolved, for every folder on the way (a
    track folder linked to elsewhere is refused); the last component may be a symlink to
    elsewhere when ``final_link_ok`` (a DVC cache of ``cache.type: symlink`` links files).
    Raises :class:`OutsideRootError` naming the path and the root. Nothing is opened."""
    root = Path(root)
    path = root / rel
    top = Path(os.path.abspath(root))
    lexical = Path(os.path.abspath(path))
    if lexical != top and top not in lexical.parents:
        raise OutsideRootError(f"{path}: path {str(rel)!r} leaves the dataset root {root}; not opened")
    real_top = top.resolve()
    real = lexical.resolve() if not final_link_ok or lexical == top else lexical.parent.resolve() / lexical.name
    if real != real_top and real_top not in real.parents:
        raise OutsideRootError(f"{path}: resolves outside the dataset root {root} (to {real}; a symlinked "
                               "folder); not opened")
    return path


def entry_paths(entry: Mapping, dataset_root: str | Path) -> tuple[Path, Path]:
    """Absolute ``(audio, midi)`` paths of an entry (:func:`read_index` has checked that they
    stay inside the root). Raises :class:`DataError` when either is missing from the entry."""
    if not entry.get("audio") or not entry.get("midi"):
        raise DataError(f"entry {entry.get('track')}/{entry.get('stem_id')}: needs both audio and midi "
                        f"(audio={entry.get('audio')!r}, midi={entry.get('midi')!r})")
    root = Path(dataset_root)
    return root / entry["audio"], root / entry["midi"]


# ------------------------------------------------------------------- labels
def label_shift(entry: Mapping) -> int:
    """The entry's ``label_shift_semitones`` (0 when absent). Raises :class:`DataError`
    naming the entry for a value that is not a whole number of semitones."""
    value = entry.get(LABEL_SHIFT_KEY, 0) or 0
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value):
        raise DataError(f"entry {entry.get('track')}/{entry.get('stem_id')}: {LABEL_SHIFT_KEY} must be a whole "
                        f"number of semitones, got {value!r}")
    return int(value)


def label_notes(notes: np.ndarray, entry: Mapping, min_midi: int, max_midi: int,
                pitched: bool = True) -> tuple[np.ndarray, int]:
    """``(notes, n_dropped)``: an entry's note array (``(N, 4)`` start_s, end_s, pitch,
    velocity, as ``midi_notes.load_notes`` gives it) with :func:`label_shift` added to
    every pitch and, for a ``pitched`` stem, the notes outside ``min_midi..max_midi`` (the
    model's range) left out and counted. Drum keys are neither shifted nor dropped (they
    name classes, not pitches). The input array is not changed; order is kept."""
    notes = np.asarray(notes, dtype=np.float64).reshape(-1, 4)
    if not pitched:
        return notes, 0
    shift = label_shift(entry)
    if shift:
        notes = notes.copy()
        notes[:, 2] += shift
    keep = (notes[:, 2] >= min_midi) & (notes[:, 2] <= max_midi)
    n_dropped = int(len(notes) - keep.sum())
    return (notes[keep] if n_dropped else notes), n_dropped


def fit_labels(notes: np.ndarray, duration_s: float, source: str | Path) -> tuple[np.ndarray, int]:
    """``(notes, n_trimmed)``: ``(N, 4)`` notes (start_s, end_s, pitch, velocity) of a stem whose
    audio lasts ``duration_s``, with the ends of notes running past it by less than
    :data:`LABEL_OVERRUN_TOLERANCE_S` trimmed to ``duration_s`` (notes starting at or past it
    left out), both counted in ``n_trimmed``. Raises :class:`LabelFitError` naming ``source``
    (the MIDI file) when the notes end further past the audio, or are implausibly dense
    (module docstring). The input array is not changed."""
    notes = np.asarray(notes, dtype=np.float64).reshape(-1, 4)
    if not len(notes):
        return notes, 0
    overrun_s = float(notes[:, 1].max()) - float(duration_s)
    if overrun_s > LABEL_OVERRUN_TOLERANCE_S:
        raise LabelFitError("labels_past_audio", f"{source}: notes run to {notes[:, 1].max():.2f} s but the audio "
                            f"lasts {duration_s:.2f} s ({overrun_s:.2f} s past its end > "
                            f"{LABEL_OVERRUN_TOLERANCE_S:g} s tolerance)")
    onsets = np.sort(notes[:, 0])
    mean = len(onsets) / max(float(duration_s), 1.0)
    densest = int((np.searchsorted(onsets, onsets + 1.0) - np.arange(len(onsets))).max())
    if mean > MAX_MEAN_ONSETS_PER_S or densest > MAX_ONSETS_IN_1S:
        raise LabelFitError("implausible_density", f"{source}: implausible note density ({len(onsets)} onsets in "
                            f"{duration_s:.2f} s, {mean:.1f} a second, {densest} in the densest second; "
                            f"limits {MAX_MEAN_ONSETS_PER_S:g} a second, {MAX_ONSETS_IN_1S} in any second)")
    past = notes[:, 1] > duration_s
    if not past.any():
        return notes, 0
    keep = notes[:, 0] < duration_s
    out = notes[keep].copy()
    out[:, 1] = np.minimum(out[:, 1], duration_s)
    return out, int(past.sum())
