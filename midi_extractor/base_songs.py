"""Songs only a shared base trains on (``pretrain.<base>.songs``; stage ``base_songs``); they are
written and prepared by :mod:`midi_extractor.own_songs`, as the stems' shared songs are.

A base learns what every stem shares, so it gains from more songs than a stem's fine-tune
needs: on the 2-core box, 200 more songs moved the pitched base's out-of-domain onset F1 where
more steps over the pipeline's 32 songs did not (``benchmarks/RESULTS.md``). They are
all training tracks (then ``sub_bass_songs`` more, whose bass parts a sub bass plays).

Real data sets (``dataset.kind`` not ``generated``) and ``songs: 0`` get only a note, and the
base trains on its stems' data alone. So does a base whose stage keeps its shipped file
(``shipped``, :func:`kept_reason`): the default pipeline keeps the pitched base and would not read
its 200 songs (165 s of writing on the 2-core box). Stage ``pretrain-<base>`` reads them through
:func:`midi_extractor.train.run.base_song_indexes`.
"""
from __future__ import annotations

from pathlib import Path

from midi_extractor.config import Params
from midi_extractor.dataset.own_songs import prepare_songs
from midi_extractor.own_songs import NOTE, generate_songs

__all__ = ["NOTE", "kept_reason", "write_base_songs"]


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
    cfg, out = params.pretrain[base], Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    songs, why_none = params.base_songs(base)
    kept = kept_reason(params, base, shipped) if songs and shipped is not None else None
    if not songs or kept:
        (out / NOTE).write_text((kept or f"{why_none}; base {base} trains on its stems' data alone") + "\n")
        return {}
    (out / NOTE).unlink(missing_ok=True)
    songs_dir = generate_songs(params, out / "generated", cfg.songs, cfg.songs_seed, cfg.double_triads,
                               cfg.sub_bass_songs)
    return prepare_songs(params, songs_dir, list(cfg.stems), params.base_front_end(base), out, jobs)
