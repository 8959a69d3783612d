import numpy as np
import torch

from midi_extractor.config import FrontEndConfig
from midi_extractor.model.features import LogMel


def test_shape_matches_frame_count():
    fe = FrontEndConfig()
    mel = LogMel(fe)
    for n in (16000, 16000 * 4, 12345):
        out = mel(torch.zeros(2, n))
        assert out.shape == (2, fe.n_frames(n), fe.n_mels)
        assert torch.isfinite(out).all()
    assert mel(torch.zeros(1000)).shape == (1, fe.n_frames(1000), fe.n_mels)
    assert sum(p.numel() for p in mel.parameters()) == 0


def test_sine_energy_lands_in_the_right_band_and_frames():
    fe = FrontEndConfig()
    mel = LogMel(fe)
    sr = fe.sample_rate_hz
    t = np.arange(sr * 2) / sr
    x = np.zeros_like(t)
    x[sr:] = 0.5 * np.sin(2 * np.pi * 1000.0 * t[sr:])  # silence, then 1 kHz from 1.0 s
    out = mel(torch.from_numpy(x).float())[0]
    import librosa

    centres = librosa.mel_frequencies(fe.n_mels + 2, fmin=fe.f_min_hz, fmax=fe.f_max_hz, htk=True)[1:-1]
    on = fe.frame_of(1.0)
    late = out[on + 5]
    assert abs(centres[int(late.argmax())] - 1000.0) < 60.0
    assert float(out[on - 5].max()) < -10 and float(late.max()) > 0  # log(1e-6) floor vs a loud band
