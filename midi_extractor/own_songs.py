"""Songs of their own: generated training songs beside the data set's training tracks, for a shared
base (``pretrain.<base>.songs``, stage ``base_songs``, :mod:`midi_extractor.base_songs`) or for the
stems' fine-tunes (section ``stem_songs``, written once by stage ``stem_songs``; each stem takes the
first ``stems.<stem>.songs`` of them, prepared at its front end by stage ``prepare@<stem>``).

They are generated like the pipeline's set (``dataset``'s training pool, effects, length and rate)
from their own seed (never ``dataset.seed``: the set's test tracks come from it), all training
tracks (``double_triads``: every other triad doubled an octave up, as the calibration tracks'
are), in the Slakh layout (``songs_dir/train/TrackNNNNN/``, ``synth_report.json`` beside). Here
they are written; :mod:`midi_extractor.dataset.own_songs` indexes, filters and prepares them.
"""
from __future__ import annotations

from pathlib import Path

from midi_extractor.config import Params

NOTE = "NOT_USED.txt"   # in a songs folder that holds none: why


def generate_songs(params: Params, songs_dir: Path, count: int, seed: int, double_triads: bool,
                   sub_bass_songs: int = 0) -> Path:
    """Write ``count`` songs from seed ``seed`` (then ``sub_bass_songs`` more) under ``songs_dir``
    with ``dataset``'s pool, effects, length and rate, every one a training track; ``songs_dir``."""
    from midi_extractor.synth.generate import generate_dataset

    ds = params.dataset
    generate_dataset(songs_dir, count, ds.seconds, seed, sf2=ds.sf2, sample_rate_hz=ds.sample_rate_hz,
                     progress=False, sound_sources=ds.sound_sources, ood_sources=(), effects=ds.effects,
                     validation_tracks=0, test_tracks=0, sub_bass_tracks=sub_bass_songs,
                     double_triads=double_triads)
    return songs_dir


def write_stem_songs(params: Params, out_dir: str | Path) -> int:
    """Stage ``stem_songs``: the stems' shared songs (section ``stem_songs``) under ``out_dir``;
    how many, 0 (with ``out_dir/NOT_USED.txt`` saying why) when there are none."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    count, why_none = params.shared_songs()
    if not count:
        (out / NOTE).write_text(f"{why_none}: no stem trains on songs of its own\n")
        return 0
    (out / NOTE).unlink(missing_ok=True)
    cfg = params.stem_songs
    generate_songs(params, out, count, cfg.seed, cfg.double_triads)
    return count
