"""midi-extractor: per-stem audio-to-MIDI transcription trained on Slakh2100-format data.

Public API (imported lazily, so ``import midi_extractor`` stays light)::

    from midi_extractor import transcribe, Note
    notes, midi = transcribe("bass.wav", stem="bass", models_dir="models")

``transcribe`` documents every option (thresholds default to the model's own
``decoding.json``; tempo, quantisation, device); ``transcribe_folder`` turns a
folder of separated stems into one multi-track MIDI file.
"""
from __future__ import annotations

from typing import Any

__version__ = "0.2.0"
__all__ = ["transcribe", "transcribe_folder", "Note", "__version__"]

_LAZY = {
    "transcribe": ("midi_extractor.infer.api", "transcribe"),
    "transcribe_folder": ("midi_extractor.infer.api", "transcribe_folder"),
    "Note": ("midi_extractor.model.decoding", "Note"),
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'midi_extractor' has no attribute {name!r}")
