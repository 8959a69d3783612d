"""On the device: .gpu/prepared (ogg) -> data/prepared (int16 .npy), as prepare wrote it."""
import shutil
from pathlib import Path
import numpy as np, soundfile as sf
src, dst = Path(".gpu/prepared"), Path("data/prepared")
for f in src.rglob("*"):
    if f.is_dir():
        continue
    out = dst / f.relative_to(src)
    out.parent.mkdir(parents=True, exist_ok=True)
    if f.suffix == ".ogg":
        y, sr = sf.read(f, dtype="float32")
        np.save(out.with_suffix(".npy"), np.clip(np.round(y * 32768.0), -32768, 32767).astype(np.int16))
    else:
        shutil.copy2(f, out)
