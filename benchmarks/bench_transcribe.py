"""Transcription speed (multiple of real time, CPU) beside Basic Pitch, in one run;
optionally onset F1 per stem category on a Slakh-format folder beside Basic Pitch's.

Basic Pitch lives in its own venv (see /work/shared/peer/README.md); this
script runs it there as a subprocess on the same files, right after ours.

Speed (default: 4 files of 60 s, the real Slakh sample's stem MIDI rendered with FluidSynth)::

    python benchmarks/bench_transcribe.py --stem bass --models-dir models --bp-python /tmp/bp/bin/python
    python benchmarks/bench_transcribe.py --untrained --bp-python /tmp/bp/bin/python   # before any training

Scores (needs trained models; DATASET holds TrackNNNNN/ folders)::

    python benchmarks/bench_transcribe.py --score DATASET --models-dir models \
        --bp-python /tmp/bp/bin/python --out benchmarks/score.json

``--score`` scores our models per stem category with the very ``scores``
function of ``score_basic_pitch.py`` (onset F1, onset+offset F1, 100 fps
frame F1) and runs ``score_basic_pitch.py --out`` on the same folder.
"""
from __future__ import annotations

import argparse
import collections
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from midi_extractor.infer import api as inference, engine
from midi_extractor import taxonomy as tx  # noqa: E402
from midi_extractor.config import Params, load_params  # noqa: E402
from midi_extractor.infer.routing import NoModelError, resolve_model  # noqa: E402
from midi_extractor.model.checkpoint import build_model, load_checkpoint  # noqa: E402

PEER = Path(os.environ.get("PEER_DIR", "/work/shared/peer"))
SAMPLE = REPO / "tests" / "fixtures" / "slakh_sample" / "slakh2100_flac_redux" / "train" / "Track00001"

#: pins Basic Pitch's onnxruntime session to THREADS intra-op threads (one inter-op thread), as
#: ``engine.set_cpu_threads`` does ours, so "one thread each" holds for both (0: runtime default)
PIN_THREADS = r"""
import onnxruntime as _ort
_Session = _ort.InferenceSession
def _pinned(path, sess_options=None, *args, **kwargs):
    sess_options = sess_options or _ort.SessionOptions()
    if THREADS:
        sess_options.intra_op_num_threads, sess_options.inter_op_num_threads = THREADS, 1
    return _Session(path, sess_options, *args, **kwargs)
_ort.InferenceSession = _pinned
"""

BP_TIMER = r"""
import json, os, pathlib, sys, time
THREADS = int(os.environ["BENCH_THREADS"])
exec(PIN_THREADS)
import soundfile as sf
from basic_pitch import ICASSP_2022_MODEL_PATH
from basic_pitch.inference import Model, predict
model = Model(pathlib.Path(ICASSP_2022_MODEL_PATH).parent / "nmp.onnx")
assert not THREADS or model.model.get_session_options().intra_op_num_threads == THREADS
predict(sys.argv[1], model)  # warm-up: first call pays for session set-up
rows = []
for f in sys.argv[1:]:
    t = time.perf_counter(); _, _, events = predict(f, model); wall = time.perf_counter() - t
    rows.append({"file": f, "audio_s": sf.info(f).duration, "wall_s": wall, "notes": len(events)})
print("BENCH_JSON " + json.dumps(rows))
"""


# ---------------------------------------------------------------- test audio
def make_test_files(folder: Path, seconds: float, n_files: int) -> list[Path]:
    """``n_files`` mono 44.1 kHz WAVs of ``seconds`` each: the real Slakh sample's pitched
    stem MIDI files rendered with FluidSynth (pretty_midi's TimGM6mb; the sample's audio is silent)."""
    import pretty_midi
    import yaml

    meta = yaml.safe_load((SAMPLE / "metadata.yaml").read_text())["stems"]
    stems = [sid for sid, m in sorted(meta.items()) if not m["is_drum"] and (SAMPLE / "MIDI" / f"{sid}.mid").exists()]
    files = []
    for k in range(n_files):
        sid = stems[k % len(stems)]
        midi = pretty_midi.PrettyMIDI(str(SAMPLE / "MIDI" / f"{sid}.mid"))
        x = midi.fluidsynth(fs=44100)
        x = np.tile(x, int(np.ceil(seconds * 44100 / max(len(x), 1))))[: int(seconds * 44100)]
        path = folder / f"bench_{k}_{sid}_program{meta[sid]['program_num']}.wav"
        sf.write(path, (0.5 * x / max(np.abs(x).max(), 1e-9)).astype(np.float32), 44100)
        files.append(path)
    return files


def untrained_models_dir(folder: Path, stem: str, params: Params) -> Path:
    """``folder/<stem>/best.pt``: a freshly initialised model (same speed as a trained one)."""
    import torch

    from midi_extractor.model.transcriber import create_model

    torch.manual_seed(0)
    classes = tx.STEM_DRUM_CLASSES.get(stem)
    n_outputs = len(classes) if classes else params.features.n_pitches
    role = params.role(stem) if stem in params.stems else Params().role(stem)
    model = create_model(params.features, params.model, n_outputs, role)
    ckpt = {"model": model.state_dict(), "optimizer": {}, "scheduler": {}, "scaler": {}, "step": 0, "epoch": 0,
            "best_metric": 0.0, "stem": stem, "role": tx.role_of(stem), "taxonomy_version": tx.TAXONOMY_VERSION,
            "config": {**model.config_dict(), "drum_classes": list(classes) if classes else None, "train": {}}}
    (folder / stem).mkdir(parents=True, exist_ok=True)
    try:
        from midi_extractor.model.checkpoint import save_checkpoint
    except ImportError:
        save_checkpoint = torch.save
    save_checkpoint(ckpt, folder / stem / "best.pt") if save_checkpoint is torch.save else \
        save_checkpoint(folder / stem / "best.pt", ckpt)
    return folder


# --------------------------------------------------------------------- speed
def time_ours(files: list[Path], stem: str, models_dir: Path) -> list[dict]:
    route = resolve_model(stem, models_dir)
    loaded = engine.load_model(route.checkpoint)
    inference.transcribe(files[0], stem, models_dir)  # warm-up
    rows = []
    for f in files:
        t = time.perf_counter()
        notes, _ = inference.transcribe(f, stem, models_dir)
        rows.append({"file": str(f), "audio_s": sf.info(str(f)).duration, "wall_s": time.perf_counter() - t,
                     "notes": len(notes)})
    # the ONNX export has no torch parameters: count those of the checkpoint it was made from
    n_params = sum(p.numel() for p in build_model(load_checkpoint(route.checkpoint)).parameters())
    session = getattr(loaded.model, "session", None)
    threads = (f"onnxruntime intra-op threads {session.get_session_options().intra_op_num_threads or 'default'}"
               if session else f"torch threads {_torch_threads()}")
    print(f"ours: {route.checkpoint} ({n_params} parameters), {threads}", file=sys.stderr)
    return rows


def _torch_threads() -> int:
    import torch

    return torch.get_num_threads()


def pin_threads(threads: int) -> None:
    """Our models on ``threads`` threads, as ``transcribe --threads`` runs them (onnxruntime:
    ``threads`` intra-op, one inter-op, what :data:`PIN_THREADS` sets for Basic Pitch)."""
    if threads:
        engine.set_cpu_threads(threads)


def time_basic_pitch(files: list[Path], bp_python: str, threads: int) -> list[dict] | str:
    script = BP_TIMER.replace("exec(PIN_THREADS)", PIN_THREADS)
    try:
        proc = subprocess.run([bp_python, "-c", script, *map(str, files)], capture_output=True, text=True,
                              timeout=3600, env={**os.environ, "BENCH_THREADS": str(threads)})
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"basic pitch did not run: {exc}"
    for line in proc.stdout.splitlines():
        if line.startswith("BENCH_JSON "):
            return json.loads(line[len("BENCH_JSON "):])
    return f"basic pitch failed ({proc.returncode}): {proc.stderr[-800:]}"


def summarise(rows: list[dict]) -> dict:
    audio = sum(r["audio_s"] for r in rows)
    wall = sum(r["wall_s"] for r in rows)
    return {"files": len(rows), "audio_s": round(audio, 1), "wall_s": round(wall, 2),
            "x_realtime": round(audio / wall, 1) if wall else None}


# -------------------------------------------------------------------- scores
def _peer_module():
    spec = importlib.util.spec_from_file_location("score_basic_pitch", PEER / "score_basic_pitch.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def score_ours(root: Path, models_dir: Path, params: Params) -> dict:
    """Per stem category (the peer script's categories), our models scored with the peer's ``scores``."""
    import pretty_midi
    import yaml

    from midi_extractor.evaluate.scoring import score_notes
    from midi_extractor.midi_io import notes_from_midi

    peer = _peer_module()
    per: dict[str, list] = collections.defaultdict(list)
    used: dict[str, str] = {}
    audio_s = wall = 0.0
    for track in sorted(root.glob("Track*")):
        meta = yaml.safe_load((track / "metadata.yaml").read_text())
        for sid, m in meta["stems"].items():
            wav = track / "stems" / f"{sid}.flac"
            if m["is_drum"] or not wav.exists():
                continue
            category = peer.category(m["program_num"])
            try:
                route = resolve_model(category, models_dir, params.switches)
            except NoModelError as exc:
                used[category] = "skipped (no model on its fallback path)"
                print(f"{category}: {exc}", file=sys.stderr)
                continue
            used[category] = route.used_stem
            ref = pretty_midi.PrettyMIDI(str(track / "MIDI" / f"{sid}.mid")).instruments[0].notes
            t = time.perf_counter()
            notes, _ = inference.transcribe(wav, category, models_dir, params=params)
            wall += time.perf_counter() - t
            audio_s += sf.info(str(wav)).duration
            est = [(n.start_s, n.end_s, n.pitch) for n in notes]
            ours = score_notes(notes_from_midi(track / "MIDI" / f"{sid}.mid"), notes)["onset_f1"]
            per[category].append([*peer.scores(ref, est), ours])
    res = {k: dict(zip(["onset_f1", "onset_offset_f1", "frame_f1", "onset_f1_score_notes"],
                       np.mean(v, 0).round(3).tolist()), n=len(v), model=used[k]) for k, v in sorted(per.items())}
    res["_speed"] = {"audio_s": round(audio_s, 1), "wall_s": round(wall, 2),
                     "x_realtime": round(audio_s / wall, 1) if wall else None}
    res["_routes"] = used
    return res


def run_peer_score(root: Path, bp_python: str) -> dict | str:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "bp.json"
        proc = subprocess.run([bp_python, str(PEER / "score_basic_pitch.py"), str(root), "--out", str(out)],
                              capture_output=True, text=True)
        if proc.returncode or not out.exists():
            return f"score_basic_pitch.py failed ({proc.returncode}): {proc.stderr[-800:]}"
        return json.loads(out.read_text())


def side_by_side(ours: dict, bp: dict | str) -> str:
    lines = ["| stem | n | ours onset F1 | BP onset F1 | ours on+off F1 | BP on+off F1 | ours frame F1 | BP frame F1 | our model |",
             "|---|---|---|---|---|---|---|---|---|"]
    bp = bp if isinstance(bp, dict) else {}
    for cat in sorted(k for k in set(ours) | set(bp) if not k.startswith("_")):
        o, b = ours.get(cat, {}), bp.get(cat, {})
        lines.append(f"| {cat} | {o.get('n', b.get('n', '-'))} | {o.get('onset_f1', '-')} | {b.get('onset_f1', '-')} | "
                     f"{o.get('onset_offset_f1', '-')} | {b.get('onset_offset_f1', '-')} | {o.get('frame_f1', '-')} | "
                     f"{b.get('frame_f1', '-')} | {o.get('model', ours.get('_routes', {}).get(cat, '-'))} |")
    lines.append(f"| speed (x real time) | | {ours.get('_speed', {}).get('x_realtime', '-')} | "
                 f"{bp.get('_speed', {}).get('x_realtime', '-')} | | | | | |")
    return "\n".join(lines)


# ---------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--audio", nargs="*", default=None, help="audio files to time (default: generated test files)")
    ap.add_argument("--seconds", type=float, default=60.0, help="length of each generated test file")
    ap.add_argument("--n-files", type=int, default=4)
    ap.add_argument("--repeat", type=int, default=3, help="timing runs per side (median reported)")
    ap.add_argument("--stem", default="bass")
    ap.add_argument("--threads", type=int, default=1,
                    help="intra-op threads of every onnxruntime session, ours and Basic Pitch's (0: their default)")
    ap.add_argument("--models-dir", default="models")
    ap.add_argument("--untrained", action="store_true", help="time a freshly initialised model of the params' size")
    ap.add_argument("--params", default=str(REPO / "params.yaml"))
    ap.add_argument("--bp-python", default="/tmp/bp/bin/python", help="python of Basic Pitch's venv ('' to skip)")
    ap.add_argument("--score", default=None, help="Slakh-format folder (TrackNNNNN/): score per stem category")
    ap.add_argument("--out", default=None, help="write the results JSON here")
    args = ap.parse_args(argv)
    params = load_params(args.params) if Path(args.params).is_file() else Params()
    pin_threads(args.threads)
    result: dict = {"machine": {"cpus": os.cpu_count(), "torch_threads": _torch_threads(),
                                "onnxruntime_threads": args.threads or "default"}}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        models_dir = untrained_models_dir(tmp / "models", args.stem, params) if args.untrained else Path(args.models_dir)
        if args.score:
            ours = score_ours(Path(args.score), models_dir, params)
            bp = run_peer_score(Path(args.score), args.bp_python) if args.bp_python else "skipped"
            result.update(score_ours=ours, score_basic_pitch=bp)
            print(side_by_side(ours, bp))
        else:
            files = [Path(f) for f in args.audio] if args.audio else make_test_files(tmp, args.seconds, args.n_files)
            runs: dict[str, list] = {"ours": [], "basic_pitch": []}
            for r in range(args.repeat):  # alternate, so both see the same machine load
                runs["ours"].append(time_ours(files, args.stem, models_dir))
                if args.bp_python:
                    bp = time_basic_pitch(files, args.bp_python, args.threads)
                    if isinstance(bp, str):
                        print(bp, file=sys.stderr)
                        result["basic_pitch"] = bp
                        args.bp_python = ""
                    else:
                        runs["basic_pitch"].append(bp)
            for name, label in (("ours", f"ours ({args.stem}{', untrained' if args.untrained else ''})"),
                                ("basic_pitch", "basic pitch")):
                if not runs[name]:
                    continue
                summaries = [summarise(rows) for rows in runs[name]]
                best = sorted(summaries, key=lambda x: x["x_realtime"])[len(summaries) // 2]  # median run
                result[name] = {**best, "x_realtime_runs": [x["x_realtime"] for x in summaries],
                                "rows": runs[name][summaries.index(best)]}
                print(f"{label}: {best['x_realtime']}x real time (median of {len(summaries)} runs "
                      f"{[x['x_realtime'] for x in summaries]}; {best['audio_s']} s audio in {best['wall_s']} s)")
            result["ours"].update(stem=args.stem, untrained=args.untrained)
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
