"""Real data in: reading Slakh-format folders (``slakh``), the per-stem index (``indexing``)
with its drums/high_percs audio split (``drum_split``), the filter (``filtering``) and the
prepared layout (``prepare``). The generated set lives in ``midi_extractor.synth``. Never
imports ``train``, ``infer`` or ``evaluate``."""
