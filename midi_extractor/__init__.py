"""midi-extractor: per-stem audio-to-MIDI transcription trained on Slakh2100-format data.

Public API (imported lazily, so ``import midi_extractor`` stays light)::

    from midi_extractor import transcribe, Note
    notes, midi = transcribe("bass.wav", stem="bass", models_dir="models")

``transcribe`` documents every option (thresholds default to the model's own
``decoding.json``; tempo, quantisation, device); ``transcribe_folder`` turns a
folder of separated stems into one multi-track MIDI file; ``set_cpu_threads(n)`` runs the
models loaded after it on ``n`` CPU threads.
"""
from __future__ import annotations

import contextlib
import io
import os
import sys
from typing import Any

__version__ = "0.2.0"
__all__ = ["transcribe", "transcribe_folder", "set_cpu_threads", "Note", "__version__"]


def _import_pyfluidsynth_quietly() -> None:
    """pyfluidsynth, which pretty_midi imports, prints where it found libfluidsynth when ``$CI``
    is set; that line would land in every stage's stdout. Import it once with stdout held."""
    if not os.environ.get("CI") or "fluidsynth" in sys.modules:
        return
    with contextlib.redirect_stdout(io.StringIO()):
        try:
            import fluidsynth  # noqa: F401
        except (ImportError, OSError):
            pass  # rendering says what to install when it needs FluidSynth (synth/fluid.py)


_import_pyfluidsynth_quietly()

_LAZY = {
    "transcribe": ("midi_extractor.infer.api", "transcribe"),
    "transcribe_folder": ("midi_extractor.infer.api", "transcribe_folder"),
    "set_cpu_threads": ("midi_extractor.infer.engine", "set_cpu_threads"),
    "Note": ("midi_extractor.model.decoding", "Note"),
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'midi_extractor' has no attribute {name!r}")
