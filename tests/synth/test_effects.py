"""Seeded pedalboard effect chains (midi_extractor.synth.effects)."""
from __future__ import annotations

import numpy as np
import pytest

from midi_extractor.synth import effects

SR = 16000
HOP = 256
ONSETS_S = (0.25, 0.8, 1.3, 1.75)


def _bursts() -> np.ndarray:
    """Decaying 220 Hz + 660 Hz tones starting at ONSETS_S, silence before the first."""
    t = np.arange(int(2.4 * SR)) / SR
    y = np.zeros_like(t)
    for s in ONSETS_S:
        d = np.clip(t - s, 0, None)
        y += (t >= s) * np.exp(-d * 12) * (np.sin(2 * np.pi * 220 * d) + 0.5 * np.sin(2 * np.pi * 660 * d))
    return (0.8 * y / np.abs(y).max()).astype(np.float32)


def _onset_frames(y: np.ndarray) -> list[int]:
    """Frames where the log energy rises by > 6 dB over the previous frame."""
    n = len(y) // HOP
    energy = 10 * np.log10(np.mean(y[: n * HOP].reshape(n, HOP).astype(np.float64) ** 2, axis=1) + 1e-10)
    rise = np.diff(energy, prepend=energy[0])
    return [int(f) for f in np.flatnonzero(rise > 6.0)]


def _full_chain(stem: str) -> effects.Chain:
    """Every effect of a stem's menu (a chain drawn with all probabilities 1)."""
    rng = np.random.default_rng(3)
    names = [n for n, _ in effects.MENUS[effects.STEM_KIND[stem]]]
    return effects.Chain([effects._BUILD[n](rng, 1.0, SR) for n in names], names)


def test_chains_are_seeded_and_strength_zero_is_none():
    a = effects.random_chain("guitar", np.random.default_rng(5), 1.0, SR)
    b = effects.random_chain("guitar", np.random.default_rng(5), 1.0, SR)
    assert a.names == b.names
    y = _bursts()
    assert np.array_equal(effects.apply_chain(y, SR, a), effects.apply_chain(y, SR, b))
    labels = {effects.random_chain("synth_lead", np.random.default_rng(s), 1.0, SR).label for s in range(30)}
    assert len(labels) > 5 and any("delay" in x for x in labels)
    assert effects.random_chain("drums", np.random.default_rng(0), 0.0, SR).names == []
    assert effects.apply_chain(y, SR, effects.Chain([], [])) is y
    with pytest.raises(ValueError, match="0-1"):
        effects.random_chain("bass", np.random.default_rng(0), 1.5, SR)


@pytest.mark.parametrize("stem", ["drums", "bass", "piano", "guitar", "strings_ensemble", "synth_lead",
                                  "synth_pad_fx", "other"])
def test_chain_changes_audio_but_keeps_onsets(stem):
    y = _bursts()
    chain = _full_chain(stem)
    out = effects.apply_chain(y, SR, chain)
    assert out.shape == y.shape and out.dtype == np.float32 and np.isfinite(out).all()
    assert np.abs(out / np.abs(out).max() - y / np.abs(y).max()).max() > 0.05, chain.label
    # nothing before the first note (no pre-echo or look-ahead) ...
    first = int(ONSETS_S[0] * SR)
    assert np.abs(out[: first - HOP]).max() < 1e-4, chain.label
    # ... and every onset is still an energy onset within one hop
    found = _onset_frames(out)
    for s in ONSETS_S:
        frame = int(s * SR) // HOP
        assert any(abs(f - frame) <= 1 for f in found), (chain.label, s, found)


def test_a_drawn_chain_pickles_and_sounds_the_same_in_another_process():
    """A chain holds its effects' settings, not pedalboard plugins, so a worker process can apply it."""
    import pickle

    chain = _full_chain("guitar")
    copy = pickle.loads(pickle.dumps(chain))
    assert copy.names == chain.names and copy.label == "eq+highpass+distortion+compressor+chorus+delay+reverb"
    assert {e.plugin for e in copy.plugins} >= {"HighpassFilter", "Distortion", "Compressor", "Chorus", "Delay", "Reverb"}
    y = _bursts()
    assert np.array_equal(effects.apply_chain(y, SR, copy), effects.apply_chain(y, SR, chain))
    assert not np.array_equal(effects.apply_chain(y, SR, copy), y)
