"""The suite mirrors the package: one folder per subpackage of midi_extractor, each a package (so
two folders may hold files of the same name), and no test module imports another (shared code is
in the helpers_* modules and conftest.py)."""
import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parent
PKG = TESTS.parent / "midi_extractor"


def _test_modules() -> list[Path]:
    return sorted(p for p in TESTS.rglob("test_*.py") if "fixtures" not in p.parts)


def _imported(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
    return names


def test_no_test_module_imports_another():
    offenders = {}
    for path in _test_modules():
        bad = {m for m in _imported(path) if m.split(".")[-1].startswith("test_") or m.startswith("tests")}
        if bad:
            offenders[str(path.relative_to(TESTS))] = sorted(bad)
    assert not offenders, f"test modules importing test modules (use helpers_* or conftest.py): {offenders}"


def test_each_test_folder_is_a_package_named_after_a_subpackage():
    folders = {p.parent for p in _test_modules()} - {TESTS}
    assert folders, "no test folders"
    for folder in folders:
        assert (folder / "__init__.py").is_file(), f"{folder.relative_to(TESTS)} lacks __init__.py"
        assert (PKG / folder.name / "__init__.py").is_file(), f"tests/{folder.name} mirrors no midi_extractor subpackage"
    subpackages = {p.parent.name for p in PKG.glob("*/__init__.py")}
    assert subpackages <= {f.name for f in folders}, f"subpackages without a test folder: {subpackages - {f.name for f in folders}}"
