"""Build the per-stem index files (``dataset_<stem>.json``, Contract 1 of
docs/ARCHITECTURE.md) from a Slakh-format dataset root.

Routing: pitched stems by ``taxonomy.stem_for_program`` under the taxonomy
switches; drum stems (``is_drum``) to ``drums`` or ``high_percs`` by
``drum_split`` (audio heuristic, MIDI when the audio is silent or missing).
Stems with MIDI but no audio stay in the index with ``"audio": null`` so the
filter counts them. A stem whose program the taxonomy does not know is left
out, with an error naming the file. ``vocals`` (a reserved slot) gets an
empty index.

Real Slakh's bass octave: with ``bass_octave_down`` (``dataset.bass_labels_octave_down``,
on by default for the real Slakh kinds) every pitched entry of a bass-class program
(GM 32-39) gets ``"label_shift_semitones": -12`` and the index header
``"bass_labels_octave_down": true``; the readers apply it
(:func:`midi_extractor.index_io.label_notes`). Off, nothing is written (the generated
set's indexes are as before).

Command: ``midi-extractor build-index --dataset-root ROOT --stems bass,piano
--out-dir DIR [--params params.yaml]``.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from midi_extractor.dataset import drum_split as ds
from midi_extractor.dataset import slakh
from midi_extractor.dataset import slakh_layout
from midi_extractor.dataset.problems import Problem, print_problems
from midi_extractor import taxonomy as tx
from midi_extractor.atomic import clean_stale_tmp, write_json

#: semitones real Slakh's bass labels are moved by: Kontakt renders bass an octave below General
#: MIDI (slakh-generation#2, slakh-utils#18; YourMT3+ shifts them the same way)
SLAKH_BASS_SHIFT_SEMITONES = -12

#: per-entry metadata keys copied from the track's stem record (beyond the contract's five)
_EXTRA_META = ("plugin_name", "integrated_loudness", "audio_rendered", "midi_saved",
               "sample_rate_hz", "n_frames", "channels", "duration_s", "audio_error", "midi_error",
               "inferred_from_midi", "domain")


def parse_stems(value: str | list[str] | tuple[str, ...]) -> list[str]:
    """``"bass,piano"`` or a list -> validated stem names (``all`` = every stem)."""
    names = [s.strip() for s in (value.split(",") if isinstance(value, str) else value) if s.strip()]
    if names == ["all"]:
        return list(tx.STEM_NAMES)
    unknown = [n for n in names if n not in tx.STEMS]
    if unknown:
        raise ValueError(f"unknown stem(s) {', '.join(unknown)}; known: {', '.join(tx.STEM_NAMES)}")
    if not names:
        raise ValueError("no stems given")
    return list(dict.fromkeys(names))


def _rel(path: Path | None, root: Path) -> str | None:
    if path is None:
        return None
    return Path(os.path.relpath(path, root)).as_posix()


def route(record: slakh.StemRecord, switches: tx.TaxonomySwitches, drum_config: ds.DrumSplitConfig,
          want_drums: bool) -> tuple[str | None, dict[str, Any]]:
    """``(stem, extra metadata)`` of one stem record. Raises
    ``taxonomy.UnknownProgramError`` for an unknown program. For drum records
    when ``want_drums`` is false the split is not computed (stem ``drums``)."""
    meta = record.metadata
    stem = tx.stem_for_program(meta["program_num"], meta["is_drum"], switches)
    extra: dict[str, Any] = {}
    if meta["is_drum"] and want_drums:
        audio = record.audio if not meta.get("audio_error") else None
        midi = record.midi if not meta.get("midi_error") else None
        stem, method, feats = ds.split_drum_stem(audio, midi, drum_config)
        extra["drum_split"] = {"method": method,
                               **{k: round(v, 4) for k, v in feats.items() if v == v}}
    return stem, extra


def label_shift_semitones(metadata: dict, bass_octave_down: bool) -> int:
    """Semitones a stem's MIDI labels are moved by: :data:`SLAKH_BASS_SHIFT_SEMITONES` for a
    pitched bass-class program (GM 32-39) when ``bass_octave_down``, else 0."""
    bass = not metadata.get("is_drum") and metadata.get("program_num") in tx.STEMS["bass"].programs
    return SLAKH_BASS_SHIFT_SEMITONES if bass_octave_down and bass else 0


def _entry(rec: slakh.StemRecord, stem: str, extra: dict, root: Path, switches: tx.TaxonomySwitches,
           bass_octave_down: bool) -> dict:
    """The index entry of one routed stem record."""
    meta = rec.metadata
    entry_meta = {"program_num": meta["program_num"], "inst_class": meta.get("inst_class"),
                  "midi_program_name": meta.get("midi_program_name"), "is_drum": meta["is_drum"],
                  "role": tx.role_of(stem, switches), **{k: meta[k] for k in _EXTRA_META if k in meta}, **extra}
    entry = {"track": rec.track, "stem_id": rec.stem_id, "split": rec.split,
             "audio": _rel(rec.audio, root), "midi": _rel(rec.midi, root), "metadata": entry_meta}
    shift = label_shift_semitones(meta, bass_octave_down)
    if shift:
        entry["label_shift_semitones"] = shift
    return entry


def _index_track(folder: Path, split: str, root: Path, stems: list[str], switches: tx.TaxonomySwitches,
                 drum_config: ds.DrumSplitConfig, allow_outside_links: bool, bass_octave_down: bool = False
                 ) -> tuple[dict[str, list[dict]], list[Problem]]:
    """The entries one track gives each of ``stems`` and the problems it has (a worker's job)."""
    problems: list[Problem] = []
    entries: dict[str, list[dict]] = {s: [] for s in stems}
    want_drums = any(s in ("drums", "high_percs") for s in stems)
    if not slakh.track_inside_root(folder, root, problems, allow_outside_links):
        return entries, problems
    try:
        track = slakh.read_track(folder, split, problems, check_files=False, allow_outside_links=allow_outside_links)
    except Exception as exc:  # noqa: BLE001 - one broken track must not stop the rest
        problems.append(Problem(str(folder), f"track skipped: {type(exc).__name__}: {exc}", "error"))
        return entries, problems
    for rec in track.stems:
        try:
            coarse = tx.stem_for_program(rec.metadata["program_num"], rec.metadata["is_drum"], switches)
        except tx.UnknownProgramError as exc:
            problems.append(Problem(str(folder / "metadata.yaml"),
                                          f"stem {rec.stem_id}: unknown program: {exc}; stem skipped", "error"))
            continue
        drum_record = coarse == "drums" and rec.metadata["is_drum"]
        if (drum_record and not want_drums) or (not drum_record and coarse not in entries):
            continue
        slakh.check_stem_files(rec, problems)  # only the files of stems we index
        stem, extra = route(rec, switches, drum_config, want_drums)
        if stem not in entries:
            continue
        entries[stem].append(_entry(rec, stem, extra, root, switches, bass_octave_down))
    return entries, problems


def _index_track_star(args: tuple) -> tuple[dict[str, list[dict]], list[Problem]]:
    return _index_track(*args)


def build_indices(dataset_root: str | Path, stems: str | list[str], out_dir: str | Path,
                  switches: tx.TaxonomySwitches = tx.DEFAULT_SWITCHES,
                  drum_split: dict | ds.DrumSplitConfig | None = None,
                  problems: list[Problem] | None = None,
                  allow_outside_links: bool = False, jobs: int = 1,
                  bass_octave_down: bool = False) -> dict[str, dict]:
    """Index ``dataset_root`` and write ``out_dir/dataset_<stem>.json`` for each
    requested stem; returns ``{stem: index}``. Problems with the input are
    appended to ``problems`` (and never stop the rest of the dataset); a
    missing or track-less root raises (FileNotFoundError / ValueError).
    Paths from metadata.yaml that leave a track folder are rejected (see
    :mod:`slakh`); ``allow_outside_links`` accepts stem files that are
    symlinks to elsewhere. ``jobs`` > 1 reads tracks in that many processes
    (the drum split decodes drum audio); the output is the same, in the same order.
    ``bass_octave_down``: mark bass-class entries ``label_shift_semitones: -12`` (real Slakh;
    the module docstring)."""
    stems = parse_stems(stems)
    problems = [] if problems is None else problems
    drum_config = ds.config_from_params(drum_split)
    root = Path(dataset_root)
    layout = slakh_layout.detect_layout(root)
    work = [(folder, split, root, stems, switches, drum_config, allow_outside_links, bass_octave_down)
            for folder, split in slakh_layout.track_dirs(root, layout)]
    entries: dict[str, list[dict]] = {s: [] for s in stems}
    if jobs > 1 and len(work) > 1:
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(min(jobs, len(work))) as pool:
            results = list(pool.map(_index_track_star, work, chunksize=max(1, len(work) // (8 * jobs))))
    else:
        results = [_index_track(*w) for w in work]
    for track_entries, track_problems in results:
        problems.extend(track_problems)
        for stem in stems:
            entries[stem].extend(track_entries[stem])
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    result = {}
    for stem in stems:
        index = {"stem": stem, "taxonomy_version": tx.TAXONOMY_VERSION, "dataset_root": str(dataset_root),
                 "layout": layout,
                 "switches": {"organs_as_keys": switches.organs_as_keys, "bass_role": switches.bass_role},
                 **({"bass_labels_octave_down": True} if bass_octave_down else {}),
                 "entries": entries[stem]}
        clean_stale_tmp(out_dir / f"dataset_{stem}.json")
        write_json(out_dir / f"dataset_{stem}.json", index)
        result[stem] = index
    return result


# ---------------------------------------------------------------------- CLI
def shift_note(entries: list[dict]) -> str:
    """``"; 12 with labels shifted -12 semitones (Slakh bass octave)"`` or ``""``."""
    n = sum(bool(e.get("label_shift_semitones")) for e in entries)
    return f"; {n} with labels shifted {SLAKH_BASS_SHIFT_SEMITONES} semitones (Slakh bass octave)" if n else ""


def _cmd_build_index(args: argparse.Namespace) -> int:
    from midi_extractor.config import ConfigError, resolve_params

    try:
        params = resolve_params(args.params)  # the file given, else ./params.yaml, else defaults
        switches, drum_cfg = params.switches, params.index.drum_split
        stems = parse_stems(args.stems)
    except (ConfigError, ValueError) as exc:
        print(f"build-index: {exc}", file=sys.stderr)
        return 2
    problems: list[Problem] = []
    try:
        if args.jobs < 1:
            raise ValueError(f"--jobs must be at least 1, got {args.jobs}")
        result = build_indices(args.dataset_root, stems, args.out_dir, switches=switches,
                               drum_split=drum_cfg, problems=problems,
                               allow_outside_links=args.allow_outside_links, jobs=args.jobs,
                               bass_octave_down=params.dataset.bass_labels_octave_down)
    except (FileNotFoundError, ValueError) as exc:
        print(f"build-index: {exc}", file=sys.stderr)
        return 2
    print_problems(problems)
    for stem, index in result.items():
        entries = index["entries"]
        no_audio = sum(e["audio"] is None for e in entries)
        splits = {s: sum(e["split"] == s for e in entries) for s in slakh_layout.SPLITS}
        split_text = ", ".join(f"{s} {n}" for s, n in splits.items() if n)
        print(f"{stem}: {len(entries)} entries ({split_text or 'none'}; {no_audio} without audio"
              f"{shift_note(entries)}) -> {Path(args.out_dir) / f'dataset_{stem}.json'}")
    n_err = sum(p.severity == "error" for p in problems)
    print(f"problems: {len(problems)} ({n_err} errors, {len(problems) - n_err} warnings)"
          + (" -- listed on stderr" if problems else ""))
    return 0


def add_cli(subparsers) -> None:
    p = subparsers.add_parser("build-index", help="index a Slakh-format dataset per stem",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset-root", required=True, help="Slakh2100 / redux / BabySlakh / generated folder")
    p.add_argument("--stems", required=True, help="comma-separated stem names (or 'all')")
    p.add_argument("--out-dir", required=True, help="where dataset_<stem>.json files go")
    p.add_argument("--params", default=None,
                   help="params file (sections taxonomy, stems.bass.role, index.drum_split, dataset.kind and "
                        "dataset.bass_labels_octave_down); "
                        "default: ./params.yaml if present, else built-in defaults")
    p.add_argument("--allow-outside-links", action="store_true",
                   help="accept stem files that are symlinks resolving outside their track folder, and track "
                        "folders resolving outside the dataset root (e.g. a DVC cache with cache.type symlink); "
                        "rejected by default")
    p.add_argument("--jobs", type=int, default=1,
                   help="processes reading tracks in parallel (default 1; the drum split decodes drum stems)")
    p.set_defaults(func=_cmd_build_index)
