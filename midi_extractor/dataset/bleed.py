"""The rest of a song, stored beside each prepared stem, so training can hear the stem as a source
separator leaves it: with the other instruments leaking in (``roles.<role>.augment.bleed_db``).

A stem's *bleed* is the sum of its track's stems of other categories: for a pitched stem, every
stem whose GM program maps to another stem (a second bass never bleeds into a bass: a separator
would give both as the bass); for a drum stem (drums, high_percs), every pitched stem. It is read
from the track's ``metadata.yaml`` and ``stems/`` (the Slakh layout), resampled to the stem's
rate, cut or zero-padded to the stem's length and scaled to the stem's RMS over the whole track
(0 dB signal-to-bleed ratio; training draws the ratio, :mod:`midi_extractor.train.augment`).
Stored as the prepared layout stores audio (int16 ``(S,)`` with a ``scale``), at
``bleed/<track>/<stem_id>.npy`` with a marker ``bleed/<track>/<stem_id>.json`` naming the sources
and their sizes, so a rerun skips an array whose sources have not changed.

:func:`stored_for` says whether a stem's prepare stores it. :func:`add_bleed` gives each prepared entry of a track with other categories ``bleed`` (the
array's path) and ``bleed_scale``; each validation entry also gets a twin that the readers mix at
:data:`VALIDATION_SBR_DB` (``bleed_sbr_db``), so checkpoints are chosen on both when the stem
trains with bleed (a stem that does not leaves the twins out: ``TranscriptionDataset(bleed_twins=)``). A track without
``metadata.yaml`` (the folder layout) or without another category gets none. A source that fails
to decode is named in one warning and the entry trains without bleed.
"""
from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import yaml

from midi_extractor import prepared
from midi_extractor import taxonomy as tx
from midi_extractor.atomic import atomic_open, clean_stale_tmp, write_json
from midi_extractor.audio import AudioError, load_audio, rms

log = logging.getLogger("midi_extractor.dataset.prepare")

#: the signal-to-bleed ratio (dB) of each validation track's twin
VALIDATION_SBR_DB = 20.0
#: a stem's audio file in the Slakh layout, the first of these that exists
AUDIO_SUFFIXES = (".flac", ".wav")


def stored_for(params, stem: str) -> bool:
    """Whether ``prepare@<stem>`` stores its entries' bleed: when the stem's *role* sets
    ``augment.bleed_db`` (the stage depends on that key, not on the stem's whole section, so a
    stem's learning rate does not prepare it again). A stem's own ``augment: {bleed_db: null}``
    turns off its training and validation with bleed, not the storing."""
    role = params.roles.get(tx.role_of(stem, params.switches))
    return role is not None and role.augment.bleed_db is not None


def bleed_relpath(track: str, stem_id: str) -> str:
    """``bleed/<track>/<stem_id>.npy`` (relative to the prepared folder)."""
    return f"bleed/{track}/{stem_id}.npy"


def _category(meta: Mapping, switches: tx.TaxonomySwitches) -> str:
    """The coarse category a stem's metadata gives it (indexing's rule: drums for any drum stem)."""
    return tx.stem_for_program(int(meta.get("program_num", 0)), bool(meta.get("is_drum")), switches)


def bleed_sources(entry: Mapping, source_root: Path,
                  switches: tx.TaxonomySwitches = tx.DEFAULT_SWITCHES) -> list[Path]:
    """The stem files that bleed into ``entry``'s stem (module docstring), in the order of
    ``metadata.yaml``; ``[]`` when its track has no ``metadata.yaml`` or no stem of another
    category. The file on disk decides, as in indexing, never ``audio_rendered`` (BabySlakh writes
    it false for every stem). ``switches``: the taxonomy's (organs join piano with ``organs_as_keys``)."""
    source = entry.get("source_audio") or entry.get("audio")
    if not source:
        return []
    track_dir = (Path(source_root) / source).parents[1]
    try:
        stems = yaml.safe_load((track_dir / "metadata.yaml").read_text())["stems"]
        mine = _category(stems[entry["stem_id"]], switches)
        others = [sid for sid, meta in stems.items() if sid != entry["stem_id"] and _category(meta, switches) != mine]
    except (OSError, KeyError, TypeError, ValueError, yaml.YAMLError, tx.UnknownProgramError):
        return []
    files = ([track_dir / "stems" / f"{sid}{ext}" for ext in AUDIO_SUFFIXES] for sid in others)
    return [found[0] for found in ([p for p in names if p.is_file()] for names in files) if found]


def _kept(entry: Mapping, sizes: list, out_dir: Path) -> dict | None:
    """``entry``'s stored bleed when its marker names the same ``sizes`` and frames, else None."""
    rel = bleed_relpath(str(entry["track"]), str(entry["stem_id"]))
    try:
        marker = json.loads((out_dir / rel).with_suffix(".json").read_text())
        if marker["sources"] == sizes and prepared.n_frames(out_dir / rel) == int(entry["frames"]):
            return {"bleed": rel, "bleed_scale": float(marker["scale"])}
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return None


def _song_rest(sources: Sequence[Path], frames: int, sample_rate_hz: int, names: str) -> np.ndarray:
    """float64 ``(frames,)``: the sum of ``sources`` at ``sample_rate_hz``, each cut or
    zero-padded to ``frames``; a source that fails to decode is left out, named in a warning."""
    rest = np.zeros(frames, dtype=np.float64)
    for path in sources:
        try:
            y = load_audio(path, sample_rate_hz)[:frames]
        except AudioError as exc:
            log.warning("%s: %s (not in %s)", path, exc.problem, names)
            continue
        rest[: len(y)] += y
    return rest


def _store(entry: Mapping, rest: np.ndarray, sizes: list, out_dir: Path) -> dict | None:
    """Write ``rest`` (cut to the entry's frames) scaled to the entry's stem RMS, then its marker."""
    frames = int(entry["frames"])
    rest = rest[:frames]
    stem = prepared.read_window(out_dir / entry["audio"], 0, frames, float(entry.get("scale", 1.0)))
    rest_rms, stem_rms = rms(rest), rms(stem)
    if rest_rms == 0.0 or stem_rms == 0.0:
        return None
    q, scale = prepared.encode((rest * (stem_rms / rest_rms)).astype(np.float32))
    rel = bleed_relpath(str(entry["track"]), str(entry["stem_id"]))
    marker_path = (out_dir / rel).with_suffix(".json")
    (out_dir / rel).parent.mkdir(parents=True, exist_ok=True)
    marker_path.unlink(missing_ok=True)   # incomplete until the array is written
    clean_stale_tmp(out_dir / rel)
    with atomic_open(out_dir / rel, "wb") as f:
        np.lib.format.write_array(f, q, allow_pickle=False)
    write_json(marker_path, {"sources": sizes, "scale": scale, "frames": frames})
    return {"bleed": rel, "bleed_scale": scale}


def write_bleed(entries: Sequence[Mapping], sources: Sequence[Path], source_root: Path, out_dir: Path,
                sample_rate_hz: int) -> list[dict | None]:
    """Write (or keep) the bleed arrays of ``entries``, stems of one track that share their
    ``sources`` (the song is decoded once for all of them); for each, ``{"bleed", "bleed_scale"}``
    for its prepared entry, or None when it has none."""
    if not sources:
        return [None] * len(entries)
    sizes = [[str(p.relative_to(source_root)), p.stat().st_size] for p in sources]
    found = [_kept(e, sizes, out_dir) for e in entries]
    todo = [e for e, kept in zip(entries, found) if kept is None]
    if not todo:
        return found
    names = ", ".join(f"{e['track']}/{e['stem_id']}'s bleed" for e in todo)
    rest = _song_rest(sources, max(int(e["frames"]) for e in todo), sample_rate_hz, names)
    fresh = iter([_store(e, rest, sizes, out_dir) for e in todo])
    return [kept if kept is not None else next(fresh) for kept in found]


def _bleed_star(args: tuple) -> list[dict | None]:
    return write_bleed(*args)


def add_bleed(entries: Sequence[Mapping], source_root: Path, out_dir: Path, sample_rate_hz: int,
              jobs: int = 1, switches: tx.TaxonomySwitches = tx.DEFAULT_SWITCHES) -> list[dict]:
    """The prepared ``entries`` with their bleed (module docstring), validation twins after
    each validation entry that has one. Stems of a track that share their sources (two basses
    of a song) share one decode of them; ``jobs`` processes work on such groups."""
    source_root, out_dir = Path(source_root), Path(out_dir)
    groups: dict[tuple, list[int]] = {}
    for i, e in enumerate(entries):
        groups.setdefault(tuple(bleed_sources(e, source_root, switches)), []).append(i)
    work = [([entries[i] for i in members], list(sources), source_root, out_dir, int(sample_rate_hz))
            for sources, members in groups.items()]
    if jobs > 1 and len(work) > 1:
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(min(jobs, len(work))) as pool:
            done = list(pool.map(_bleed_star, work))
    else:
        done = [write_bleed(*w) for w in work]
    found: list[dict | None] = [None] * len(entries)
    for members, results in zip(groups.values(), done):
        for i, b in zip(members, results):
            found[i] = b
    out: list[dict] = []
    for e, b in zip(entries, found):
        out.append({**e, **(b or {})})
        if b and e.get("split") == "validation":
            out.append({**e, **b, "bleed_sbr_db": VALIDATION_SBR_DB})
    n = sum(b is not None for b in found)
    log.info("%s: %d of %d entries hear the rest of their song (bleed/)", out_dir, n, len(entries))
    return out
