import json

import pytest

from midi_extractor.atomic import write_json


def test_writes_json_with_newline_and_creates_the_folder(tmp_path):
    path = write_json(tmp_path / "a" / "b.json", {"x": [1, 2]}, indent=2)
    assert path.read_text() == json.dumps({"x": [1, 2]}, indent=2) + "\n"
    assert not (tmp_path / "a" / "b.json.tmp").exists()


def test_a_failed_write_leaves_the_previous_file(tmp_path):
    path = write_json(tmp_path / "s.json", {"ok": 1})
    with pytest.raises(TypeError):
        write_json(path, {"bad": object()})
    assert json.loads(path.read_text()) == {"ok": 1}
    assert write_json(path, {"p": tmp_path}, default=str).read_text().count(str(tmp_path)) == 1
