"""dvc.yaml stays true to the code: every library module a stage imports is one of
its deps (else a code change would not rerun it), and every data path a stage reads
or writes is on its cmd line."""
import ast
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
PKG = REPO / "midi_extractor"
# Imported only for commands the stage does not run (train-per-stem, `python -m`).
NOT_USED_BY_STAGE = {"train": {"cli", "indexing", "filtering", "slakh", "drum_split"}}


def _local_imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level >= 1:
                found |= {node.module.split(".")[0]} if node.module else {a.name for a in node.names}
            elif node.module and node.module.startswith("midi_extractor"):
                parts = node.module.split(".")
                found |= {parts[1]} if len(parts) > 1 else {a.name for a in node.names}
    return {m for m in found if (PKG / f"{m}.py").exists()}


def _closure(path: Path, skip: set[str]) -> set[str]:
    seen, todo = set(), list(_local_imports(path) - skip)
    while todo:
        module = todo.pop()
        if module not in seen:
            seen.add(module)
            todo += list(_local_imports(PKG / f"{module}.py") - skip)
    return seen


STAGES = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]


@pytest.mark.parametrize("name", list(STAGES))
def test_stage_deps_cover_the_modules_it_imports(name):
    stage = STAGES[name].get("do", STAGES[name])
    deps = set(stage["deps"])
    assert f"stages/{name}.py" in deps
    needed = _closure(REPO / "stages" / f"{name}.py", NOT_USED_BY_STAGE.get(name, set()))
    missing = sorted(f"midi_extractor/{m}.py" for m in needed if f"midi_extractor/{m}.py" not in deps)
    assert not missing, f"{name}: deps lack {missing}"
    listed = {d for d in deps if d.startswith("midi_extractor/")}
    assert all((REPO / d).is_file() for d in listed), f"{name}: a listed module does not exist"


@pytest.mark.parametrize("name", list(STAGES))
def test_every_data_path_is_on_the_cmd_line(name):
    stage = STAGES[name].get("do", STAGES[name])
    cmd = " ".join(stage["cmd"].split())
    data_deps = [d for d in stage["deps"] if not d.endswith(".py")]
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
