"""Filter the per-stem indexes: keep the entries a model can learn from.

Reads ``DIR/dataset_<stem>.json``, writes ``DIR/filtered_dataset_<stem>.json``
with the same shape plus ``"dropped": {reason: count}`` (and, for auditing,
``"dropped_entries"``: track, stem_id, reason, detail). Entries that stay are
copied untouched, and so are unknown top-level fields.

Reasons, checked in this order (cheap checks first):

``outside_root``      the entry's audio or MIDI path leaves the dataset root
                      (``..``, an absolute path elsewhere, or a track folder that is
                      a symlink to elsewhere; ``index_io.inside_root``): never opened
``missing_audio``     no audio file (``"audio": null``) or the file is gone; the detail
                      names the path expected (``TRACK/stems/Sxx.flac``, or the entry's)
``missing_midi``      no MIDI file (the detail: ``TRACK/MIDI/Sxx.mid``, or the entry's)
``unreadable_midi``   the MIDI file does not parse (truncated, not MIDI)
``empty_midi``        no notes at all
``too_few_notes``     fewer than ``min_notes`` notes this stem transcribes
                      (percussive stems count only their own drum classes)
``unreadable_audio``  the audio file does not decode to its end (corrupt,
                      truncated FLAC "lost sync", empty, 0 frames)
``nonfinite_audio``   it holds NaN or infinite samples (refused, not repaired)
``silent_audio``      its loudest ``block_s`` block is below ``silence_db``
``labels_past_audio`` its notes end more than 1 s past the audio's end
                      (``index_io.fit_labels``, the rule prepare and evaluate apply too)
``implausible_density`` more than 50 onsets a second over the stem, or 100 in
                      any 1-s window (a broken or generated-garbage MIDI)

The audio is decoded whole, once (``full_decode: 1``, the default; about
0.3 s per 4-minute 44.1 kHz stereo FLAC on one core), so truncation and
non-finite samples anywhere are caught here, not mid-training;
``full_decode: 0`` stops at the first loud block (fast, checks less).

Command: ``midi-extractor filter-index --index-dir DIR --stems bass,piano
[--params params.yaml] [--jobs N]`` (thresholds from ``index.filter``).
"""
from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path
from typing import Any

from midi_extractor import taxonomy as tx
from midi_extractor.atomic import clean_stale_tmp, write_json
import numpy as np

from midi_extractor.config import FilterConfig, from_dict
from midi_extractor.dataset.slakh_metadata import check_midi
from midi_extractor.audio import AudioError, NonFiniteAudioError, audio_info, iter_blocks, rms_db, scan_audio
from midi_extractor.index_io import DataError, LabelFitError, OutsideRootError, fit_labels, inside_root, parse_index
from midi_extractor.midi_notes import read_midi

REASONS = ("outside_root", "missing_audio", "missing_midi", "unreadable_midi", "empty_midi", "too_few_notes",
           "unreadable_audio", "nonfinite_audio", "silent_audio", "labels_past_audio", "implausible_density")


def config_from_params(values: dict[str, Any] | FilterConfig | None) -> FilterConfig:
    """``params.yaml``'s ``index.filter`` as a :class:`~midi_extractor.config.FilterConfig` (a
    mapping is coerced and checked as the params file's section is; an unknown key raises
    :class:`~midi_extractor.config.ConfigError` naming it and the known keys)."""
    if isinstance(values, FilterConfig):
        return values
    return from_dict(FilterConfig, dict(values or {}), where="index.filter")


# ------------------------------------------------------------------ checks
def stem_notes(midi_path: str | Path, stem: str) -> np.ndarray:
    """``(N, 4)`` start_s, end_s, pitch, velocity of the notes of a MIDI file that ``stem``
    transcribes (a percussive stem: its own drum classes); raises on unreadable MIDI."""
    pm = read_midi(midi_path)
    classes = set(tx.STEM_DRUM_CLASSES.get(stem, ()))
    rows = [(n.start, n.end, n.pitch, n.velocity) for i in pm.instruments for n in i.notes
            if not classes or tx.drum_class(n.pitch) in classes]
    return np.array(rows, dtype=np.float64).reshape(-1, 4)


def count_notes(midi_path: str | Path, stem: str) -> int:
    """Notes of a MIDI file that ``stem`` transcribes (raises on unreadable MIDI)."""
    return len(stem_notes(midi_path, stem))


def loudest_block_db(audio_path: str | Path, block_s: float = 0.5, stop_at_db: float | None = None) -> float:
    """RMS level (dBFS) of the loudest ``block_s`` block of a file, read at its
    own rate. With ``stop_at_db`` it stops decoding at the first block at least
    that loud (and returns that block's level): an audible stem costs one
    block or a few, only silent ones are decoded to the end."""
    loudest = -200.0
    for x in iter_blocks(audio_path, block_s):
        loudest = max(loudest, rms_db(x))
        if stop_at_db is not None and loudest >= stop_at_db:
            break
    return loudest


def _audio_check(audio: Path, config: FilterConfig) -> tuple[str | None, str, float]:
    """``(reason or None, detail, duration_s)`` of a stem's audio (frames decoded, or the header's)."""
    try:
        if config.full_decode:
            level, frames = scan_audio(audio, config.block_s)
            rate = audio_info(audio)[0]
        else:
            level = loudest_block_db(audio, config.block_s, stop_at_db=config.silence_db)
            rate, frames, _ = audio_info(audio)
    except NonFiniteAudioError as exc:
        return "nonfinite_audio", str(exc), 0.0
    except AudioError as exc:
        return "unreadable_audio", str(exc), 0.0
    if level < config.silence_db:
        return "silent_audio", f"{audio}: loudest block {level:.1f} dB < silence_db {config.silence_db:g}", 0.0
    return None, "", frames / rate


def expected_file(root: Path, entry: dict, folder: str, ext: str) -> Path:
    """Where an entry's file with no path (``null``) would be: ``TRACK/folder/<stem_id><ext>``, the
    track folder being ``root/<split>/<track>``, ``root/<track>`` or ``root`` (the layouts)."""
    track, name = str(entry.get("track")), f"{entry.get('stem_id')}{ext}"
    for cand in (root / str(entry.get("split")) / track, root / track):
        if cand.is_dir():
            return cand / folder / name
    return (root if root.name == track else root / track) / folder / name


def check_entry(entry: dict, root: Path, stem: str, config: FilterConfig) -> tuple[str | None, str]:
    """``(reason or None, detail)`` for one index entry."""
    try:
        audio = inside_root(root, entry["audio"]) if entry.get("audio") else None
        midi = inside_root(root, entry["midi"]) if entry.get("midi") else None
    except OutsideRootError as exc:
        return "outside_root", str(exc)
    if audio is None:
        return "missing_audio", (f"{expected_file(root, entry, 'stems', '.flac')}: no audio file for this stem "
                                 "(nor .wav)")
    if not audio.is_file():
        return "missing_audio", f"{audio}: audio file not found"
    if midi is None:
        return "missing_midi", f"{expected_file(root, entry, 'MIDI', '.mid')}: no MIDI file for this stem"
    if not midi.is_file():
        return "missing_midi", f"{midi}: MIDI file not found"
    trouble = check_midi(midi)  # a 0-byte or cut file, said plainly (mido's EOFError has no message)
    if trouble:
        return "unreadable_midi", f"{midi}: {trouble}"
    try:
        notes = stem_notes(midi, stem)
    except Exception as exc:  # noqa: BLE001 - mido/pretty_midi raise many kinds
        return "unreadable_midi", f"{midi}: {type(exc).__name__}: {exc}"
    if len(notes) == 0:
        return "empty_midi", f"{midi}: no notes for stem {stem}"
    if len(notes) < config.min_notes:
        return "too_few_notes", f"{midi}: {len(notes)} notes < min_notes {config.min_notes}"
    reason, detail, duration_s = _audio_check(audio, config)
    if reason is not None:
        return reason, detail
    try:
        fit_labels(notes, duration_s, midi)
    except LabelFitError as exc:
        return exc.reason, str(exc)
    return None, ""


def _check_star(args: tuple) -> tuple[str | None, str]:
    return check_entry(*args)


def filter_index(index: dict, config: FilterConfig, dataset_root: str | Path | None = None,
                 jobs: int = 1) -> dict:
    """The filtered copy of one index (not written); ``jobs`` > 1 checks entries
    in that many processes (same result, in the same order)."""
    stem = index["stem"]
    root = Path(dataset_root if dataset_root is not None else index["dataset_root"])
    entries = index.get("entries", [])
    work = [(entry, root, stem, config) for entry in entries]
    if jobs > 1 and len(entries) > 1:
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(min(jobs, len(entries))) as pool:
            results = list(pool.map(_check_star, work, chunksize=4))
    else:
        results = [check_entry(*w) for w in work]
    kept, dropped, dropped_entries = [], {}, []
    for entry, (reason, detail) in zip(entries, results):
        if reason is None:
            kept.append(entry)
            continue
        dropped[reason] = dropped.get(reason, 0) + 1
        dropped_entries.append({"track": entry.get("track"), "stem_id": entry.get("stem_id"),
                                "reason": reason, "detail": detail})
    out = {k: v for k, v in index.items() if k != "entries"}
    out["entries"] = kept
    out["dropped"] = dropped
    out["dropped_entries"] = dropped_entries
    out["filter"] = dataclasses.asdict(config)
    return out


def filter_index_file(index_path: str | Path, out_path: str | Path | None = None,
                      thresholds: dict | FilterConfig | None = None,
                      dataset_root: str | Path | None = None, verbose: bool = True, jobs: int = 1) -> dict:
    """Filter one index file into ``out_path`` (default: ``filtered_<name>``
    beside it) and return the filtered index. Prints one line with the count
    per reason when ``verbose``."""
    src = Path(index_path)
    try:
        index = parse_index(src)
    except FileNotFoundError:
        raise FileNotFoundError(f"{src}: index not found (run build-index first)") from None
    if "stem" not in index:
        raise DataError(f"{src}: not an index file (needs 'stem' and 'entries')")
    out = filter_index(index, config_from_params(thresholds), dataset_root, jobs)
    dst = Path(out_path) if out_path is not None else src.with_name(f"filtered_{src.name}")
    clean_stale_tmp(dst)
    write_json(dst, out)
    if verbose:
        n_in = len(index["entries"])
        reasons = ", ".join(f"{r} {out['dropped'][r]}" for r in REASONS if r in out["dropped"])
        print(f"{index['stem']}: kept {len(out['entries'])} of {n_in}; dropped "
              f"{n_in - len(out['entries'])}{' (' + reasons + ')' if reasons else ''} -> {dst}")
    return out


def filter_indices(index_dir: str | Path, stems: str | list[str],
                   thresholds: dict | FilterConfig | None = None,
                   dataset_root: str | Path | None = None, verbose: bool = True,
                   jobs: int = 1) -> dict[str, dict]:
    """Filter ``index_dir/dataset_<stem>.json`` for each stem into
    ``index_dir/filtered_dataset_<stem>.json``; returns ``{stem: filtered index}``.
    Paths resolve against each index's ``dataset_root`` (relative to the current
    folder, as written by build-index) unless ``dataset_root`` is given.
    Prints one line per stem with the count per reason when ``verbose``."""
    from midi_extractor.dataset.indexing import parse_stems

    config = config_from_params(thresholds)
    index_dir = Path(index_dir)
    result = {}
    for stem in parse_stems(stems):
        src = index_dir / f"dataset_{stem}.json"
        if not src.is_file():
            raise FileNotFoundError(f"{src}: index not found (run build-index for stem {stem} first)")
        result[stem] = filter_index_file(src, index_dir / f"filtered_dataset_{stem}.json", config,
                                         dataset_root, verbose, jobs)
    return result


# ---------------------------------------------------------------------- CLI
def _cmd_filter_index(args: argparse.Namespace) -> int:
    from midi_extractor.config import ConfigError, resolve_params

    try:
        filter_cfg = resolve_params(args.params).index.filter
        if args.jobs < 1:
            raise ValueError(f"--jobs must be at least 1, got {args.jobs}")
        filter_indices(args.index_dir, args.stems, filter_cfg, dataset_root=args.dataset_root, jobs=args.jobs)
    except (ConfigError, ValueError, FileNotFoundError) as exc:
        print(f"filter-index: {exc}", file=sys.stderr)
        return 2
    return 0


def add_cli(subparsers) -> None:
    p = subparsers.add_parser("filter-index", help="drop index entries without usable audio/MIDI",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--index-dir", required=True, help="folder holding dataset_<stem>.json")
    p.add_argument("--stems", required=True, help="comma-separated stem names (or 'all')")
    p.add_argument("--params", default=None,
                   help="params file (section index.filter); default: ./params.yaml if present")
    p.add_argument("--dataset-root", default=None,
                   help="resolve entry paths against this folder instead of the index's dataset_root")
    p.add_argument("--jobs", type=int, default=1,
                   help="processes decoding stems in parallel (default 1; the full decode costs about "
                        "0.2-0.8 s per 4-minute 44.1 kHz stem)")
    p.set_defaults(func=_cmd_filter_index)
