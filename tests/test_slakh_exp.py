"""scripts/slakh_exp.py: params/slakh2100.yaml (the seed's settings, one place) becomes one
``dvc exp run`` command whose -S flags set every base and stem params.yaml lists; the merged
params load; the bases rebuild on the real data unless --keep-shipped-bases; a stage marked
frozen stops it with the stage named."""
from __future__ import annotations

import shlex
from pathlib import Path

import yaml

from helpers_data import script_module


REPO = Path(__file__).resolve().parents[1]
slakh_exp = script_module("scripts/slakh_exp.py")

SEED = {"batch_size": 64, "clip_seconds": 20.0, "lr": 2e-5, "num_workers": 7}


def _unfrozen(tmp_path: Path) -> Path:
    data = yaml.safe_load((REPO / "dvc.yaml").read_text())
    for stage in data["stages"].values():
        stage.pop("frozen", None)
    path = tmp_path / "dvc.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def _settings(command: list[str]) -> dict[str, object]:
    """The -S flags of a command, their values parsed as DVC parses them (YAML)."""
    assert command[:3] == ["dvc", "exp", "run"]
    flags = command[3:]
    assert all(f == "-S" for f in flags[0::2])
    return {k: yaml.safe_load(v) for k, v in (f.split("=", 1) for f in flags[1::2])}


def test_one_command_sets_the_seed_settings_on_every_base_and_stem(tmp_path, capsys):
    rc = slakh_exp.main(["--root", str(tmp_path), "--dvc-yaml", str(_unfrozen(tmp_path)), "--dry-run",
                         "--", "--queue", "-n", "slakh"])
    assert rc == 0
    command = shlex.split(capsys.readouterr().out)
    assert command[-3:] == ["--queue", "-n", "slakh"]
    got = _settings(command[:-3])
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    assert got["dataset.kind"] == "slakh2100" and got["dataset.root"] == str(tmp_path)
    assert got["model.size"] == "harmonic-large" and got["index.drum_split.method"] == "audio"
    assert got["dataset.bass_labels_octave_down"] == "auto"  # in params.yaml: no + needed
    for section, epochs in (("pretrain", 100), ("stems", 10)):
        for name in params[section]:
            for key, value in {**SEED, "epochs": epochs}.items():
                assert got[f"{section}.{name}.{key}"] == value, f"{section}.{name}.{key}"
    # the kit base (and so drums and high_percs) hears real Slakh's audio up to 16 kHz; the pitched base stays at 16 kHz
    assert got["pretrain.percussive.sample_rate_hz"] == 32000 and "pretrain.pitched.sample_rate_hz" not in got


def test_the_bases_rebuild_on_real_data_unless_the_shipped_ones_are_kept(tmp_path, capsys):
    """dvc.yaml as shipped freezes nothing: rebuild: auto trains the bases on the real data (no
    -S for it); --keep-shipped-bases says rebuild: false for every base."""
    assert not slakh_exp.frozen_stages(REPO / "dvc.yaml")
    assert slakh_exp.main(["--root", str(tmp_path), "--dry-run"]) == 0
    assert not any(k.endswith(".rebuild") for k in _settings(shlex.split(capsys.readouterr().out)))
    assert slakh_exp.main(["--root", str(tmp_path), "--dry-run", "--keep-shipped-bases"]) == 0
    got = _settings(shlex.split(capsys.readouterr().out))
    assert got["pretrain.pitched.rebuild"] is False and got["pretrain.percussive.rebuild"] is False


def test_a_frozen_base_stops_it_naming_the_stage(tmp_path, capsys):
    data = yaml.safe_load((REPO / "dvc.yaml").read_text())
    data["stages"]["pretrain-pitched"]["frozen"] = True
    (tmp_path / "dvc.yaml").write_text(yaml.safe_dump(data))
    assert slakh_exp.main(["--root", str(tmp_path), "--dvc-yaml", str(tmp_path / "dvc.yaml"), "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert "dvc.yaml: pretrain-pitched is frozen" in err and "--keep-shipped-bases" in err


def test_the_merged_params_are_checked_naming_the_overlay(tmp_path, capsys):
    overlay = tmp_path / "bad.yaml"
    overlay.write_text(yaml.safe_dump({"dataset": {"kind": "redux", "bass_labels_octave_down": "maybe"},
                                       "stems": {"*": {"batch_size": 64}}}))
    args = ["--overlay", str(overlay), "--dvc-yaml", str(_unfrozen(tmp_path)), "--dry-run"]
    assert slakh_exp.main(args) == 2
    assert f"{overlay} over " in capsys.readouterr().err
    overlay.write_text(yaml.safe_dump({"stems": {"*": {"batch_size": 0}}}))
    assert slakh_exp.main(args) == 2
    assert "stems.bass.batch_size must be >= 1" in capsys.readouterr().err
    overlay.write_text(yaml.safe_dump({"stems": {"cello": {"lr": 1e-4}}}))
    assert slakh_exp.main(args) == 2
    assert f"{overlay}: stems.cello is not in params.yaml's stems" in capsys.readouterr().err
    overlay.write_text(yaml.safe_dump({"index": {"drum_split": {}}}))  # -S merges: {} would change nothing
    assert slakh_exp.main(args) == 2
    assert f"{overlay}: index.drum_split: {{}} cannot clear a section" in capsys.readouterr().err


def test_a_named_entry_overrides_the_star_and_a_missing_root_is_refused(tmp_path, capsys):
    base = {"stems": {"bass": {"lr": 1e-3}, "piano": {"lr": 1e-3}}}
    overlay = {"stems": {"*": {"lr": 2e-5, "epochs": 10}, "piano": {"epochs": 3}}}
    assert slakh_exp.expand(overlay, base)["stems"] == {"bass": {"lr": 2e-5, "epochs": 10},
                                                        "piano": {"lr": 2e-5, "epochs": 3}}
    rc = slakh_exp.main(["--root", str(tmp_path / "nowhere"), "--dvc-yaml", str(_unfrozen(tmp_path))])
    assert rc == 2 and f"dataset.root {tmp_path / 'nowhere'} is not a folder" in capsys.readouterr().err
