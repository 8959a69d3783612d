"""Where the tracks of a Slakh2100-format dataset root are, and which split each is in.

Layouts (:func:`detect_layout`):

* ``split`` -- Slakh2100 / slakh2100_flac_redux: ``ROOT/{train,validation,test,omitted}/TrackNNNNN/``;
  the split is the folder.
* ``flat`` -- BabySlakh (``ROOT/TrackNNNNN/``) or any folder of track folders
  (the generated set); the split is a deterministic hash of the track name
  (:func:`flat_split`, fractions in :data:`SPLIT_FRACTIONS`).
* ``track`` -- ROOT is itself one track folder (split from its name, as flat).

A track folder holds ``metadata.yaml``, ``stems/Sxx.{flac,wav,...}`` and ``MIDI/Sxx.mid``
(read by :mod:`midi_extractor.dataset.slakh`).
"""
from __future__ import annotations

import hashlib
from pathlib import Path

#: split folders of Slakh2100 (``omitted`` exists in the redux release only)
SPLITS = ("train", "validation", "test", "omitted")
#: deterministic split of flat layouts: the one place these fractions live
SPLIT_FRACTIONS: dict[str, float] = {"train": 0.8, "validation": 0.1, "test": 0.1}


def is_track_dir(path: Path) -> bool:
    """A folder that looks like a Slakh track (metadata.yaml, MIDI/ or stems/)."""
    return path.is_dir() and any((path / n).exists() for n in ("metadata.yaml", "MIDI", "stems"))


def detect_layout(root: str | Path) -> str:
    """``split``, ``flat`` or ``track`` (see the module docstring).

    Raises ``FileNotFoundError`` for a missing root and ``ValueError`` naming
    the root when it holds no tracks in any known layout."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: dataset root not found (or not a folder)")
    if any((root / s).is_dir() for s in SPLITS):
        return "split"
    if is_track_dir(root) and not any(is_track_dir(p) for p in root.iterdir()):
        return "track"
    if any(is_track_dir(p) for p in root.iterdir()):
        return "flat"
    raise ValueError(f"{root}: no Slakh-format tracks found (expected split folders "
                     f"{'/'.join(SPLITS)}, or track folders holding metadata.yaml, MIDI/ or stems/)")


def flat_split(track_name: str) -> str:
    """Deterministic split of a track in a flat layout, from a hash of its
    name, following :data:`SPLIT_FRACTIONS` (same name, same split, on every
    machine and Python version)."""
    digest = hashlib.sha1(track_name.encode("utf-8")).digest()
    u = int.from_bytes(digest[:8], "big") / 2.0 ** 64
    acc = 0.0
    for split, frac in SPLIT_FRACTIONS.items():
        acc += frac
        if u < acc:
            return split
    return next(reversed(SPLIT_FRACTIONS))


def track_dirs(root: str | Path, layout: str | None = None) -> list[tuple[Path, str]]:
    """``(track folder, split)`` for every track under ``root``, sorted."""
    root = Path(root)
    layout = layout or detect_layout(root)
    if layout == "track":
        return [(root, flat_split(root.name))]
    if layout == "flat":
        return [(p, flat_split(p.name)) for p in sorted(root.iterdir()) if is_track_dir(p)]
    out = []
    for split in SPLITS:
        folder = root / split
        if folder.is_dir():
            out += [(p, split) for p in sorted(folder.iterdir()) if is_track_dir(p)]
    return out
