"""A pitched model's answer to plain harmonic tones: does it hear the fundamental, not a harmonic?

Validation on songs did not see a base that read a tone's third harmonic as a note (a base
trained with a low-pass, benchmarks/RESULTS.md "Session of 2026-12-07 (second)"): its onset F1
rose while, on a decaying harmonic tone at A2, the frame head's strongest pitch left the
fundamental. :func:`check_tones` asks it directly. Six tones (:data:`TONE_MIDI`: A2, A3, A4
and a semitone above each; harmonics at 1/k amplitude, :func:`harmonic_tone`), each starting at
:data:`ONSET_S`:

* a **wrong frame** is a frame while the tone sounds loud (:data:`SOUNDING_S`) whose most
  probable pitch is not the tone's, or whose tone's probability is not twice every other pitch's;
* a **wrong onset** is a tone whose onset head peaks at another pitch, below 0.5, or more than
  a hop from :data:`ONSET_S`.

Read from the heads themselves, not through a decoding threshold: a base's frame level on a
synthetic tone is not calibrated, its stems choose theirs. Pitched models only.
"""
from __future__ import annotations

import numpy as np
import torch

from midi_extractor.matching import midi_to_hz

#: the tones' MIDI pitches: A2, A3, A4 and a semitone above each
TONE_MIDI = (45, 46, 57, 58, 69, 70)
TONE_S = 2.0
ONSET_S = 0.5
#: the frames judged: after the attack, while the tone is loud
SOUNDING_S = (0.6, 1.3)
HARMONICS = 6
#: a frame's tone must be this many times as probable as any other pitch
MARGIN = 2.0


def harmonic_tone(midi: int, rate_hz: int, seconds: float = TONE_S, onset_s: float = ONSET_S,
                  n_harmonics: int = HARMONICS) -> np.ndarray:
    """A decaying harmonic tone at MIDI ``midi`` (harmonic k at 1/k, those below Nyquist),
    silent until ``onset_s``, peak about 0.5: float32 samples at ``rate_hz``."""
    t = np.arange(int(seconds * rate_hz)) / rate_hz
    hz = midi_to_hz(midi)
    env = np.where(t >= onset_s, np.exp(-(t - onset_s) * 2.0), 0.0)
    y = sum(np.sin(2 * np.pi * k * hz * t) / k for k in range(1, n_harmonics + 1) if k * hz < rate_hz / 2)
    return (0.3 * env * y).astype(np.float32)


def tone_probabilities(model, midi: int) -> dict[str, np.ndarray]:
    """Every head's probabilities ``(frames, pitches)`` for :func:`harmonic_tone` at ``midi``."""
    fe = model.front_end
    audio = torch.from_numpy(harmonic_tone(midi, fe.sample_rate_hz)).unsqueeze(0)
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            return {k: torch.sigmoid(v[0].float()).cpu().numpy() for k, v in model(audio.to(device)).items()}
    finally:
        model.train(was_training)


def check_tones(model) -> dict[str, int]:
    """``{"val_tone_wrong_frames", "val_tone_wrong_onsets"}`` over :data:`TONE_MIDI` (module
    docstring); both 0 for a model that hears the fundamentals."""
    fe = model.front_end
    sounding = slice(round(SOUNDING_S[0] / fe.hop_s), round(SOUNDING_S[1] / fe.hop_s))
    wrong_frames = wrong_onsets = 0
    for midi in TONE_MIDI:
        probs, column = tone_probabilities(model, midi), midi - fe.min_midi
        frame = probs["frame"][sounding]
        others = np.delete(frame, column, axis=1).max(axis=1)
        wrong_frames += int(((frame.argmax(axis=1) != column) | (frame[:, column] <= MARGIN * others)).sum())
        t, peak_column = np.unravel_index(probs["onset"].argmax(), probs["onset"].shape)
        wrong_onsets += int(peak_column != column or probs["onset"][t, peak_column] <= 0.5
                            or abs(t * fe.hop_s - ONSET_S) > fe.hop_s)
    return {"val_tone_wrong_frames": wrong_frames, "val_tone_wrong_onsets": wrong_onsets}
