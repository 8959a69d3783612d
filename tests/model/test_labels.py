import numpy as np
import pretty_midi
import pytest

from midi_extractor import taxonomy as tx
from midi_extractor.config import FrontEndConfig
from midi_extractor.model.labels import MidiError, load_notes, rolls_from_midi

FE = FrontEndConfig()  # 16 kHz, hop 512: 32 ms frames
HOP = FE.hop_s


def _pm(notes, is_drum=False):
    pm = pretty_midi.PrettyMIDI()
    inst = pretty_midi.Instrument(0, is_drum=is_drum)
    inst.notes = [pretty_midi.Note(v, p, s, e) for p, s, e, v in notes]
    pm.instruments.append(inst)
    return pm


def test_pitched_rolls_exact_frames(tmp_path):
    pm = _pm([(60, 10 * HOP, 20 * HOP, 127),          # frames 10..19, offset at 20
              (64, 5.4 * HOP, 5.6 * HOP, 64),          # shorter than a frame: onset 5 -> frame 5, offset 6
              (20, 1 * HOP, 3 * HOP, 100),             # below A0: ignored
              (109, 1 * HOP, 3 * HOP, 100),            # above C8: ignored
              (21, 28 * HOP, 40 * HOP, 100)])          # runs past the end: no offset
    path = tmp_path / "a.mid"
    pm.write(str(path))
    r = rolls_from_midi(path, 30, FE)
    assert set(r) == {"onset", "offset", "frame", "velocity"}
    assert all(v.shape == (30, 88) and v.dtype == np.float32 for v in r.values())
    c60, c64, c21 = 60 - 21, 64 - 21, 0
    assert np.flatnonzero(r["onset"][:, c60]).tolist() == [10]
    assert np.flatnonzero(r["frame"][:, c60]).tolist() == list(range(10, 20))
    assert np.flatnonzero(r["offset"][:, c60]).tolist() == [20]
    assert r["velocity"][10, c60] == pytest.approx(1.0) and r["velocity"][11, c60] == 0
    assert np.flatnonzero(r["onset"][:, c64]).tolist() == [5]
    assert np.flatnonzero(r["frame"][:, c64]).tolist() == [5]
    assert np.flatnonzero(r["offset"][:, c64]).tolist() == [6]
    assert r["velocity"][5, c64] == pytest.approx(64 / 127)
    assert np.flatnonzero(r["frame"][:, c21]).tolist() == [28, 29]
    assert not r["offset"][:, c21].any()
    assert r["onset"].sum() == 3  # the two out-of-range notes left nothing
    # same from a PrettyMIDI object and from a note array
    for src in (pm, load_notes(pm)):
        assert all(np.array_equal(rolls_from_midi(src, 30, FE)[k], r[k]) for k in r)


def test_start_offset_for_clips():
    pm = _pm([(60, 10 * HOP, 20 * HOP, 100)])
    r = rolls_from_midi(pm, 30, FE, start_s=15 * HOP)  # clip starts inside the note
    c = 60 - 21
    assert not r["onset"].any()
    assert np.flatnonzero(r["frame"][:, c]).tolist() == [0, 1, 2, 3, 4]
    assert np.flatnonzero(r["offset"][:, c]).tolist() == [5]
    r = rolls_from_midi(pm, 30, FE, start_s=4 * HOP)
    assert np.flatnonzero(r["onset"][:, c]).tolist() == [6]


def test_time_scale_and_transpose():
    pm = _pm([(60, 20 * HOP, 30 * HOP, 100)])
    r = rolls_from_midi(pm, 40, FE, time_scale=2.0, transpose=2)
    assert np.flatnonzero(r["onset"][:, 62 - 21]).tolist() == [10]
    assert np.flatnonzero(r["frame"][:, 62 - 21]).tolist() == list(range(10, 15))


def test_drum_rolls_by_class():
    classes = tx.STEM_DRUM_CLASSES["drums"]  # kick, snare, toms, other_perc
    pm = _pm([(36, 2 * HOP, 3 * HOP, 127), (35, 2 * HOP, 2.2 * HOP, 50),   # two kicks on one frame
              (38, 4 * HOP, 9 * HOP, 90), (45, 6 * HOP, 7 * HOP, 100),
              (42, 8 * HOP, 9 * HOP, 100)], is_drum=True)                 # hi-hat: not this stem's class
    r = rolls_from_midi(pm, 12, FE, drum_classes=classes)
    assert r["onset"].shape == (12, 4)
    kick, snare, toms = classes.index("kick"), classes.index("snare"), classes.index("toms")
    assert np.argwhere(r["onset"]).tolist() == [[2, kick], [4, snare], [6, toms]]
    assert np.array_equal(r["frame"], r["onset"])  # hits are one frame long
    assert np.argwhere(r["offset"]).tolist() == [[3, kick], [5, snare], [7, toms]]
    assert r["velocity"][2, kick] == pytest.approx(1.0)  # loudest of the two kicks
    assert r["velocity"][4, snare] == pytest.approx(90 / 127)
    high = rolls_from_midi(pm, 12, FE, drum_classes=tx.STEM_DRUM_CLASSES["high_percs"])
    assert np.argwhere(high["onset"]).tolist() == [[8, 0]]  # the hi-hat


def test_bad_midi_names_the_file(tmp_path):
    bad = tmp_path / "bad.mid"
    bad.write_bytes(b"MThd\x00\x00")
    with pytest.raises(MidiError, match="bad.mid"):
        rolls_from_midi(bad, 10, FE)


def test_empty_midi():
    r = rolls_from_midi(pretty_midi.PrettyMIDI(), 7, FE)
    assert r["frame"].shape == (7, 88) and not any(v.any() for v in r.values())
