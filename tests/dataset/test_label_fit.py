"""Labels that fit their audio (issue 23 item 2): ``index_io.fit_labels`` is the one rule, and
filter-index, prepare and evaluate apply it. A stem whose MIDI runs more than 1 s past its
audio, or whose notes are implausibly dense, is dropped with a reason; ends a little past
the audio are trimmed."""
from __future__ import annotations

import json
import logging
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pretty_midi
import pytest
import soundfile as sf

from midi_extractor.dataset.filtering import filter_index_file
from midi_extractor.dataset.prepare import prepare_index
from midi_extractor.index_io import LabelFitError, fit_labels

HZ = 16000


def _stem(root: Path, track: str, seconds: float, notes: list[tuple[float, float, int]]) -> dict:
    """Write ``track/stems/S00.wav`` (a 440 Hz tone of ``seconds``) and ``track/MIDI/S00.mid``
    (``(start_s, end_s, pitch)`` each); returns its index entry."""
    (root / track / "stems").mkdir(parents=True)
    (root / track / "MIDI").mkdir(parents=True)
    t = np.arange(round(seconds * HZ)) / HZ
    sf.write(root / track / "stems/S00.wav", (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), HZ)
    pm = pretty_midi.PrettyMIDI()
    inst = pretty_midi.Instrument(program=33)
    inst.notes += [pretty_midi.Note(90, p, s, e) for s, e, p in notes]
    pm.instruments.append(inst)
    pm.write(str(root / track / "MIDI/S00.mid"))
    return {"track": track, "stem_id": "S00", "split": "train", "audio": f"{track}/stems/S00.wav",
            "midi": f"{track}/MIDI/S00.mid", "metadata": {"program_num": 33, "is_drum": False}}


@pytest.fixture(scope="module")
def index(tmp_path_factory) -> Path:
    """Four bass stems: one that fits, one whose last note ends 0.5 s past its 2 s of audio,
    one of 1 s audio whose MIDI runs to 5.7 s, one with 400 onsets in its first second."""
    base = tmp_path_factory.mktemp("fit")
    root = base / "data"
    fits = [(0.1 + 0.3 * k, 0.3 + 0.3 * k, 40 + k) for k in range(6)]
    entries = [
        _stem(root, "Good", 2.0, fits),
        _stem(root, "Tail", 2.0, fits + [(1.8, 2.5, 50)]),
        _stem(root, "Long", 1.0, [(0.1 + 0.9 * k, 0.5 + 0.9 * k, 45) for k in range(6)] + [(5.0, 5.7, 47)]),
        _stem(root, "Dense", 2.0, [(0.0025 * k, 0.0025 * k + 0.05, 40 + k % 20) for k in range(400)]),
    ]
    path = base / "dataset_bass.json"
    path.write_text(json.dumps({"stem": "bass", "dataset_root": str(root), "entries": entries}))
    return path


def test_fit_labels_trims_ends_a_little_past_and_refuses_the_rest():
    notes = np.array([[0.0, 1.0, 60, 100], [9.5, 10.4, 62, 90], [10.2, 10.6, 64, 80]])
    kept, n_trimmed = fit_labels(notes, 10.0, "x.mid")
    assert n_trimmed == 2
    assert kept.tolist() == [[0.0, 1.0, 60, 100], [9.5, 10.0, 62, 90]]
    assert notes[1, 1] == 10.4  # the input is not changed
    with pytest.raises(LabelFitError, match=r"x.mid: notes run to 11.50 s but the audio lasts 10.00 s") as err:
        fit_labels(np.array([[0.0, 11.5, 60, 100]]), 10.0, "x.mid")
    assert err.value.reason == "labels_past_audio"
    steady = np.array([[k / 60, k / 60 + 0.01, 60, 100] for k in range(600)])  # 60 a second for 10 s
    with pytest.raises(LabelFitError, match="implausible note density") as err:
        fit_labels(steady, 10.0, "x.mid")
    assert err.value.reason == "implausible_density"
    burst = np.array([[5 + k / 200, 5.1, 60, 100] for k in range(150)])  # 150 within 0.75 s of 20 s
    with pytest.raises(LabelFitError, match="150 in the densest second"):
        fit_labels(burst, 20.0, "x.mid")
    dense_enough = np.array([[k / 45, k / 45 + 0.01, 60, 100] for k in range(450)])  # 45 a second: music
    assert fit_labels(dense_enough, 10.0, "x.mid")[1] == 0


def test_filter_drops_overrunning_and_dense_labels_with_a_reason_each(index, tmp_path, capsys):
    out = filter_index_file(index, tmp_path / "filtered.json")
    assert [e["track"] for e in out["entries"]] == ["Good", "Tail"]
    assert out["dropped"] == {"labels_past_audio": 1, "implausible_density": 1}
    details = {d["track"]: (d["reason"], d["detail"]) for d in out["dropped_entries"]}
    assert details["Long"][0] == "labels_past_audio"
    assert details["Long"][1].endswith("Long/MIDI/S00.mid: notes run to 5.70 s but the audio lasts 1.00 s "
                                       "(4.70 s past its end > 1 s tolerance)")
    assert details["Dense"][0] == "implausible_density" and "400 onsets in 2.00 s" in details["Dense"][1]
    assert "dropped 2 (labels_past_audio 1, implausible_density 1)" in capsys.readouterr().out
    assert json.loads((tmp_path / "filtered.json").read_text())["dropped"] == out["dropped"]


def test_prepare_leaves_out_labels_that_do_not_fit_and_trims_a_tail(index, tmp_path, caplog):
    caplog.set_level(logging.WARNING)
    report = prepare_index(index, tmp_path / "prep", HZ)
    assert (report["prepared"], report["bad"], report["trimmed_notes"]) == (2, 2, 1)
    assert "Long/MIDI/S00.mid" in report["bad_files"]
    assert "4.70 s past its end" in report["bad_files"]["Long/MIDI/S00.mid"]
    assert "implausible note density" in report["bad_files"]["Dense/MIDI/S00.mid"]
    assert sum("Long/MIDI/S00.mid" in r.getMessage() for r in caplog.records) == 1
    entries = {e["track"]: e for e in json.loads((tmp_path / "prep/index.json").read_text())["entries"]}
    assert sorted(entries) == ["Good", "Tail"] and entries["Tail"]["trimmed_notes"] == 1
    assert "trimmed_notes" not in entries["Good"]
    tail = np.load(tmp_path / "prep" / entries["Tail"]["midi"])
    assert tail[:, 1].max() == pytest.approx(2.0)  # 2.5 s trimmed to the audio's end
    good = np.load(tmp_path / "prep" / entries["Good"]["midi"])
    want = [(0.1 + 0.3 * k, 0.3 + 0.3 * k, 40 + k) for k in range(6)]
    np.testing.assert_allclose(good[:, :3], want, atol=1e-3)  # untouched but for MIDI's tick rounding


def test_evaluate_skips_a_track_whose_labels_do_not_fit(index, caplog):
    from midi_extractor.config import FrontEndConfig
    from midi_extractor.evaluate.tracks import _load_track

    entries = {e["track"]: e for e in json.loads(index.read_text())["entries"]}
    root = Path(json.loads(index.read_text())["dataset_root"])
    loaded = SimpleNamespace(front_end=FrontEndConfig(), drum_classes=None)
    caplog.set_level(logging.WARNING)
    assert _load_track(entries["Long"], root, loaded, "IDX") is None
    assert "IDX: skipping Long/S00" in caplog.text and "4.70 s past its end" in caplog.text
    audio, ref = _load_track(entries["Tail"], root, loaded, "IDX")
    assert len(audio) == 2 * FrontEndConfig().sample_rate_hz
    assert max(n.end_s for n in ref) == pytest.approx(2.0) and len(ref) == 7
