"""model.saturation: the drive a stem's model hears, and its range."""
import numpy as np
import pytest

from midi_extractor.model.saturation import check_saturate, saturated


def test_saturated_is_tanh_of_the_signal_over_its_peak():
    x = np.array([0.0, 0.1, -0.2, 0.4], np.float32)
    np.testing.assert_allclose(saturated(x, 1.5), np.tanh(1.5 * x / 0.4), rtol=1e-6)
    np.testing.assert_allclose(saturated(x, 1.5, peak=0.8), np.tanh(1.5 * x / 0.8), rtol=1e-6)   # a file's peak
    assert saturated(x, 0.0) is x and not saturated(np.zeros(4, np.float32), 1.5).any()
    assert saturated(x, 1.5).dtype == np.float32


def test_a_drive_is_a_number_from_0_to_20():
    assert check_saturate("1.5") == 1.5 and check_saturate(0) == 0.0 and check_saturate(20) == 20.0
    for bad in ("-1", "abc", float("nan"), 21, None, True):
        with pytest.raises(ValueError, match="saturate must be a number from 0 .off. to 20"):
            check_saturate(bad)
