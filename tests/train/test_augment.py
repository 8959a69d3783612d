import dataclasses
from pathlib import Path
import numpy as np
import pretty_midi
import pytest

import torch

from midi_extractor.train.augment import (LOWPASS_RATIOS, TIMBRE_LOW_HZ, TIMBRE_NODES, AugmentPolicy, Draw,
                                          apply_audio, speed_and_tilt, stretch_tensor)
from midi_extractor.config import ConfigError, FrontEndConfig, load_params
from midi_extractor.config.training import AugmentConfig
from midi_extractor.model.labels import rolls_from_midi

FE = FrontEndConfig()
SR = FE.sample_rate_hz


def _peak_hz(x):
    spec = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return np.fft.rfftfreq(len(x), 1 / SR)[int(spec.argmax())]


def test_pitch_shift_moves_the_sine_and_the_label_column_together():
    pitch = 57  # A3, 220 Hz
    clip_s = 2.0
    draw = Draw(transpose=2, resample_rate=2 ** (2 / 12))
    src_s = draw.source_seconds(clip_s)
    t = np.arange(int(round(src_s * SR)) + SR) / SR
    source = (0.5 * np.sin(2 * np.pi * pretty_midi.note_number_to_hz(pitch) * t)).astype(np.float32)
    y = apply_audio(source[: int(round(src_s * SR))], draw, SR, int(clip_s * SR))
    assert y.shape == (int(clip_s * SR),)
    expected = pretty_midi.note_number_to_hz(pitch + 2)
    assert abs(_peak_hz(y[: SR]) - expected) < 2.0          # 246.9 Hz, not 220
    assert abs(12 * np.log2(_peak_hz(y[: SR]) / 220.0) - 2) < 0.05
    pm = pretty_midi.PrettyMIDI()
    inst = pretty_midi.Instrument(33)
    inst.notes.append(pretty_midi.Note(100, pitch, 0.5, 1.5))
    pm.instruments.append(inst)
    plain = rolls_from_midi(pm, FE.n_frames(len(y)), FE)
    shifted = rolls_from_midi(pm, FE.n_frames(len(y)), FE, time_scale=draw.time_scale, transpose=draw.transpose)
    assert np.flatnonzero(plain["onset"].any(axis=0)).tolist() == [pitch - FE.min_midi]
    assert np.flatnonzero(shifted["onset"].any(axis=0)).tolist() == [pitch + 2 - FE.min_midi]
    # speed change: the note at 0.5 s of source now starts at 0.5 / 2**(2/12) s
    assert np.flatnonzero(shifted["onset"].any(axis=1)).tolist() == [FE.frame_of(0.5 / draw.time_scale)]


def test_speed_change_and_stretch_lengths_and_pitch():
    x = (0.5 * np.sin(2 * np.pi * 440 * np.arange(2 * SR) / SR)).astype(np.float32)
    n_fast = round(len(x) / 1.25)
    fast = speed_and_tilt(torch.from_numpy(x), 1.25, n_fast, SR, None).numpy()
    assert len(fast) == n_fast and abs(_peak_hz(fast) - 550) < 3
    slow = stretch_tensor(torch.from_numpy(x), 0.8).numpy()
    assert len(slow) == round(len(x) / 0.8) and abs(_peak_hz(slow[1000:-1000]) - 440) < 3


def test_policies_per_role_from_params():
    params = load_params(Path(__file__).resolve().parents[2] / "params.yaml")
    rng = np.random.default_rng(0)
    melodic = AugmentPolicy.from_params(params.roles["melodic"].augment, "melodic")
    shifts = {melodic.draw(rng).transpose for _ in range(200)}
    assert shifts == set(range(-melodic.pitch_shift_semitones, melodic.pitch_shift_semitones + 1))
    perc = AugmentPolicy.from_params({**dataclasses.asdict(params.roles["percussive"].augment), "pitch_shift_semitones": 3,
                                      "time_stretch": 0.05}, "percussive")
    draws = [perc.draw(rng) for _ in range(200)]
    assert all(d.transpose == 0 and d.stretch_rate == 1.0 for d in draws)   # never pitch-shifted/vocoded
    assert all(0.95 <= d.resample_rate <= 1.05 for d in draws)              # tempo by resampling only
    assert any(d.resample_rate != 1.0 for d in draws)
    with pytest.raises(ValueError, match="unknown key"):
        AugmentPolicy.from_params({"reverb": 1}, "melodic")


def test_gain_noise_eq_keep_length_and_are_bounded():
    policy = AugmentPolicy.from_params({"gain_db": 6, "noise_db": -40, "eq_db": 6, "noise_prob": 1.0},
                                       "harmonic")
    rng = np.random.default_rng(1)
    x = (0.25 * np.sin(2 * np.pi * 300 * np.arange(SR) / SR)).astype(np.float32)
    for _ in range(20):
        d = policy.draw(rng)
        assert d.transpose == 0 and d.time_scale == 1.0
        y = apply_audio(x, d, SR, len(x))
        assert y.shape == x.shape and y.dtype == np.float32
        assert np.abs(y).max() < 0.25 * 10 ** (12 / 20) + 0.05


def _level_db(x, hz):
    """Level (dB) of the partial at ``hz`` in ``x`` (one second at SR: 1 Hz bins)."""
    return 20 * np.log10(np.abs(np.fft.rfft(x))[int(round(hz))])


def test_timbre_reweights_a_tones_harmonics_by_the_drawn_envelope():
    """A 110 Hz tone with harmonics at 110, 220, 440, 880 Hz (the nodes 2**i x 55 Hz): each
    partial comes back scaled by its node's drawn gain, so the fundamental against its octave
    moves by their difference; between nodes the gain is the dB midpoint (octave 1.5: 330 Hz)."""
    t = np.arange(SR) / SR
    partials = (110.0, 220.0, 330.0, 440.0, 880.0)
    x = sum(0.1 * np.sin(2 * np.pi * f * t) for f in partials).astype(np.float32)
    policy = AugmentPolicy.from_params({"timbre_db": 12.0}, "harmonic")
    d = policy.draw(np.random.default_rng(3))
    assert d.timbre is not None and len(d.timbre) == TIMBRE_NODES
    assert all(-12.0 <= g <= 12.0 for g in d.timbre) and max(d.timbre) - min(d.timbre) > 6.0
    assert (d.transpose, d.gain_db, d.noise_db, d.eq) == (0, 0.0, None, None)  # nothing else was asked
    y = apply_audio(x, d, SR, len(x))
    node = {110.0: 1, 220.0: 2, 440.0: 3, 880.0: 4}
    for f, i in node.items():
        assert _level_db(y, f) - _level_db(x, f) == pytest.approx(d.timbre[i], abs=0.05)
    assert _level_db(y, 330.0) - _level_db(x, 330.0) == pytest.approx(
        d.timbre[2] + np.log2(330.0 / 220.0) * (d.timbre[3] - d.timbre[2]), abs=0.05)
    assert TIMBRE_LOW_HZ == 55.0


def test_timbre_off_draws_what_it_drew_before():
    """Adding the key leaves every other choice of a clip as it was (it is drawn last; the
    loader seeds one generator per clip)."""
    keys = {"gain_db": 6, "noise_db": -40, "eq_db": 6, "pitch_shift_semitones": 2, "time_stretch": 0.1}
    plain = AugmentPolicy.from_params(keys, "melodic")
    timbred = AugmentPolicy.from_params({**keys, "timbre_db": 9.0}, "melodic")
    for seed in range(20):
        da, db = plain.draw(np.random.default_rng(seed)), timbred.draw(np.random.default_rng(seed))
        assert da.timbre is None and db.timbre is not None
        assert dataclasses.replace(db, timbre=None) == da
    with pytest.raises(ConfigError, match="timbre_db must be >= 0, got -1.0"):
        AugmentConfig(timbre_db=-1.0).check("roles.harmonic.augment")


def test_the_lowpass_leaves_the_top_note_a_sine_and_keeps_the_lower_notes_partials_below_it():
    """A clip whose highest note is A2 (110 Hz) and whose lower note is A1 (55 Hz), each with
    harmonics 1-4: the low-pass drawn for it passes 110 Hz and everything below untouched and
    removes every partial from 220 Hz up (the top note's second harmonic)."""
    t = np.arange(SR) / SR
    partials = {55.0: 0.2, 110.0: 0.2, 165.0: 0.1, 220.0: 0.1, 330.0: 0.05, 440.0: 0.05}
    x = sum(a * np.sin(2 * np.pi * f * t) for f, a in partials.items()).astype(np.float32)
    policy = AugmentPolicy.from_params({"lowpass_prob": 1.0}, "melodic")
    d = policy.draw(np.random.default_rng(0)).with_lowpass(45)
    assert LOWPASS_RATIOS[0] <= d.lowpass_ratio <= LOWPASS_RATIOS[1]
    assert d.lowpass_hz == pytest.approx(110.0 * d.lowpass_ratio)
    y = apply_audio(x, d, SR, len(x))
    for f in (55.0, 110.0):
        assert _level_db(y, f) - _level_db(x, f) == pytest.approx(0.0, abs=0.05)
    for f in (220.0, 330.0, 440.0):
        assert _level_db(y, f) - _level_db(x, f) < -60.0
    assert d.with_lowpass(None).lowpass_hz is None and d.with_lowpass(None).is_identity  # a clip with no note


def test_lowpass_off_or_percussive_draws_what_it_drew_before():
    """The low-pass is drawn last: a policy without it draws every other choice as before, and
    percussive roles never low-pass (their hits have no top note)."""
    keys = {"gain_db": 6, "noise_db": -40, "eq_db": 6, "pitch_shift_semitones": 2, "timbre_db": 9.0}
    plain = AugmentPolicy.from_params(keys, "melodic")
    lowpassed = AugmentPolicy.from_params({**keys, "lowpass_prob": 0.5}, "melodic")
    drawn = 0
    for seed in range(20):
        da, db = plain.draw(np.random.default_rng(seed)), lowpassed.draw(np.random.default_rng(seed))
        assert dataclasses.replace(db, lowpass_ratio=None) == da
        drawn += db.lowpass_ratio is not None
    assert 3 <= drawn <= 17
    assert AugmentPolicy.from_params({"lowpass_prob": 1.0}, "percussive").lowpass_prob == 0.0
    with pytest.raises(ConfigError, match="lowpass_prob must be within 0-1, got 1.5"):
        AugmentConfig(lowpass_prob=1.5).check("roles.melodic.augment")


def test_the_shipped_percussive_policy_moves_a_kits_tuning_tilt_and_envelope_with_its_hits():
    """params.yaml's roles.percussive.augment: every clip gets a speed change within 15 % (never
    a pitch shift or a vocoder), a tilt and an envelope within 9 dB; a hit at ``t`` in the source
    sounds at ``t / resample_rate`` in the clip, where its label goes (``time_scale``)."""
    params = load_params(Path(__file__).resolve().parents[2] / "params.yaml")
    policy = AugmentPolicy.from_params(params.roles["percussive"].augment, "percussive")
    rng = np.random.default_rng(5)
    draws = [policy.draw(rng) for _ in range(300)]
    rates = [d.resample_rate for d in draws]
    assert all(d.transpose == 0 and d.stretch_rate == 1.0 for d in draws)
    assert 0.85 <= min(rates) < 0.9 and 1.1 < max(rates) <= 1.15
    assert all(d.eq is not None and max(abs(d.eq[1]), abs(d.eq[2])) <= 9.0 for d in draws)
    assert all(d.timbre is not None and max(map(abs, d.timbre)) <= 9.0 for d in draws)
    d = dataclasses.replace(max(draws, key=lambda d: d.resample_rate), noise_db=None, gain_db=0.0)
    hits_s = np.array([0.25, 0.75, 1.25])
    x = np.zeros(int(round(d.source_seconds(2.0) * SR)) + 1, np.float32)
    x[(hits_s * SR).astype(int)] = 0.5
    y = apply_audio(x, d, SR, 2 * SR)
    found = np.array([np.argmax(np.abs(y[int(t * SR) - 400:int(t * SR) + 400])) + int(t * SR) - 400
                      for t in hits_s / d.time_scale]) / SR
    assert np.allclose(found, hits_s / d.time_scale, atol=0.003)


def test_bleed_is_drawn_last_within_its_range_and_checked_at_load():
    """A policy without bleed draws every other choice as before; the ratio lies in
    ``[bleed_db, bleed_db + BLEED_SPAN_DB]`` on about ``bleed_prob`` of the clips."""
    from midi_extractor.train.augment import BLEED_SPAN_DB

    keys = {"gain_db": 6, "noise_db": -40, "eq_db": 6, "pitch_shift_semitones": 2, "lowpass_prob": 0.3}
    plain = AugmentPolicy.from_params(keys, "melodic")
    bled = AugmentPolicy.from_params({**keys, "bleed_db": 10.0, "bleed_prob": 0.5}, "melodic")
    ratios = []
    for seed in range(40):
        da, db = plain.draw(np.random.default_rng(seed)), bled.draw(np.random.default_rng(seed))
        assert dataclasses.replace(db, bleed_db=None) == da
        if db.bleed_db is not None:
            ratios.append(db.bleed_db)
    assert 8 <= len(ratios) <= 32 and all(10.0 <= r <= 10.0 + BLEED_SPAN_DB for r in ratios)
    assert AugmentPolicy.from_params({"bleed_db": 5}, "percussive").bleed_db == 5.0   # kits hear songs too
    with pytest.raises(ConfigError, match="bleed_db must be >= 0 .* got -3"):
        AugmentConfig(bleed_db=-3.0).check("roles.melodic.augment")
    with pytest.raises(ConfigError, match="bleed_prob must be within 0-1, got 2"):
        AugmentConfig(bleed_db=10.0, bleed_prob=2.0).check("roles.melodic.augment")
