"""Out-of-domain onset F1 per pitched stem: the shipped stem models, the shared base they
fine-tune from, and the peers scored on the same files, every column aggregated the peers' way:
the mean over stems (one score a stem file) of each category.

    python benchmarks/compare_peers.py --metrics metrics --base benchmarks/base_metrics \
        --peer "Basic Pitch=benchmarks/peers/basic_pitch_ood32k_2026-12-05.json" \
        --peer "Harmonica medium=benchmarks/peers/harmonica_medium_ood32k_2026-12-05.jsonl"

``--metrics``/``--base`` hold ``<stem>_tracks.csv`` as ``evaluate --tracks-out`` writes it: the
out-of-domain rows' ``onset_f1`` are averaged (``evaluate``'s own ``<stem>.json`` pools the notes
instead, which weighs long stems more; ``--pooled`` prints that figure below the table). A peer is
``../shared/peer/score_*.py --out``'s JSON (a category -> ``{"onset_f1": mean, "n": stems}``) or
``peers/score_harmonica_per_stem.py``'s JSON lines (one ``{"category", "scores": [onset_f1, ...]}``
a stem). Prints a Markdown table, the best figure of each row in bold, how many stems each column
leads, and each column's stem count where it differs from ours (not the same files).

``--paired NAME=peer.jsonl`` (or ``NAME=folder`` of ``<stem>_tracks.csv``, such as ``--base``'s)
adds, per stem, ours minus that one over the tracks both scored (a peer's JSON lines name each
stem file, ``key``, as ``<stem>_tracks.csv`` does, ``track``): the mean
difference and a 95 % bootstrap interval over tracks (scipy's percentile bootstrap, seeded). An
interval that holds 0 says the ten tracks cannot tell the two apart.
"""
import argparse
import csv
import json
from pathlib import Path

import numpy as np

PITCHED = ("bass", "piano", "guitar", "strings_ensemble", "synth_lead", "synth_pad_fx", "other")


def ours(folder: Path, stem: str) -> tuple[float, int] | None:
    """``(mean out-of-domain onset F1, stems)`` from ``folder/<stem>_tracks.csv``."""
    values = list(per_track(folder, stem).values())
    return (sum(values) / len(values), len(values)) if values else None


def pooled(folder: Path, stem: str) -> tuple[float, int] | None:
    f = folder / f"{stem}.json"
    if not f.is_file():
        return None
    ood = json.loads(f.read_text()).get("out_of_domain", {})
    return (ood["onset_f1"], ood.get("n_tracks", 0)) if "onset_f1" in ood else None


def _rows(path: Path) -> list[dict]:
    """A peer's JSON lines: ``{"key", "category", "scores": [onset_f1, ...]}`` a stem file."""
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def peer(path: Path) -> dict[str, tuple[float, int]]:
    """A peer's ``{category: (mean onset F1, stems)}`` from its JSON or JSON lines."""
    if path.suffix == ".jsonl":
        per: dict[str, list[float]] = {}
        for row in _rows(path):
            per.setdefault(row["category"], []).append(row["scores"][0])
        return {c: (sum(v) / len(v), len(v)) for c, v in per.items()}
    data = json.loads(path.read_text())
    return {c: (v["onset_f1"], v.get("n", 0)) for c, v in data.items() if not c.startswith("_")}


def per_track(folder: Path, stem: str) -> dict[str, float]:
    """``{track: onset F1}`` of the out-of-domain rows of ``folder/<stem>_tracks.csv``."""
    f = folder / f"{stem}_tracks.csv"
    if not f.is_file():
        return {}
    with f.open(newline="") as fh:
        return {r["track"]: float(r["onset_f1"]) for r in csv.DictReader(fh) if r["domain"] == "out_of_domain"}


def peer_tracks(path: Path, stem: str) -> dict[str, float]:
    """``{stem file: onset F1}`` of one stem: a folder of ``<stem>_tracks.csv`` (``--base``'s kind)
    or a peer's JSON lines (``key`` and ``category`` a row)."""
    if path.is_dir():
        return per_track(path, stem)
    return {row["key"]: row["scores"][0] for row in _rows(path) if row["category"] == stem}


def paired(mine: dict[str, float], theirs: dict[str, float], seed: int = 0) -> tuple[float, float, float, int] | None:
    """``(mean of mine - theirs, low, high, tracks)`` over the tracks both scored, the interval a
    95 % percentile bootstrap over tracks; ``None`` without two common tracks."""
    from scipy.stats import bootstrap

    diffs = np.array([mine[k] - theirs[k] for k in sorted(mine.keys() & theirs.keys())])
    if len(diffs) < 2:
        return None
    if np.ptp(diffs) == 0:
        return float(diffs[0]), float(diffs[0]), float(diffs[0]), len(diffs)
    ci = bootstrap((diffs,), np.mean, confidence_level=0.95, method="percentile", n_resamples=10_000,
                   rng=np.random.default_rng(seed)).confidence_interval
    return float(diffs.mean()), float(ci.low), float(ci.high), len(diffs)


def table(columns: dict[str, dict[str, tuple[float, int] | None]]) -> list[str]:
    names = list(columns)
    lines = ["| stem | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
    leads = dict.fromkeys(names, 0)
    first = names[0]
    for s in PITCHED:
        cells_in = [columns[n].get(s) for n in names]
        best = max((round(c[0], 3) for c in cells_in if c is not None), default=None)
        cells = []
        for n, c in zip(names, cells_in):
            if c is None:
                cells.append("-")
                continue
            leads[n] += round(c[0], 3) == best
            text = f"**{c[0]:.3f}**" if round(c[0], 3) == best else f"{c[0]:.3f}"
            mine = columns[first].get(s)
            cells.append(text + (f" ({c[1]} stems)" if mine is not None and c[1] and c[1] != mine[1] else ""))
        lines.append(f"| {s} | " + " | ".join(cells) + " |")
    lines.append("| stems led (ties count for each) | " + " | ".join(str(leads[n]) for n in names) + " |")
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--metrics", type=Path, default=Path("metrics"))
    ap.add_argument("--base", type=Path, help="evaluate's --tracks-out CSVs of the base on each stem")
    ap.add_argument("--peer", action="append", default=[], help="NAME=path/to/peer.json or .jsonl")
    ap.add_argument("--pooled", action="store_true", help="also ours with the notes pooled (evaluate's figure)")
    ap.add_argument("--paired", action="append", default=[],
                    help="NAME=path: ours minus a peer's JSON lines, or a folder of <stem>_tracks.csv "
                         "(the base's), track by track, with a 95 %% interval")
    a = ap.parse_args()
    columns = {"ours (stem model)": {s: ours(a.metrics, s) for s in PITCHED}}
    if a.base:
        columns["base (pitched)"] = {s: ours(a.base, s) for s in PITCHED}
    for spec in a.peer:
        name, path = spec.split("=", 1)
        columns[name] = peer(Path(path))
    print("\n".join(table(columns)))
    if a.pooled:
        figures = {s: pooled(a.metrics, s) for s in PITCHED}
        print("\nours with the notes pooled (evaluate's figure): "
              + ", ".join(f"{s} {v[0]:.3f}" for s, v in figures.items() if v is not None))
    for spec in a.paired:
        name, path = spec.split("=", 1)
        print(f"\nours minus {name}, track by track (mean over the same tracks, 95 % bootstrap interval):")
        for s in PITCHED:
            got = paired(per_track(a.metrics, s), peer_tracks(Path(path), s))
            if got is not None:
                print(f"- {s}: {got[0]:+.3f} [{got[1]:+.3f}, {got[2]:+.3f}] ({got[3]} tracks)")


if __name__ == "__main__":
    main()
