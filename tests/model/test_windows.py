"""model.windows.WindowFeed: a window's features are the whole signal's, however it arrives."""
import dataclasses
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from midi_extractor.config import FrontEndConfig
from midi_extractor.model.features import make_front_end
from midi_extractor.model.windows import WindowFeed, plan_windows

PITCHED = FrontEndConfig()                                            # 16 kHz, two STFTs, decimated low band
KIT = dataclasses.replace(PITCHED.at_rate(32000), n_fft=2048)           # the drum stems'


def _signal(seconds, rate, seed=0):
    """Noise under tones that start and stop, so every band changes across window edges."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    x = 0.05 * rng.standard_normal(len(t))
    for k, hz in enumerate((41.2, 110.0, 440.0, 3520.0)):
        x += 0.2 * np.sin(2 * np.pi * hz * t) * (np.sin(2 * np.pi * (0.3 + 0.2 * k) * t) > 0)
    return x.astype(np.float32)


def _fed(model, windows, fe, x, block):
    feed, out = WindowFeed(model, windows, fe), []
    for i in range(0, len(x), block):
        out += feed.feed(x[i:i + block])
        assert len(feed.buf) <= block + windows[0].length + 2 * feed.margin   # memory: about a window
    return out + feed.feed(None)


@pytest.mark.parametrize("fe", [PITCHED, KIT], ids=["pitched", "kit"])
def test_each_window_gets_the_whole_signals_features_in_any_blocks(fe):
    model = SimpleNamespace(features=make_front_end(fe))
    x = _signal(9.3, fe.sample_rate_hz)
    windows = plan_windows(len(x), fe, window_s=3.0, context_s=0.5)
    assert len(windows) == 5 and windows[0].start < 0
    hop, pad = fe.hop_length, -windows[0].start
    with torch.inference_mode():   # the whole signal at once, zeros before it and after it
        whole = model.features(torch.from_numpy(np.pad(x, (pad, 4 * hop)))[None])[0].numpy()
    one_block = _fed(model, windows, fe, x, len(x))
    assert [w for w, _ in one_block] == windows
    for w, feats in one_block:
        first = (w.start + pad) // hop
        assert feats.shape == (fe.n_frames(w.length), model.features.n_features)
        np.testing.assert_allclose(feats, whole[first:first + len(feats)], atol=2e-4, rtol=0)
    for block in (777, 16384):   # the same numbers however the file's blocks fall
        for (_, a), (_, b) in zip(one_block, _fed(model, windows, fe, x, block), strict=True):
            np.testing.assert_array_equal(a, b)


def test_a_frame_reads_no_further_than_its_reach():
    """Changing the signal just beyond a frame's reach leaves the frame as it was."""
    fe = PITCHED
    front_end = make_front_end(fe)
    x = _signal(3.0, fe.sample_rate_hz, seed=3)
    t, reach = 40, front_end.reach_samples
    y = x.copy()
    y[t * fe.hop_length + reach + 1:] = 0.0
    y[: t * fe.hop_length - reach - 1] = 0.0
    with torch.inference_mode():
        a, b = (front_end(torch.from_numpy(s)[None])[0, t].numpy() for s in (x, y))
    np.testing.assert_allclose(a, b, atol=1e-4, rtol=0)
    y[t * fe.hop_length + reach // 2] = 1.0   # inside the reach: it changes
    with torch.inference_mode():
        assert not np.allclose(a, front_end(torch.from_numpy(y)[None])[0, t].numpy(), atol=1e-3)
