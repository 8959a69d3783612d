"""Shared test set-up.

The tests folder is on ``sys.path`` (whatever the working directory pytest runs from), so every
test imports its helpers as plain modules; no test module imports another:

* ``helpers_data``: paths (REPO, FIXTURES, SLAKH_SAMPLE) and hand-made Slakh-format tracks;
* ``helpers_training``: tiny training params (TINY_FE, TINY_MODEL, tiny_params, tiny_params_yaml)
  and a tiny sine data set with its index (write_sine_set);
* ``helpers_models``: tiny untrained checkpoints (tiny_models, checkpoint_saying) and a noisy file;
* ``helpers_standin``: a stand-in transcriber (StandIn, Graded), sines, click tracks and tiny
  evaluation sets (eval_index, PITCHED);
* ``helpers_dvc``: a throwaway git + DVC project.

Fixtures here: ``sine_index`` (tiny tracks, one per module), ``reference_run`` (a tiny model
trained on them, once per module: its folder and summary), ``standin`` (models/<stem>/best.pt
loading stand-ins), ``tiny_models_template`` and ``models`` (a tiny real model with a
decoding.json, fresh per test).
"""
import json
import shutil
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
if str(TESTS) not in sys.path:
    sys.path.insert(0, str(TESTS))


@pytest.fixture(scope="module")
def sine_index(tmp_path_factory):
    """A contract-1 index of three 3 s sine-bass tracks at 8 kHz (the last one validation)."""
    from helpers_training import write_sine_set

    return write_sine_set(tmp_path_factory.mktemp("sines"))


@pytest.fixture(scope="module")
def reference_run(sine_index, tmp_path_factory):
    """``(out_dir, summary)`` of one uninterrupted tiny training run on ``sine_index`` (2 epochs x 3
    steps, validation every 2; tracking off): a trained model for the tests of a module."""
    import os

    from helpers_training import tiny_params
    from midi_extractor.train.run import train

    out = tmp_path_factory.mktemp("ref") / "models" / "bass"
    old = os.environ.get("MIDI_EXTRACTOR_TRACKING")
    os.environ["MIDI_EXTRACTOR_TRACKING"] = "0"
    try:
        return out, train(sine_index, "bass", out, tiny_params(), log_every=1, progress=False)
    finally:
        if old is None:
            os.environ.pop("MIDI_EXTRACTOR_TRACKING")
        else:
            os.environ["MIDI_EXTRACTOR_TRACKING"] = old


@pytest.fixture
def standin(monkeypatch, tmp_path):
    """models/<stem>/best.pt as empty files (bass, piano, drums, other), load_model returning stand-ins."""
    from helpers_standin import FE, StandIn
    from midi_extractor import taxonomy as tx
    from midi_extractor.infer import engine
    from midi_extractor.infer.engine import LoadedModel

    def fake_load(path, device=None):
        stem = path.parent.name
        classes = tx.STEM_DRUM_CLASSES.get(stem)
        return LoadedModel(StandIn(FE, len(classes) if classes else FE.n_pitches, bool(classes)), FE,
                           classes, stem, path)

    monkeypatch.setattr(engine, "load_model", fake_load)
    models = tmp_path / "models"
    for stem in ("bass", "piano", "drums", "other"):
        (models / stem).mkdir(parents=True)
        (models / stem / "best.pt").write_bytes(b"")
    return models


@pytest.fixture(scope="module")
def tiny_models_template(tmp_path_factory):
    """``<tmp>/models/bass/best.pt``: one tiny randomly initialised model, made once per module."""
    from helpers_models import tiny_models

    return tiny_models(tmp_path_factory.mktemp("template") / "models")


@pytest.fixture
def models(tmp_path, tiny_models_template):
    """A fresh copy of the tiny model with helpers_models.DECODING in its decoding.json."""
    from helpers_models import DECODING
    from midi_extractor.infer import engine

    engine.clear_model_cache()
    root = Path(shutil.copytree(tiny_models_template, tmp_path / "models"))
    (root / "bass" / "decoding.json").write_text(json.dumps(DECODING))
    yield root
    engine.clear_model_cache()
