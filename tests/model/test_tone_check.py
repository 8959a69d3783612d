"""model/tone_check: a model that hears a harmonic tone's fundamental passes; one that hears its
third harmonic, or a late onset, is counted wrong frame by frame and tone by tone."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from midi_extractor.config import FrontEndConfig
from midi_extractor.model import tone_check
from midi_extractor.model.labels import HEADS

FE = FrontEndConfig(kind="logfreq", f_min_hz=26.0)


class PeakPicker(torch.nn.Module):
    """A stand-in pitched model: per frame, the strongest partial of the audio (an FFT of the
    2048 samples centred on the frame), read ``shift`` semitones up; the onset head fires on the first frame whose hop sounds,
    ``late`` frames after it."""

    def __init__(self, shift: int = 0, late: int = 0):
        super().__init__()
        self.front_end, self.shift, self.late = FE, shift, late
        self.weight = torch.nn.Parameter(torch.zeros(1))

    def forward(self, audio: torch.Tensor) -> dict[str, torch.Tensor]:
        fe, x = self.front_end, audio[0].numpy()
        hop, n = fe.hop_length, fe.n_frames(audio.shape[-1])
        logits = np.full((n, fe.n_pitches), -8.0, np.float32)
        onset = np.full_like(logits, -8.0)
        started = None
        for t in range(n):
            frame = x[max(0, t * hop - 1024):t * hop + 1024]   # centred on the frame's time
            if len(frame) < 2048 or np.abs(x[t * hop:(t + 1) * hop]).max() < 1e-3:   # silent hop
                continue
            hz = np.argmax(np.abs(np.fft.rfft(frame * np.hanning(2048)))) * fe.sample_rate_hz / 2048
            column = int(round(69 + 12 * np.log2(hz / 440.0))) + self.shift - fe.min_midi
            logits[t, column] = 4.0
            started = t if started is None else started
            if t == started + self.late:
                onset[t, column] = 4.0
        return {h: torch.from_numpy(onset if h == "onset" else logits)[None] for h in HEADS}


def test_the_tone_is_a_decaying_harmonic_tone_from_its_onset():
    y = tone_check.harmonic_tone(57, 16000)
    assert y.dtype == np.float32 and len(y) == 32000 and np.abs(y[:8000]).max() == 0.0
    spectrum = np.abs(np.fft.rfft(y[8000:16000]))
    hz = np.fft.rfftfreq(8000, 1 / 16000)
    assert hz[spectrum.argmax()] == pytest.approx(220.0, abs=2.0)
    assert spectrum[np.abs(hz - 660.0).argmin()] == pytest.approx(spectrum.max() / 3, rel=0.1)


def test_a_model_hearing_fundamentals_passes_and_one_hearing_harmonics_fails():
    """The peak picker finds the fundamental (the tone's strongest partial): no wrong frame, no
    wrong onset. Read 19 semitones up (the third harmonic) every judged frame and onset is
    wrong; an onset two hops late is wrong while the frames stay right."""
    assert tone_check.check_tones(PeakPicker()) == {"val_tone_wrong_frames": 0, "val_tone_wrong_onsets": 0}
    sounding = round(tone_check.SOUNDING_S[1] / FE.hop_s) - round(tone_check.SOUNDING_S[0] / FE.hop_s)
    assert tone_check.check_tones(PeakPicker(shift=19)) == {
        "val_tone_wrong_frames": sounding * len(tone_check.TONE_MIDI),
        "val_tone_wrong_onsets": len(tone_check.TONE_MIDI)}
    assert tone_check.check_tones(PeakPicker(late=2)) == {"val_tone_wrong_frames": 0,
                                                          "val_tone_wrong_onsets": len(tone_check.TONE_MIDI)}
