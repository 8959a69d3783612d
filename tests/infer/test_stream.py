"""Long files stream (infer.stream): the same samples and the same notes as the whole-file
path, in memory bounded by the window; the tempo of a streamed click track stays right."""
from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
import soundfile as sf

from helpers_data import REPO
from helpers_standin import FE, SR, StandIn, click_track, sine
from midi_extractor import taxonomy as tx
from midi_extractor.audio import load_audio
from midi_extractor.infer import engine, reading, stream
from midi_extractor.infer.api import transcribe_file
from midi_extractor.infer.engine import LoadedModel
from midi_extractor.infer.tempo import OnsetStream, estimate_tempo, onset_envelope
from midi_extractor.model.decoding import decode

THRESHOLDS = dict(onset_threshold=0.5, frame_threshold=0.5, min_note_s=0.05, drum_note_s=0.1)


def tune(seconds: float, sr: int = SR, seed: int = 0) -> np.ndarray:
    """Tones of 0.1-14 s (many across window edges), back to back or with gaps, pitches 40-80."""
    rng = np.random.default_rng(seed)
    x = np.zeros(int(seconds * sr), np.float32)
    t = 0.2
    while t < seconds - 1:
        length = float(rng.choice([0.1, 0.4, 0.4, 1.3, 1.3, 2.0, 6.0, 14.0]))
        end = min(t + length, seconds - 0.5)
        n0, n1 = int(t * sr), int(end * sr)
        x[n0:n1] += sine(int(rng.integers(40, 81)), 0, 1e9, (n1 - n0) / sr, sr)[: n1 - n0]
        t = end + float(rng.choice([0.0, 0.0, 0.3]))  # often no gap: no clean frame to cut at
    return x


def standin_model(stem: str = "bass") -> LoadedModel:
    classes = tx.STEM_DRUM_CLASSES.get(stem)
    return LoadedModel(StandIn(FE, len(classes) if classes else FE.n_pitches, bool(classes)), FE, classes, stem)


@pytest.mark.parametrize("rate,channels", [(SR, 1), (44100, 2)])
def test_blocks_are_the_whole_file_resampled(tmp_path, monkeypatch, rate, channels):
    monkeypatch.setattr(reading, "BLOCK_FRAMES", 10007)
    x = tune(20.0, rate)
    path = tmp_path / "a.wav"
    sf.write(path, np.stack([x, 0.5 * x], 1) if channels == 2 else x, rate, subtype="FLOAT")
    whole = load_audio(path, SR)
    streamed = np.concatenate(list(reading.resampled_blocks(path, SR)))
    assert len(streamed) == len(whole) == round(len(x) * SR / rate)
    np.testing.assert_allclose(streamed, whole, atol=1e-6)
    scan = reading.scan_file(path, SR)
    assert scan.n_samples == len(whole) and scan.peak == pytest.approx(np.abs(whole).max(), abs=1e-6)


def test_minutes_of_tones_give_the_same_notes_streamed_as_whole(tmp_path, monkeypatch):
    monkeypatch.setattr(reading, "BLOCK_FRAMES", 30011)  # blocks that never line up with windows
    path = tmp_path / "bass.wav"
    sf.write(path, tune(200.0, 44100), 44100)  # 200 s at 44.1 kHz: resampled, 25 windows
    loaded = standin_model()
    whole = engine.transcribe_array(loaded, load_audio(path, SR), **THRESHOLDS)
    got = stream.transcribe_path(loaded, path, **THRESHOLDS)
    assert len(whole) > 40 and max(n.end_s - n.start_s for n in whole) > 10.0
    assert got.notes == whole
    assert got.n_samples == round(200.0 * SR)


def test_a_short_file_is_read_once_and_a_long_one_twice_with_the_same_notes(tmp_path, monkeypatch):
    """Pass 2 replays pass 1's blocks up to REPLAY_MAX_S; beyond it the file is read again."""
    path = tmp_path / "bass.wav"
    sf.write(path, tune(40.0, 44100, seed=2), 44100)
    reads = []
    real = reading.resampled_blocks

    def counted(*args, **kwargs):
        reads.append(args[0])
        return real(*args, **kwargs)

    monkeypatch.setattr(reading, "resampled_blocks", counted)
    loaded = standin_model()
    whole = engine.transcribe_array(loaded, load_audio(path, SR), **THRESHOLDS)
    short = stream.transcribe_path(loaded, path, onsets=True, **THRESHOLDS)
    assert len(reads) == 1 and short.notes == whole and len(whole) > 5
    monkeypatch.setattr(reading, "REPLAY_MAX_S", 39.9)
    long = stream.transcribe_path(loaded, path, onsets=True, **THRESHOLDS)
    assert len(reads) == 3 and long.notes == whole
    np.testing.assert_array_equal(long.envelope, short.envelope)
    assert reading.scan_file(path, SR).blocks is None


def test_decoding_cut_anywhere_gives_the_notes_of_one_decoding():
    """NoteFeed against decode() on random activations fed in random pieces, pitched and drums."""
    rng = np.random.default_rng(3)
    for classes, frame_note in ((None, None), (None, 0.8), (tx.STEM_DRUM_CLASSES["drums"], None)):
        n_cols = len(classes) if classes else FE.n_pitches
        loaded = LoadedModel(None, FE, classes, "x")
        probs = {h: (rng.random((3000, n_cols)) ** 30).astype(np.float32) for h in ("onset", "frame", "velocity")}
        probs["frame"][500:1400, 2] = 0.9  # a note held over many pieces
        probs["frame"][2000:2600, 3] = 0.9  # held with no onset: a note the frame head starts
        probs["onset"][1990:2610, 3] = 0.0
        want = decode(probs, FE, classes, 0.5, 0.5, 0.05, 0.1, frame_note)
        feed = stream.NoteFeed(loaded, 0.5, 0.5, 0.05, 0.1, frame_note)
        edges = np.sort(rng.choice(np.arange(1, 3000), 40, replace=False))
        for a, b in zip([0, *edges], [*edges, 3000]):
            feed.feed({h: v[a:b] for h, v in probs.items()})
        assert feed.finish() == want and len(want) > 50
        swell = [n for n in want if n.pitch == FE.min_midi + 3 and abs(n.start_s - 2000 * FE.hop_s) < 1e-9]
        assert len(swell) == (0 if classes or frame_note is None else 1)


def numpy_peak(path, loaded) -> tuple[float, stream.Streamed]:
    tracemalloc.start()
    got = stream.transcribe_path(loaded, path, onsets=True, **THRESHOLDS)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak, got


def test_a_long_file_streams_in_memory_bounded_by_the_window(tmp_path, monkeypatch):
    """numpy's peak (model, decoding, tempo envelope) does not grow with a file too long to
    keep (here over 30 s): 4 min of 44.1 kHz stereo (85 MB as float32, 15 MB at 16 kHz) peaks
    as 1 min does."""
    monkeypatch.setattr(reading, "REPLAY_MAX_S", 30.0)
    loaded = standin_model()
    peaks = []
    for seconds in (60.0, 240.0):
        path = tmp_path / f"bass_{seconds:g}.wav"
        x = tune(seconds, 44100, seed=1)
        sf.write(path, np.stack([x, x], 1), 44100, subtype="PCM_16")
        del x
        peak, got = numpy_peak(path, loaded)
        assert len(got.notes) > seconds / 10 and len(got.envelope) == 1 + got.n_samples // 128
        peaks.append(peak)
    assert peaks[1] < 1.2 * peaks[0] + 2e6 and peaks[1] < 40e6, f"numpy peaks {peaks} bytes"


@pytest.mark.parametrize("bpm", [97.0, 123.4])
def test_streamed_click_track_tempo(standin, tmp_path, monkeypatch, bpm):
    monkeypatch.setattr(reading, "BLOCK_FRAMES", 4099)
    path = tmp_path / "bass.wav"
    sf.write(path, click_track(bpm, seconds=60.0, sr=44100), 44100)
    result = transcribe_file(path, models_dir=standin, tempo="auto")
    assert abs(result.tempo_bpm - bpm) < 1.0
    assert result.tempo_bpm == estimate_tempo(load_audio(path, SR), SR).bpm


def test_onset_envelope_is_the_same_in_any_blocks():
    x = click_track(110.0, seconds=20.0)
    onsets = OnsetStream(float(np.abs(x).max()), block_frames=333)
    for a in range(0, len(x), 7777):
        onsets.feed(x[a:a + 7777])
    envelope = onsets.finish()
    assert len(envelope) == 1 + len(x) // 128
    np.testing.assert_allclose(envelope, onset_envelope(x), rtol=1e-5, atol=1e-6)


def test_overdriven_file_is_scaled_as_the_whole_path_does(tmp_path, caplog):
    path = tmp_path / "bass.wav"
    x = tune(30.0) * 3.0
    sf.write(path, x, SR, subtype="FLOAT")
    loaded = standin_model()
    got = stream.transcribe_path(loaded, path, **THRESHOLDS)
    assert got.notes == engine.transcribe_array(loaded, load_audio(path, SR), **THRESHOLDS)
    assert len(got.notes) > 5 and "above full scale" in caplog.text


class _numpy:
    """A torch module called with and returning numpy arrays."""

    def __init__(self, module):
        self.module = module

    def __call__(self, x: np.ndarray) -> np.ndarray:
        import torch

        with torch.inference_mode():
            return self.module(torch.from_numpy(x)).numpy()


class NumpyStandIn:
    """The stand-in as a numpy model (``is_numpy``: the ONNX runtime's branch of ``run_model``)."""

    is_numpy = True

    def __init__(self, torch_model):
        self.torch_model = torch_model
        self.features = _numpy(torch_model.features)
        self.features.reach_samples = torch_model.features.reach_samples

    def logits_from_features(self, feats: np.ndarray) -> dict[str, np.ndarray]:
        import torch

        with torch.inference_mode():
            return {k: v.numpy() for k, v in self.torch_model.logits_from_features(torch.from_numpy(feats)).items()}


@pytest.mark.parametrize("stem", ["bass", "drums"])
def test_numpy_runtime_streams_the_same_notes_as_whole(tmp_path, monkeypatch, stem):
    monkeypatch.setattr(reading, "BLOCK_FRAMES", 20011)
    path = tmp_path / f"{stem}.wav"
    sf.write(path, tune(70.0, 22050, seed=2), 22050)
    torch_loaded = standin_model(stem)
    loaded = LoadedModel(NumpyStandIn(torch_loaded.model), FE, torch_loaded.drum_classes, stem)
    whole = engine.transcribe_array(loaded, load_audio(path, SR), **THRESHOLDS)
    assert len(whole) > 5 and stream.transcribe_path(loaded, path, **THRESHOLDS).notes == whole


def test_the_shipped_pitched_base_streams_the_same_notes_as_whole(tmp_path, monkeypatch):
    """The real model (torch), not a stand-in: 45 s of the golden bass clip at 44.1 kHz."""
    monkeypatch.setattr(reading, "BLOCK_FRAMES", 40009)
    loaded = engine.load_model(REPO / "bases" / "pitched.pt", runtime="torch")
    clip = load_audio(REPO / "tests" / "fixtures" / "golden" / "bass_clip.flac", 44100)
    path = tmp_path / "bass.wav"
    sf.write(path, np.resize(clip, 45 * 44100), 44100)
    keys = dict(THRESHOLDS, onset_threshold=0.2)
    whole = engine.transcribe_array(loaded, load_audio(path, loaded.front_end.sample_rate_hz), **keys)
    assert len(whole) > 30 and stream.transcribe_path(loaded, path, **keys).notes == whole
