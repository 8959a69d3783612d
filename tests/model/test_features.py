import numpy as np
import pytest
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


LOGFREQ = FrontEndConfig(kind="logfreq", f_min_hz=26.0)


def _sine(freq_hz: float, fe: FrontEndConfig, seconds: float = 2.0) -> torch.Tensor:
    t = np.arange(int(fe.sample_rate_hz * seconds)) / fe.sample_rate_hz
    return torch.from_numpy(0.5 * np.sin(2 * np.pi * freq_hz * t)).float()


def test_logfreq_has_no_empty_band_and_the_right_shape():
    from midi_extractor.model.features import LogFreq, logfreq_centres_hz

    front = LogFreq(LOGFREQ)
    assert bool((front.low_filters.sum(1) > 0).all()) and bool((front.high_filters.sum(1) > 0).all())
    out = front(torch.zeros(2, 16000))
    assert out.shape == (2, LOGFREQ.n_frames(16000), len(logfreq_centres_hz(LOGFREQ)))


def test_neighbouring_lowest_semitones_land_in_different_bands():
    """B0 (30.9 Hz) and C1 (32.7 Hz), E1 and F1: the peak band is the note's own, in the middle frames."""
    import librosa

    from midi_extractor.model.features import LogFreq, logfreq_centres_hz

    front = LogFreq(LOGFREQ)
    centres = np.array(logfreq_centres_hz(LOGFREQ))
    peaks = {}
    for note in ("B0", "C1", "E1", "F1", "A4"):
        hz = float(librosa.note_to_hz(note))
        frame = front(_sine(hz, LOGFREQ))[0, LOGFREQ.frame_of(1.0)]
        peaks[note] = centres[int(frame.argmax())]
        assert abs(12 * np.log2(peaks[note] / hz)) <= 0.5, (note, hz, peaks[note])
    assert peaks["B0"] != peaks["C1"] and peaks["E1"] != peaks["F1"]


def test_old_mel_checkpoints_keep_their_front_end():
    from midi_extractor.model.features import LogMel, make_front_end

    assert isinstance(make_front_end(FrontEndConfig()), LogMel)


def test_both_front_ends_are_the_same_while_exported(monkeypatch):
    from midi_extractor.model.features import make_front_end

    audio = torch.from_numpy(np.random.default_rng(0).standard_normal((2, 16000 + 77)).astype(np.float32)) * 0.1
    fronts = {fe.kind: (make_front_end(fe), make_front_end(fe)(audio)) for fe in (FrontEndConfig(), LOGFREQ)}
    monkeypatch.setattr(torch.onnx, "is_in_onnx_export", lambda: True)
    for kind, (front, features) in fronts.items():
        assert float((front(audio) - features).abs().max()) < 1e-3, kind  # log power


@pytest.mark.parametrize("factor", [2, 4, 8])
def test_polyphase_decimation_is_the_strided_filter(factor):
    """The low band's decimation (blocks of ``factor`` samples, one unstrided conv) gives the
    strided FIR's numbers and length, ``ceil(S / factor)``, for lengths on and off the factor."""
    from midi_extractor.model.features import decimate, lowpass_taps, polyphase_taps

    taps = lowpass_taps(factor)
    weights = polyphase_taps(taps, factor)
    assert weights.shape == (1, factor, -(-taps.numel() // factor))
    rng = np.random.default_rng(factor)
    for n in (1, factor - 1, factor, 1000, 16000 + 77):
        audio = torch.from_numpy(rng.standard_normal((2, n)).astype(np.float32))
        strided = torch.nn.functional.conv1d(audio.unsqueeze(1), taps.view(1, 1, -1),
                                             padding=taps.numel() // 2, stride=factor)[:, 0]
        out = decimate(audio, weights, taps.numel())
        assert out.shape == strided.shape == (2, -(-n // factor)), n
        assert float((out - strided).abs().max()) <= 1e-5, n


def test_banded_filterbank_is_the_dense_product():
    """The high bands' product per group of bands, on the bins each group reads, equals the
    dense filterbank's at 16 and 32 kHz; the groups cover every band once."""
    from midi_extractor.model.features import LogFreq

    for rate in (16000, 32000):
        front = LogFreq(LOGFREQ.at_rate(rate))
        bands = [b for lo, hi, _, _ in front._high_groups for b in range(lo, hi)]
        assert bands == list(range(front.high_filters.shape[0]))
        power = torch.rand(2, front.high_filters.shape[1], 40)
        dense = front.high_filters @ power
        assert float((front._high_bands(power) - dense).abs().max()) <= 1e-6 * float(dense.max())
        widths = sum((hi - lo) * (f1 - f0) for lo, hi, f0, f1 in front._high_groups)
        assert widths < front.high_filters.numel() / 3, rate
