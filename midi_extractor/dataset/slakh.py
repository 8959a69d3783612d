"""Reading Slakh2100-format folders: layouts, track metadata, stem files.

Layouts (:func:`detect_layout`):

* ``split`` -- Slakh2100 / slakh2100_flac_redux: ``ROOT/{train,validation,test,omitted}/TrackNNNNN/``;
  the split is the folder.
* ``flat`` -- BabySlakh (``ROOT/TrackNNNNN/``) or any folder of track folders
  (the generated set); the split is a deterministic hash of the track name
  (:func:`flat_split`, fractions in :data:`SPLIT_FRACTIONS`).
* ``track`` -- ROOT is itself one track folder (split from its name, as flat).

A track folder holds ``metadata.yaml``, ``stems/Sxx.{flac,wav,...}`` and
``MIDI/Sxx.mid``. Real-data quirks handled here: stems with MIDI but no audio
(or neither), ``audio_rendered: false`` for files that exist (the file on disk
wins), ``plugin_name: None``, missing ``integrated_loudness``, drums as
``program_num: 128`` + ``is_drum: true``, ``audio_dir`` written relative to
the track (BabySlakh) or to the split folder (redux).

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
:class:`Problem` (file + what is wrong) collected in a list, printed to
stderr by the caller, and the rest of the dataset is still read.
"""
from __future__ import annotations

import hashlib
import os
import re
import struct
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from midi_extractor import taxonomy as tx
from midi_extractor.audio import AUDIO_EXTENSIONS, AudioError, audio_info
from midi_extractor.midi_notes import read_midi

#: split folders of Slakh2100 (``omitted`` exists in the redux release only)
SPLITS = ("train", "validation", "test", "omitted")
#: deterministic split of flat layouts: the one place these fractions live
SPLIT_FRACTIONS: dict[str, float] = {"train": 0.8, "validation": 0.1, "test": 0.1}

#: libyaml's safe loader when PyYAML was built with it (several times faster)
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_STEM_ID = re.compile(r"^S\d+$")
#: a stem id from metadata.yaml must be a plain name: no separators, no leading dot
_PLAIN_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
#: audio extensions in the order a stem's file is looked for
_STEM_AUDIO_ORDER = (".flac", ".wav") + tuple(e for e in AUDIO_EXTENSIONS if e not in (".flac", ".wav"))


@dataclass
class Problem:
    """One thing wrong with the input: the file, what is wrong, how bad.

    ``error``: the track or stem was skipped; ``warning``: it was read with a
    fallback (or the filter will drop it)."""

    path: str
    problem: str
    severity: str = "warning"

    def __str__(self) -> str:
        return f"{self.severity}: {self.path}: {self.problem}"


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


# ------------------------------------------------------------------ layouts
def is_track_dir(path: Path) -> bool:
    """A folder that looks like a Slakh track (metadata.yaml, MIDI/ or stems/)."""
    return path.is_dir() and any((path / n).exists() for n in ("metadata.yaml", "MIDI", "stems"))


def detect_layout(root: str | Path) -> str:
    """``split``, ``flat`` or ``track`` (see the module docstring).

    Raises ``FileNotFoundError`` for a missing root and ``ValueError`` naming
    the root when it holds no tracks in any known layout."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: dataset root not found (or not a folder)")
    if any((root / s).is_dir() for s in SPLITS):
        return "split"
    if is_track_dir(root) and not any(is_track_dir(p) for p in root.iterdir()):
        return "track"
    if any(is_track_dir(p) for p in root.iterdir()):
        return "flat"
    raise ValueError(f"{root}: no Slakh-format tracks found (expected split folders "
                     f"{'/'.join(SPLITS)}, or track folders holding metadata.yaml, MIDI/ or stems/)")


def flat_split(track_name: str) -> str:
    """Deterministic split of a track in a flat layout, from a hash of its
    name, following :data:`SPLIT_FRACTIONS` (same name, same split, on every
    machine and Python version)."""
    digest = hashlib.sha1(track_name.encode("utf-8")).digest()
    u = int.from_bytes(digest[:8], "big") / 2.0 ** 64
    acc = 0.0
    for split, frac in SPLIT_FRACTIONS.items():
        acc += frac
        if u < acc:
            return split
    return next(reversed(SPLIT_FRACTIONS))


def track_dirs(root: str | Path, layout: str | None = None) -> list[tuple[Path, str]]:
    """``(track folder, split)`` for every track under ``root``, sorted."""
    root = Path(root)
    layout = layout or detect_layout(root)
    if layout == "track":
        return [(root, flat_split(root.name))]
    if layout == "flat":
        return [(p, flat_split(p.name)) for p in sorted(root.iterdir()) if is_track_dir(p)]
    out = []
    for split in SPLITS:
        folder = root / split
        if folder.is_dir():
            out += [(p, split) for p in sorted(folder.iterdir()) if is_track_dir(p)]
    return out


# --------------------------------------------------------------------- MIDI
def check_midi(path: str | Path) -> str | None:
    """Cheap structural check of a Standard MIDI File without parsing events:
    the header and every chunk's declared length must fit in the file.
    Returns the problem as text, or None when it looks whole."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        return f"cannot read MIDI file ({exc.strerror or exc})"
    if len(data) == 0:
        return "empty MIDI file (0 bytes)"
    if data[:4] != b"MThd" or len(data) < 14:
        return "not a MIDI file (no MThd header)"
    header_len = struct.unpack(">I", data[4:8])[0]
    n_tracks = struct.unpack(">H", data[10:12])[0]
    pos, seen = 8 + header_len, 0
    while pos < len(data):
        if pos + 8 > len(data):
            return f"truncated MIDI file: chunk header cut off at byte {pos} of {len(data)}"
        length = struct.unpack(">I", data[pos + 4:pos + 8])[0]
        if pos + 8 + length > len(data):
            return (f"truncated MIDI file: chunk {data[pos:pos + 4]!r} at byte {pos} declares "
                    f"{length} bytes but only {len(data) - pos - 8} remain")
        seen += data[pos:pos + 4] == b"MTrk"
        pos += 8 + length
    if seen < n_tracks:
        return f"truncated MIDI file: header declares {n_tracks} tracks, found {seen}"
    return None


def midi_instruments(path: str | Path) -> list[tuple[int, bool]]:
    """``(program, is_drum)`` of each instrument with notes in a MIDI file
    (used when a track has no usable metadata.yaml)."""
    pm = read_midi(path)
    return [(int(i.program), bool(i.is_drum)) for i in pm.instruments if i.notes]


# ----------------------------------------------------------------- metadata
def _as_bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "yes", "1")
    return bool(value)


def _none_if_null(value: Any) -> Any:
    return None if value is None or (isinstance(value, str) and value.strip() in ("None", "null", "")) else value


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


def read_metadata(path: Path, problems: list[Problem]) -> dict | None:
    """The parsed ``metadata.yaml`` or None (with a Problem) when missing or malformed."""
    if not path.is_file():
        problems.append(Problem(str(path), "metadata.yaml missing; stems inferred from MIDI/*.mid", "warning"))
        return None
    try:
        meta = yaml.load(path.read_text(encoding="utf-8", errors="replace"), Loader=_YAML_LOADER)
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        at = f" at line {where.line + 1}" if where is not None else ""
        problems.append(Problem(str(path), f"malformed metadata.yaml (YAML error{at}: "
                                           f"{getattr(exc, 'problem', None) or exc}); stems inferred from MIDI/*.mid",
                                "warning"))
        return None
    if not isinstance(meta, dict) or not isinstance(meta.get("stems"), dict):
        problems.append(Problem(str(path), "malformed metadata.yaml (no 'stems' mapping); "
                                           "stems inferred from MIDI/*.mid", "warning"))
        return None
    return meta


def _stem_metadata(raw: dict, where: str, stem_id: str, problems: list[Problem]) -> dict | None:
    """Normalise one stem's metadata; None (and an error Problem) when its
    program is missing or not a number. Range checks belong to the taxonomy."""
    if not isinstance(raw, dict):
        problems.append(Problem(where, f"stem {stem_id}: metadata is not a mapping ({raw!r}); stem skipped", "error"))
        return None
    is_drum = _as_bool(raw.get("is_drum", False))
    program = raw.get("program_num")
    try:
        program = int(program)
    except (TypeError, ValueError):
        problems.append(Problem(where, f"stem {stem_id}: program_num {program!r} is not a number; stem skipped", "error"))
        return None
    loud = _none_if_null(raw.get("integrated_loudness"))
    try:
        loud = None if loud is None else float(loud)
    except (TypeError, ValueError):
        loud = None
    meta = {
        "program_num": program,
        "inst_class": _none_if_null(raw.get("inst_class")),
        "midi_program_name": _none_if_null(raw.get("midi_program_name")),
        "is_drum": is_drum,
        "plugin_name": _none_if_null(raw.get("plugin_name")),
        "integrated_loudness": loud,
        "audio_rendered": _as_bool(raw.get("audio_rendered", True)),
        "midi_saved": _as_bool(raw.get("midi_saved", True)),
    }
    if _none_if_null(raw.get("domain")) is not None:  # generated sets: in_domain | out_of_domain
        meta["domain"] = str(raw["domain"])
    return meta


def _inferred_stems(track: Path, problems: list[Problem]) -> dict[str, dict]:
    """Stem metadata from MIDI files alone (no usable metadata.yaml)."""
    import pretty_midi

    stems: dict[str, dict] = {}
    for midi in sorted((track / "MIDI").glob("S*.mid")) + sorted((track / "stems").glob("S*")):
        stem_id = midi.stem
        if not _STEM_ID.match(stem_id) or stem_id in stems:
            continue
        if midi.suffix != ".mid":  # audio without MIDI and without metadata: nothing to label it with
            continue
        trouble = check_midi(midi)
        try:
            if trouble:
                raise ValueError(trouble)
            instruments = midi_instruments(midi)
        except Exception as exc:  # noqa: BLE001 - any parse failure is a data problem
            problems.append(Problem(str(midi), f"cannot infer the instrument: {exc}; stem skipped", "error"))
            continue
        if not instruments:
            problems.append(Problem(str(midi), "no notes, cannot infer the instrument; stem skipped", "warning"))
            continue
        program, is_drum = instruments[0]
        stems[stem_id] = {
            "program_num": tx.SLAKH_DRUM_PROGRAM if is_drum else program,
            "inst_class": "Drums" if is_drum else None,
            "midi_program_name": "Drums" if is_drum else pretty_midi.program_to_instrument_name(program),
            "is_drum": is_drum, "plugin_name": None, "integrated_loudness": None,
            "audio_rendered": None, "midi_saved": True, "inferred_from_midi": True,
        }
    return stems


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
        stems_meta = _inferred_stems(track, problems)
        meta = {}
    else:
        stems_meta = {}
        for stem_id, raw in meta["stems"].items():
            if not _PLAIN_NAME.match(str(stem_id)):
                problems.append(Problem(str(meta_path), f"stem id {str(stem_id)!r} is not a plain name (it would "
                                                        "point outside stems/ and MIDI/); stem skipped", "error"))
                continue
            norm = _stem_metadata(raw, str(meta_path), str(stem_id), problems)
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
        rec = StemRecord(track.name, stem_id, split, audio, midi, m)
        if check_files:
            check_stem_files(rec, problems)
        out.stems.append(rec)
    return out


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


def print_problems(problems: list[Problem], stream=None, limit: int = 50) -> None:
    """Print problems to stderr, at most ``limit`` of them, then a count."""
    stream = stream or sys.stderr
    for p in problems[:limit]:
        print(str(p), file=stream)
    if len(problems) > limit:
        print(f"... and {len(problems) - limit} more problems", file=stream)
