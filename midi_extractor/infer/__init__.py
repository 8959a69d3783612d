"""Inference: the windowed engine and ``transcribe`` (``engine``) and the stem -> model
resolver (``routing``). Imports ``model`` and the top-level modules, never ``train``."""
