"""Print a per-stem table of the metrics JSON files (``metrics/<stem>.json``).

``python -m midi_extractor.evaluate.report [METRICS_DIR]``: the last step of the README's
pipeline command, so a run ends with its scores on screen.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

#: (header, key path in the metrics JSON): the headline scores, then onset F1 per domain.
COLUMNS = (("onset_f1", "onset_f1"), ("in_domain", "in_domain.onset_f1"),
           ("out_of_domain", "out_of_domain.onset_f1"), ("onset_offset_f1", "onset_offset_f1"),
           ("frame_f1", "frame_f1"), ("n_tracks", "n_tracks"), ("split", "split"))


def metrics_table(metrics_dir: str | Path) -> str:
    """A fixed-width table, one row per ``<stem>.json`` in ``metrics_dir``: the
    headline scores and the onset F1 of each domain ("-" where there is none)."""
    rows = []
    for path in sorted(Path(metrics_dir).glob("*.json")):
        try:
            data = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            rows.append([path.stem, f"unreadable: {exc}"])
            continue
        rows.append([data.get("stem", path.stem), *(_fmt(_get(data, key)) for _, key in COLUMNS)])
    if not rows:
        return f"no metrics in {metrics_dir}"
    header = ["stem", *(h for h, _ in COLUMNS)]
    widths = [max(len(str(r[i])) for r in [header, *rows] if i < len(r)) for i in range(len(header))]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(r, widths)) for r in [header, *rows]]
    return "\n".join(lines)


def _get(data: dict, key: str) -> object:
    for part in key.split("."):
        data = data.get(part) if isinstance(data, dict) else None
    return data


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.3f}"
    return "-" if value is None else str(value)


if __name__ == "__main__":
    print(metrics_table(sys.argv[1] if len(sys.argv) > 1 else "metrics"))
