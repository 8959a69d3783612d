"""Issue 24 item 6: what a DAW gets from `transcribe`: each stem's track on a GM program chosen
from the stem's name (taxonomy.STEM_PROGRAMS), overridable with --program; a vocals stem says in
one line that there is no model and how to get one; MIDI_EXTRACTOR_MODELS as the default models
folder."""
import pretty_midi
import pytest
import soundfile as sf

from helpers_standin import SR, sine
from midi_extractor import taxonomy as tx
from midi_extractor.cli import main
from midi_extractor.midi_io import program_overrides


def _song(tmp_path):
    folder = tmp_path / "song"
    folder.mkdir()
    sf.write(folder / "bass.wav", sine(45, 0.5, 1.0, 2.0), SR)
    sf.write(folder / "guitar.wav", sine(64, 0.1, 0.5, 2.0), SR)  # no guitar model: falls back to piano
    sf.write(folder / "other.wav", sine(72, 0.2, 0.6, 2.0), SR)
    sf.write(folder / "drums.wav", sine(60, 1.0, 1.05, 2.0, amp=0.9), SR)
    sf.write(folder / "vocals.wav", sine(70, 0.1, 0.5, 2.0), SR)
    return folder


def _programs(path):
    return {i.name: (i.program, i.is_drum) for i in pretty_midi.PrettyMIDI(str(path)).instruments}


def test_each_stem_gets_the_program_its_name_says(standin, tmp_path, capsys):
    assert main(["transcribe", str(_song(tmp_path)), "--models-dir", str(standin), "-o", str(tmp_path / "a.mid")]) == 0
    assert _programs(tmp_path / "a.mid") == {"bass": (33, False), "guitar": (27, False), "other": (0, False),
                                             "drums": (0, True)}
    names = {s: pretty_midi.program_to_instrument_name(tx.default_program(s)) for s in ("bass", "guitar", "synth_lead")}
    assert names == {"bass": "Electric Bass (finger)", "guitar": "Electric Guitar (clean)",
                     "synth_lead": "Lead 2 (sawtooth)"}
    err = capsys.readouterr().err
    (vocals,) = [line for line in err.splitlines() if "vocals.wav" in line]
    assert "no vocals model is trained yet" in vocals and "models/vocals/best.pt" in vocals
    assert "Basic Pitch" in vocals and "stems:" in vocals  # how to get one, on the same line


def test_program_flag_overrides_by_number_or_name(standin, tmp_path, capsys):
    rc = main(["transcribe", str(_song(tmp_path)), "--models-dir", str(standin), "-o", str(tmp_path / "b.mid"),
               "--program", "guitar=25", "--program", "other=Electric Piano 1"])
    assert rc == 0
    got = _programs(tmp_path / "b.mid")
    assert got["guitar"] == (25, False) and got["other"] == (4, False) and got["bass"] == (33, False)
    one = tmp_path / "bass.wav"
    sf.write(one, sine(45, 0.5, 1.0, 2.0), SR)
    assert main(["transcribe", str(one), "--models-dir", str(standin), "-o", str(tmp_path / "c.mid"),
                 "--program", "bass=34"]) == 0
    assert _programs(tmp_path / "c.mid") == {"bass": (34, False)}


@pytest.mark.parametrize("item, message", [
    ("guitar", "--program 'guitar': expected STEM=PROGRAM"),
    ("xyz=1", "'xyz' is not a stem name"),
    ("guitar=128", "'128' is neither a GM program 0-127 nor a GM instrument name"),
    ("drums=3", "drums is written on the drum channel"),
])
def test_a_bad_program_is_one_line_rc_2_before_any_work(standin, tmp_path, capsys, item, message):
    rc = main(["transcribe", str(_song(tmp_path)), "--models-dir", str(standin), "-o", str(tmp_path / "d.mid"),
               "--program", item])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and err.splitlines() == [f"transcribe: {err.split('transcribe: ', 1)[1]}"] and message in err
    assert not (tmp_path / "d.mid").exists()


def test_program_overrides_take_aliases():
    assert program_overrides(["keys=4", "Electric Guitar (jazz)=Overdriven Guitar"]) == {"piano": 4, "guitar": 29}


def test_models_dir_defaults_to_the_environment_variable(standin, tmp_path, monkeypatch, capsys):
    one = tmp_path / "bass.wav"
    sf.write(one, sine(45, 0.5, 1.0, 2.0), SR)
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")  # no ./models here
    monkeypatch.setenv("MIDI_EXTRACTOR_MODELS", str(standin))
    assert main(["transcribe", str(one), "-o", str(tmp_path / "e.mid")]) == 0
    assert _programs(tmp_path / "e.mid") == {"bass": (33, False)}
    monkeypatch.setenv("MIDI_EXTRACTOR_MODELS", str(tmp_path / "nowhere"))
    assert main(["transcribe", str(one), "-o", str(tmp_path / "f.mid")]) == 1
    assert str(tmp_path / "nowhere") in capsys.readouterr().err
    assert main(["transcribe", str(one), "--models-dir", str(standin), "-o", str(tmp_path / "f.mid")]) == 0
