"""Decoding settings (midi_extractor.infer.settings): overrides replace a model's values, "off"
switches its frame notes off, and settings resolved already travel as overrides unchanged."""
import pytest

from midi_extractor.config import ConfigError, DecodingConfig
from midi_extractor.infer.settings import OFF, pinned, with_overrides

MODEL = DecodingConfig(onset_threshold=0.3, frame_threshold=0.4, frame_note_threshold=0.8)


def test_overrides_replace_the_models_values_and_off_switches_frame_notes_off():
    assert with_overrides(MODEL, onset_threshold=None, frame_note_threshold=None) is MODEL
    got = with_overrides(MODEL, onset_threshold=0.2, frame_note_threshold=OFF)
    assert (got.onset_threshold, got.frame_threshold, got.frame_note_threshold) == (0.2, 0.4, None)
    with pytest.raises(ConfigError, match="frame_note_threshold"):
        with_overrides(MODEL, frame_note_threshold=1.5)


def test_resolved_settings_pinned_as_overrides_decode_as_they_are_whatever_the_model():
    """A decoding.json without frame notes (null) must not fall back to the model's 0.8; keys
    that are not settings (provenance, grid, window) are left out."""
    resolved = {"onset_threshold": 0.2, "frame_threshold": 0.5, "min_note_s": 0.05, "drum_note_s": 0.1,
                "frame_note_threshold": None, "chosen_on": "validation", "grid": [], "window_s": 10.0}
    overrides = pinned(resolved)
    assert overrides == {"onset_threshold": 0.2, "frame_threshold": 0.5, "min_note_s": 0.05, "drum_note_s": 0.1,
                         "frame_note_threshold": OFF}
    got = with_overrides(MODEL, **overrides)
    assert (got.onset_threshold, got.frame_threshold, got.frame_note_threshold) == (0.2, 0.5, None)
    assert with_overrides(MODEL, **pinned({"frame_note_threshold": 0.9})).frame_note_threshold == 0.9


def test_a_models_drive_is_read_from_its_decoding_file_and_checked(tmp_path):
    """``saturate`` in decoding.json: absent or null is 0 (off); a number from 0 to 20 is the drive;
    anything else is refused naming the file."""
    import json

    from midi_extractor.infer.settings import read_model_settings

    ckpt = tmp_path / "bass" / "best.pt"
    ckpt.parent.mkdir()
    assert read_model_settings(ckpt) == (DecodingConfig(), 0.0)       # no decoding.json
    path = ckpt.parent / "decoding.json"
    for value, drive in ((None, 0.0), (1.5, 1.5), (0, 0.0)):
        path.write_text(json.dumps({"onset_threshold": 0.3, "saturate": value}))
        assert read_model_settings(ckpt) == (DecodingConfig(onset_threshold=0.3), drive)
    path.write_text(json.dumps({"onset_threshold": 0.3}))
    assert read_model_settings(ckpt)[1] == 0.0
    for bad, said in (("1.5", "'1.5'"), (True, "True"), (-1, "-1"), (25, "25")):
        path.write_text(json.dumps({"saturate": bad}))
        with pytest.raises(ConfigError, match=f"{path}: saturate must be a number from 0 .off. to 20, got {said}$"):
            read_model_settings(ckpt)
