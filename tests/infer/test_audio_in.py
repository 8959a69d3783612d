"""infer.audio_in: what the model is fed: mono float32 at the model's rate, finite, at most full
scale; a bad file is refused with its name, loud or clipped input is said."""
import logging

import numpy as np
import pytest
import soundfile as sf

from midi_extractor.audio import AudioError
from midi_extractor.infer import audio_in


def _tone(seconds: float, rate_hz: int, hz: float = 220.0, amp: float = 0.5) -> np.ndarray:
    t = np.arange(int(seconds * rate_hz)) / rate_hz
    return (amp * np.sin(2 * np.pi * hz * t)).astype(np.float32)


def test_a_stereo_file_comes_back_mono_at_the_rate_asked(tmp_path):
    left = _tone(2.0, 44100)
    path = tmp_path / "bass.wav"
    sf.write(path, np.stack([left, np.zeros_like(left)], axis=1), 44100)  # tone on the left only
    x, name = audio_in.load_input(path, None, 16000)
    assert name == str(path) and x.dtype == np.float32 and x.ndim == 1
    assert abs(len(x) - 2 * 16000) <= 1
    assert np.abs(x).max() == pytest.approx(0.25, abs=0.01)  # the mean of the two channels
    spectrum = np.abs(np.fft.rfft(x))
    assert np.fft.rfftfreq(len(x), 1 / 16000)[spectrum.argmax()] == pytest.approx(220.0, abs=1.0)


def test_an_array_is_resampled_and_needs_its_rate():
    x, name = audio_in.load_input(np.stack([_tone(1.0, 8000)] * 2), 8000, 16000)  # (C, S)
    assert name == "audio array" and abs(len(x) - 16000) <= 1
    with pytest.raises(ValueError, match="an audio array needs sample_rate_hz"):
        audio_in.load_input(_tone(1.0, 8000), None, 16000)
    with pytest.raises(ValueError, match="audio array: no samples"):
        audio_in.load_input(np.zeros(0, np.float32), 8000, 16000)


def test_a_file_with_nan_samples_is_refused_naming_it(tmp_path):
    y = _tone(1.0, 16000)
    y[100:200] = np.nan
    path = tmp_path / "broken.wav"
    sf.write(path, y, 16000, subtype="FLOAT")
    with pytest.raises(AudioError, match=r"broken\.wav: .*NaN"):
        audio_in.load_input(path, None, 16000)
    with pytest.raises(ValueError, match=r"my array: contains NaN or infinite samples \(100 of 16000\)"):
        audio_in.condition(y, "my array")


def test_overdriven_input_is_scaled_to_full_scale_with_a_warning(caplog):
    loud = 2.0 * _tone(0.5, 16000, amp=1.0)
    with caplog.at_level(logging.WARNING, logger="midi_extractor.infer.engine"):
        x = audio_in.condition(loud, "loud.wav")
    assert np.abs(x).max() == pytest.approx(audio_in.PEAK_LEVEL, abs=1e-6)
    assert "loud.wav: peak 2.00 is above full scale" in caplog.text
    quiet = _tone(0.5, 16000)
    assert np.array_equal(audio_in.condition(quiet), quiet)  # anything else passes unchanged


def test_heavy_clipping_is_said_and_light_clipping_is_not(caplog):
    with caplog.at_level(logging.WARNING, logger="midi_extractor.infer.engine"):
        audio_in.warn_if_clipped(1, 1000, "light.wav")  # 0.1 %
        assert caplog.text == ""
        audio_in.warn_if_clipped(50, 1000, "clipped.wav")  # 5 %
    assert "clipped.wav: heavily clipped: 5.0% of its samples sit at full scale" in caplog.text


def test_mono_from_either_channel_layout_and_silence():
    a, b = _tone(0.1, 16000), _tone(0.1, 16000, hz=440.0)
    both = (a + b) / 2
    np.testing.assert_allclose(audio_in.to_mono(np.stack([a, b])), both, atol=1e-7)      # (C, S)
    np.testing.assert_allclose(audio_in.to_mono(np.stack([a, b], axis=1)), both, atol=1e-7)  # (S, C)
    with pytest.raises(ValueError, match=r"1-D or 2-D, got shape \(1, 2, 3\)"):
        audio_in.to_mono(np.zeros((1, 2, 3)))
    assert audio_in.is_silent(np.zeros(1600, np.float32)) and not audio_in.is_silent(a)


def test_integer_pcm_arrays_read_as_a_file_of_that_format_without_warnings(caplog):
    # scipy.io.wavfile.read gives int16 / int32 / uint8: their full scale is 1.0, not a peak of 16383
    tone = _tone(1.0, 8000)
    pcm = {np.int16: np.round(tone * 32768).astype(np.int16),
           np.int32: np.round(tone.astype(np.float64) * 2 ** 31).astype(np.int32),
           np.uint8: np.round(tone * 128 + 128).astype(np.uint8)}
    want, _ = audio_in.load_input(tone, 8000, 16000)
    with caplog.at_level(logging.WARNING, logger="midi_extractor.infer.engine"):
        for dtype, samples in pcm.items():
            x, _ = audio_in.load_input(np.stack([samples, samples], axis=1), 8000, 16000)
            np.testing.assert_allclose(x, want, atol=1.5 / 128 if dtype is np.uint8 else 1e-4)
            np.testing.assert_array_equal(audio_in.condition(samples), audio_in.to_float(samples))
    assert caplog.text == ""
    with pytest.raises(ValueError, match=r"audio array: complex samples \(complex64\)"):
        audio_in.to_mono(tone.astype(np.complex64))


def test_an_arrays_rate_must_be_a_positive_number_and_a_loud_array_is_said_once(caplog):
    for bad in (0, -1, float("nan"), "fast"):
        with pytest.raises(ValueError, match=f"sample_rate_hz must be a positive number of Hz, got {bad!r}"):
            audio_in.load_input(_tone(1.0, 8000), bad, 16000)
    assert audio_in.check_rate(44100.0) == 44100.0
    with caplog.at_level(logging.WARNING, logger="midi_extractor.infer.engine"):
        x, name = audio_in.load_input(3.0 * _tone(1.0, 8000), 8000, 16000)
        audio_in.condition(x, name)  # what engine.transcribe_array does next: the one warning
    assert caplog.text.count("above full scale") == 1


def test_clipping_is_integer_full_scale_and_the_peak_said_is_the_files_own(tmp_path, caplog):
    """A 16-bit file clipped flat: 'heavily clipped', and the resampler's overshoot past 1.0 is
    scaled back unsaid; a float file peaking at 1.5: 'peak 1.50 is above full scale', not clipped.
    The same words from the whole-file path, the streamed scan and an array."""
    from midi_extractor.infer import reading, stream

    sr = 22050
    t = np.arange(3 * sr) / sr
    clipped = np.clip(2.0 * np.sin(2 * np.pi * 110 * t), -1, 1).astype(np.float32)
    sf.write(tmp_path / "clipped.wav", clipped, sr, subtype="PCM_16")
    hot = (1.5 * np.sin(2 * np.pi * 110 * t)).astype(np.float32)
    sf.write(tmp_path / "hot.wav", hot, sr, subtype="FLOAT")
    for name, source in (("clipped", tmp_path / "clipped.wav"), ("hot", tmp_path / "hot.wav"),
                         ("clipped array", clipped), ("hot array", hot)):
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="midi_extractor.infer.engine"):
            x, said = audio_in.load_input(source, sr, 16000)
            audio_in.condition(x, said)  # what engine.transcribe_array does next: nothing more to say
            if not name.endswith("array"):
                scan = reading.scan_file(source, 16000)
                assert scan.peak > 1.0  # the resampled clipped file rings past full scale too
                assert stream.full_scale_gain(scan.peak, scan.own_peak, said) == pytest.approx(1.0 / scan.peak)
        assert np.abs(x).max() <= 1.0
        if name.startswith("clipped"):
            assert "heavily clipped: 66.7% of its samples sit at full scale" in caplog.text
            assert "above full scale" not in caplog.text
        else:
            assert "heavily clipped" not in caplog.text
            assert caplog.text.count(f"{said}: peak 1.50 is above full scale (overdriven); scaled to peak 1.00") == \
                (1 if name.endswith("array") else 2)  # a file: load_input's, then the stream's
