"""Songs only a shared base trains on (``pretrain.<base>.songs``; stage ``base_songs``).

A base learns what every stem shares, so it gains from more songs than a stem's fine-tune
needs: on the 2-core box, 200 more songs moved the pitched base's out-of-domain onset F1 where
more steps over the pipeline's 32 songs did not (``benchmarks/RESULTS.md``). They are
generated like the pipeline's set (``dataset``'s training pool, effects, length and rate) from
their own seed (``songs_seed``, never ``dataset.seed``: the set's test tracks come from it), all
training tracks (then ``sub_bass_songs`` more, whose bass parts a sub bass plays), then indexed,
filtered and prepared for each of the base's stems::

    out_dir/generated/train/TrackNNNNN/     the songs (Slakh layout, synth_report.json beside)
    out_dir/index/                          dataset_<stem>.json, filtered_dataset_<stem>.json
    out_dir/<stem>/index.json, audio/, notes/   what the base's training reads

Real data sets (``dataset.kind`` not ``generated``) and ``songs: 0`` get only a note, and the
base trains on its stems' data alone. So does a base whose stage keeps its shipped file
(``shipped``, :func:`kept_reason`): the default pipeline keeps the pitched base and would not read
its 200 songs (165 s of writing on the 2-core box). Stage ``pretrain-<base>`` reads them through
:func:`midi_extractor.train.run.base_song_indexes`.
"""
from __future__ import annotations

import contextlib
import logging
from pathlib import Path

from midi_extractor.config import Params

NOTE = "NOT_USED.txt"


def kept_reason(params: Params, base: str, shipped: str | Path) -> str | None:
    """Why base ``base`` needs no songs: stage ``pretrain-<base>`` keeps ``shipped`` (the
    decision is :func:`midi_extractor.train.run.why_train_base`'s, the stage's own); None when
    it trains."""
    from midi_extractor.train.run import why_train_base

    if why_train_base(base, params, shipped) is not None:
        return None
    rebuild = params.pretrain[base].rebuild
    return (f"stage pretrain-{base} keeps the shipped {shipped} (pretrain.{base}.rebuild: "
            f"{str(rebuild).lower()}); its songs are written when it trains")


def write_base_songs(params: Params, base: str, out_dir: str | Path, jobs: int = 1,
                     shipped: str | Path | None = None) -> dict[str, Path]:
    """Write base ``base``'s songs under ``out_dir`` (module docstring); ``{stem: prepared
    index}``, empty when it has none or its stage keeps ``shipped`` (then ``out_dir/NOT_USED.txt``
    says why)."""
    from midi_extractor.dataset.filtering import filter_index_file
    from midi_extractor.dataset.indexing import build_indices
    from midi_extractor.dataset.prepare import prepare_index
    from midi_extractor.synth.generate import generate_dataset

    cfg, ds, out = params.pretrain[base], params.dataset, Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    songs, why_none = params.base_songs(base)
    kept = kept_reason(params, base, shipped) if songs and shipped is not None else None
    if not songs or kept:
        text = kept or f"{why_none}; base {base} trains on its stems' data alone"
        (out / NOTE).write_text(text + "\n")
        return {}
    (out / NOTE).unlink(missing_ok=True)
    songs_dir = out / "generated"
    generate_dataset(songs_dir, songs, ds.seconds, cfg.songs_seed, sf2=ds.sf2, sample_rate_hz=ds.sample_rate_hz,
                     progress=False, sound_sources=ds.sound_sources, ood_sources=(), effects=ds.effects,
                     validation_tracks=0, test_tracks=0, sub_bass_tracks=cfg.sub_bass_songs)
    build_indices(songs_dir, list(cfg.stems), out / "index", switches=params.switches,
                  drum_split=params.index.drum_split, jobs=jobs, bass_octave_down=ds.bass_labels_octave_down)
    fe, prepared = params.base_front_end(base), {}
    for stem in cfg.stems:
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
