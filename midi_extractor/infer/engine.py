"""The inference engine: a checkpoint and a mono signal in, notes out, in small pure steps.

    window (overlapping windows with context either side, so memory does not
    grow with the file; the front end's frames computed once, not once a window) -> run (the
    rest of the model, a few windows at a time) -> unwrap
    (keep the centre frames of each window, concatenate) -> decode
    (``model.decoding``); window, run and unwrap live in :mod:`midi_extractor.model.windows`,
    which training's validation runs too, and are re-exported here

:func:`load_model` loads a checkpoint once per process (per file version and
device) and attaches the decoding settings that travel with it
(``decoding.json`` beside ``best.pt``, see :mod:`midi_extractor.infer.settings`).
:func:`transcribe_array` transcribes a signal in memory (arrays given to the Python
API, ``evaluate``); a file (the Python API, the command line) streams through the same
windows, batches and decoding in ``infer.stream``, in memory bounded by the window, with
the same notes. File handling, routing, tempo and MIDI live in ``infer.api``.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from midi_extractor.config import DecodingConfig, FrontEndConfig
from midi_extractor.infer.audio_in import (PEAK_LEVEL, SILENCE_DB, condition, is_silent, load_input,  # noqa: F401
                                           to_mono)
from midi_extractor.model.decoding import Note, decode
from midi_extractor.model.windows import (BATCH_WINDOWS, CONTEXT_S, CPU_BATCH_WINDOWS, WINDOW_S,  # noqa: F401
                                          Window, WindowFeed, activations, batch_windows_for, context_for,
                                          plan_windows, run_model, unwrap)

log = logging.getLogger(__name__)


# ------------------------------------------------------------------- models
@dataclass
class LoadedModel:
    """A model ready to run, with what decoding needs to know about it."""

    model: Any                      # forward(audio (B, S)) -> logits dict (B, T, N)
    front_end: FrontEndConfig
    drum_classes: tuple[str, ...] | None
    stem: str | None = None
    path: Path | None = None
    device: str = "cpu"
    decoding: DecodingConfig = field(default_factory=DecodingConfig)  # from decoding.json, else defaults
    role: str | None = None
    saturate: float = 0.0           # the drive it hears its input at (decoding.json; model.saturation)

    @property
    def identity(self):
        """What the checkpoint says it is (``model.checkpoint.Identity``, for ``check_fits``)."""
        from midi_extractor.model.checkpoint import Identity

        return Identity(self.stem, self.role, self.drum_classes)


_CACHE: dict[tuple[str, int, int, str], LoadedModel] = {}


def resolve_device(device: str | None = None) -> str:
    """``"cpu"`` (also for ``None``), ``"cuda"`` or ``"cuda:N"``, checked against
    what torch sees. Raises ``ValueError`` for another spelling, CUDA asked for
    on a machine without it, or a GPU index out of range."""
    spec = (device or "cpu").strip().lower()
    if spec == "cpu":
        return "cpu"
    if spec != "cuda" and not (spec.startswith("cuda:") and spec[5:].isdigit()):
        raise ValueError(f"device {device!r}: expected cpu, cuda or cuda:N")
    import torch

    if not torch.cuda.is_available():
        raise ValueError(f"device {device!r}: CUDA is not available here (torch {torch.__version__}, "
                         f"built for CUDA {torch.version.cuda or 'none'}); use --device cpu")
    index = int(spec[5:]) if ":" in spec else 0
    if index >= torch.cuda.device_count():
        raise ValueError(f"device {device!r}: only {torch.cuda.device_count()} CUDA device(s) here")
    return f"cuda:{index}"


RUNTIMES = ("auto", "torch", "onnx")
#: CPU threads of the models loaded from now on (:func:`set_cpu_threads`); None: each runtime's default
_THREADS: int | None = None


def set_cpu_threads(threads: int | None) -> None:
    """Run the models this process loads from now on with ``threads`` CPU threads (onnxruntime's
    intra-op threads, one inter-op thread; torch's ``set_num_threads`` when a torch model loads),
    e.g. one per process when several transcribe side by side. ``None``: each runtime's default
    (all cores). A model loaded already with another setting is loaded again. ``ValueError`` below 1."""
    global _THREADS
    if threads is not None and int(threads) < 1:
        raise ValueError(f"threads must be at least 1, got {threads}")
    _THREADS = None if threads is None else int(threads)


def load_model(path: str | Path, device: str | None = None, runtime: str = "auto") -> LoadedModel:
    """Load a checkpoint for inference on ``device`` (default CPU): once per
    process per file version, device and runtime. ``runtime``: ``"torch"``,
    ``"onnx"`` (``model.onnx`` beside the checkpoint, made from it by
    ``midi-extractor export``; CPU only, torch is not imported) or ``"auto"``
    (ONNX when such an export and onnxruntime are there and the device is the
    CPU, else torch). The decoding settings and drive beside it (``decoding.json``) are
    re-read on every call, so a re-evaluation is seen without reloading
    weights. Raises ``FileNotFoundError``, ``ValueError`` (device, runtime) or
    ``config.ConfigError`` (a bad ``decoding.json``)."""
    from midi_extractor.infer.settings import read_model_settings

    path = Path(path)
    try:
        stat = path.stat()
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: checkpoint not found") from None
    if runtime not in RUNTIMES:
        raise ValueError(f"runtime {runtime!r}: expected one of {', '.join(RUNTIMES)}")
    dev = resolve_device(device)
    key = (str(path.resolve()), stat.st_mtime_ns, stat.st_size, f"{dev}/{runtime}/{_THREADS}")
    if key not in _CACHE:
        _CACHE[key] = _load_onnx(path, dev, runtime) or _load_torch(path, dev)
        log.debug("loaded %s (stem %s) on %s with %s", path, _CACHE[key].stem, dev,
                  type(_CACHE[key].model).__name__)
    decoding, saturate = read_model_settings(path)
    if (decoding, saturate) != (_CACHE[key].decoding, _CACHE[key].saturate):
        _CACHE[key] = replace(_CACHE[key], decoding=decoding, saturate=saturate)
    return _CACHE[key]


def _load_torch(path: Path, device: str) -> LoadedModel:
    ckpt, model = _load_checkpoint(path)
    if _THREADS:
        import torch

        torch.set_num_threads(_THREADS)
    config = ckpt.get("config", {})
    classes = config.get("drum_classes")
    return LoadedModel(model.eval().to(device), FrontEndConfig(**config.get("front_end", {})),
                       tuple(classes) if classes else None, ckpt.get("stem"), path, device, role=ckpt.get("role"))


def _load_onnx(path: Path, device: str, runtime: str) -> LoadedModel | None:
    """The ONNX export of ``path`` when ``runtime`` allows and one matches it; ``None`` for torch."""
    if runtime == "torch" or (runtime == "auto" and device != "cpu"):
        return None
    if device != "cpu":
        raise ValueError(f"runtime 'onnx' runs on the CPU, not {device}")
    from midi_extractor.infer.onnx_runtime import OnnxModel, export_paths, find_export

    meta = find_export(path)
    if meta is None:
        if runtime == "onnx":
            raise ValueError(f"{path}: no matching ONNX export beside it; run midi-extractor export")
        return None
    try:
        model = OnnxModel(export_paths(path)[0], meta, threads=_THREADS)
    except ImportError:
        if runtime == "onnx":
            raise ValueError("runtime 'onnx' needs onnxruntime (pip install onnxruntime)") from None
        return None
    classes = meta.get("drum_classes")
    return LoadedModel(model, FrontEndConfig(**meta["front_end"]), tuple(classes) if classes else None,
                       meta.get("stem"), path, "cpu", role=meta.get("role"))


def _load_checkpoint(path: Path) -> tuple[dict, Any]:
    """``(checkpoint dict, model in eval mode on the CPU)`` through ``model.checkpoint`` (contract 2)."""
    from midi_extractor.model.checkpoint import build_model, load_checkpoint

    ckpt = load_checkpoint(path)
    return ckpt, build_model(ckpt)


def clear_model_cache() -> None:
    _CACHE.clear()


# --------------------------------------------------------------------- notes
def transcribe_array(loaded: LoadedModel, audio: np.ndarray, *, onset_threshold: float | None = None,
                     frame_threshold: float | None = None, min_note_s: float | None = None,
                     drum_note_s: float | None = None, frame_note_threshold: float | str | None = None,
                     window_s: float = WINDOW_S, context_s: float | None = None, name: str = "audio array",
                     saturate: float | None = None) -> list[Note]:
    """Notes of a mono signal ``(S,)`` already at the model's rate.

    A setting left at ``None`` comes from ``loaded.decoding`` (the model's ``decoding.json``,
    else ``DecodingConfig`` defaults), the others override it as ``settings.with_overrides``
    does (``frame_note_threshold="off"``: no frame notes, whatever the model's). The signal goes
    through :func:`condition` (non-finite -> ``ValueError`` naming ``name``,
    overdriven -> scaled to full scale), then the drive ``saturate`` (:func:`probabilities`)."""
    from midi_extractor.infer.settings import with_overrides

    dec = with_overrides(loaded.decoding, onset_threshold=onset_threshold, frame_threshold=frame_threshold,
                         min_note_s=min_note_s, drum_note_s=drum_note_s, frame_note_threshold=frame_note_threshold)
    probs = probabilities(loaded, audio, window_s=window_s, context_s=context_s, name=name, saturate=saturate)
    return decode(probs, loaded.front_end, loaded.drum_classes, dec.onset_threshold, dec.frame_threshold,
                  dec.min_note_s, dec.drum_note_s, dec.frame_note_threshold)


def probabilities(loaded: LoadedModel, audio: np.ndarray, *, window_s: float = WINDOW_S,
                  context_s: float | None = None, name: str = "audio array",
                  saturate: float | None = None) -> dict[str, np.ndarray]:
    """Frame probabilities ``{head: (T, N)}`` of a mono signal at the model's rate, as every
    entry point computes them: :func:`condition` (``name`` in its errors), the drive
    ``saturate`` (``None``: the model's, ``loaded.saturate``; ``model.saturation.saturated``),
    then the model in windows with ``context_s`` either side (``None``: the model kind's,
    ``windows.context_for``)."""
    from midi_extractor.model.saturation import saturated

    x = saturated(condition(audio, name), loaded.saturate if saturate is None else saturate)
    context_s = context_for(loaded.drum_classes) if context_s is None else context_s
    return activations(loaded.model, x, loaded.front_end, window_s=window_s, context_s=context_s,
                       device=getattr(loaded, "device", "cpu"))

