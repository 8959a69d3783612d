"""benchmarks/bleed.py: each test stem carries the rest of its song, other categories only, at the
signal-to-bleed ratio asked for; labels and the validation split are copied as they are."""
from pathlib import Path

import numpy as np
import soundfile as sf
import yaml

from helpers_data import script_module


SR = 16000


def _module():
    return script_module("benchmarks/bleed.py")


def _track(folder: Path, stems: dict) -> None:
    """A Slakh-format track: ``stems`` is ``{sid: (program, is_drum, samples)}``."""
    (folder / "stems").mkdir(parents=True)
    (folder / "MIDI").mkdir()
    meta = {"stems": {sid: {"program_num": p, "is_drum": d, "audio_rendered": True} for sid, (p, d, _) in stems.items()}}
    (folder / "metadata.yaml").write_text(yaml.safe_dump(meta))
    for sid, (_, _, x) in stems.items():
        sf.write(folder / "stems" / f"{sid}.flac", x, SR)
        (folder / "MIDI" / f"{sid}.mid").write_bytes(b"MThd")


def _rms(x):
    return float(np.sqrt(np.mean(np.square(x))))


def test_a_stem_gets_the_other_categories_at_the_ratio_asked_for(tmp_path):
    bl = _module()
    t = np.arange(SR) / SR
    bass = 0.5 * np.sin(2 * np.pi * 55 * t)
    bass2 = 0.2 * np.sin(2 * np.pi * 82.5 * t)   # another bass: the same category, never bleeds
    piano = 0.3 * np.sin(2 * np.pi * 440 * t)
    kit = np.zeros(SR)
    kit[::4000] = 0.8
    root = tmp_path / "data"
    _track(root / "test" / "Track00001", {"S00": (33, False, bass), "S01": (34, False, bass2),
                                          "S02": (0, False, piano), "S03": (128, True, kit)})
    _track(root / "validation" / "Track00002", {"S00": (33, False, bass)})
    bl.write(root, tmp_path / "out", sbr_db=20.0)

    track = tmp_path / "out" / "test" / "Track00001"
    got = sf.read(track / "stems" / "S00.flac")[0]
    leak = got - bass
    spectrum = np.abs(np.fft.rfft(leak))  # 1 Hz bins over one second
    assert spectrum[440] > 100 and spectrum[82:84].max() < 1      # the piano leaks in, the other bass does not
    assert abs(20 * np.log10(_rms(bass) / _rms(leak)) - 20.0) < 0.2
    drum_leak = sf.read(track / "stems" / "S03.flac")[0] - kit   # a drum stem hears every pitched stem
    assert np.abs(np.fft.rfft(drum_leak))[[55, 82, 440]].min() > 2   # 16-bit quantisation alone: about 0.005
    assert (track / "MIDI" / "S00.mid").read_bytes() == b"MThd"
    assert (tmp_path / "out" / "validation" / "Track00002" / "stems" / "S00.flac").is_file()
    assert not (tmp_path / "out" / "validation").is_symlink()   # evaluate opens nothing through a link


def test_validation_bleed_mixes_the_validation_split_too(tmp_path):
    """``--validation-bleed``: evaluate's decoding is then chosen on validation stems with their song."""
    bl = _module()
    t = np.arange(SR) / SR
    bass, piano = 0.5 * np.sin(2 * np.pi * 55 * t), 0.3 * np.sin(2 * np.pi * 440 * t)
    root = tmp_path / "data"
    for split, name in (("test", "Track00001"), ("validation", "Track00002")):
        _track(root / split / name, {"S00": (33, False, bass), "S01": (0, False, piano)})
    bl.write(root, tmp_path / "clean_val", sbr_db=10.0)
    bl.write(root, tmp_path / "bleed_val", sbr_db=10.0, validation_bleed=True)
    clean = sf.read(tmp_path / "clean_val" / "validation" / "Track00002" / "stems" / "S00.flac")[0]
    mixed = sf.read(tmp_path / "bleed_val" / "validation" / "Track00002" / "stems" / "S00.flac")[0]
    assert np.abs(clean - bass).max() < 1e-3
    assert abs(20 * np.log10(_rms(bass) / _rms(mixed - bass)) - 10.0) < 0.2
    assert (tmp_path / "bleed_val" / "validation" / "Track00002" / "MIDI" / "S00.mid").read_bytes() == b"MThd"
