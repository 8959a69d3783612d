"""Train one stem's transcription model: ``train(...)`` and the ``train`` /
``train-per-stem`` commands.

Loop: forward under autocast (AMP on CUDA only: bf16 when supported, else fp16
with a GradScaler) -> backward -> ``scaler.unscale_`` -> ``clip_grad_norm_`` ->
``scaler.step`` -> ``scaler.update`` -> ``scheduler.step`` (linear warmup, then
cosine). Every ``val_interval`` steps (and at the end) rank 0 validates on the
deterministic validation clips (loss, and onset P/R/F1 through ``decoding`` +
``mir_eval``), writes ``last.pt`` and, on a better validation figure
(onset F1, ties broken by lower loss), ``best.pt`` -- both atomically.

Outputs in ``out_dir``: ``best.pt``, ``last.pt`` (contract 2), ``summary.json``
and ``history.csv`` (one row per ``log_every`` steps, validation columns
filled on validation steps).

Exact resumption: the data of step ``s`` depends only on ``(seed, epoch, s)``
(item keys ``s * global_batch + rank * batch + j``; a per-epoch DataLoader
generator), and ``last.pt`` carries the torch/CUDA/numpy/python RNG states, so
a run killed after a checkpoint continues with the very losses an
uninterrupted run would have had. ``last.pt`` is used only when its config and
index fingerprint match; otherwise training starts afresh (with a warning).

Under ``torchrun --nproc-per-node N`` the model is wrapped in
DistributedDataParallel and each rank draws its own shard of the step's items
(``batch_size`` is per rank)::

    torchrun --nproc-per-node 2 -m midi_extractor.cli train data/index/filtered_dataset_bass.json \
        --stem bass --out-dir models/bass
"""
from __future__ import annotations

import dataclasses
import os
import logging
from pathlib import Path
from typing import Any, Sequence

from midi_extractor import taxonomy as tx
from midi_extractor.atomic import write_json
from midi_extractor.config import ConfigError, Params, PretrainConfig, StemConfig, replace
from midi_extractor.model.checkpoint import CheckpointError, Identity, check_fits, load_checkpoint

log = logging.getLogger(__name__)

#: StemConfig fields a caller (or a CLI flag) may override per run
OVERRIDE_FIELDS = tuple(f.name for f in dataclasses.fields(StemConfig)
                        if f.name not in ("role", "base", "loss_weights", "augment"))
_RUN_OPTIONS = ("device", "resume", "log_every", "progress", "amp", "val_clips_per_track", "weights_out")


def stem_settings(params: Params, stem: str, **overrides: Any) -> StemConfig:
    """``params.stems[stem]`` (defaults when absent) with non-None overrides applied, each
    coerced by its field's type and the result checked (:func:`midi_extractor.config.replace`)."""
    base = params.stems.get(stem) or StemConfig(role=tx.role_of(stem, params.switches))
    unknown = set(overrides) - set(OVERRIDE_FIELDS)
    if unknown:
        raise TypeError(f"unknown training override(s): {', '.join(sorted(unknown))}")
    return replace(base, f"override stems.{stem}", **{k: v for k, v in overrides.items() if v is not None})


def _run_kwargs(kwargs: dict) -> tuple[dict, dict]:
    run = {k: kwargs.pop(k) for k in list(kwargs) if k in _RUN_OPTIONS}
    return run, kwargs


def train(index_path: str | Path, stem: str, out_dir: str | Path, params: Params | None = None, *,
          data_root: str | Path | None = None, init_from: str | Path | None = None, **kwargs: Any) -> dict[str, Any]:
    """Train ``stem``'s model on ``index_path`` (a filtered index) into ``out_dir``.

    ``init_from``: a base checkpoint to fine-tune from (``models/_base/<base>/best.pt``).
    Keyword arguments are either :data:`OVERRIDE_FIELDS` (beat ``params.stems[stem]``) or
    run options (``device``, ``resume``, ``log_every``, ``progress``, ``amp``,
    ``val_clips_per_track``, ``weights_out``; see :func:`midi_extractor.train.loop.fit`).
    Returns the summary written to ``out_dir/summary.json``."""
    from midi_extractor.train.loop import fit
    from midi_extractor.train.state import Job

    params = params or Params()
    run, overrides = _run_kwargs(dict(kwargs))
    settings = stem_settings(params, stem, **overrides)
    classes = tx.MODEL_DRUM_CLASSES.get(stem)
    job = Job(stem, tx.role_of(stem, params.switches), settings, params.role(stem), params, Path(index_path),
              Path(out_dir), list(classes) if classes else None, data_root, Path(init_from) if init_from else None,
              params.front_end(stem))
    return fit(job, **run)


def merge_indexes(index_paths: Sequence[str | Path], out: str | Path) -> Path:
    """One index holding every entry of ``index_paths``, written atomically to ``out``: the
    training set of a shared base model. Source indexes must share a dataset_root;
    prepared ones (``midi-extractor prepare``, each relative to its own folder) must share
    a sample rate, and their entry paths are rewritten relative to ``out``'s folder (and the
    files prepare left out, ``bad_files``, are kept, so the base's summary lists them). An
    index that cannot be read raises :class:`~midi_extractor.index_io.DataError` naming it."""
    from midi_extractor import prepared
    from midi_extractor.index_io import read_index

    out = Path(out)
    entries, roots, layouts, bad_files = [], set(), [], {}
    for path in index_paths:
        root, index_entries, data = read_index(path)   # a prepared index: root is its own folder
        rows = [{**e, "source_index": Path(path).name} for e in index_entries]
        if prepared.is_prepared(data):
            layouts.append(data["prepared"])
            bad_files.update(data.get("bad_files") or {})
            rel = lambda p: os.path.relpath(root / p, out.resolve().parent)  # noqa: E731
            rows = [prepared.rerooted(e, rel) for e in rows]
        else:
            roots.add(data.get("dataset_root", "."))
        entries += rows
    header: dict[str, Any] = {}
    if layouts:
        rates = {int(x["sample_rate_hz"]) for x in layouts}
        if len(layouts) != len(index_paths) or len(rates) > 1:
            raise ConfigError(f"indexes {', '.join(map(str, index_paths))} mix prepared and source layouts or "
                              f"sample rates; prepare every stem at one rate")
        header = {"prepared": {**layouts[0], "source_index": [str(p) for p in index_paths]},
                  "bad_files": dict(sorted(bad_files.items()))}
        roots = {"."}
    if len(roots) > 1:
        raise ConfigError(f"indexes {', '.join(map(str, index_paths))} point at different data sets: {sorted(roots)}")
    return write_json(out, {"dataset_root": roots.pop() if roots else ".", **header, "entries": entries}, indent=1)


def pretrain_config(params: Params, name: str) -> PretrainConfig:
    """``params.pretrain[name]``; :class:`ConfigError` listing the bases params has when it is not there."""
    if name not in params.pretrain:
        raise ConfigError(f"no pretrain.{name} in params (listed: {', '.join(params.pretrain) or 'none'})")
    return params.pretrain[name]


def why_train_base(name: str, params: Params, shipped: str | Path) -> str | None:
    """Why stage ``pretrain-<name>`` must train the base rather than keep ``shipped`` (the
    ``bases/<name>.pt`` in git), as one clause; None to keep it. ``pretrain.<name>.rebuild``:
    ``true`` always trains; ``auto`` trains when ``dataset.kind`` is not ``generated`` (the
    embedded set the shipped bases were trained on) or the file is missing or does not fit
    params' front end and model size; ``false`` keeps it, and raises ``CheckpointError``
    naming it when it is missing or does not fit."""
    cfg = pretrain_config(params, name)
    if cfg.rebuild is True:
        return f"pretrain.{name}.rebuild is true"
    problem = _shipped_base_problem(name, params, Path(shipped))
    if cfg.rebuild is False:
        if problem:
            raise CheckpointError(f"{problem}; pretrain.{name}.rebuild is false, so it is not trained here")
        return None
    if params.dataset.kind != "generated":
        return f"dataset.kind is {params.dataset.kind}; the shipped base was trained on the generated set"
    return problem


def _shipped_base_problem(name: str, params: Params, shipped: Path) -> str | None:
    """One line when ``shipped`` cannot serve as base ``name`` under ``params``, else None."""
    if not shipped.is_file():
        return f"{shipped}: not found"
    try:
        ck = load_checkpoint(shipped)
        check_fits(Identity.of(ck), shipped, params.pretrain[name].stems[0], front_end=params.base_front_end(name),
                   model_size=params.model.size, params=params, say_base=False)
    except CheckpointError as exc:
        return str(exc)
    return None


def pretrain(name: str, index_paths: Sequence[str | Path], out_dir: str | Path, params: Params, *,
             data_root: str | Path | None = None, export: str | Path | None = None, **run: Any) -> dict[str, Any]:
    """Train the shared base ``params.pretrain[name]`` on the union of ``index_paths`` (its
    stems' filtered indexes) into ``out_dir`` (``best.pt``, ``index.json`` = the union);
    ``export``: also write a weights-only copy there (the shipped ``bases/<name>.pt``) of
    ``best.pt`` or ``last.pt``, as ``pretrain.<name>.ships`` says."""
    from midi_extractor.train.loop import fit
    from midi_extractor.train.outputs import check_writable
    from midi_extractor.train.state import Job

    cfg = pretrain_config(params, name)
    out_dir = Path(out_dir)
    check_writable(out_dir)  # before the merged index is written there
    index = merge_indexes(index_paths, out_dir / "index.json")
    role_config = params.base_role(name)
    classes = tx.MODEL_DRUM_CLASSES.get(cfg.drum_stem)
    job = Job(f"base-{name}", cfg.role, cfg, role_config, params, index, out_dir,
              list(classes) if classes else None, data_root, Path(cfg.init_from) if cfg.init_from else None,
              params.base_front_end(name), tone_guard=classes is None)
    result = fit(job, **run)
    if export is not None and result.get("rank", 0) == 0:
        from midi_extractor.model.checkpoint import export_weights

        export_weights(job.last_path if cfg.ships == "last" else job.best_path, export)
        log.info("base %s exported to %s (its %s step)", name, export, cfg.ships)
    return result


def base_song_indexes(params: Params, base: str, songs_dir: str | Path) -> list[Path]:
    """The prepared indexes ``base_songs.write_base_songs`` left in ``songs_dir`` for ``base``
    (``pretrain.<base>.songs``); :class:`DataError` naming the stage when params ask for songs
    that are not there."""
    from midi_extractor.index_io import DataError

    cfg, songs_dir = params.pretrain[base], Path(songs_dir)
    if not params.base_songs(base)[0]:
        return []
    paths = [songs_dir / stem / "index.json" for stem in cfg.stems]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise DataError(f"pretrain.{base}.songs is {cfg.songs} but {', '.join(missing)} is missing: the "
                        f"base_songs stage writes none for a base whose shipped file fitted when it ran; "
                        f"run it again: dvc repro -f base_songs")
    return paths
