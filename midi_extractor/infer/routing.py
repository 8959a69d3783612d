"""Which checkpoint transcribes a stem or instrument name.

``resolve_model("Electric Bass (finger)", "models")`` maps the name to a stem
(``taxonomy.resolve_stem_name``: stem names, aliases such as ``keys`` or
``hi-hat``, GM instrument names, GM program numbers), then walks
``taxonomy.fallback_order(stem)``: the stem's own ``models/<stem>/best.pt``,
then a trained stem of the same role, then ``other`` (percussive stems never
fall back to a pitched model). A fallback is logged as a warning.

Reserved slots (``vocals``) never fall back: with no
``models/vocals/best.pt`` they raise :class:`NoModelError`, one line saying that no
vocals model is trained yet and how to get one; once that file exists it is used,
with no code change.

The models folder, for ``transcribe``, ``export`` and the Python API alike: the one given
(``--models-dir``, ``models_dir=``), else ``$MIDI_EXTRACTOR_MODELS``, else ``models``
(:func:`resolve_models_dir`).
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

from midi_extractor import taxonomy as tx

log = logging.getLogger(__name__)

CHECKPOINT_NAME = "best.pt"
#: the environment variable naming the models folder when none is given
MODELS_ENV = "MIDI_EXTRACTOR_MODELS"
_warned: set[str] = set()


class NoModelError(LookupError):
    """No checkpoint can transcribe the requested stem; the message says why."""


@dataclass(frozen=True)
class Route:
    """The outcome of routing: which stem's checkpoint is used for which request, and why."""

    requested: str       # what the caller asked for, as given
    stem: str            # the stem it names
    used_stem: str       # the stem whose model is used
    checkpoint: Path
    reason: str

    @property
    def is_fallback(self) -> bool:
        return self.used_stem != self.stem


def resolve_models_dir(given: str | Path | None = None) -> str | Path:
    """The models folder (``<stem>/best.pt`` under it): ``given`` when set (not None, not empty),
    else ``$MIDI_EXTRACTOR_MODELS`` when set (and not empty), else ``models``. The one rule of the
    ``transcribe`` and ``export`` commands and of ``transcribe`` / ``transcribe_folder``."""
    if given is not None and str(given) != "":
        return given
    return os.environ.get(MODELS_ENV, "").strip() or "models"


def checkpoint_path(models_dir: str | Path, stem: str) -> Path:
    """``<models_dir>/<stem>/best.pt``."""
    return Path(models_dir) / stem / CHECKPOINT_NAME


def trained_stems(models_dir: str | Path) -> list[str]:
    """Stems with a checkpoint under ``models_dir``, in taxonomy order."""
    return [s for s in tx.STEM_NAMES if checkpoint_path(models_dir, s).is_file()]


def resolve_model(name: str | int, models_dir: str | Path = "models",
                  switches: tx.TaxonomySwitches = tx.DEFAULT_SWITCHES) -> Route:
    """Route a stem/instrument name or GM program to a checkpoint.

    Raises ``KeyError`` for a name the taxonomy does not know and
    :class:`NoModelError` when no checkpoint on the fallback path exists.
    """
    requested = str(name)
    stem = tx.resolve_stem_name(name, switches)
    how = "" if requested.strip().lower().replace(" ", "_") == stem else f" ({requested!r} is stem {stem!r})"
    own = checkpoint_path(models_dir, stem)
    if own.is_file():
        return Route(requested, stem, stem, own, f"stem {stem!r} has its own model{how}")
    if tx.STEMS[stem].reserved:
        raise NoModelError(
            f"no {stem} model is trained yet{how}: {stem!r} is a reserved slot with no training data; to get one, "
            f"train it on data with {stem} stems (add {stem!r} under stems: in params.yaml, README 'Experiments') "
            f"and put its best.pt at {own}; meanwhile a pitch tracker such as Basic Pitch transcribes {stem}")
    order = tx.fallback_order(stem, switches)
    for candidate in order[1:]:
        path = checkpoint_path(models_dir, candidate)
        if path.is_file():
            kind = "the fallback stem" if candidate == tx.FALLBACK_STEM else \
                f"a {tx.role_of(candidate, switches)} stem like {stem!r}"
            reason = (f"no model for stem {stem!r}{how} ({own} missing); "
                      f"falling back to {candidate!r}, {kind}")
            if reason not in _warned:  # once per process and fallback, not once per file
                _warned.add(reason)
                log.warning("%s", reason)
            return Route(requested, stem, candidate, path, reason)
    raise NoModelError(f"no model for stem {stem!r}{how} in {models_dir}: looked for "
                       f"{', '.join(str(checkpoint_path(models_dir, s)) for s in order)}")
