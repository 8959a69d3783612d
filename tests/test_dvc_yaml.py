"""dvc.yaml stays true to the code: every library module a stage imports lies inside one of
its deps (a listed subpackage folder or a listed top-level module), so a code change reruns
exactly the stages that run that code; every data path a stage reads or writes is on its cmd
line; and the subpackages keep their layering (``dataset`` never imports ``train``...)."""
import ast
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
PKG = REPO / "midi_extractor"
# Imported only by commands the stage does not run (train-per-stem, `python -m`).
NOT_USED_BY_STAGE: dict[str, set[str]] = {}
# subpackages every layer may use, as the top-level modules (config: params.yaml's sections)
FOUNDATION = {"config"}
# subpackage -> subpackages it may import (top-level modules and FOUNDATION are open to all)
LAYERS = {
    "config": set(),
    "dataset": set(),
    "synth": set(),
    "model": set(),
    "train": {"model", "dataset"},   # dataset: only train/cli.py (train-per-stem indexes and filters first)
    "infer": {"model"},
    "evaluate": {"infer", "model"},
}


def _module_file(dotted: str) -> Path | None:
    base = PKG.joinpath(*dotted.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _imports(path: Path) -> set[str]:
    """Dotted names (below ``midi_extractor``) of the package modules a file imports,
    function-level imports included."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("midi_extractor"):
            base = node.module.split(".")[1:]
            for alias in node.names:
                sub = ".".join([*base, alias.name])
                found.add(sub if _module_file(sub) and not (PKG / sub.replace(".", "/")).is_dir()
                          else ".".join(base))
        elif isinstance(node, ast.Import):
            found |= {a.name.split(".", 1)[1] for a in node.names if a.name.startswith("midi_extractor.")}
    return {m for m in found if m and _module_file(m)}


def _closure(path: Path, skip: set[str]) -> set[str]:
    seen, todo = set(), list(_imports(path) - skip)
    while todo:
        module = todo.pop()
        if module not in seen:
            seen.add(module)
            todo += list(_imports(_module_file(module)) - skip)
    return seen


def _covered(module: str, deps: set[str]) -> bool:
    parts = module.split(".")
    if len(parts) == 1 and not (PKG / module).is_dir():
        return f"midi_extractor/{module}.py" in deps
    return f"midi_extractor/{parts[0]}" in deps


STAGES = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]


@pytest.mark.parametrize("name", list(STAGES))
def test_stage_deps_cover_the_modules_it_imports(name):
    stage = STAGES[name].get("do", STAGES[name])
    deps = set(stage["deps"])
    script = name.split("-")[0]  # pretrain-pitched runs stages/pretrain.py
    assert f"stages/{script}.py" in deps
    needed = _closure(REPO / "stages" / f"{script}.py", NOT_USED_BY_STAGE.get(name, set()))
    missing = sorted(m for m in needed if not _covered(m, deps))
    assert not missing, f"{name}: deps lack {missing}"
    listed = {d for d in deps if d.startswith("midi_extractor/")}
    assert all((REPO / d).exists() for d in listed), f"{name}: a listed module does not exist"


def test_closure_finds_function_level_imports():
    needed = _closure(REPO / "stages" / "evaluate.py", set())
    assert {"infer.engine", "evaluate.scoring", "model.decoding", "audio"} <= needed


@pytest.mark.parametrize("package", list(LAYERS))
def test_subpackages_keep_their_layers(package):
    for path in (PKG / package).glob("*.py"):
        for module in _imports(path):
            head = module.split(".")[0]
            if (PKG / head).is_dir() and head != package and head not in FOUNDATION:
                assert head in LAYERS[package], f"{path.relative_to(REPO)} imports {module}"


def test_a_docstring_change_in_infer_reruns_no_training():
    train_deps = set(STAGES["train"]["do"]["deps"])
    assert "midi_extractor/infer" not in train_deps and "midi_extractor/evaluate" not in train_deps


@pytest.mark.parametrize("name", list(STAGES))
def test_every_data_path_is_on_the_cmd_line(name):
    stage = STAGES[name].get("do", STAGES[name])
    cmd = " ".join(stage["cmd"].split())
    data_deps = [d for d in stage["deps"] if not d.endswith(".py") and not d.startswith("midi_extractor/")]
    outs = [next(iter(o)) if isinstance(o, dict) else o
            for key in ("outs", "metrics", "plots") for o in stage.get(key, [])]
    for path in data_deps + outs:
        # a file either named itself or inside a folder the cmd names (--out-dir models/<stem>)
        assert path in cmd or f" {path.rsplit('/', 1)[0]} " in f"{cmd} ", f"{name}: {path} is not on its cmd line"


def test_stem_stages_depend_on_their_stem_and_role_only():
    for name in ("train",):
        params = STAGES[name]["do"]["params"]
        assert "stems.${key}" in params and "roles.${item.role}" in params
        assert "stems" not in params and "roles" not in params


def test_a_stems_data_and_model_depend_on_its_bases_rate():
    """pretrain.<base>.sample_rate_hz sets the rate a stem is prepared and trained at
    (Params.front_end), so both stages rerun when it changes; base_songs prepares at it too."""
    for name in ("prepare", "train"):
        assert "pretrain.${item.base}.sample_rate_hz" in STAGES[name]["do"]["params"], name
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    assert {f"pretrain.{b}.sample_rate_hz" for b in params["pretrain"]} <= set(STAGES["base_songs"]["params"])


def test_a_stems_model_depends_on_its_bases_n_fft():
    """pretrain.<base>.n_fft is part of the front end a stem trains with (Params.front_end);
    the prepared audio does not depend on it."""
    assert "pretrain.${item.base}.n_fft" in STAGES["train"]["do"]["params"]
    assert "pretrain.${item.base}.n_fft" not in STAGES["prepare"]["do"]["params"]


def test_each_base_depends_on_exactly_its_stems_indexes_and_its_own_songs():
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    songs = STAGES["base_songs"]
    for base, cfg in params["pretrain"].items():
        stage = STAGES[f"pretrain-{base}"]
        indexes = {d for d in stage["deps"] if d.startswith("data/")}
        assert indexes == {f"data/prepared/{s}" for s in cfg["stems"]} | {f"data/pretrain/{base}"}, base
        assert {f"pretrain.{base}.{k}" for k in ("songs", "songs_seed", "sub_bass_songs", "stems")} <= set(songs["params"])
        assert f"pretrain.{base}" in stage["params"] and f"roles.{cfg['role']}" in stage["params"]
    for stem, cfg in params["stems"].items():
        assert cfg.get("base") in params["pretrain"], f"stems.{stem}.base must name a pretrain entry"


def test_every_trained_stem_is_exported_beside_its_checkpoint():
    """export@<stem> rebuilds models/<stem>/model.onnx (+ .json) from the checkpoint train@<stem>
    writes, where transcribe looks for it."""
    from midi_extractor.infer.onnx_runtime import export_paths

    export, train = STAGES["export"], STAGES["train"]
    assert export["foreach"] == train["foreach"] == "${stems}"
    best = "models/${key}/best.pt"
    assert best in export["do"]["deps"] and best in [next(iter(o)) for o in train["do"]["outs"]]
    outs = [next(iter(o)) if isinstance(o, dict) else o for o in export["do"]["outs"]]
    assert outs == [str(p) for p in export_paths(best)]
