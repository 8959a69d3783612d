"""Prepare an index for fast training reads: each stem resampled once, its notes parsed once.

``prepare_index(index, out_dir, sample_rate_hz)`` decodes every stem of the chosen splits
whole (:func:`midi_extractor.audio.load_audio`: soxr resampling, NaN/inf refused), stores
it as int16 mono at ``sample_rate_hz`` and its notes as a float64 ``(N, 4)`` array, and
writes ``<out_dir>/index.json``: the layout of :mod:`midi_extractor.prepared`, whose
readers give a 20 s training window in well under a millisecond (decoding 44.1 kHz FLAC
and resampling costs about 35 ms, parsing the MIDI with pretty_midi about 45 ms).

Splits: the union of :func:`midi_extractor.index_io.select_split` for each split asked
(so the validation hold-out of an index without a validation split is kept, and the
prepared index gives the same split again); entries keep their ``split``.

Bad input never stops the run: a missing, empty, truncated (libsndfile "lost sync",
short read) or non-finite audio file, 0 samples at the new rate, an entry without MIDI
or an unreadable MIDI file gets one warning naming the file and the problem; its entry
is left out, listed in the report and the index's ``bad_files``. When nothing is left,
:class:`~midi_extractor.index_io.DataError` names the index. Stems sampled below
``sample_rate_hz`` (BabySlakh's 16 kHz for the 32 kHz kit base) are prepared, upsampled, with
one warning for the whole index naming the stem, their rate and the model's.

Labels: the stored notes are the corrected ones (:func:`midi_extractor.index_io.label_notes`):
an entry's ``label_shift_semitones`` (real Slakh bass: -12) is applied and renamed
``label_shift_applied_semitones`` in the prepared entry; a pitched stem's notes outside
``pitch_range`` (the model's ``features.min_midi..max_midi``, recorded in the header's
``prepared``) are dropped, counted per entry (``out_of_range_notes``, when any), in the
report and in one log line per stem. Then the rule of :func:`midi_extractor.index_io.fit_labels`
(the filter's): notes ending a little past the audio are trimmed to it (``trimmed_notes`` per
entry, when any); notes running more than 1 s past it, or implausibly dense, leave the entry out
as a bad file. An entry path leaving the index's root (``..``, absolute, a symlinked track
folder; :func:`midi_extractor.index_io.inside_root`) is a bad file, never opened.

Every file is written atomically (temporary name in the same folder, then
``os.replace``); an entry is complete once its marker (``audio/<track>/<stem_id>.json``)
is written, after both arrays. A rerun skips complete entries whose marker matches the
rate, the arrays' headers and the source audio's size, so a killed run continues where
it stopped; ``index.json`` is written last. One run per out folder at a time. The out folder is
checked writable before anything is decoded; a full disk or a read-only folder met while writing
is an ``OSError`` naming the file (the CLI: one line, rc 2), the file being written left as it was.

Memory: one stem at a time per process (a 5-minute 44.1 kHz stereo stem: about
0.2 GB while it is decoded). ``jobs`` > 1 prepares entries in that many processes
(same outputs, same order).

Command: ``midi-extractor prepare --index X --out-dir Y [--sample-rate 16000]
[--splits train,validation] [--jobs N]``; prints the report as one JSON line.
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from midi_extractor import prepared
from midi_extractor.atomic import OutputError, check_writable, clean_stale_tmp, write_json
from midi_extractor.dataset.bleed import add_bleed
from midi_extractor.dataset.prepare_entry import DEFAULT_PITCH_RANGE, pitched_entry, prepare_entry, warn_below_rate
from midi_extractor.index_io import (LABEL_SHIFT_APPLIED_KEY, LABEL_SHIFT_KEY, SPLITS, DataError, parse_index,
                                     read_index, select_split)
from midi_extractor.taxonomy import DEFAULT_SWITCHES, TaxonomySwitches

log = logging.getLogger(__name__)

#: log a progress line at most this often (seconds)
PROGRESS_EVERY_S = 30.0


# ------------------------------------------------------------- the index
def _prepare_star(args: tuple) -> dict:
    return prepare_entry(*args)


def _chosen(entries: Sequence[Mapping], splits: Sequence[str], source: str) -> list[Mapping]:
    """Entries of the union of ``splits`` (``select_split`` each), in index order."""
    picked: set[int] = set()
    for split in splits:
        picked |= {id(e) for e in select_split(entries, split, source)}
    return [e for e in entries if id(e) in picked]


def _parse_splits(splits: str | Sequence[str]) -> tuple[str, ...]:
    names = [s.strip() for s in (splits.split(",") if isinstance(splits, str) else splits) if str(s).strip()]
    unknown = [s for s in names if s not in SPLITS]
    if not names or unknown:
        raise ValueError(f"splits must be some of {', '.join(SPLITS)}, got {','.join(map(str, names)) or 'none'}")
    return tuple(dict.fromkeys(names))


def _mark_duplicates(chosen: Sequence[Mapping], source_root: Path) -> list[dict | None]:
    """One result slot per entry: ``None`` (to prepare), or a "bad" result for an entry
    whose (track, stem_id) an earlier one already writes."""
    seen: set[tuple[str, str]] = set()
    results: list[dict | None] = []
    for e in chosen:
        key = (str(e.get("track")), str(e.get("stem_id")))
        results.append({"status": "bad", "file": str(e.get("audio") or key),
                        "path": str(source_root / str(e.get("audio"))),
                        "reason": f"duplicate entry (track {key[0]}, stem_id {key[1]} already prepared)"}
                       if key in seen else None)
        seen.add(key)
    return results


def _run(work: list[tuple], results: list[dict | None], jobs: int, label: str, t0: float) -> None:
    """Fill the ``None`` slots of ``results`` with :func:`prepare_entry` of ``work`` (in
    ``jobs`` processes; same order), logging progress every :data:`PROGRESS_EVERY_S`."""
    todo = [i for i, r in enumerate(results) if r is None]
    n_proc = min(jobs, max(len(todo), 1))
    log.info("%s: preparing %d entries (%d process%s)", label, len(todo), n_proc, "es" if n_proc > 1 else "")
    last = time.perf_counter()
    if n_proc > 1:
        from concurrent.futures import ProcessPoolExecutor

        pool = ProcessPoolExecutor(n_proc)
        done = pool.map(_prepare_star, [work[i] for i in todo])
    else:
        pool, done = None, (prepare_entry(*work[i]) for i in todo)
    try:
        for k, (i, r) in enumerate(zip(todo, done)):
            results[i] = r
            if time.perf_counter() - last >= PROGRESS_EVERY_S:
                last = time.perf_counter()
                log.info("%s: %d/%d entries (%.0f s)", label, k + 1, len(todo), last - t0)
    finally:
        if pool is not None:
            pool.shutdown()


def _prepared_entries(chosen: Sequence[Mapping], results: Sequence[dict], sample_rate_hz: int
                      ) -> tuple[list[dict], dict[str, str], dict[str, int], float, float]:
    """``(entries, bad_files, counts, audio_s, prepared_audio_s)`` of the prepared index;
    one warning per bad file."""
    out_entries, bad_files = [], {}
    counts = {"prepared": 0, "skipped": 0, "bad": 0}
    audio_s = prepared_audio_s = 0.0
    for e, r in zip(chosen, results):
        counts[r["status"]] += 1
        if r["status"] == "bad":
            log.warning("%s: %s (entry %s/%s left out)", r["path"], r["reason"], e.get("track"), e.get("stem_id"))
            bad_files[r["file"]] = r["reason"]
            continue
        seconds = r["frames"] / sample_rate_hz
        audio_s += seconds
        if r["status"] == "prepared":
            prepared_audio_s += seconds
        out_entries.append(_prepared_entry(e, r))
    return out_entries, bad_files, counts, audio_s, prepared_audio_s


def _prepared_entry(e: Mapping, r: Mapping) -> dict:
    """The prepared index's entry for source entry ``e`` prepared as ``r``: paths into the
    prepared layout, and the label shift marked as applied (its notes carry it)."""
    track, stem_id = str(e["track"]), str(e["stem_id"])
    out = {k: v for k, v in e.items() if k != LABEL_SHIFT_KEY}
    if e.get(LABEL_SHIFT_KEY):
        out[LABEL_SHIFT_APPLIED_KEY] = e[LABEL_SHIFT_KEY]
    for key in ("out_of_range_notes", "trimmed_notes"):
        if r.get(key):
            out[key] = int(r[key])
    return {**out, "audio": prepared.audio_relpath(track, stem_id), "midi": prepared.notes_relpath(track, stem_id),
            "source_audio": e.get("audio"), "source_midi": e.get("midi"), "frames": r["frames"], "scale": r["scale"]}


def _log_out_of_range(index_path: Path, entries: Sequence[Mapping], pitch_range: tuple[int, int]) -> None:
    """One warning for the notes outside the model's range that prepare left out, if any."""
    n_notes = sum(e.get("out_of_range_notes", 0) for e in entries)
    if n_notes:
        log.warning("%s: %d notes outside MIDI %d-%d (the model's range) left out, from %d of %d entries",
                    index_path, n_notes, *pitch_range, sum("out_of_range_notes" in e for e in entries), len(entries))


def prepare_index(index_path: str | Path, out_dir: str | Path, sample_rate_hz: int,
                  splits: str | Sequence[str] = ("train", "validation"), jobs: int = 1,
                  dataset_root: str | Path | None = None,
                  pitch_range: tuple[int, int] = DEFAULT_PITCH_RANGE, bleed: bool = False,
                  switches: TaxonomySwitches = DEFAULT_SWITCHES) -> dict:
    """Prepare the entries of ``splits`` of ``index_path`` into ``out_dir`` (see the
    module docstring) and write ``out_dir/index.json`` last; ``bleed``: each entry's rest of its
    song too (:mod:`midi_extractor.dataset.bleed`; ``switches``, the taxonomy's, say which stems
    are of another category). Returns the report:
    ``index`` (the written file), ``sample_rate_hz``, ``entries`` (chosen), ``prepared``,
    ``skipped`` (already there), ``bad``, ``bad_files`` ``{path: reason}``,
    ``audio_s`` (seconds of audio in the prepared index), ``prepared_audio_s`` (of the
    entries prepared now), ``out_of_range_notes`` (pitched notes outside ``pitch_range``, the
    model's MIDI range, left out), ``bleed`` (entries stored with their song's bleed), ``wall_s``.
    ``dataset_root`` overrides the source index's.
    Raises :class:`~midi_extractor.index_io.DataError` naming the index when it
    cannot be read or no entry could be prepared; ``ValueError`` for bad arguments."""
    t0 = time.perf_counter()
    sample_rate_hz, jobs = int(sample_rate_hz), int(jobs)
    if sample_rate_hz <= 0:
        raise ValueError(f"sample_rate_hz must be > 0, got {sample_rate_hz}")
    if jobs < 1:
        raise ValueError(f"jobs must be at least 1, got {jobs}")
    splits = _parse_splits(splits)
    index_path, out_dir = Path(index_path), Path(out_dir)
    source_root, entries, header = read_index(index_path, dataset_root, check_roots=False)  # bad files below
    if prepared.is_prepared(header):
        raise DataError(f"{index_path}: already a prepared index; prepare its source index instead")
    chosen = _chosen(entries, splits, str(index_path))
    if not chosen:
        raise DataError(f"{index_path}: no entries in split(s) {', '.join(splits)}")
    check_writable(out_dir)  # before anything is decoded
    warn_below_rate(index_path, header.get("stem"), chosen, source_root, sample_rate_hz)

    results = _mark_duplicates(chosen, source_root)
    pitch_range = (int(pitch_range[0]), int(pitch_range[1]))
    work = [(dict(e), source_root, out_dir, sample_rate_hz, pitch_range, pitched_entry(e, header.get("stem")))
            for e in chosen]
    _run(work, results, jobs, f"{index_path} ({','.join(splits)} at {sample_rate_hz} Hz -> {out_dir})", t0)
    out_entries, bad_files, counts, audio_s, prepared_audio_s = _prepared_entries(chosen, results, sample_rate_hz)
    if not out_entries:
        raise DataError(f"{index_path}: no entry of split(s) {', '.join(splits)} could be prepared "
                        f"({counts['bad']} bad: " + "; ".join(f"{k}: {v}" for k, v in list(bad_files.items())[:5])
                        + ")")
    if bleed:
        out_entries = add_bleed(out_entries, source_root, out_dir, sample_rate_hz, jobs, switches)
    layout = {"format": prepared.FORMAT, "sample_rate_hz": sample_rate_hz, "source_index": str(index_path),
              "splits": list(splits), "min_midi": pitch_range[0], "max_midi": pitch_range[1]}
    dst = _write_index(out_dir, header, layout, bad_files, out_entries)
    report = {"index": str(dst), "sample_rate_hz": sample_rate_hz, "entries": len(chosen), **counts,
              "bad_files": dict(sorted(bad_files.items())), "audio_s": round(audio_s, 3),
              "prepared_audio_s": round(prepared_audio_s, 3),
              "out_of_range_notes": sum(e.get("out_of_range_notes", 0) for e in out_entries),
              "trimmed_notes": sum(e.get("trimmed_notes", 0) for e in out_entries),
              "bleed": sum(bool(e.get("bleed")) and "bleed_sbr_db" not in e for e in out_entries),
              "wall_s": round(time.perf_counter() - t0, 3)}
    _log_out_of_range(index_path, out_entries, pitch_range)
    log.info("%s: prepared %d, skipped %d (already there), bad %d; %.1f h of audio -> %s", index_path,
             counts["prepared"], counts["skipped"], counts["bad"], audio_s / 3600.0, dst)
    return report


def _write_index(out_dir: Path, header: Mapping, layout: dict, bad_files: Mapping, entries: list) -> Path:
    """Write ``out_dir/index.json``: the source ``header``'s fields, rooted at its own folder,
    with the ``prepared`` layout, the ``bad_files`` and the prepared ``entries``; its path."""
    out = {k: v for k, v in header.items() if k not in ("dataset_root", "bad_files")}
    out.update({"dataset_root": ".", "prepared": layout, "bad_files": dict(sorted(bad_files.items())),
                "entries": entries})
    dst = out_dir / "index.json"
    clean_stale_tmp(dst)
    write_json(dst, out)
    return dst


def index_stem(index_path: str | Path) -> str:
    """The stem an index is of (``""`` for an index that names none)."""
    return str(parse_index(index_path).get("stem") or "")


# ---------------------------------------------------------------------- CLI
def _cmd_prepare(args: argparse.Namespace) -> int:
    from midi_extractor.config import ConfigError, resolve_params

    try:
        params = resolve_params(args.params)
        features = params.front_end(index_stem(args.index))   # its base's rate
        rate = features.sample_rate_hz if args.sample_rate is None else args.sample_rate
        report = prepare_index(args.index, args.out_dir, rate, splits=args.splits, jobs=args.jobs,
                               dataset_root=args.dataset_root, pitch_range=(features.min_midi, features.max_midi),
                               bleed=args.bleed, switches=params.switches)
    except (ConfigError, DataError, ValueError, FileNotFoundError, OutputError) as exc:
        print(f"prepare: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(report))
    return 0


def add_cli(subparsers) -> None:
    p = subparsers.add_parser("prepare", help="resample an index's stems once and parse their notes once, "
                                              "for fast training reads",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--index", required=True, help="the (filtered) index JSON to prepare")
    p.add_argument("--out-dir", required=True, help="folder for index.json, audio/ and notes/")
    p.add_argument("--sample-rate", type=int, default=None,
                   help="rate (Hz) to store at: the model's; default features.sample_rate_hz of --params")
    p.add_argument("--params", default=None,
                   help="params file for the default --sample-rate and the model's pitch range "
                        "(features.min_midi..max_midi); default: ./params.yaml if present")
    p.add_argument("--splits", default="train,validation",
                   help="comma-separated splits to prepare (default train,validation)")
    p.add_argument("--dataset-root", default=None,
                   help="resolve entry paths against this folder instead of the index's dataset_root")
    p.add_argument("--bleed", action="store_true",
                   help="also store each stem's rest of its song, for training on stems as a separator leaves "
                        "them (roles.<role>.augment.bleed_db)")
    p.add_argument("--jobs", type=int, default=1,
                   help="processes preparing stems in parallel (default 1; about 0.3-1 s per 4-minute "
                        "44.1 kHz stem each)")
    p.set_defaults(func=_cmd_prepare)

