"""Out-of-domain onset F1 per pitched stem: the shipped stem models, the shared base they
fine-tune from, and the peers scored on the same files (../shared/peer/score_*.py --out JSON).

    python benchmarks/compare_peers.py --metrics metrics --base /tmp/base_metrics \
        --peer "Basic Pitch=/tmp/bp_ood.json" --peer "Harmonica medium=/tmp/harm_ood.json"

``--metrics``/``--base`` hold ``<stem>.json`` as ``evaluate`` writes it (``out_of_domain.onset_f1``);
a peer's JSON maps a stem category to ``{"onset_f1": ...}`` and ``_speed`` to its real-time factor.
Prints a Markdown table, the best figure of each row in bold, and how many stems each column leads.
"""
import argparse
import json
from pathlib import Path

PITCHED = ("bass", "piano", "guitar", "strings_ensemble", "synth_lead", "synth_pad_fx", "other")


def ours(folder: Path, stem: str) -> float | None:
    f = folder / f"{stem}.json"
    if not f.is_file():
        return None
    return json.loads(f.read_text()).get("out_of_domain", {}).get("onset_f1")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--metrics", type=Path, default=Path("metrics"))
    ap.add_argument("--base", type=Path, help="evaluate's JSON of the base on each stem")
    ap.add_argument("--peer", action="append", default=[], help="NAME=path/to/peer.json")
    a = ap.parse_args()
    columns = {"ours (stem model)": {s: ours(a.metrics, s) for s in PITCHED}}
    if a.base:
        columns["base (pitched)"] = {s: ours(a.base, s) for s in PITCHED}
    speeds = {}
    for spec in a.peer:
        name, path = spec.split("=", 1)
        data = json.loads(Path(path).read_text())
        columns[name] = {s: data.get(s, {}).get("onset_f1") for s in PITCHED}
        speeds[name] = data.get("_speed", {}).get("x_realtime")
    names = list(columns)
    print("| stem | " + " | ".join(names) + " |")
    print("|---" * (len(names) + 1) + "|")
    leads = dict.fromkeys(names, 0)
    for s in PITCHED:
        vals = [columns[n][s] for n in names]
        best = max((v for v in vals if v is not None), default=None)
        for n, v in zip(names, vals):
            leads[n] += v is not None and v == best
        cells = ["-" if v is None else (f"**{v:.3f}**" if v == best else f"{v:.3f}") for v in vals]
        print(f"| {s} | " + " | ".join(cells) + " |")
    print("| stems led (ties count for each) | " + " | ".join(str(leads[n]) for n in names) + " |")
    if speeds:
        print("\npeer speed (x real time, one CPU thread): " + ", ".join(f"{k} {v}" for k, v in speeds.items()))


if __name__ == "__main__":
    main()
