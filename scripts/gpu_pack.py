"""Pack data/prepared for the device: audio .npy (int16) -> .ogg (Vorbis), the rest copied."""
import shutil, sys
from pathlib import Path
import numpy as np, soundfile as sf
src, dst = Path("data/prepared"), Path(".gpu/prepared")
for f in src.rglob("*"):
    if f.is_dir():
        continue
    out = dst / f.relative_to(src)
    out.parent.mkdir(parents=True, exist_ok=True)
    if f.suffix == ".npy" and "audio" in f.parts:
        y = np.load(f)
        sf.write(out.with_suffix(".ogg"), y.astype(np.float32) / 32768.0, 16000, format="OGG", subtype="VORBIS")
    else:
        shutil.copy2(f, out)
