"""``midi-extractor export``: a stem's checkpoint as ONNX, for a torch-free runtime.

The STFT is not exportable (complex tensors), so the exported graph starts at
the power spectrogram(s): inputs ``power_0`` (and ``power_1`` for the
two-resolution ``logfreq`` front end), ``(B, n_fft // 2 + 1, T)`` float32; it
applies the front end's filterbank and log, then the network, and returns the
logits ``onset``, ``offset``, ``frame``, ``velocity`` ``(B, T, N)``.
``infer.onnx_runtime`` computes the spectrograms in numpy. After writing, the
export is checked against the checkpoint on random audio (largest probability
difference below :data:`MAX_PROB_DIFF`) or nothing is kept.
"""
from __future__ import annotations

import argparse
import dataclasses
import logging
import sys
import warnings
from pathlib import Path

import numpy as np

from midi_extractor.atomic import atomic_open, write_json
from midi_extractor.infer.onnx_runtime import FORMAT, HEADS, OnnxModel, export_paths, file_sha256

log = logging.getLogger(__name__)

MAX_PROB_DIFF = 1e-3
OPSET = 17


def _graph(model):
    """``(torch module power spectrogram(s) -> logits tuple, [n_fft per input])`` of a model."""
    import torch

    features = model.features
    fe = features.front_end
    kind = type(features).__name__

    class FromPower(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.model = model

        def forward(self, *powers):
            if kind == "LogMel":
                filtered = features.mel.mel_scale(powers[0])
            else:  # LogFreq: low-resolution bands, then high
                filtered = torch.cat([features.low_filters @ powers[0], features.high_filters @ powers[1]], dim=1)
            feats = torch.log(filtered + 1e-6).transpose(1, 2)
            logits = self.model.logits_from_features(feats)
            return tuple(logits[h] for h in HEADS)

    if kind == "LogMel":
        return FromPower().eval(), [fe.n_fft]
    if kind == "LogFreq":
        return FromPower().eval(), [fe.n_fft_low, fe.n_fft]
    raise ValueError(f"front end {kind} cannot be exported (mel and logfreq can)")


def export_onnx(checkpoint: str | Path) -> Path:
    """Write ``model.onnx`` and ``model.onnx.json`` beside ``checkpoint``; returns the ONNX path.
    Raises ``ValueError`` when the export does not reproduce the checkpoint's probabilities."""
    import torch

    from midi_extractor.infer.onnx_runtime import power_stft
    from midi_extractor.model.checkpoint import build_model, load_checkpoint
    from midi_extractor.model.features import LOG_EPS

    assert LOG_EPS == 1e-6, "the exported graph hard-codes the front end's log floor"
    checkpoint = Path(checkpoint)
    ckpt = load_checkpoint(checkpoint)
    model = build_model(ckpt).eval()
    graph, n_ffts = _graph(model)
    fe = model.features.front_end
    audio = np.random.default_rng(0).standard_normal((2, fe.sample_rate_hz * 3)).astype(np.float32) * 0.1
    powers = tuple(torch.from_numpy(power_stft(audio, n, fe.hop_length)) for n in n_ffts)
    onnx_path, meta_path = export_paths(checkpoint)
    names = [f"power_{i}" for i in range(len(n_ffts))]
    with warnings.catch_warnings(), atomic_open(onnx_path, "wb") as f:
        warnings.simplefilter("ignore")
        torch.onnx.export(graph, powers, f, input_names=names, output_names=list(HEADS), opset_version=OPSET,
                          dynamo=False, dynamic_axes={n: {0: "batch", 2: "frames"} for n in names} |
                          {h: {0: "batch", 1: "frames"} for h in HEADS})
    meta = {"format": FORMAT, "stem": ckpt.get("stem"), "front_end": dataclasses.asdict(fe),
            "drum_classes": ckpt["config"].get("drum_classes"), "stft_n_fft": n_ffts,
            "checkpoint": checkpoint.name, "checkpoint_size": checkpoint.stat().st_size,
            "checkpoint_sha256": file_sha256(checkpoint), "opset": OPSET}
    diff = _max_prob_diff(model, OnnxModel(onnx_path, meta), audio)
    if diff > MAX_PROB_DIFF:
        onnx_path.unlink()
        raise ValueError(f"{checkpoint}: the ONNX export differs from the checkpoint by {diff:.2e} in probability")
    write_json(meta_path, meta, indent=2)
    log.info("%s -> %s (largest probability difference %.1e)", checkpoint, onnx_path, diff)
    return onnx_path


def _max_prob_diff(model, exported: OnnxModel, audio: np.ndarray) -> float:
    import torch

    with torch.inference_mode():
        ref = {k: torch.sigmoid(v).numpy() for k, v in model(torch.from_numpy(audio)).items() if k in HEADS}
    out = {k: 1 / (1 + np.exp(-v)) for k, v in exported(audio).items()}
    return max(float(np.abs(out[h] - ref[h]).max()) for h in HEADS)


def _cmd_export(args: argparse.Namespace) -> int:
    from midi_extractor.infer.routing import checkpoint_path, trained_stems

    stems = args.stem or trained_stems(args.models_dir)
    if not stems:
        print(f"export: no <stem>/best.pt under {args.models_dir}", file=sys.stderr)
        return 1
    failures = 0
    for stem in stems:
        path = checkpoint_path(args.models_dir, stem)
        try:
            print(f"{path} -> {export_onnx(path)}")
        except (ValueError, FileNotFoundError, RuntimeError) as exc:
            print(f"{path}: {exc}", file=sys.stderr)
            failures += 1
    return 1 if failures else 0


def add_cli(subparsers) -> None:
    p = subparsers.add_parser(
        "export", help="write each stem's model as ONNX for the fast, torch-free runtime",
        description="Export models/<stem>/best.pt as models/<stem>/model.onnx (+ model.onnx.json). "
                    "transcribe then runs it with onnxruntime, without importing torch, while the export "
                    "matches the checkpoint.")
    p.add_argument("--models-dir", default="models", help="folder of <stem>/best.pt (default: models)")
    p.add_argument("--stem", action="append", help="a stem to export (repeatable; default: every trained stem)")
    p.set_defaults(func=_cmd_export)
