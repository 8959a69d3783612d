"""Carry the prepared layout to a lent GPU in the device's 64 MB: audio as Vorbis, the rest as is.

    python scripts/gpu_data.py pack [STEM ...]   # here: data/prepared[/STEM] -> .gpu/prepared (int16 .npy -> .ogg)
    python scripts/gpu_data.py unpack            # there: .gpu/prepared -> data/prepared (.ogg -> int16 .npy)

Vorbis is lossy: what trains there is a close copy of the prepared audio, not the same bytes.
"""
import shutil
import sys
from pathlib import Path

import numpy as np
import soundfile as sf

PREPARED, CARRIED = Path("data/prepared"), Path(".gpu/prepared")
SCALE = 32768.0


def _pack(f: Path, out: Path) -> None:
    if f.suffix == ".npy" and "audio" in f.parts:
        sf.write(out.with_suffix(".ogg"), np.load(f).astype(np.float32) / SCALE, 16000, format="OGG",
                 subtype="VORBIS")
    else:
        shutil.copy2(f, out)


def _unpack(f: Path, out: Path) -> None:
    if f.suffix == ".ogg":
        y, _ = sf.read(f, dtype="float32")
        np.save(out.with_suffix(".npy"), np.clip(np.round(y * SCALE), -32768, 32767).astype(np.int16))
    else:
        shutil.copy2(f, out)


def convert(src: Path, dst: Path, one_file, folders=(".",)) -> None:
    """Every file under ``src/<folder>`` through ``one_file(file, its path under dst)``."""
    for f in (f for folder in folders for f in (src / folder).rglob("*") if f.is_file()):
        out = dst / f.relative_to(src)
        out.parent.mkdir(parents=True, exist_ok=True)
        one_file(f, out)


if __name__ == "__main__":
    if sys.argv[1:2] == ["pack"]:
        convert(PREPARED, CARRIED, _pack, sys.argv[2:] or (".",))
    elif sys.argv[1:2] == ["unpack"]:
        convert(CARRIED, PREPARED, _unpack)
    else:
        sys.exit(__doc__)
