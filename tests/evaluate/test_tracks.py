"""evaluate.tracks: the split an evaluation falls back to, an entry's id, domain and source, and
activations that decode to exactly the notes of the public transcription path."""
import numpy as np
import pytest

from helpers_standin import FE, Graded, sine
from midi_extractor.evaluate.tracks import entry_info, model_activations, select_entries
from midi_extractor.infer import engine


def test_split_falls_back_to_validation_then_train():
    index = {"stem": "bass", "entries": [{"split": "train", "track": "a"}, {"split": "validation", "track": "b"}]}
    assert select_entries(index, "test") == ("validation", [index["entries"][1]])
    assert select_entries(index, "train") == ("train", [index["entries"][0]])
    index["entries"].pop(1)
    import zlib

    name = next(f"T{i}" for i in range(100) if zlib.crc32(f"T{i}".encode()) % 100 >= 10)
    single = {"stem": "bass", "entries": [{"split": "train", "track": name}]}
    assert select_entries(single, "test")[0] == "train"  # one train track, not held out: all there is
    many = {"stem": "bass", "entries": [{"split": "train", "track": f"Track{i:05d}"} for i in range(40)]}
    used, chosen = select_entries(many, "test")
    assert used == "train_holdout" and 0 < len(chosen) < 40  # the trainer's own validation tracks
    with pytest.raises(ValueError, match="no entries"):
        select_entries({"stem": "bass", "entries": []}, "test")


def test_entry_info_reads_the_entry_then_its_metadata():
    assert entry_info({"track": "T1", "stem_id": "S01"}, "IDX") == ("T1/S01", "in_domain", None)
    meta = {"track": "T2", "stem_id": "S02", "metadata": {"domain": "out_of_domain", "plugin_name": "dexed"}}
    assert entry_info(meta, "IDX") == ("T2/S02", "out_of_domain", "dexed")
    own = {**meta, "domain": "in_domain", "plugin_name": "sfz"}
    assert entry_info(own, "IDX") == ("T2/S02", "in_domain", "sfz")
    with pytest.raises(ValueError, match="IDX: entry T3/S00: domain 'elsewhere' is not one of"):
        entry_info({"track": "T3", "stem_id": "S00", "domain": "elsewhere"}, "IDX")


def test_evaluate_decodes_exactly_as_transcribe_array(tmp_path):
    """The sweep decodes activations computed once; the scores use transcribe_array: same notes
    (an overdriven signal included)."""
    from midi_extractor.model.decoding import decode

    loaded = engine.LoadedModel(Graded(FE, FE.n_pitches), FE, None, "bass", None)
    audio = (4 * sine(69, 0.5, 1.2, 3.0) + sine(74, 1.5, 2.5, 3.0)).astype(np.float32)
    kwargs = dict(onset_threshold=0.3, frame_threshold=0.4, min_note_s=0.05, drum_note_s=0.1)
    via_sweep = decode(model_activations(loaded, audio), FE, None, *kwargs.values())
    assert via_sweep == engine.transcribe_array(loaded, audio, **kwargs) and len(via_sweep) == 2


def test_model_activations_hear_the_models_drive_and_context(monkeypatch):
    """evaluate runs a model as transcribe does: the signal at ``loaded.saturate``'s drive, the
    windows at the model kind's context (0.5 s pitched, 1 s drums)."""
    from types import SimpleNamespace

    import numpy as np

    from midi_extractor.config import FrontEndConfig
    from midi_extractor.evaluate.tracks import model_activations
    from midi_extractor.infer import engine

    seen = []
    monkeypatch.setattr(engine, "activations", lambda model, x, fe, **kw: seen.append((x, kw["context_s"])) or {})
    x = np.array([0.0, 0.1, -0.2, 0.4], np.float32)
    for drive, classes in ((0.0, None), (1.5, ("kick",))):
        model_activations(SimpleNamespace(model=None, front_end=FrontEndConfig(), drum_classes=classes,
                                          saturate=drive), x)
    np.testing.assert_array_equal(seen[0][0], x)
    np.testing.assert_allclose(seen[1][0], np.tanh(1.5 * x / 0.4), rtol=1e-6)
    assert [c for _, c in seen] == [0.5, 1.0]
