"""model/stft.py: the exported STFT is torch.stft, split where it costs least."""
import numpy as np
import pytest
import torch


@pytest.mark.parametrize("n_fft, hop, lo, hi", [(1024, 64, 3, 131), (2048, 512, 32, 1025), (16, 4, 0, 9),
                                               (2048, 128, 0, 131), (4096, 1024, 32, 2049),
                                               (1000, 250, 2, 40)])  # the last: no power of two, conv1d
def test_the_exported_stft_is_torch_stft(monkeypatch, n_fft, hop, lo, hi):
    """While exported to ONNX the STFT is built from real-valued ops (frames from hop blocks and a
    two-stage DFT, or a DFT-basis conv1d); it matches torch.stft to float32 rounding, at lengths
    that are and are not a multiple of the hop, down to a single frame."""
    from midi_extractor.model.stft import PowerSpectrogram

    stft = PowerSpectrogram(n_fft, hop, lo=lo, hi=hi)
    rng = np.random.default_rng(0)
    for n in (16000 + 77, 16000, 3):
        audio = torch.from_numpy(rng.standard_normal((2, n)).astype(np.float32)) * 0.1
        reference = stft(audio)
        with monkeypatch.context() as m:
            m.setattr(torch.onnx, "is_in_onnx_export", lambda: True)
            exported = stft(audio)
        assert exported.shape == reference.shape == (2, hi - lo, n // hop + 1)
        assert float((exported - reference).abs().max()) <= 1e-5 * float(reference.max()), n


def test_the_two_stage_dft_splits_where_it_costs_least():
    """A band that stops low takes a small first stage: the 32-kHz low band's 131 bins of 2048
    split 16 x 128 (68 multiplications a sample against 140 at 64 x 32); a full band keeps 64."""
    from midi_extractor.model.stft import stage_one_size

    assert stage_one_size(2048, 131) == 16 and stage_one_size(1024, 131) == 16
    assert stage_one_size(4096, 2049) == 64 and stage_one_size(16, 9) == 4
