"""Songs of its own: generated training songs for a shared base (``pretrain.<base>.songs``, stage
``base_songs``, :mod:`midi_extractor.base_songs`) or for one stem's fine-tune (``stems.<stem>.songs``,
stage ``prepare@<stem>``), beside the data set's training tracks.

They are generated like the pipeline's set (``dataset``'s training pool, effects, length and rate)
from their own seed (``songs_seed``, never ``dataset.seed``: the set's test tracks come from it),
all training tracks (``double_triads``: every other triad doubled an octave up, as the calibration
tracks' are), then indexed, filtered and prepared for each stem::

    out_dir/generated/train/TrackNNNNN/     the songs (Slakh layout, synth_report.json beside)
    out_dir/index/                          dataset_<stem>.json, filtered_dataset_<stem>.json
    out_dir/<stem>/index.json, audio/, notes/   what training reads

A stem's are then added to its own prepared index (:func:`add_songs`); a base's are read beside
its stems' indexes (:func:`midi_extractor.train.run.base_song_indexes`).
"""
from __future__ import annotations

import contextlib
import logging
from pathlib import Path

from midi_extractor.config import Params


def write_stem_songs(params: Params, stem: str, out_dir: str | Path, jobs: int = 1) -> Path | None:
    """Write stem ``stem``'s own songs (``stems.<stem>.songs``) under ``out_dir``, prepared at
    the stem's front end; their prepared index, or None when it has none."""
    if not params.stem_songs(stem)[0]:
        return None
    return write_songs(params, params.stems[stem], [stem], params.front_end(stem), Path(out_dir), jobs)[stem]


def write_songs(params: Params, cfg, stems: list[str], fe, out: Path, jobs: int = 1,
                sub_bass_songs: int = 0) -> dict[str, Path]:
    """``cfg.songs`` songs from seed ``cfg.songs_seed`` (``cfg.double_triads``; ``dataset``'s pool,
    effects, length and rate), then ``sub_bass_songs`` more, written, indexed, filtered and
    prepared at front end ``fe`` for each of ``stems`` under ``out``; ``{stem: prepared index}``."""
    from midi_extractor.dataset.filtering import filter_index_file
    from midi_extractor.dataset.indexing import build_indices
    from midi_extractor.dataset.prepare import prepare_index
    from midi_extractor.synth.generate import generate_dataset

    ds, songs_dir = params.dataset, out / "generated"
    generate_dataset(songs_dir, cfg.songs, ds.seconds, cfg.songs_seed, sf2=ds.sf2, sample_rate_hz=ds.sample_rate_hz,
                     progress=False, sound_sources=ds.sound_sources, ood_sources=(), effects=ds.effects,
                     validation_tracks=0, test_tracks=0, sub_bass_tracks=sub_bass_songs,
                     double_triads=cfg.double_triads)
    build_indices(songs_dir, stems, out / "index", switches=params.switches,
                  drum_split=params.index.drum_split, jobs=jobs, bass_octave_down=ds.bass_labels_octave_down)
    prepared = {}
    for stem in stems:
        filtered = out / "index" / f"filtered_dataset_{stem}.json"
        filter_index_file(out / "index" / f"dataset_{stem}.json", filtered, thresholds=params.index.filter,
                          jobs=jobs)
        # every song: a set without validation tracks lends 10 % of its train tracks to "validation"
        # when read (index_io.select_split, which warns), and these songs only train (entries stay "train")
        with _quiet("midi_extractor.index_io"):
            prepare_index(filtered, out / stem, fe.sample_rate_hz, splits=("train", "validation"), jobs=jobs,
                          dataset_root=songs_dir, pitch_range=(fe.min_midi, fe.max_midi))
        prepared[stem] = out / stem / "index.json"
    return prepared


def add_songs(index: str | Path, songs_index: str | Path) -> int:
    """Append the entries of ``songs_index`` (a prepared index in a folder under ``index``'s)
    to the prepared index ``index``, as training entries with their paths made relative to it;
    how many were added. The songs' tracks are named ``songs-TrackNNNNN``, apart from the set's."""
    from midi_extractor.atomic import write_json
    from midi_extractor.index_io import parse_index

    index, songs_index = Path(index), Path(songs_index)
    data, songs = parse_index(index), parse_index(songs_index)
    prefix = songs_index.parent.relative_to(index.parent).as_posix()
    added = [{**e, "track": f"songs-{e['track']}", "split": "train", "audio": f"{prefix}/{e['audio']}",
              "midi": f"{prefix}/{e['midi']}"} for e in songs["entries"]]
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
