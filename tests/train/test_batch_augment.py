"""Augmentation rendered per batch on the device (train/batch_augment.py): pitch, tempo,
tilt, gain and noise by content, and the same labels and the same audio (float tolerance)
as the per-clip CPU path for the same draws: one renderer serves both."""
from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from midi_extractor.config import FrontEndConfig
from midi_extractor.train.augment import AugmentPolicy, Draw
from midi_extractor.train.batch_augment import FIELDS, augment_batch, encode, expand_rolls, source_samples
from midi_extractor.train.clips import TranscriptionDataset

SR = 16000


def sine(freq_hz: float, seconds: float, start_s: float = 0.0) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    return (0.5 * np.sin(2 * np.pi * freq_hz * t) * (t >= start_s)).astype(np.float32)


def render(x: np.ndarray, draw: Draw, n_out: int) -> np.ndarray:
    audio = torch.from_numpy(x)[None]
    rows = torch.from_numpy(encode(draw, len(x)))[None]
    return augment_batch(audio, rows, SR, n_out)[0].numpy()


def one_pole_tilt(x: np.ndarray, corner_hz: float, low_db: float, high_db: float) -> np.ndarray:
    """The tilt as a causal filter run (what the tilt's response is checked against)."""
    from scipy.signal import lfilter

    p = math.exp(-2.0 * math.pi * corner_hz / SR)
    low = lfilter([1.0 - p], [1.0, -p], x)
    return (low * 10 ** (low_db / 20) + (x - low) * 10 ** (high_db / 20)).astype(np.float32)


def peak_hz(y: np.ndarray) -> float:
    spectrum = np.abs(np.fft.rfft(y * np.hanning(len(y))))
    return float(np.argmax(spectrum) * SR / len(y))


def onset_s(y: np.ndarray, hop: int = 256) -> float:
    env = np.array([np.sqrt(np.mean(y[i: i + hop] ** 2)) for i in range(0, len(y) - hop, hop)])
    return float(np.argmax(env > 0.5 * env.max()) * hop / SR)


def test_a_transpose_moves_a_sine_by_its_semitones():
    y = render(sine(440.0, 1.2), Draw(transpose=2, resample_rate=2 ** (2 / 12)), SR)
    assert len(y) == SR
    assert peak_hz(y) == pytest.approx(440.0 * 2 ** (2 / 12), abs=2.0)


def test_a_tempo_change_keeps_the_pitch_and_moves_the_onset():
    y = render(sine(440.0, 1.25, start_s=0.5), Draw(stretch_rate=1.25), SR)
    assert peak_hz(y[int(0.5 * SR):]) == pytest.approx(440.0, abs=2.0)
    assert onset_s(y) == pytest.approx(0.5 / 1.25, abs=512 / SR)


def test_the_tilt_has_the_one_pole_filters_response():
    x = np.random.default_rng(0).standard_normal(SR).astype(np.float32) * 0.1
    eq = (1000.0, 6.0, -6.0)
    cpu, dev = one_pole_tilt(x, *eq), render(x, Draw(eq=eq), SR)

    def band_db(y, lo, hi):
        s = np.abs(np.fft.rfft(y)) ** 2
        f = np.fft.rfftfreq(len(y), 1 / SR)
        return 10 * np.log10(s[(f >= lo) & (f < hi)].sum())

    for lo, hi in ((50, 300), (300, 1500), (3000, 7000)):
        assert band_db(dev, lo, hi) == pytest.approx(band_db(cpu, lo, hi), abs=0.3)
    assert band_db(dev, 50, 300) - band_db(x, 50, 300) == pytest.approx(6.0, abs=0.6)


def test_gain_noise_and_the_identity():
    x = sine(220.0, 1.0)
    assert np.array_equal(render(x, Draw(), SR // 2), x[: SR // 2])
    assert np.allclose(render(x, Draw(gain_db=6.0), SR), x * 10 ** (6 / 20), atol=1e-6)
    noisy = render(np.zeros(SR, np.float32), Draw(noise_db=-30.0, noise_seed=3), SR)
    assert np.sqrt(np.mean(noisy ** 2)) == pytest.approx(10 ** (-30 / 20), rel=0.05)
    assert np.array_equal(noisy, render(np.zeros(SR, np.float32), Draw(noise_db=-30.0, noise_seed=3), SR))
    assert not np.array_equal(noisy, render(np.zeros(SR, np.float32), Draw(noise_db=-30.0, noise_seed=4), SR))


def test_source_width_covers_the_longest_draw():
    policy = AugmentPolicy(role="melodic", pitch_shift_semitones=2, time_stretch=0.1)
    assert source_samples(policy, 4.0, SR) >= 4.0 * SR * 2 ** (2 / 12) * 1.1
    assert source_samples(None, 4.0, SR) == 4 * SR + 1


@pytest.fixture(scope="module")
def sine_set(tmp_path_factory):
    sys.path.insert(0, str(Path(__file__).parent))
    from helpers_data import write_track

    root = tmp_path_factory.mktemp("bset")
    entries = []
    for k in range(2):
        name = f"Track{k + 1:05d}"
        write_track(root / "data" / name, {"S00": {"program_num": 33, "n_notes": 10}}, seconds=6.0, seed=k)
        entries.append({"track": name, "stem_id": "S00", "split": "train",
                        "audio": f"{name}/stems/S00.wav", "midi": f"{name}/MIDI/S00.mid"})
    index = root / "index.json"
    index.write_text(json.dumps({"stem": "bass", "dataset_root": str(root / "data"), "entries": entries}))
    return index


def test_device_mode_gives_the_cpu_paths_labels_and_audio(sine_set):
    """Same draws either way: identical rolls and the same audio, noise included, within
    float tolerance (one renderer; the device path's rows are float32)."""
    fe = FrontEndConfig()
    policy = AugmentPolicy(role="melodic", gain_db=6.0, pitch_shift_semitones=2, time_stretch=0.1,
                           eq_db=6.0, timbre_db=9.0, stretch_prob=1.0, noise_db=-30.0, noise_prob=1.0,
                           lowpass_prob=0.5)
    kw = dict(deterministic=False, cache_audio=False, clips_per_epoch=8)
    cpu = TranscriptionDataset(sine_set, "train", fe, 2.0, None, policy, seed=5, **kw)
    dev = TranscriptionDataset(sine_set, "train", fe, 2.0, None, policy, seed=5, augment_on_device=True, **kw)
    batch = torch.utils.data.default_collate([dev[i] for i in range(8)])
    assert batch["audio"].shape == (8, source_samples(policy, 2.0, fe.sample_rate_hz))
    rendered = augment_batch(batch["audio"], batch["augment"], fe.sample_rate_hz, 2 * fe.sample_rate_hz)
    assert batch["onset"].dtype == torch.uint8  # compact labels through the loader
    batch.update(expand_rolls(batch))
    moved = lowpassed = 0
    for i in range(8):
        ref = cpu[i]
        for key in ("onset", "offset", "frame", "velocity"):
            assert torch.equal(ref[key], batch[key][i])
        a, b = ref["audio"].numpy(), rendered[i].numpy()
        assert len(a) == len(b) == 2 * fe.sample_rate_hz
        assert np.abs(a - b).max() < 1e-4 * max(1.0, float(np.abs(a).max()))
        moved += not math.isclose(float(batch["augment"][i, 2]), 1.0)
        lowpass_hz = float(batch["augment"][i, FIELDS.index("lowpass_hz")])
        if not math.isnan(lowpass_hz):  # set above the clip's highest sounding note, after the transpose
            top = int(np.flatnonzero(batch["frame"][i].numpy().any(axis=0))[-1]) + fe.min_midi
            assert 1.05 <= lowpass_hz / (440.0 * 2 ** ((top - 69) / 12)) <= 1.5
            lowpassed += 1
    assert moved  # some clips were pitch-shifted
    assert 0 < lowpassed < 8
