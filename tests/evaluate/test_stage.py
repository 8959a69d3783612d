"""stages/evaluate.py as dvc.yaml runs it, on a tiny untrained checkpoint: every output path on its
command line is written (decoding.json included), the closing line names the metrics file, and
transcribe() from the model folder (reading decoding.json) finds the notes evaluate scored."""
import csv
import json
import os
import subprocess
import sys

import torch

from helpers_data import REPO
from helpers_standin import PITCHED, eval_index
from midi_extractor.config import FrontEndConfig, ModelConfig
from midi_extractor.model.checkpoint import save_checkpoint
from midi_extractor.model.transcriber import create_model


def test_stage_writes_every_output(tmp_path):
    torch.manual_seed(0)
    fe = FrontEndConfig()
    model = create_model(fe, ModelConfig(size="small", conv_channels=8, rnn_units=4), fe.n_pitches, {})
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    save_checkpoint(tmp_path / "models" / "bass" / "best.pt",
                    {"model": model.state_dict(), "config": {**model.config_dict(), "drum_classes": None},
                     "stem": "bass", "role": "melodic", "taxonomy_version": 1, "step": 0, "epoch": 0,
                     "best_metric": 0.0, "optimizer": opt.state_dict(),
                     "scheduler": torch.optim.lr_scheduler.LambdaLR(opt, lambda k: 1.0).state_dict(),
                     "scaler": torch.amp.GradScaler("cuda", enabled=False).state_dict()})
    index = eval_index(tmp_path, PITCHED)
    # an untrained model's probabilities are low: thresholds low enough to give notes
    (tmp_path / "params.yaml").write_text("decoding:\n  onset_threshold: 0.02\n  frame_threshold: 0.02\n")
    cmd = [sys.executable, str(REPO / "stages" / "evaluate.py"), "--params", "params.yaml", "--stem", "bass",
           "--index", str(index), "--data", "data", "--model", "models/bass/best.pt",
           "--summary", "models/bass/summary.json", "--split", "test", "--out", "metrics/bass.json",
           "--tracks-out", "metrics/bass_tracks.csv", "--plots-dir", "plots/bass",
           "--decoding-out", "models/bass/decoding.json", "--max-plots", "2"]
    env = {**os.environ, "MIDI_EXTRACTOR_TRACKING": "0"}
    done = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    decoding = json.loads((tmp_path / "models" / "bass" / "decoding.json").read_text())
    assert (decoding["onset_threshold"], decoding["chosen_on"], decoding["validation_tracks"]) == (0.02, "params", 1)
    metrics = json.loads((tmp_path / "metrics" / "bass.json").read_text())
    assert metrics["n_tracks"] == 4 and set(metrics) >= {"in_domain", "out_of_domain", "decoding"}
    assert len((tmp_path / "metrics" / "bass_tracks.csv").read_text().splitlines()) == 5
    assert len(list((tmp_path / "plots" / "bass").glob("*.png"))) == 2
    rows = {r["track"]: r for r in csv.DictReader((tmp_path / "metrics" / "bass_tracks.csv").open())}
    from midi_extractor import transcribe  # reads models/bass/decoding.json, as a user would

    notes, _ = transcribe(tmp_path / "data" / "Track00004" / "stems" / "S01.wav", stem="bass",
                          models_dir=tmp_path / "models")
    assert len(notes) == int(rows["Track00004/S01"]["n_est_notes"]) > 0
    last = done.stderr.strip().splitlines()[-1]
    assert "evaluate bass: onset threshold 0.02, frame threshold 0.02" in last and "metrics/bass.json" in last
