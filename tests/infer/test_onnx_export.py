"""ONNX export: the exported model (traced from the torch model, front end included) gives
torch's notes for every front end and model family on real audio, runs without importing
torch, and a stale export (the checkpoint changed, or an older export format) is never used."""
from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip("onnxruntime")

from midi_extractor.cli import main  # noqa: E402
from midi_extractor.config import FrontEndConfig, ModelConfig  # noqa: E402
from midi_extractor.infer import api, engine  # noqa: E402
from midi_extractor.model.checkpoint import save_checkpoint  # noqa: E402
from midi_extractor.model.transcriber import create_model  # noqa: E402
from helpers_data import REPO  # noqa: E402
from helpers_models import FE, noisy_file, tiny_models  # noqa: E402


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
            f"{str(tmp_path / 'cli')!r}, '--no-tempo', '--save-note-events', '--threads', '1']); "
            "assert 'torch' not in sys.modules, 'torch was imported'; sys.exit(rc)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path,
                          env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr
    rows = (tmp_path / "cli" / "bass.notes.csv").read_text().splitlines()
    assert len(rows) == len(onnx_notes) + 1


def test_cpu_threads_reach_both_runtimes_and_a_bad_count_is_refused(models, capsys):
    assert main(["export", "--models-dir", str(models)]) == 0
    before = torch.get_num_threads()
    try:
        engine.set_cpu_threads(1)
        onnx = engine.load_model(models / "bass" / "best.pt")
        assert onnx.model.session.get_session_options().intra_op_num_threads == 1
        torch.set_num_threads(2)
        engine.load_model(models / "bass" / "best.pt", runtime="torch")
        assert torch.get_num_threads() == 1
        engine.set_cpu_threads(None)                   # the default again: a model loaded anew
        assert engine.load_model(models / "bass" / "best.pt") is not onnx
    finally:
        engine.set_cpu_threads(None)
        torch.set_num_threads(before)
    with pytest.raises(ValueError, match="threads must be at least 1, got 0"):
        engine.set_cpu_threads(0)
    with pytest.raises(SystemExit):
        main(["transcribe", "x.wav", "--threads", "0"])
    assert "--threads must be a whole number of at least 1, got '0'" in capsys.readouterr().err


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


def test_an_export_of_an_older_format_or_without_its_front_end_is_not_used(models, caplog):
    """Format 2 was one graph from audio (format 1 took power spectrograms); format 3 is two
    graphs, and one of them alone is not run."""
    import json

    from midi_extractor.infer.onnx_export import export_onnx
    from midi_extractor.infer.onnx_runtime import export_paths, find_export

    checkpoint = models / "bass" / "best.pt"
    export_onnx(checkpoint)
    onnx_path, features_path, meta_path = export_paths(checkpoint)
    assert [p.name for p in (onnx_path, features_path, meta_path)] == ["model.onnx", "features.onnx",
                                                                        "model.onnx.json"]
    assert find_export(checkpoint)["reach_samples"] == FE.n_fft // 2   # a mel frame reads half its STFT
    meta = json.loads(meta_path.read_text())
    meta_path.write_text(json.dumps({**meta, "format": 2}))
    with caplog.at_level(logging.WARNING):
        assert find_export(checkpoint) is None
    assert "export format 2" in caplog.text
    meta_path.write_text(json.dumps(meta))
    features_path.unlink()
    with caplog.at_level(logging.WARNING):
        assert find_export(checkpoint) is None
    assert f"{features_path} is missing" in caplog.text


def test_the_export_stage_writes_where_transcribe_looks(models, tmp_path):
    from midi_extractor.infer.onnx_runtime import export_paths, find_export

    checkpoint = models / "bass" / "best.pt"
    cmd = [sys.executable, str(REPO / "stages" / "export.py"), "--model", str(checkpoint)]
    elsewhere = subprocess.run(cmd + ["--out", str(tmp_path / "m.onnx"), "--features-out", str(tmp_path / "f.onnx"),
                                      "--meta-out", str(tmp_path / "m.json")], capture_output=True, text=True, cwd=REPO)
    assert elsewhere.returncode == 1 and "not " + str(tmp_path / "m.onnx") in elsewhere.stderr
    onnx_path, features_path, meta_path = export_paths(checkpoint)
    done = subprocess.run(cmd + ["--out", str(onnx_path), "--features-out", str(features_path),
                                 "--meta-out", str(meta_path)], capture_output=True, text=True, cwd=REPO)
    assert done.returncode == 0, done.stderr
    assert find_export(checkpoint) is not None


# ------------------------------------------------ parity per front end and model family, real audio
FIXTURES = REPO / "tests" / "fixtures"
SLAKH_STEMS = FIXTURES / "slakh_sample" / "babyslakh_16k" / "Track00001" / "stems"
REAL_AUDIO = (FIXTURES / "golden" / "bass_clip.flac", SLAKH_STEMS / "S03.wav", SLAKH_STEMS / "S02.wav",
              SLAKH_STEMS / "S01.wav", FIXTURES / "golden" / "bass_clip.flac")  # bass, bass, piano, drums
LOGFREQ = FrontEndConfig(kind="logfreq", f_min_hz=26.0)  # params.yaml's front end
DRUMS = ("kick", "snare", "toms", "hihat", "cymbal", "shaker", "other_perc")


def real_audio(sample_rate_hz: int) -> np.ndarray:
    """14 s at ``sample_rate_hz``: the FluidSynth bass clip of the golden test, real Slakh2100 bass,
    piano and drum stems (2 s each), the bass clip again: two 10-s windows, one batch of two."""
    from midi_extractor.audio import load_audio

    return np.concatenate([load_audio(p, sample_rate_hz) for p in REAL_AUDIO])


def calibrate_heads(model, audio: np.ndarray) -> None:
    """Scale each head's last layer of an untrained ``model`` so its logits on ``audio`` spread
    (standard deviation 3) and shift its bias to put a quantile of them at 0 (a few per cent of
    onsets, 15 % of frames on): notes that follow the audio instead of a flat prior."""
    x = torch.from_numpy(audio[None, : 10 * model.front_end.sample_rate_hz])
    for head, quantile in (("onset", 0.97), ("offset", 0.9), ("velocity", 0.5), ("frame", 0.85)):
        layer, = [m for n, m in model.named_modules() if n.rpartition(".")[2] == f"{head}_head"]
        with torch.no_grad():
            logits = model(x)[head]  # the frame head reads sigmoid(onset, offset): recomputed after them
            scale = 3.0 / logits.std()
            layer.weight.mul_(scale)
            layer.bias.mul_(scale).sub_(torch.quantile(logits * scale, quantile))


def untrained(root: Path, stem: str, front_end: FrontEndConfig, size: str, drum_classes=None, **sizes) -> Path:
    """``root/<stem>/best.pt``: an untrained model of ``size`` (seed 0), pitched or drums, its
    heads calibrated on :func:`real_audio`."""
    torch.manual_seed(0)
    n_outputs = len(drum_classes) if drum_classes else front_end.n_pitches
    model = create_model(front_end, ModelConfig(size=size, **sizes), n_outputs, {}).eval()
    calibrate_heads(model, real_audio(front_end.sample_rate_hz))
    ckpt = {"model": model.state_dict(), "optimizer": {}, "scheduler": {}, "scaler": {}, "step": 0, "epoch": 0,
            "best_metric": 0.0, "config": {**model.config_dict(), "drum_classes": drum_classes, "train": {}},
            "stem": stem, "role": "percussive" if drum_classes else "melodic", "taxonomy_version": 1}
    return save_checkpoint(root / stem / "best.pt", ckpt)


def clear_threshold(torch_probs: np.ndarray, onnx_probs: np.ndarray, lo_q: float, hi_q: float,
                    agree=lambda t: True) -> float:
    """A threshold between the ``lo_q`` and ``hi_q`` quantiles of ``torch_probs`` that no
    element straddles, i.e. every probability is on the same side of it in both runtimes:
    an untrained model's probabilities crowd together, and the runtimes differ by up to ~5e-4
    there, so a threshold must be clear of both; and at which ``agree(t)`` holds (for onsets:
    both runtimes pick the same peak in each run above it, as a run of near-equal values can
    put its peak on any of its frames)."""
    lo, hi = np.minimum(torch_probs, onnx_probs).ravel(), np.maximum(torch_probs, onnx_probs).ravel()
    band = np.unique(torch_probs[(torch_probs >= np.quantile(torch_probs, lo_q))
                                 & (torch_probs <= np.quantile(torch_probs, hi_q))])
    order = np.argsort(lo)
    lo, hi_max = lo[order], np.maximum.accumulate(hi[order])
    for t in (band[1:] + band[:-1]) / 2:
        below = np.searchsorted(lo, t) - 1                   # last element whose low end is under t
        if (below < 0 or hi_max[below] < t) and agree(t):
            return float(t)
    raise AssertionError("no clear threshold: the test needs another quantile band")


def torch_and_onnx_notes(checkpoint: Path, audio: np.ndarray, clear: bool = True):
    """``(torch notes, ONNX notes)`` of ``audio`` after ``export_onnx(checkpoint)``, decoded with
    thresholds clear of the torch model's probabilities (:func:`clear_threshold`), or with the
    model's own decoding settings (``clear=False``, for trained models)."""
    from midi_extractor.infer.onnx_export import export_onnx
    from midi_extractor.infer.onnx_runtime import OnnxModel
    from midi_extractor.model.decoding import pick_onsets

    export_onnx(checkpoint)
    engine.clear_model_cache()
    on_torch = engine.load_model(checkpoint, runtime="torch")
    on_onnx = engine.load_model(checkpoint, runtime="onnx")
    assert isinstance(on_onnx.model, OnnxModel)
    keys = {}
    if clear:
        probs = engine.activations(on_torch.model, audio, on_torch.front_end)
        other = engine.activations(on_onnx.model, audio, on_onnx.front_end)
        same_peaks = lambda t: pick_onsets(probs["onset"], t) == pick_onsets(other["onset"], t)  # noqa: E731
        keys = {"onset_threshold": clear_threshold(probs["onset"], other["onset"], 0.95, 0.999, same_peaks),
                "frame_threshold": clear_threshold(probs["frame"], other["frame"], 0.80, 0.97), "min_note_s": 0.0}
    return [engine.transcribe_array(m, audio, **keys) for m in (on_torch, on_onnx)]


def assert_same_notes(torch_notes, onnx_notes, hop_s: float, at_least: int) -> None:
    """Same count and pitch, start and end within one frame (an onset peak between two
    near-equal frames may land on either; at most one note in 20 moves), velocity within 1
    where the start is the same. Paired in pitch order, as a note a frame later can move past
    another pitch's note in the start order."""
    assert len(torch_notes) >= at_least, f"only {len(torch_notes)} notes: the test would test little"
    assert len(onnx_notes) == len(torch_notes)
    by_pitch = lambda notes: sorted(notes, key=lambda n: (n.pitch, n.start_s))  # noqa: E731
    moved = 0
    for a, b in zip(by_pitch(onnx_notes), by_pitch(torch_notes)):
        same_frame = abs(a.start_s - b.start_s) < 1e-9          # velocity is read at the onset frame
        moved += not same_frame
        assert a.pitch == b.pitch and (abs(a.velocity - b.velocity) <= 1 or not same_frame), (a, b)
        assert abs(a.start_s - b.start_s) <= hop_s + 1e-9 and abs(a.end_s - b.end_s) <= hop_s + 1e-9, (a, b)
    assert moved <= max(1, len(torch_notes) // 20), f"{moved} of {len(torch_notes)} notes moved a frame"


FAMILIES = {  # case -> (front end, model.size, drum classes, size overrides)
    "logfreq-small": (LOGFREQ, "small", None, {"conv_channels": 16, "rnn_units": 16}),
    "logfreq-paper": (LOGFREQ, "paper", None, {"conv_channels": 4, "rnn_units": 8}),
    "logfreq-harmonic": (LOGFREQ, "harmonic", None, {}),
    "logfreq-harmonic-large-drums": (LOGFREQ, "harmonic-large", DRUMS, {"conv_channels": 8, "rnn_units": 8}),
    "mel-small-drums": (FrontEndConfig(), "small", DRUMS, {"conv_channels": 16, "rnn_units": 16}),
}


@pytest.mark.parametrize("case", list(FAMILIES))
def test_onnx_gives_torch_notes_for_every_front_end_and_family(case, tmp_path):
    front_end, size, drums, sizes = FAMILIES[case]
    checkpoint = untrained(tmp_path / "models", "drums" if drums else "bass", front_end, size, drums, **sizes)
    torch_notes, onnx_notes = torch_and_onnx_notes(checkpoint, real_audio(front_end.sample_rate_hz))
    assert_same_notes(torch_notes, onnx_notes, front_end.hop_s, at_least=5)


def test_harmonic_norms_and_frame_input_export_as_single_operators(tmp_path):
    """Each norm is one ``InstanceNormalization`` holding its own scale and shift (torch's
    GroupNorm export adds two reshapes, a Mul and an Add), and the frame stack's input
    convolution over the trunk reads no concatenation (16 + 2 channels keep onnxruntime's frame
    stack out of its blocked layout). The norms are given distinct scales, so a dropped one shows."""
    import onnx
    from onnx import numpy_helper

    from midi_extractor.infer.onnx_export import export_onnx
    from midi_extractor.model.checkpoint import load_checkpoint

    checkpoint = untrained(tmp_path / "models", "bass", LOGFREQ, "harmonic")
    ckpt = load_checkpoint(checkpoint)
    norms = sorted(k[:-len(".weight")] for k in ckpt["model"] if k.endswith(".weight") and ckpt["model"][k].dim() == 1
                   and k[:-len(".weight")] + ".bias" in ckpt["model"] and "head" not in k)
    for i, name in enumerate(norms):
        ckpt["model"][name + ".weight"] = torch.full_like(ckpt["model"][name + ".weight"], 1.0 + 0.125 * i)
    save_checkpoint(checkpoint, ckpt)
    export_onnx(checkpoint)                                   # checked against the torch model as it writes
    graph = onnx.load(str(checkpoint.parent / "model.onnx")).graph
    consts = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    consts |= {n.output[0]: numpy_helper.to_array(n.attribute[0].t) for n in graph.node if n.op_type == "Constant"}
    scales = sorted(float(consts[n.input[1]][0]) for n in graph.node if n.op_type == "InstanceNormalization")
    assert len(norms) == 6 and scales == [1.0 + 0.125 * i for i in range(6)]
    assert not [n.name for n in graph.node if "norm" in n.name.lower() and n.op_type != "InstanceNormalization"]
    producer = {out: n for n in graph.node for out in n.output}
    head_concats = [n for n in graph.node if n.op_type == "Concat" and n.name.startswith("/head/")]
    assert len(head_concats) == 1                               # the two probabilities, nothing else
    assert [producer[i].op_type for i in head_concats[0].input] == ["Sigmoid", "Sigmoid"]


@pytest.mark.parametrize("source", ["tests/fixtures/golden/models/bass/best.pt", "bases/pitched.pt"])
def test_onnx_gives_torch_notes_for_trained_models(source, tmp_path):
    """The golden test's overfitted checkpoint (an old `mel` one) and the shipped pitched base."""
    import shutil

    from midi_extractor.model.checkpoint import load_checkpoint

    checkpoint = tmp_path / "models" / "bass" / "best.pt"
    checkpoint.parent.mkdir(parents=True)
    shutil.copy(REPO / source, checkpoint)
    fe = FrontEndConfig(**load_checkpoint(checkpoint)["config"]["front_end"])
    torch_notes, onnx_notes = torch_and_onnx_notes(checkpoint, real_audio(fe.sample_rate_hz), clear=False)
    assert_same_notes(torch_notes, onnx_notes, fe.hop_s, at_least=5)


def test_export_reads_the_models_folder_from_the_environment_and_the_option_wins(models, tmp_path, monkeypatch,
                                                                                   capsys):
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")  # no ./models here
    monkeypatch.setenv("MIDI_EXTRACTOR_MODELS", str(models))
    assert main(["export"]) == 0 and (models / "bass" / "model.onnx").is_file()
    assert str(models / "bass" / "model.onnx") in capsys.readouterr().out
    monkeypatch.setenv("MIDI_EXTRACTOR_MODELS", str(tmp_path / "nowhere"))
    assert main(["export"]) == 1
    assert f"no <stem>/best.pt under {tmp_path / 'nowhere'}" in capsys.readouterr().err
    (models / "bass" / "model.onnx").unlink()
    assert main(["export", "--models-dir", str(models)]) == 0  # the option wins over the variable
    assert (models / "bass" / "model.onnx").is_file()
