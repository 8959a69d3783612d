"""A Slakh track's stem descriptions: its ``metadata.yaml``, or its MIDI files when that is
missing or malformed; and the cheap structural check of a MIDI file.

Real-data quirks handled here: ``audio_rendered: false`` for files that exist (kept as
written; the file on disk wins in :mod:`midi_extractor.dataset.slakh`), ``plugin_name: None``
(and ``null``, ``""``), missing ``integrated_loudness``, drums as ``program_num: 128`` +
``is_drum: true``, booleans written as strings. A stem's description is a dict of
``program_num`` (int, GM program 0-127, or 128 for drums), ``inst_class``,
``midi_program_name``, ``is_drum``, ``plugin_name``, ``integrated_loudness`` (LUFS, float or
None), ``audio_rendered``, ``midi_saved`` and, for generated sets, ``domain``.

Problems (:class:`~midi_extractor.dataset.problems.Problem`) are appended to the caller's list.
"""
from __future__ import annotations

import re
import struct
from pathlib import Path
from typing import Any

import yaml

from midi_extractor import taxonomy as tx
from midi_extractor.dataset.problems import Problem
from midi_extractor.midi_notes import read_midi

#: libyaml's safe loader when PyYAML was built with it (several times faster)
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_STEM_ID = re.compile(r"^S\d+$")


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


def stem_metadata(raw: dict, where: str, stem_id: str, problems: list[Problem]) -> dict | None:
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


def inferred_stems(track: Path, problems: list[Problem]) -> dict[str, dict]:
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
