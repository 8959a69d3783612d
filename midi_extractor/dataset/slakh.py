"""Reading Slakh2100-format track folders: each stem's audio and MIDI file and description.

Where the tracks are and their splits: :mod:`midi_extractor.dataset.slakh_layout`; what a
stem is (``metadata.yaml``, or the MIDI files without it): :mod:`midi_extractor.dataset.slakh_metadata`.

Real-data quirks handled here: stems with MIDI but no audio (or neither), ``audio_rendered:
false`` for files that exist (the file on disk wins: ``audio_on_disk``), ``audio_dir``
written relative to the track (BabySlakh) or to the split folder (redux).

Paths from metadata.yaml stay inside the track folder: a stem id that is not
a plain name (``../../outside/S01``, ``a/b``), an absolute ``audio_dir`` /
``midi_dir``, or one that leads out of the track is rejected with an error
naming the metadata file and the value (the stem is skipped, or the default
``stems/`` / ``MIDI/`` folder is used); a stem file that is a symlink
resolving outside the track folder is skipped unless ``allow_outside_links``
(e.g. a DVC cache of ``cache.type: symlink``). A track folder (or split folder)
that is a symlink resolving outside the dataset root is skipped the same way,
with an error naming it and the root (:func:`track_inside_root`, through
:func:`midi_extractor.index_io.inside_root`).

Nothing here raises for one bad track or stem: every problem becomes a
:class:`~midi_extractor.dataset.problems.Problem` collected in a list, and the rest of the
dataset is still read. With ``check_files`` a stem's audio header adds ``sample_rate_hz``
(Hz), ``n_frames`` (samples per channel), ``channels`` and ``duration_s`` (s) to its metadata.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from midi_extractor.audio import AUDIO_EXTENSIONS, AudioError, audio_info
from midi_extractor.dataset.problems import Problem
from midi_extractor.dataset.slakh_layout import detect_layout, track_dirs
from midi_extractor.dataset.slakh_metadata import check_midi, inferred_stems, read_metadata, stem_metadata

#: a stem id from metadata.yaml must be a plain name: no separators, no leading dot
_PLAIN_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
#: audio extensions in the order a stem's file is looked for
_STEM_AUDIO_ORDER = (".flac", ".wav") + tuple(e for e in AUDIO_EXTENSIONS if e not in (".flac", ".wav"))


@dataclass
class StemRecord:
    """One stem of one track as found on disk (paths absolute or as joined from the root)."""

    track: str
    stem_id: str
    split: str
    audio: Path | None
    midi: Path | None
    metadata: dict[str, Any]


@dataclass
class Track:
    name: str
    split: str
    path: Path
    stems: list[StemRecord] = field(default_factory=list)
    metadata_found: bool = True


# -------------------------------------------------------------- stem files
def _find_file(candidates: list[Path], stem_id: str, exts: tuple[str, ...]) -> Path | None:
    for folder in candidates:
        for ext in exts:
            p = folder / f"{stem_id}{ext}"
            if p.is_file():
                return p
    return None


def _inside(path: Path, folder: Path) -> bool:
    """``path`` is ``folder`` or below it (both already normalised or resolved)."""
    return path == folder or folder in path.parents


def _folders(track: Path, meta: dict, key: str, default: str, problems: list[Problem]) -> list[Path]:
    """Where a track's stems/MIDI may be: ``track/default`` first, then the
    metadata's ``audio_dir``/``midi_dir`` relative to the track or its parent,
    each only where it stays inside the track folder (an absolute value, or one
    whose every reading leaves the track, is an error naming the value)."""
    out = [track / default]
    given = meta.get(key)
    if isinstance(given, str) and given:
        where = str(track / "metadata.yaml")
        if os.path.isabs(given) or given.startswith("~"):
            problems.append(Problem(where, f"{key} {given!r} is an absolute path; only folders inside "
                                           f"the track are read (using {default}/)", "error"))
            return out
        base = Path(os.path.normpath(track.absolute()))
        inside = [c for c in (track / given, track.parent / given)
                  if _inside(Path(os.path.normpath(c.absolute())), base)]
        if not inside:
            problems.append(Problem(where, f"{key} {given!r} leads outside the track folder; ignored "
                                           f"(using {default}/)", "error"))
        out += inside
    return list(dict.fromkeys(out))


def _escapes(path: Path | None, track: Path) -> str | None:
    """Where a found stem file really is when it resolves outside the track folder (a symlink), else None."""
    if path is None:
        return None
    real = Path(os.path.realpath(path))
    return None if _inside(real, Path(os.path.realpath(track))) else str(real)


# ------------------------------------------------------------------ tracks
def read_track(track: str | Path, split: str, problems: list[Problem],
               check_files: bool = True, allow_outside_links: bool = False) -> Track:
    """Read one track folder. Problems are appended to ``problems``; the
    returned Track holds every stem that could be described.

    With ``check_files`` each stem's audio header is read (sample rate,
    frames, channels go into the metadata) and its MIDI checked for truncation;
    a file that fails stays in the record (the filter drops it with a reason)
    and a warning names it."""
    track = Path(track)
    meta_path = track / "metadata.yaml"
    meta = read_metadata(meta_path, problems)
    if meta is None:
        stems_meta = inferred_stems(track, problems)
        meta = {}
    else:
        stems_meta = {}
        for stem_id, raw in meta["stems"].items():
            if not _PLAIN_NAME.match(str(stem_id)):
                problems.append(Problem(str(meta_path), f"stem id {str(stem_id)!r} is not a plain name (it would "
                                                        "point outside stems/ and MIDI/); stem skipped", "error"))
                continue
            norm = stem_metadata(raw, str(meta_path), str(stem_id), problems)
            if norm is not None:
                stems_meta[str(stem_id)] = norm
    out = Track(track.name, split, track, metadata_found=bool(meta))
    audio_dirs = _folders(track, meta, "audio_dir", "stems", problems)
    midi_dirs = _folders(track, meta, "midi_dir", "MIDI", problems)
    for stem_id in sorted(stems_meta):
        m = stems_meta[stem_id]
        audio = _find_file(audio_dirs, stem_id, _STEM_AUDIO_ORDER)
        midi = _find_file(midi_dirs, stem_id, (".mid", ".midi", ".MID"))
        escaped = [(f, real) for f in (audio, midi) if (real := _escapes(f, track)) and not allow_outside_links]
        if escaped:
            problems.append(Problem(str(escaped[0][0]), f"resolves outside the track folder (to {escaped[0][1]}); "
                                                        f"stem {stem_id} skipped", "error"))
            continue
        m["audio_on_disk"] = audio is not None
        _report_missing(track, stem_id, m, audio, midi, problems)
        rec = StemRecord(track.name, stem_id, split, audio, midi, m)
        if check_files:
            check_stem_files(rec, problems)
        out.stems.append(rec)
    return out


def _report_missing(track: Path, stem_id: str, m: dict, audio: Path | None, midi: Path | None,
                    problems: list[Problem]) -> None:
    """A warning naming the file a stem should have where metadata.yaml says it was written
    (``audio_rendered`` / ``midi_saved`` true: an interrupted download or extraction) but none
    is on disk; the filter then drops the stem (missing_audio / missing_midi). BabySlakh writes
    both flags false for every stem, and inferred stems have none: no warning there."""
    for found, flag, folder, name in ((audio, "audio_rendered", "stems", f"{stem_id}.flac"),
                                      (midi, "midi_saved", "MIDI", f"{stem_id}.mid")):
        if found is None and m.get(flag) is True:
            problems.append(Problem(str(track / folder / name), f"not found, though metadata.yaml says {flag}: "
                                                                f"true; stem {stem_id} is dropped by the filter",
                                    "warning"))


def check_stem_files(rec: StemRecord, problems: list[Problem]) -> None:
    """Read a stem's audio header (sample rate, frames, channels and duration
    go into its metadata) and check its MIDI for truncation. A failing file
    stays in the record, marked ``audio_error`` / ``midi_error`` (the filter
    drops it with a reason), and a warning names it."""
    m = rec.metadata
    if rec.audio is not None:
        try:
            sr, frames, channels = audio_info(rec.audio)
            m.update(sample_rate_hz=sr, n_frames=frames, channels=channels,
                     duration_s=round(frames / sr, 6) if sr else 0.0)
        except AudioError as exc:
            problems.append(Problem(exc.path, exc.problem, "warning"))
            m["audio_error"] = exc.problem
    if rec.midi is not None:
        trouble = check_midi(rec.midi)
        if trouble:
            problems.append(Problem(str(rec.midi), trouble, "warning"))
            m["midi_error"] = trouble


def track_inside_root(folder: Path, root: str | Path, problems: list[Problem], allow_outside_links: bool) -> bool:
    """Whether a track folder stays inside the dataset root once symlinks are resolved (or
    ``allow_outside_links``); when not, an error naming it and the root is appended."""
    from midi_extractor.index_io import OutsideRootError, inside_root

    if allow_outside_links:
        return True
    try:
        inside_root(root, os.path.relpath(folder, root), final_link_ok=False)
    except OutsideRootError as exc:
        problems.append(Problem(str(folder), f"{str(exc).split(': ', 1)[1].removesuffix('; not opened')}; track skipped", "error"))
        return False
    return True


def read_dataset(root: str | Path, problems: list[Problem] | None = None, check_files: bool = True,
                 allow_outside_links: bool = False) -> tuple[str, list[Track], list[Problem]]:
    """``(layout, tracks, problems)`` for a whole dataset root."""
    problems = [] if problems is None else problems
    layout = detect_layout(root)
    tracks = []
    for folder, split in track_dirs(root, layout):
        if not track_inside_root(folder, root, problems, allow_outside_links):
            continue
        try:
            tracks.append(read_track(folder, split, problems, check_files=check_files,
                                     allow_outside_links=allow_outside_links))
        except Exception as exc:  # noqa: BLE001 - one broken track must not stop the rest
            problems.append(Problem(str(folder), f"track skipped: {type(exc).__name__}: {exc}", "error"))
    return layout, tracks, problems
