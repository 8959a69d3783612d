"""``midi-extractor export``: a stem's checkpoint as ONNX, for a torch-free runtime.

Two graphs are traced from the checkpoint's own torch model (``infer.onnx_runtime`` runs them):
``features.onnx``, its front end (the STFTs, the low band's decimation filter and the
filterbanks are the modules of :mod:`midi_extractor.model.features`, which switch their STFT to
real-valued ops while exported; nothing here re-states them), audio ``(B, S)`` float32 in
[-1, 1] at the model's ``sample_rate_hz`` in, features ``(B, T, F)`` out,
``T = S // hop_length + 1``; and ``model.onnx``, the rest (``logits_from_features``), features
in, the logits ``onset``, ``offset``, ``frame``, ``velocity`` ``(B, T, N)`` out. Any ``B``,
``S`` and ``T``. After writing, the export is run on audio of another shape than the one
traced and checked against the checkpoint (largest probability difference below
:data:`MAX_PROB_DIFF`), or nothing is kept. ``model.onnx.json`` beside them names the
checkpoint's size and SHA-256 (see :func:`~midi_extractor.infer.onnx_runtime.find_export`) and
how far a frame's features read (``reach_samples``).
"""
from __future__ import annotations

import argparse
import dataclasses
import logging
import sys
import warnings
from pathlib import Path

import numpy as np

from midi_extractor.atomic import atomic_open, check_writable, write_json
from midi_extractor.infer.onnx_runtime import FEATURES, FORMAT, INPUT, OnnxModel, export_paths, file_sha256
from midi_extractor.model.labels import HEADS

log = logging.getLogger(__name__)

MAX_PROB_DIFF = 1e-3
OPSET = 17
#: (batch, seconds) of the traced example and of the check run on the written file
TRACE_SHAPE, CHECK_SHAPE = (2, 3.0), (3, 10.3)


def check_audio(sample_rate_hz: int, batch: int, seconds: float, seed: int = 0) -> np.ndarray:
    """``(batch, round(seconds * sample_rate_hz))`` float32: harmonic tones switching on and off
    (A1 to A5) over noise at -26 dBFS, so every head sees notes and silence."""
    rng = np.random.default_rng(seed)
    n = int(round(seconds * sample_rate_hz))
    t = np.arange(n) / sample_rate_hz
    out = 0.05 * rng.standard_normal((batch, n))
    for b in range(batch):
        for k, hz in enumerate((55.0, 110.0, 220.0, 440.0, 880.0)):
            gate = np.sin(2 * np.pi * (0.5 + 0.3 * k + 0.2 * b) * t) > 0.3
            out[b] += sum(0.15 / h * np.sin(2 * np.pi * hz * h * t) for h in (1, 2, 3)) * gate
    return out.astype(np.float32)


def _graphs(model):
    """``model`` as two modules in eval mode: ``audio (B, S) -> features (B, T, F)`` and
    ``features -> tuple of logits (B, T, N)`` in :data:`HEADS` order."""
    import torch

    class Features(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.model = model

        def forward(self, audio):
            return self.model.features(audio)

    class Logits(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.model = model

        def forward(self, features):
            logits = self.model.logits_from_features(features)
            return tuple(logits[h] for h in HEADS)

    return Features().eval(), Logits().eval()


def _trace(graph, example, path: Path, inputs: list[str], outputs: list[str]) -> None:
    """Write the ONNX file of ``graph`` traced on ``example``; its first two axes stay free."""
    import torch

    axes = {name: {0: "batch", 1: "samples" if name == INPUT else "frames"} for name in inputs + outputs}
    with warnings.catch_warnings(), atomic_open(path, "wb") as f:
        warnings.simplefilter("ignore")  # the tracer's notes on shapes it keeps free (dynamic_axes)
        torch.onnx.export(graph, (example,), f, input_names=inputs, output_names=outputs,
                          opset_version=OPSET, dynamo=False, dynamic_axes=axes)


def export_onnx(checkpoint: str | Path) -> Path:
    """Write ``model.onnx``, ``features.onnx`` and ``model.onnx.json`` beside ``checkpoint``;
    returns the ``model.onnx`` path. Raises ``ValueError`` when the export does not reproduce the
    checkpoint's probabilities (then none of them is left), ``RuntimeError`` when torch cannot
    export a layer."""
    import torch

    from midi_extractor.model.checkpoint import build_model, load_checkpoint

    checkpoint = Path(checkpoint)
    check_writable(export_paths(checkpoint)[0].parent)  # before the trace: a read-only folder is one line (cli)
    ckpt = load_checkpoint(checkpoint)
    model = build_model(ckpt).eval()
    fe = model.features.front_end
    onnx_path, features_path, meta_path = export_paths(checkpoint)
    meta_path.unlink(missing_ok=True)  # no metadata vouches for a half-written export
    features, logits = _graphs(build_model(ckpt))
    audio = torch.from_numpy(check_audio(fe.sample_rate_hz, *TRACE_SHAPE))
    _trace(features, audio, features_path, [INPUT], [FEATURES])
    with torch.no_grad():
        example = features(audio)
    _trace(logits, example, onnx_path, [FEATURES], list(HEADS))
    meta = {"format": FORMAT, "stem": ckpt.get("stem"), "role": ckpt.get("role"),
            "front_end": dataclasses.asdict(fe), "reach_samples": int(model.features.reach_samples),
            "drum_classes": ckpt["config"].get("drum_classes"),
            "model_size": ckpt["config"]["model"].get("size"),
            "checkpoint": checkpoint.name, "checkpoint_size": checkpoint.stat().st_size,
            "checkpoint_sha256": file_sha256(checkpoint), "opset": OPSET}
    diff = max_prob_diff(model, OnnxModel(onnx_path, meta), check_audio(fe.sample_rate_hz, *CHECK_SHAPE, seed=1))
    if not diff <= MAX_PROB_DIFF:
        onnx_path.unlink()
        features_path.unlink()
        raise ValueError(f"{checkpoint}: the ONNX export differs from the checkpoint by {diff:.2e} in probability")
    write_json(meta_path, meta, indent=2)
    log.info("%s -> %s (largest probability difference %.1e)", checkpoint, onnx_path, diff)
    return onnx_path


def max_prob_diff(model, exported: OnnxModel, audio: np.ndarray) -> float:
    """Largest ``|sigmoid(torch logits) - sigmoid(ONNX logits)|`` over every head, frame and
    output of ``audio (B, S)``; ``inf`` when the shapes differ."""
    import torch

    with torch.inference_mode():
        ref = {k: torch.sigmoid(v).numpy() for k, v in model(torch.from_numpy(audio)).items() if k in HEADS}
    out = {k: 1 / (1 + np.exp(-v)) for k, v in exported(audio).items()}
    if any(out[h].shape != ref[h].shape for h in HEADS):
        return float("inf")
    return max(float(np.abs(out[h] - ref[h]).max()) for h in HEADS)


def _cmd_export(args: argparse.Namespace) -> int:
    from midi_extractor.infer.routing import checkpoint_path, resolve_models_dir, trained_stems

    models_dir = resolve_models_dir(args.models_dir)
    stems = args.stem or trained_stems(models_dir)
    if not stems:
        print(f"export: no <stem>/best.pt under {models_dir}", file=sys.stderr)
        return 1
    failures = 0
    for stem in stems:
        path = checkpoint_path(models_dir, stem)
        try:
            print(f"{path} -> {export_onnx(path)}")
        except (ValueError, FileNotFoundError, RuntimeError) as exc:
            print(f"{path}: {str(exc).removeprefix(f'{path}: ')}", file=sys.stderr)  # the path once
            failures += 1
    return 1 if failures else 0


def add_cli(subparsers) -> None:
    p = subparsers.add_parser(
        "export", help="write each stem's model as ONNX for the fast, torch-free runtime",
        description="Export models/<stem>/best.pt as models/<stem>/features.onnx (audio in, features out) and "
                    "model.onnx (features in, logits out), with model.onnx.json, traced from the torch model itself. "
                    "transcribe then runs them with onnxruntime, without importing torch, while the export matches "
                    "the checkpoint.")
    p.add_argument("--models-dir", default=None,
                   help="folder of <stem>/best.pt (default: $MIDI_EXTRACTOR_MODELS, else models)")
    p.add_argument("--stem", action="append", help="a stem to export (repeatable; default: every trained stem)")
    p.set_defaults(func=_cmd_export)
