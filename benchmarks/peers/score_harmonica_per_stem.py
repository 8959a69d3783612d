"""Harmonica on the pitched stems of some Slakh-format tracks, one JSON line per stem, resumable:
``score_harmonica.py``'s loop (its scoring, one thread, oneDNN off) written as it goes, so a run cut
short keeps what it did and a second run skips the stems already in OUT. Run it in Harmonica's venv
(../shared/peer/README.md); split the tracks over processes to use more cores.

    /tmp/harm/bin/python benchmarks/peers/score_harmonica_per_stem.py medium OUT.jsonl TRACK_DIR...

Aggregate per stem category as the peer script does: the mean of ``scores`` over the lines of a category.
"""
import json
import pathlib
import sys
import time

import torch

torch.backends.mkldnn.enabled = False  # torch 2.14's oneDNN LSTM primitive fails on this CPU for its shapes
torch.set_num_threads(1)

import pretty_midi  # noqa: E402
import soundfile as sf  # noqa: E402
import yaml  # noqa: E402

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[3] / "shared" / "peer"))
from score_basic_pitch import category, scores  # noqa: E402


def main() -> None:
    from harmonica import Harmonica

    model_name, out, tracks = sys.argv[1], pathlib.Path(sys.argv[2]), sys.argv[3:]
    done = {json.loads(line)["key"] for line in out.read_text().splitlines()} if out.exists() else set()
    model = Harmonica(model_name, device="cpu")
    for track in map(pathlib.Path, tracks):
        meta = yaml.safe_load((track / "metadata.yaml").read_text())
        for sid, m in meta["stems"].items():
            wav, key = track / "stems" / f"{sid}.flac", f"{track.name}/{sid}"
            if m["is_drum"] or not wav.exists() or key in done:
                continue
            ref = pretty_midi.PrettyMIDI(str(track / "MIDI" / f"{sid}.mid")).instruments[0].notes
            t = time.perf_counter()
            notes = model.transcribe(str(wav))
            wall = time.perf_counter() - t
            est = [(float(s), float(e), int(p)) for s, e, p in zip(notes.onsets, notes.offsets, notes.pitches)]
            row = {"key": key, "category": category(m["program_num"]), "scores": [float(x) for x in scores(ref, est)],
                   "audio_s": sf.info(str(wav)).duration, "wall_s": wall}
            with out.open("a") as f:
                f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
