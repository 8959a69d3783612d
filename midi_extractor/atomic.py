"""Write files so a crash never leaves a half-written one: a temporary file beside
the target, then ``os.replace`` (atomic on POSIX and Windows)."""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Callable


def write_json(path: str | Path, data: Any, *, indent: int = 1,
               default: Callable[[Any], Any] | None = None) -> Path:
    """Write ``data`` as JSON (plus a final newline) to ``path`` atomically,
    creating the parent folder; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=indent, default=default) + "\n")
    os.replace(tmp, path)
    return path
