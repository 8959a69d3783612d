"""audio.py: windows, channels, rates, and errors that name the file."""
from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from midi_extractor.audio import AudioError, audio_info, load_audio, rms_db


def _sine(path, freq=440.0, sr=44100, seconds=2.5, channels=2, fmt=None):
    t = np.arange(int(sr * seconds)) / sr
    mono = 0.5 * np.sin(2 * np.pi * freq * t)
    data = np.stack([mono * (1.0 if c == 0 else 0.8) for c in range(channels)], axis=1)
    sf.write(str(path), data.astype(np.float32), sr, format=fmt)
    return path


def _peak_hz(x, sr):
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return np.argmax(spectrum) * sr / len(x)


@pytest.mark.parametrize("ext", ["wav", "flac"])
def test_stereo_44k_comes_back_16k_mono_with_the_right_pitch_and_length(tmp_path, ext):
    path = _sine(tmp_path / f"s.{ext}", freq=440.0, sr=44100, seconds=2.5, channels=2)
    assert audio_info(path) == (44100, int(44100 * 2.5), 2)
    x = load_audio(path, 16000)
    assert x.dtype == np.float32 and x.ndim == 1
    assert len(x) == 40000
    assert abs(_peak_hz(x, 16000) - 440.0) < 2.0
    # mono mix of channels at 1.0 and 0.8 -> amplitude 0.45
    assert abs(np.abs(x[1000:-1000]).max() - 0.45) < 0.01


def test_mp3_is_read_where_soundfile_can(tmp_path):
    path = tmp_path / "s.mp3"
    try:
        _sine(path, freq=1000.0, sr=44100, seconds=1.0, channels=1, fmt="MP3")
    except Exception as exc:  # pragma: no cover - libsndfile without mp3
        pytest.skip(f"libsndfile cannot write mp3 here: {exc}")
    x = load_audio(path, 16000)
    assert abs(len(x) - 16000) < 2000  # mp3 encoder padding
    assert abs(_peak_hz(x, 16000) - 1000.0) < 5.0


@pytest.mark.parametrize("sr", [16000, 44100])
@pytest.mark.parametrize("offset_s,duration_s", [(0.0, 1.0), (0.3, 0.7), (1.2345, 1.0)])
def test_window_equals_slice_of_full_read(tmp_path, sr, offset_s, duration_s):
    rng = np.random.default_rng(1)
    data = (0.3 * rng.standard_normal((int(sr * 2.5), 2))).astype(np.float32)
    path = tmp_path / "n.flac"
    sf.write(str(path), data, sr)
    full = load_audio(path, 16000)
    window = load_audio(path, 16000, offset_s=offset_s, duration_s=duration_s)
    start = round(offset_s * 16000)
    assert len(window) == round(duration_s * 16000)
    np.testing.assert_allclose(window, full[start:start + len(window)], atol=1e-5)


def test_window_past_the_end_is_zero_padded(tmp_path):
    path = _sine(tmp_path / "s.wav", sr=16000, seconds=1.0, channels=1)
    x = load_audio(path, 16000, offset_s=0.5, duration_s=1.0)
    assert len(x) == 16000
    assert np.abs(x[:8000]).max() > 0.4
    assert not x[8000:].any()
    beyond = load_audio(path, 16000, offset_s=5.0, duration_s=0.25)
    assert len(beyond) == 4000 and not beyond.any()


def test_corrupt_file_message_names_the_file_and_problem(tmp_path):
    bad = tmp_path / "S01.flac"
    bad.write_bytes(b"fLaC" + b"\x00garbage" * 50)
    with pytest.raises(AudioError) as err:
        load_audio(bad, 16000)
    assert str(bad) in str(err.value) and "corrupt" in str(err.value)
    with pytest.raises(AudioError, match="corrupt"):
        audio_info(bad)


def test_empty_and_missing_files(tmp_path):
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    with pytest.raises(AudioError, match=r"empty\.wav: empty file"):
        load_audio(empty, 16000)
    no_frames = tmp_path / "noframes.wav"
    sf.write(str(no_frames), np.zeros((0, 1), np.float32), 16000)
    with pytest.raises(AudioError, match=r"noframes\.wav: no audio frames"):
        load_audio(no_frames, 16000)
    with pytest.raises(AudioError, match=r"missing\.flac: audio file not found"):
        load_audio(tmp_path / "missing.flac", 16000)
    assert isinstance(AudioError("x", "y"), ValueError)


def test_rms_db():
    t = np.arange(16000) / 16000
    assert abs(rms_db(np.sin(2 * np.pi * 100 * t)) - (-3.01)) < 0.05
    assert abs(rms_db(0.1 * np.sin(2 * np.pi * 100 * t)) - (-23.01)) < 0.05
    assert rms_db(np.zeros(100)) == -200.0
    assert rms_db(np.zeros(0)) == -200.0


def test_rms_is_linear_and_float64_for_float32_input():
    from midi_extractor.audio import rms

    t = np.arange(16000) / 16000
    assert abs(rms(0.5 * np.sin(2 * np.pi * 100 * t).astype(np.float32)) - 0.5 / np.sqrt(2)) < 1e-6
    assert rms(np.full(4, -2.0)) == 2.0
    assert rms(np.zeros(0)) == 0.0


def test_iter_blocks_covers_the_file_at_its_own_rate(tmp_path):
    from midi_extractor.audio import iter_blocks

    path = _sine(tmp_path / "s.flac", sr=44100, seconds=1.2, channels=2)
    blocks = list(iter_blocks(path, 0.5))
    assert [len(b) for b in blocks] == [22050, 22050, 8820]
    np.testing.assert_allclose(np.concatenate(blocks), load_audio(path, 44100), atol=1e-6)
    with pytest.raises(AudioError, match="corrupt"):
        bad = tmp_path / "bad.flac"
        bad.write_bytes(b"fLaC" + b"\x02" * 30)
        list(iter_blocks(bad))


def test_non_finite_samples_are_refused_naming_file_and_counts(tmp_path):
    """Issue 14 item 2: NaN/inf are refused at read time, never read as silence."""
    from midi_extractor.audio import NonFiniteAudioError, check_finite, scan_audio

    x = np.full(16000, 0.1, np.float32)
    x[4000:8000] = np.nan  # 0.25 s of NaN
    x[9000] = -np.inf
    path = tmp_path / "nan.wav"
    sf.write(str(path), x, 16000, subtype="FLOAT")
    with pytest.raises(NonFiniteAudioError, match=r"nan\.wav: 4000 NaN and 1 infinite samples in frames 0-16000"):
        load_audio(path, 16000)
    with pytest.raises(AudioError, match="4000 NaN and 1 infinite"):
        load_audio(path, 22050)  # resampled reads check the raw frames
    with pytest.raises(NonFiniteAudioError, match="refused, not repaired"):
        scan_audio(path)
    assert load_audio(path, 16000, 0.0, 0.2).max() == pytest.approx(0.1)  # a clean window reads
    with pytest.raises(NonFiniteAudioError, match=r"signal: 1 NaN and 0 infinite"):
        rms_db(np.array([0.0, np.nan]))  # was -200 dB ("silent")
    with pytest.raises(NonFiniteAudioError, match=r"array: 0 NaN and 1 infinite"):
        check_finite(np.array([np.inf], np.float32), "array")
    assert check_finite(x[:10], "ok") is not None


def test_flac_truncated_halfway_fails_where_it_is_decoded(tmp_path):
    """Issue 14 item 3: a FLAC cut halfway has a whole header; reading past the cut
    raises AudioError ("lost sync"), reading before it works, scan_audio catches it."""
    from midi_extractor.audio import scan_audio

    rng = np.random.default_rng(0)
    path = tmp_path / "S01.flac"
    sf.write(str(path), (0.3 * rng.standard_normal(16000 * 8)).astype(np.float32), 16000)
    whole_level, whole_frames = scan_audio(path)
    assert whole_frames == 16000 * 8 and -15 < whole_level < -5
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    assert audio_info(path) == (16000, 16000 * 8, 1)  # the header still says 8 s
    assert load_audio(path, 16000, 0.5, 1.0).shape == (16000,)
    with pytest.raises(AudioError, match=r"S01\.flac: corrupt audio.*lost sync"):
        load_audio(path, 16000)
    with pytest.raises(AudioError, match=r"S01\.flac: corrupt or truncated audio: decoding frames .* of 128000 failed"):
        scan_audio(path)


def test_scan_audio_level_matches_block_by_block(tmp_path):
    from midi_extractor.audio import iter_blocks, scan_audio

    rng = np.random.default_rng(2)
    data = (rng.standard_normal((44100 * 3 + 1234, 2)) * np.linspace(0.01, 0.5, 44100 * 3 + 1234)[:, None])
    path = tmp_path / "ramp.flac"
    sf.write(str(path), data.astype(np.float32), 44100)
    level, frames = scan_audio(path, 0.5, chunk_s=1.0)
    assert frames == 44100 * 3 + 1234
    assert level == pytest.approx(max(rms_db(b) for b in iter_blocks(path, 0.5)), abs=1e-4)


@pytest.mark.parametrize("subtype,channels", [("PCM_16", 1), ("FLOAT", 2), ("PCM_24", 2)])
def test_a_truncated_wav_is_named_once_with_what_its_header_declares(tmp_path, caplog, subtype, channels):
    """libsndfile reads a WAV cut short as a shorter file; the header's frame count says otherwise."""
    import logging

    sr = 8000
    data = np.tile((0.3 * np.sin(np.arange(5 * sr) / 7.0))[:, None], (1, channels)).astype(np.float32)
    whole = tmp_path / "whole.wav"
    sf.write(whole, data, sr, subtype=subtype)
    cut = tmp_path / "cut.wav"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 5])
    with caplog.at_level(logging.WARNING, logger="midi_extractor.audio"):
        assert len(load_audio(whole, sr)) == 5 * sr
        held = audio_info(cut)[1]
        assert held < sr and len(load_audio(cut, sr)) == held  # read as what is there
        load_audio(cut, sr, offset_s=0.1, duration_s=0.2)
    assert [r.getMessage() for r in caplog.records] == [
        f"{cut}: truncated WAV: the header declares {5 * sr} frames (5.00 s) but the file holds {held} "
        f"({held / sr:.2f} s); reading what is there"]  # once, and nothing for the whole file
