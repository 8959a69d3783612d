"""A Slakh-format folder's stems through the saturation README "Transcribing" suggests for a sub bass.

The shipped bass model finds no notes of a pure sine bass (``pure_tones.py``'s ``sine``), and all
of them once the sine has odd harmonics (``sub``: ``tanh`` at drive 1.5). This script writes a copy
of a Slakh-format folder whose stems went through that drive, each scaled to its own peak first
(``tanh(drive * x / peak)``, :func:`drive`), labels and metadata unchanged, so ``bench_transcribe.py
--score`` measures what the suggestion gives and what it costs on stems that have harmonics::

    python benchmarks/pure_tones.py --out /tmp/tones
    python benchmarks/drive_stems.py /tmp/tones/sine /tmp/sine_driven
    python benchmarks/drive_stems.py /tmp/domains/out_of_domain /tmp/bass_driven --programs 32-39
    python benchmarks/bench_transcribe.py --score /tmp/sine_driven --models-dir models --bp-python ""

``--programs LO-HI`` keeps only the stems of those GM programs (``32-39``: the bass family);
``--drive 0`` copies them unchanged (the same stems, to score beside).
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

#: the tanh drive README "Transcribing" suggests: pure_tones' ``sub`` (third harmonic 18 dB down)
DRIVE = 1.5


def drive(x: np.ndarray, amount: float = DRIVE) -> np.ndarray:
    """``tanh(amount * x / peak)``, float32 (``transcribe --saturate``'s own function); silence
    stays silence; ``amount`` 0: ``x`` unchanged."""
    from midi_extractor.model.saturation import saturated

    return saturated(np.asarray(x, np.float32), amount)


def drive_folder(src: Path, out: Path, amount: float = DRIVE, programs: tuple[int, int] | None = None) -> int:
    """Write ``src``'s tracks under ``out``, every kept stem driven (module docstring); the
    number of stems written. A track with no kept stem is left out."""
    import shutil

    import soundfile as sf
    import yaml

    written = 0
    for track in sorted(p for p in Path(src).iterdir() if (p / "metadata.yaml").is_file()):
        meta = yaml.safe_load((track / "metadata.yaml").read_text())
        stems = {k: v for k, v in meta["stems"].items() if programs is None or
                 (not v.get("is_drum") and programs[0] <= v.get("program_num", -1) <= programs[1])}
        audio_dir, midi_dir = track / "stems", track / "MIDI"
        found = {k: next(audio_dir.glob(f"{k}.*"), None) for k in stems}
        stems = {k: v for k, v in stems.items() if found[k] is not None}
        if not stems:
            continue
        (out / track.name / "stems").mkdir(parents=True, exist_ok=True)
        (out / track.name / "MIDI").mkdir(exist_ok=True)
        for k in stems:
            x, rate = sf.read(found[k], dtype="float32")
            sf.write(out / track.name / "stems" / found[k].name, drive(x, amount), rate)
            if (midi_dir / f"{k}.mid").is_file():
                shutil.copy(midi_dir / f"{k}.mid", out / track.name / "MIDI" / f"{k}.mid")
            written += 1
        meta.update(audio_dir="stems", midi_dir="MIDI", stems=stems)
        (out / track.name / "metadata.yaml").write_text(yaml.safe_dump(meta, sort_keys=False))
    return written


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("src", type=Path, help="a Slakh-format folder of TrackNNNNN/")
    ap.add_argument("out", type=Path)
    ap.add_argument("--drive", type=float, default=DRIVE, help=f"tanh drive (default {DRIVE}; 0: a plain copy)")
    ap.add_argument("--programs", default=None, help="LO-HI: keep only stems of these GM programs (32-39: bass)")
    args = ap.parse_args(argv)
    programs = tuple(int(p) for p in args.programs.split("-")) if args.programs else None
    n = drive_folder(args.src, args.out, args.drive, programs)
    print(f"{args.out}: {n} stems, drive {args.drive}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
