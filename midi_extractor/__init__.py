"""midi-extractor: per-stem audio-to-MIDI transcription trained on Slakh2100-format data."""
__version__ = "0.1.0"
