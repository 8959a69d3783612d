"""routing: names -> checkpoints, fallbacks, the vocals slot."""
import logging

import pytest

from midi_extractor import taxonomy as tx
from midi_extractor.infer.routing import NoModelError, resolve_model, resolve_models_dir, trained_stems


def models(tmp_path, *stems):
    for stem in stems:
        (tmp_path / stem).mkdir(parents=True, exist_ok=True)
        (tmp_path / stem / "best.pt").write_bytes(b"")
    return tmp_path


@pytest.mark.parametrize("stem", tx.TRAINABLE_STEMS)
def test_every_stem_walks_its_fallback_order(tmp_path, stem):
    order = tx.fallback_order(stem)
    for i, expected in enumerate(order):
        d = tmp_path / f"case{i}"
        models(d, *order[i:])  # everything before `expected` is missing
        route = resolve_model(stem, d)
        assert route.used_stem == expected and route.stem == stem
        assert route.checkpoint == d / expected / "best.pt"
        assert route.is_fallback == (i > 0)
        if i:
            assert "falling back" in route.reason and stem in route.reason
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(NoModelError, match=stem):
        resolve_model(stem, empty)


def test_percussive_stems_never_fall_back_to_a_pitched_model(tmp_path):
    d = models(tmp_path, "other", "piano")
    with pytest.raises(NoModelError):
        resolve_model("hi-hat", d)
    assert resolve_model("hi-hat", models(tmp_path, "drums")).used_stem == "drums"


@pytest.mark.parametrize("name,stem", [("Electric Bass (finger)", "bass"), ("keys", "piano"), ("hi-hat", "high_percs"),
                                       (33, "bass"), ("0", "piano"), ("Drums", "drums"), ("Trumpet", "other")])
def test_names_and_programs_resolve(tmp_path, name, stem):
    d = models(tmp_path, *tx.TRAINABLE_STEMS)
    route = resolve_model(name, d)
    assert (route.stem, route.used_stem, route.is_fallback) == (stem, stem, False)


def test_fallback_is_logged(tmp_path, caplog):
    d = models(tmp_path, "other")
    with caplog.at_level(logging.WARNING, logger="midi_extractor.infer.routing"):
        route = resolve_model("guitar", d)
    assert route.used_stem == "other"
    assert "no model for stem 'guitar'" in caplog.text and "'other'" in caplog.text


def test_vocals_slot_says_no_model_then_picks_one_up(tmp_path):
    d = models(tmp_path, *tx.TRAINABLE_STEMS)  # every other model exists: still no fallback
    with pytest.raises(NoModelError, match="no vocals model is trained yet"):
        resolve_model("vocals", d)
    with pytest.raises(NoModelError, match="no vocals model is trained yet"):
        resolve_model("vox", d)
    models(d, "vocals")
    route = resolve_model("vocals", d)
    assert route.used_stem == "vocals" and not route.is_fallback
    assert "vocals" in trained_stems(d)


def test_unknown_name_is_a_key_error(tmp_path):
    with pytest.raises(KeyError, match="kazoo"):
        resolve_model("kazoo", tmp_path)


def test_the_models_folder_is_the_one_given_else_the_environment_variable_else_models(tmp_path, monkeypatch):
    monkeypatch.delenv("MIDI_EXTRACTOR_MODELS", raising=False)
    assert resolve_models_dir() == "models" and resolve_models_dir("") == "models"
    monkeypatch.setenv("MIDI_EXTRACTOR_MODELS", "  ")
    assert resolve_models_dir(None) == "models"  # blank counts as unset
    monkeypatch.setenv("MIDI_EXTRACTOR_MODELS", f" {tmp_path} ")
    assert resolve_models_dir() == str(tmp_path) and resolve_models_dir("") == str(tmp_path)
    assert resolve_models_dir(tmp_path / "mine") == tmp_path / "mine" and resolve_models_dir("m") == "m"
