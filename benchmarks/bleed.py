"""Stems as a source separator leaves them: every test stem with the rest of its song leaking in.

A separated stem is never clean: the other instruments bleed into it. This writes a copy of a
Slakh-format data set's test split in which each stem file carries the sum of its track's stems
of *other* categories (a pitched stem: every stem whose GM program maps to another stem; a drum
stem: every pitched stem; the rule training's bleed follows, ``midi_extractor.dataset.bleed``), scaled so that its RMS sits ``--sbr-db`` below the stem's own
(signal-to-bleed ratio over the whole track). The MIDI, metadata and the validation split are
copied (``evaluate`` opens no file through a link that leaves its data root), so ``evaluate --data``
and the peers' scorers read it as they read the original.

    python benchmarks/bleed.py write --sbr-db 20 --out /tmp/bleed20
    python benchmarks/bleed.py score --data /tmp/bleed20 --out benchmarks/bleed_2026-12-07/sbr20
    python ../shared/peer/score_basic_pitch.py /tmp/bleed20/test --out bp_sbr20.json

``score`` runs ``evaluate`` for every stem with the shipped model (``models/<stem>/best.pt``) and
the committed index; decoding thresholds are chosen on the (clean, linked) validation split as the
pipeline chooses them, so they come out as shipped. Its ``<stem>_tracks.csv`` files read like
``metrics/``'s: ``compare_peers.py --metrics`` takes the folder.
"""
import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import soundfile as sf
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from midi_extractor.audio import rms  # noqa: E402
from midi_extractor.dataset.bleed import AUDIO_SUFFIXES, bleed_sources  # noqa: E402
from midi_extractor.taxonomy import STEM_NAMES  # noqa: E402


def bleed_track(track: Path, out: Path, sbr_db: float) -> int:
    """Write ``out/stems/Sxx.flac`` for every stem of ``track``, each with the stems that bleed
    into it (``dataset.bleed.bleed_sources``: the project's one rule); returns how many."""
    meta = yaml.safe_load((track / "metadata.yaml").read_text())["stems"]
    root, files = track.parents[1], {}
    for sid in meta:
        found = [p for p in (track / "stems" / f"{sid}{ext}" for ext in AUDIO_SUFFIXES) if p.is_file()]
        if found:
            files[sid] = found[0]
    (out / "stems").mkdir(parents=True, exist_ok=True)
    for sid, path in files.items():
        x, sr = sf.read(path, dtype="float64")
        entry = {"track": track.name, "stem_id": sid, "audio": str(path.relative_to(root))}
        rest = sum((sf.read(p, dtype="float64")[0] for p in bleed_sources(entry, root)), np.zeros_like(x))
        mixed = x
        if rms(rest) > 0 and rms(x) > 0:
            mixed = x + rest * (rms(x) / rms(rest)) * 10 ** (-sbr_db / 20)
        peak = np.abs(mixed).max()
        sf.write(out / "stems" / f"{sid}.flac", mixed / peak * 0.99 if peak > 0.99 else mixed, sr)
    return len(files)


def write_split(root: Path, out: Path, split: str, sbr_db: float) -> int:
    """Copy ``split``'s tracks with every stem heard with its song's bleed; how many stems."""
    n = 0
    for track in sorted((root / split).iterdir()):
        dst = out / split / track.name
        dst.mkdir(parents=True, exist_ok=True)
        for name in ("MIDI", "metadata.yaml", "all_src.mid"):
            if (track / name).is_dir():
                shutil.copytree(track / name, dst / name, dirs_exist_ok=True)
            elif (track / name).exists():
                shutil.copy2(track / name, dst / name)
        n += bleed_track(track, dst, sbr_db)
    return n


def write(root: Path, out: Path, sbr_db: float, validation_bleed: bool = False) -> None:
    """The test split with bleed; the validation split, on which ``evaluate`` chooses the
    decoding, copied clean (as the pipeline chooses it) or, ``validation_bleed``, with bleed too."""
    out.mkdir(parents=True, exist_ok=True)
    if validation_bleed:
        write_split(root, out, "validation", sbr_db)
    elif not (out / "validation").exists():
        shutil.copytree(root / "validation", out / "validation")
    n = write_split(root, out, "test", sbr_db)
    print(f"{out}: {n} test stems, the rest of each song {sbr_db:g} dB below the stem"
          + (" (validation too)" if validation_bleed else ""))


def score(data: Path, out: Path, stems: list[str]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "MIDI_EXTRACTOR_TRACKING": "0"}
    for stem in stems:
        cmd = [sys.executable, "-m", "midi_extractor", "evaluate", "--stem", stem,
               "--index", f"data/index/filtered_dataset_{stem}.json", "--model", f"models/{stem}/best.pt",
               "--data", str(data), "--out", str(out / f"{stem}.json"),
               "--tracks-out", str(out / f"{stem}_tracks.csv"), "--max-plots", "0", "--params", "params.yaml"]
        log_path = out / f"{stem}.log"
        with open(log_path, "w") as log:
            rc = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, env=env).returncode
        print(f"{stem}: done" if rc == 0 else f"{stem}: evaluate failed ({rc}), see {log_path}", flush=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    w = sub.add_parser("write")
    w.add_argument("--root", type=Path, default=Path("data/generated"))
    w.add_argument("--sbr-db", type=float, required=True)
    w.add_argument("--out", type=Path, required=True)
    w.add_argument("--validation-bleed", action="store_true",
                   help="the validation split with bleed too, so evaluate chooses its decoding on it")
    s = sub.add_parser("score")
    s.add_argument("--data", type=Path, required=True)
    s.add_argument("--out", type=Path, required=True)
    s.add_argument("--stems", default=",".join(n for n in STEM_NAMES if Path(f"models/{n}/best.pt").is_file()))
    a = p.parse_args()
    if a.cmd == "write":
        write(a.root, a.out, a.sbr_db, a.validation_bleed)
    else:
        score(a.data, a.out, a.stems.split(","))


if __name__ == "__main__":
    main()
