"""ONNX export: the exported model gives torch's notes, runs without importing torch,
and a stale export (the checkpoint changed) is never used."""
from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("onnxruntime")

from midi_extractor.cli import main  # noqa: E402
from midi_extractor.infer import api, engine  # noqa: E402
from test_transcribe_api import DECODING, FE, models, noisy_file, tiny_models, _template  # noqa: E402,F401

REPO = Path(__file__).resolve().parents[1]


def test_export_gives_torch_notes_and_runs_without_torch(models, tmp_path, capsys):
    assert main(["export", "--models-dir", str(models)]) == 0
    assert (models / "bass" / "model.onnx").is_file() and "model.onnx" in capsys.readouterr().out
    audio = noisy_file(tmp_path / "bass.wav", seconds=12.0)  # two 10 s windows
    torch_notes, _ = api.transcribe(audio, "bass", models, runtime="torch")
    onnx_notes, _ = api.transcribe(audio, "bass", models, runtime="onnx")
    assert isinstance(engine.load_model(models / "bass" / "best.pt").model, __import__(
        "midi_extractor.infer.onnx_runtime", fromlist=["OnnxModel"]).OnnxModel)  # auto picks the export
    assert len(torch_notes) >= 5 and len(onnx_notes) == len(torch_notes)
    for a, b in zip(onnx_notes, torch_notes):
        assert a.pitch == b.pitch and abs(a.start_s - b.start_s) <= FE.hop_s and abs(a.end_s - b.end_s) <= FE.hop_s
    code = ("import sys; from midi_extractor.cli import main; "
            f"rc = main(['transcribe', {str(audio)!r}, '--models-dir', {str(models)!r}, '-o', "
            f"{str(tmp_path / 'cli')!r}, '--no-tempo', '--save-note-events']); "
            "assert 'torch' not in sys.modules, 'torch was imported'; sys.exit(rc)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path,
                          env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr
    rows = (tmp_path / "cli" / "bass.notes.csv").read_text().splitlines()
    assert len(rows) == len(onnx_notes) + 1


def test_a_stale_export_is_not_used(models, tmp_path, caplog):
    from midi_extractor.infer.onnx_export import export_onnx

    export_onnx(models / "bass" / "best.pt")
    tiny_models(models.parent / "retrained", seed=5)
    (models / "bass" / "best.pt").write_bytes((models.parent / "retrained" / "bass" / "best.pt").read_bytes())
    engine.clear_model_cache()
    with caplog.at_level(logging.WARNING):
        loaded = engine.load_model(models / "bass" / "best.pt")
    assert "exported from another checkpoint" in caplog.text and not getattr(loaded.model, "is_numpy", False)
    engine.clear_model_cache()
    with pytest.raises(ValueError, match="no matching ONNX export beside it; run midi-extractor export"):
        engine.load_model(models / "bass" / "best.pt", runtime="onnx")
