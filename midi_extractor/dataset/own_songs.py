"""Songs of their own (:mod:`midi_extractor.own_songs` writes them) indexed, filtered and prepared
for each stem that trains on them::

    songs_dir/train/TrackNNNNN/             the songs (Slakh layout, synth_report.json beside)
    out_dir/index/                          dataset_<stem>.json, filtered_dataset_<stem>.json
    out_dir/<stem>/index.json, audio/, notes/   what training reads

A stem's are then added to its own prepared index (:func:`add_songs`, stage ``prepare@<stem>``); a
base's are read beside its stems' indexes (:func:`midi_extractor.train.run.base_song_indexes`).
"""
from __future__ import annotations

import contextlib
import json
import logging
from pathlib import Path

from midi_extractor.config import FrontEndConfig, Params
from midi_extractor.index_io import DataError

REPORT = "synth_report.json"   # what the songs' generation wrote beside them (synth.generate.REPORT_NAME)


def prepare_songs(params: Params, songs_dir: Path, stems: list[str], fe: FrontEndConfig, out: Path,
                  jobs: int = 1, first: int | None = None, bleed: bool = False) -> dict[str, Path]:
    """Index, filter and prepare the songs under ``songs_dir`` (the first ``first`` tracks by name,
    or all) at front end ``fe`` for each of ``stems`` under ``out``; ``{stem: prepared index}``."""
    from midi_extractor.atomic import write_json
    from midi_extractor.dataset.filtering import filter_index_file
    from midi_extractor.dataset.indexing import build_indices
    from midi_extractor.dataset.prepare import prepare_index

    indexes = build_indices(songs_dir, stems, out / "index", switches=params.switches,
                            drum_split=params.index.drum_split, jobs=jobs,
                            bass_octave_down=params.dataset.bass_labels_octave_down)
    kept = None if first is None else set(_track_names(songs_dir)[:first])
    prepared = {}
    for stem in stems:
        index = out / "index" / f"dataset_{stem}.json"
        if kept is not None:
            write_json(index, {**indexes[stem], "entries": [e for e in indexes[stem]["entries"] if e["track"] in kept]})
        filtered = out / "index" / f"filtered_dataset_{stem}.json"
        filter_index_file(index, filtered, thresholds=params.index.filter, jobs=jobs)
        # every song: a set without validation tracks lends 10 % of its train tracks to "validation"
        # when read (index_io.select_split, which warns), and these songs only train (entries stay "train")
        with _quiet("midi_extractor.index_io"):
            prepare_index(filtered, out / stem, fe.sample_rate_hz, splits=("train", "validation"), jobs=jobs,
                          dataset_root=songs_dir, pitch_range=(fe.min_midi, fe.max_midi), bleed=bleed,
                          switches=params.switches)
        prepared[stem] = out / stem / "index.json"
    return prepared


def prepare_stem_songs(params: Params, stem: str, songs_dir: str | Path, out_dir: str | Path,
                       jobs: int = 1) -> Path | None:
    """Prepare the first ``stems.<stem>.songs`` of the shared songs in ``songs_dir`` (stage
    ``stem_songs``'s folder) at the stem's front end under ``out_dir``; their prepared index, or
    None when the stem takes none. A folder that does not hold ``stem_songs``' songs (another
    seed, too few) raises :class:`DataError` naming it."""
    from midi_extractor.dataset.bleed import stored_for

    songs, _ = params.stem_songs_of(stem)
    if not songs:
        return None
    songs_dir = Path(songs_dir)
    _check_written(params, songs_dir, songs, f"stems.{stem}.songs")
    return prepare_songs(params, songs_dir, [stem], params.front_end(stem), Path(out_dir), jobs, first=songs,
                         bleed=stored_for(params, stem))[stem]


def _check_written(params: Params, songs_dir: Path, songs: int, stem_key: str) -> None:
    """``songs_dir`` holds at least ``songs`` (what ``stem_key`` asks) of the songs section
    ``stem_songs`` asks for."""
    cfg = params.stem_songs
    try:
        settings = json.loads((songs_dir / REPORT).read_text())["settings"]
    except (OSError, ValueError, KeyError):
        raise DataError(f"{songs_dir}: no songs written there ({REPORT} missing or unreadable); "
                        f"write them with `dvc repro stem_songs`") from None
    wanted = {"seed": cfg.seed, "double_triads": cfg.double_triads, "seconds": params.dataset.seconds}
    differ = {k: settings.get(k) for k in wanted if settings.get(k) != wanted[k]}
    held = settings.get("tracks", 0)
    if differ:
        raise DataError(f"{songs_dir}: its songs were written with {differ}, params ask for {wanted} (stem_songs, "
                        f"dataset.seconds): write them again with `dvc repro stem_songs`")
    if held < songs:
        raise DataError(f"{songs_dir}: holds {held} songs, {stem_key} asks for the first {songs}: write "
                        f"stem_songs.count of them with `dvc repro stem_songs`")


def _track_names(songs_dir: Path) -> list[str]:
    """The songs' track folders' names, in order."""
    return sorted(p.name for p in (songs_dir / "train").iterdir() if p.is_dir())


def add_songs(index: str | Path, songs_index: str | Path) -> int:
    """Append the entries of ``songs_index`` (a prepared index in a folder under ``index``'s)
    to the prepared index ``index``, as training entries with their paths made relative to it;
    how many were added. The songs' tracks are named ``songs-TrackNNNNN``, apart from the set's."""
    from midi_extractor.atomic import write_json
    from midi_extractor.index_io import parse_index
    from midi_extractor.prepared import rerooted

    index, songs_index = Path(index), Path(songs_index)
    data, songs = parse_index(index), parse_index(songs_index)
    prefix = songs_index.parent.relative_to(index.parent).as_posix()
    added = [rerooted({**e, "track": f"songs-{e['track']}", "split": "train"}, lambda p: f"{prefix}/{p}")
             for e in songs["entries"] if "bleed_sbr_db" not in e]   # no validation twins: songs only train
    data["entries"] = [e for e in data["entries"] if not str(e["track"]).startswith("songs-")] + added
    write_json(index, data)
    return len(added)


@contextlib.contextmanager
def _quiet(logger: str):
    """``logger``'s warnings off for the block (errors still shown)."""
    log = logging.getLogger(logger)
    level = log.level
    log.setLevel(logging.ERROR)
    try:
        yield
    finally:
        log.setLevel(level)
