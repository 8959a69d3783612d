"""drum_split.py: MIDI truth, the audio heuristic on rendered kits and hats, fallbacks, params."""
from __future__ import annotations

import numpy as np
import pretty_midi
import pytest
import soundfile as sf

from helpers_data import SLAKH_SAMPLE, drum_midi, render_drums
from midi_extractor.dataset import drum_split as ds

FIXTURE = SLAKH_SAMPLE


def _drum_pm(pitches):
    pm = pretty_midi.PrettyMIDI()
    inst = pretty_midi.Instrument(0, is_drum=True)
    inst.notes += [pretty_midi.Note(100, p, i * 0.1, i * 0.1 + 0.05) for i, p in enumerate(pitches)]
    pm.instruments.append(inst)
    return pm


def test_truth_from_midi_uses_the_taxonomy_classes():
    assert ds.truth_from_midi(_drum_pm([42, 46, 49, 51, 70, 54])) == "high_percs"
    assert ds.truth_from_midi(_drum_pm([36, 38, 42, 42])) == "drums"
    assert ds.truth_from_midi(_drum_pm([42] * 9 + [36])) == "high_percs"      # exactly 90 %
    assert ds.truth_from_midi(_drum_pm([42] * 8 + [36, 38])) == "drums"       # 80 %
    assert ds.truth_from_midi(_drum_pm([])) == "drums"
    # real Slakh drum MIDI (a full kit)
    assert ds.truth_from_midi(FIXTURE / "babyslakh_16k/Track00001/MIDI/S01.mid") == "drums"
    assert ds.truth_from_midi(FIXTURE / "babyslakh_16k/Track00007/MIDI/S00.mid") == "drums"


@pytest.mark.parametrize("kind,expected", [("kit", "drums"), ("kit_bare", "drums"), ("high", "high_percs")])
def test_audio_heuristic_agrees_with_midi_on_rendered_patterns(kind, expected):
    for seed in range(100, 106):
        pm = drum_midi(kind, 4.0, seed)
        assert ds.truth_from_midi(pm) == expected
        stem, feats = ds.classify_audio(render_drums(pm, 16000, 4.0), 16000)
        assert stem == expected, (kind, seed, feats)


def test_silent_audio_falls_back_to_midi_then_default(tmp_path):
    silent = tmp_path / "S01.wav"
    sf.write(str(silent), np.zeros(16000, np.float32), 16000)
    stem, feats = ds.classify_audio(np.zeros(16000, np.float32), 16000)
    assert stem is None and feats["peak_db"] < -100
    _drum_pm([42, 46] * 10).write(str(tmp_path / "hats.mid"))
    assert ds.split_drum_stem(silent, tmp_path / "hats.mid")[:2] == ("high_percs", "midi")
    assert ds.split_drum_stem(None, None)[:2] == ("drums", "default")
    (tmp_path / "bad.flac").write_bytes(b"junk")
    assert ds.split_drum_stem(tmp_path / "bad.flac", None)[:2] == ("drums", "default")


def test_audio_decides_when_it_can(tmp_path):
    pm = drum_midi("high", 4.0, 7)
    path = tmp_path / "hats.flac"
    sf.write(str(path), render_drums(pm, 44100, 4.0), 44100)  # 44.1 kHz file: resampled for analysis
    _drum_pm([36, 38] * 10).write(str(tmp_path / "kit.mid"))  # MIDI disagrees on purpose
    stem, method, feats = ds.split_drum_stem(path, tmp_path / "kit.mid")
    assert (stem, method) == ("high_percs", "audio") and feats["low_ratio"] < 0.1
    cfg = ds.config_from_params({"method": "midi"})
    assert ds.split_drum_stem(path, tmp_path / "kit.mid", cfg)[:2] == ("drums", "midi")


def test_params_override_and_validation():
    cfg = ds.config_from_params({"low_ratio_max": "3e-01", "min_votes": 2, "method": "audio"})
    assert cfg.low_ratio_max == 0.3 and cfg.min_votes == 2.0 and cfg.centroid_min_hz == ds.DrumSplitConfig().centroid_min_hz
    with pytest.raises(ValueError, match="unknown key.*centroid_hz"):
        ds.config_from_params({"centroid_hz": 1})
    with pytest.raises(ValueError, match=r"index\.drum_split\.method must be 'audio' or 'midi'"):
        ds.config_from_params({"method": "guess"})
    feats = {"low_ratio": 0.5, "centroid_hz": 5000.0, "rolloff_hz": 8000.0, "flatness": 0.3, "transient_db": 5.0}
    assert ds.votes(feats) == 3.0  # all but the low band: not enough
    assert ds.votes(feats, ds.config_from_params({"low_ratio_max": 0.6})) == 6.0


def test_analysis_windows_spread_over_a_long_file(tmp_path):
    sr = 16000
    hats = render_drums(drum_midi("high", 6.0, 3), sr, 6.0)
    kit = render_drums(drum_midi("kit_bare", 6.0, 3), sr, 6.0)
    # a 60-s stem: a hats-only intro, then the kit
    x = np.concatenate([hats, hats] + [kit] * 8)
    path = tmp_path / "long.wav"
    sf.write(str(path), x, sr)
    cfg = ds.DrumSplitConfig(windows=3, window_s=4.0)
    assert len(ds.analysis_audio(path, cfg)) == 3 * 4 * sr
    assert ds.classify_file(path, cfg)[0] == "drums"
    short = tmp_path / "short.wav"
    sf.write(str(short), hats, sr)
    assert len(ds.analysis_audio(short, cfg)) == len(hats)  # shorter than 3 windows: read whole
