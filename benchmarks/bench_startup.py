"""Start-up of one transcription, per runtime: where the wall time of a short stem goes.

Each run is a fresh Python process (cold imports, as a user's command) that times, in order:

* ``import``: ``midi_extractor.infer`` (api, engine), ``midi_io`` and the runtime's library
  (``onnxruntime`` or ``torch``);
* ``load``: ``engine.load_model`` (checkpoint or ``model.onnx`` + its SHA-256 check);
* ``read``: the audio file, resampled to the model's rate;
* ``compute``: the model over its windows and the note decoding (``engine.transcribe_array``);
* ``write``: the MIDI file (``midi_io.notes_to_midi`` + ``outputs.write_midi``);

and the wall time of the whole process seen from outside (``python`` start and exit included),
then of ``midi-extractor transcribe`` itself on the same file, and of one command on ``--many``
copies (each model is loaded once; every extra file costs its read, compute and write).
Figures: median of ``--repeat`` runs, alternating the runtimes so both see the same load.

    python benchmarks/bench_startup.py                     # the shipped bases as models, a 12-s stem
    python benchmarks/bench_startup.py --models-dir models --stem bass --seconds 12
"""
from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

REPO = Path(__file__).resolve().parents[1]
PHASES = ("import", "load", "read", "compute", "write")
CHILD = r"""
import json, sys, time
t = [time.perf_counter()]
runtime, checkpoint, wav, out = sys.argv[1:5]
from midi_extractor.infer import engine, outputs
from midi_extractor.midi_io import notes_to_midi
__import__("onnxruntime" if runtime == "onnx" else "torch")
t.append(time.perf_counter())
loaded = engine.load_model(checkpoint, runtime=runtime)
t.append(time.perf_counter())
x, name = engine.load_input(wav, None, loaded.front_end.sample_rate_hz)
t.append(time.perf_counter())
notes = engine.transcribe_array(loaded, x, name=name)
t.append(time.perf_counter())
outputs.write_midi(notes_to_midi(notes, 33, False, "bass"), out)
t.append(time.perf_counter())
phases = dict(zip(("import", "load", "read", "compute", "write"), (b - a for a, b in zip(t, t[1:]))))
print(json.dumps({**phases, "notes": len(notes), "torch_imported": "torch" in sys.modules,
                  "model": type(loaded.model).__name__}))
"""


def stem_audio(path: Path, seconds: float, sample_rate_hz: int = 16000) -> Path:
    """``seconds`` of the golden test's FluidSynth bass clip, repeated, as a WAV at ``path``."""
    from midi_extractor.audio import load_audio

    clip = load_audio(REPO / "tests" / "fixtures" / "golden" / "bass_clip.flac", sample_rate_hz)
    n = int(seconds * sample_rate_hz)
    sf.write(path, np.resize(clip, n).astype(np.float32), sample_rate_hz)
    return path


def shipped_models(root: Path) -> Path:
    """``root/bass/best.pt``: the shipped pitched base, exported (``model.onnx`` beside it)."""
    from midi_extractor.infer.onnx_export import export_onnx

    (root / "bass").mkdir(parents=True)
    shutil.copy(REPO / "bases" / "pitched.pt", root / "bass" / "best.pt")
    export_onnx(root / "bass" / "best.pt")
    return root


def timed(cmd: list[str], cwd: Path) -> tuple[float, str]:
    """``(wall seconds, stdout)`` of a command that must succeed."""
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{done.stderr[-2000:]}")
    return wall, done.stdout


def one_round(runtime: str, checkpoint: Path, wav: Path, many: list[Path], work: Path) -> dict:
    """One fresh-process run of every measure for ``runtime``."""
    wall, out = timed([sys.executable, "-c", CHILD, runtime, str(checkpoint), str(wav), str(work / "x.mid")], REPO)
    row = {**json.loads(out), "process": wall}
    cli = [sys.executable, "-m", "midi_extractor", "transcribe", "--models-dir", str(checkpoint.parent.parent),
           "--stem", checkpoint.parent.name, "--no-tempo", "--runtime", runtime, "-o", str(work / "cli")]
    row["cli"] = timed(cli + [str(wav)], REPO)[0]
    row["cli_many"] = timed(cli + [str(p) for p in many], REPO)[0]
    return row


def report(rows: dict[str, list[dict]], seconds: float, n_many: int) -> dict:
    """Print the medians per runtime; returns them."""
    medians = {}
    head = [*PHASES, "process", "cli", "cli - compute", f"cli x{n_many}"]
    print(f"{seconds:g}-s stem, median of {len(next(iter(rows.values())))} fresh processes (seconds)")
    print(f"| runtime | {' | '.join(head)} | notes | torch imported |")
    print("|---" * (len(head) + 3) + "|")
    for runtime, runs in rows.items():
        med = {k: statistics.median(r[k] for r in runs) for k in (*PHASES, "process", "cli", "cli_many")}
        med["cli_overhead"] = statistics.median(r["cli"] - r["compute"] for r in runs)
        medians[runtime] = {**med, "notes": runs[0]["notes"], "torch_imported": runs[0]["torch_imported"]}
        cells = [med[k] for k in (*PHASES, "process", "cli", "cli_overhead", "cli_many")]
        print(f"| {runtime} ({runs[0]['model']}) | {' | '.join(f'{c:.3f}' for c in cells)} | "
              f"{runs[0]['notes']} | {runs[0]['torch_imported']} |")
    return medians


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models-dir", help="folder of <stem>/best.pt with model.onnx (default: the shipped base)")
    parser.add_argument("--stem", default="bass")
    parser.add_argument("--seconds", type=float, default=12.0)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--many", type=int, default=8, help="files in the many-files command (default 8)")
    parser.add_argument("--out", help="write the medians as JSON here")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench_startup_"))
    models = Path(args.models_dir) if args.models_dir else shipped_models(work / "models")
    checkpoint = models / args.stem / "best.pt"
    wav = stem_audio(work / f"{args.stem}.wav", args.seconds)
    many = [shutil.copy(wav, work / f"{args.stem}_{i}.wav") for i in range(args.many)]
    rows: dict[str, list[dict]] = {"onnx": [], "torch": []}
    for _ in range(args.repeat):
        for runtime in rows:
            rows[runtime].append(one_round(runtime, checkpoint, wav, [Path(p) for p in many], work))
    medians = report(rows, args.seconds, args.many)
    if args.out:
        Path(args.out).write_text(json.dumps(medians, indent=2) + "\n")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
