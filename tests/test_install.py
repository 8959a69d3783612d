"""The core install transcribes: with the extras' packages (dvc, mlflow, FluidSynth, pedalboard,
and the training-only torchaudio, librosa, mir_eval, matplotlib, tqdm, onnxruntime) unimportable,
``from midi_extractor import transcribe`` still finds the notes of a sine with a tiny checkpoint
of the default (``logfreq``) front end; and pyproject's core dependencies list none of them."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from helpers_models import checkpoint_of
from midi_extractor.config import FrontEndConfig, ModelConfig
from midi_extractor.model.checkpoint import save_checkpoint
from midi_extractor.model.transcriber import create_model

REPO = Path(__file__).resolve().parents[1]
EXTRAS_ONLY = ["dvc", "mlflow", "fluidsynth", "pedalboard", "torchaudio", "librosa", "mir_eval",
               "matplotlib", "tqdm", "onnxruntime", "onnx"]
FE = FrontEndConfig(kind="logfreq", sample_rate_hz=8000, hop_length=256, n_fft=512, n_fft_low=2048,
                    f_min_hz=26.0, f_max_hz=3800.0)

# Run in a fresh interpreter: a meta-path finder refuses the extras' top-level packages, as if
# they were not installed, then transcribes and reports the notes and the modules it loaded.
CHILD = """
import importlib.abc, json, sys
BLOCKED = set(sys.argv[1].split(","))
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {name!r} (blocked: core install)", name=name)
        return None
sys.meta_path.insert(0, Block())
from midi_extractor import transcribe
notes, midi = transcribe(sys.argv[2], stem="bass", models_dir=sys.argv[3], onset_threshold=1e-6,
                         frame_threshold=1e-6)
midi.write(sys.argv[4])
print(json.dumps({"n_notes": len(notes), "loaded": sorted(m for m in BLOCKED if m in sys.modules)}))
"""


def _tiny_logfreq_checkpoint(root: Path, stem: str = "bass") -> Path:
    torch.manual_seed(0)
    model = create_model(FE, ModelConfig(size="small", conv_channels=8, rnn_units=8), FE.n_pitches, {})
    model.eval()
    return save_checkpoint(root / stem / "best.pt", checkpoint_of(model, stem))


def test_transcribe_without_the_extras(tmp_path):
    _tiny_logfreq_checkpoint(tmp_path / "models")
    sr = 8000
    t = np.arange(2 * sr) / sr
    sf.write(tmp_path / "sine.wav", (0.5 * np.sin(2 * np.pi * 110.0 * t)).astype(np.float32), sr)
    out_mid = tmp_path / "sine.mid"
    env = {**os.environ, "MIDI_EXTRACTOR_TRACKING": "0"}
    proc = subprocess.run([sys.executable, "-c", CHILD, ",".join(EXTRAS_ONLY), str(tmp_path / "sine.wav"),
                           str(tmp_path / "models"), str(out_mid)],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["loaded"] == []
    # thresholds ~0: a random model's every pitch is "on", so notes exist and were written
    assert report["n_notes"] > 0
    assert out_mid.stat().st_size > 0


def test_the_command_line_transcribes_without_the_extras(tmp_path):
    _tiny_logfreq_checkpoint(tmp_path / "models")
    sr = 8000
    t = np.arange(sr) / sr
    sf.write(tmp_path / "bass.wav", (0.5 * np.sin(2 * np.pi * 110.0 * t)).astype(np.float32), sr)
    code = (CHILD.split("from midi_extractor")[0] + "sys.argv = sys.argv[1:]\n"
            "from midi_extractor.cli import main\nrc = main(sys.argv[1:])\n"
            "print(json.dumps({'rc': rc, 'loaded': sorted(m for m in BLOCKED if m in sys.modules)}))\n")
    proc = subprocess.run([sys.executable, "-c", code, ",".join(EXTRAS_ONLY), "transcribe", "bass.wav",
                           "--models-dir", "models", "--onset-threshold", "1e-6", "--frame-threshold", "1e-6",
                           "--no-tempo", "-o", "out.mid"], capture_output=True, text=True, timeout=120, cwd=tmp_path,
                          env={**os.environ, "MIDI_EXTRACTOR_TRACKING": "0"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == {"rc": 0, "loaded": []}
    assert (tmp_path / "out.mid").stat().st_size > 0


def test_the_blocker_blocks(tmp_path):
    """The child's finder really makes a blocked package unimportable (else the test above proves nothing)."""
    code = CHILD.split("from midi_extractor")[0] + "import mlflow\n"
    proc = subprocess.run([sys.executable, "-c", code, "mlflow"], capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0 and "blocked: core install" in proc.stderr


def test_core_dependencies_leave_the_extras_out():
    meta = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    core = {d.split(">")[0].split("=")[0].split("<")[0].strip().lower() for d in meta["dependencies"]}
    assert core == {"torch", "numpy", "soundfile", "soxr", "pretty_midi", "pyyaml"}
    extras = meta["optional-dependencies"]
    assert {"train", "track", "synth", "all", "test"} <= set(extras)
    assert any(d.startswith("mlflow>=3,<4") for d in extras["track"])
    assert any(d.startswith("dvc") and "<4" in d for d in extras["train"])
    assert set(extras["all"][0].split("[")[1].rstrip("]").split(",")) >= {"train", "track", "synth"}
    assert "'.[all,test]'" in (REPO / "scripts" / "bootstrap.sh").read_text()
