"""How the decoding point chosen on validation fares out of domain, under three rules of choice.

    python benchmarks/decoding_choice.py [--params params.yaml] [--stems bass,piano,...]

For each stem's shipped model (models/<stem>/best.pt) the onset x frame x frame-note grid of
params' `decoding` is swept, as `evaluate` sweeps it, over: every validation track (what `evaluate`
chooses on today), the calibration tracks alone (validation tracks of held-out sources), and the
out-of-domain and in-domain test tracks. Rules:

- `argmax`: the best pooled validation onset F1 (ties: onset+offset F1, grid order), as shipped;
- `calibration`: the same over the calibration tracks alone;
- `plateau`: the best mean validation onset F1 over a point and its grid neighbours (one step along
  each axis), so a point on a broad plateau beats a lone peak.

Prints, per stem and rule, the point chosen and the test onset F1 (pooled) it gives in and out of
domain. The `argmax` row's out-of-domain figure is `metrics/<stem>.json`'s.
"""
from __future__ import annotations

import argparse
import dataclasses
import itertools
from pathlib import Path

import numpy as np

from midi_extractor.config import load_params
from midi_extractor.evaluate.tracks import entry_info, sweep_tracks
from midi_extractor.index_io import parse_index, resolve_dataset_root, select_split
from midi_extractor.infer.engine import load_model
from midi_extractor.model import thresholds


def _sweep(entries, root, loaded, grid):
    return thresholds.sweep(sweep_tracks(entries, root, loaded, "bench"), loaded.front_end, loaded.drum_classes,
                            grid)[0]


def _plateau(results, grid) -> int:
    axes = [list(grid.onset), list(grid.frame), list(grid.frame_note)]
    place = [(axes[0].index(r["onset_threshold"]), axes[1].index(r["frame_threshold"]),
              axes[2].index(r["frame_note_threshold"])) for r in results]
    where = {at: i for i, at in enumerate(place)}

    def smoothed(i):
        near = [where[k] for k in (tuple(a + d for a, d in zip(place[i], ds))
                                   for ds in itertools.product((-1, 0, 1), repeat=3)) if k in where]
        return np.mean([results[j]["onset_f1"] for j in near])
    return max(range(len(results)), key=lambda i: (round(float(smoothed(i)), 6), results[i]["onset_f1"], -i))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--params", default="params.yaml")
    ap.add_argument("--stems", default="bass,piano,guitar,strings_ensemble,synth_lead,synth_pad_fx,other,drums,high_percs")
    args = ap.parse_args()
    params = load_params(args.params)
    print("| stem | rule | onset / frame / frame-note | validation (all) | in domain | out of domain |\n|---|---|---|---|---|---|")
    for stem in args.stems.split(","):
        index_path = Path(f"data/index/filtered_dataset_{stem}.json")
        index = parse_index(index_path)
        root = resolve_dataset_root(index_path, "data/generated", index["entries"])
        loaded = dataclasses.replace(load_model(f"models/{stem}/best.pt", runtime="torch"), saturate=params.stems[stem].saturate)
        grid = thresholds.grid_from_decoding(params.decoding, bool(loaded.drum_classes))
        val = list(select_split(index["entries"], "validation", str(index_path)))
        test = [e for e in index["entries"] if e.get("split") == "test"]
        held_out = lambda e: entry_info(e, str(index_path))[1] == "out_of_domain"  # noqa: E731
        by = {"val": _sweep(val, root, loaded, grid),
              "cal": _sweep([e for e in val if held_out(e)], root, loaded, grid),
              "ood": _sweep([e for e in test if held_out(e)], root, loaded, grid),
              "ind": _sweep([e for e in test if not held_out(e)], root, loaded, grid)}
        rules = {"argmax": by["val"].index(thresholds.choose(by["val"])),
                 "calibration": by["cal"].index(thresholds.choose(by["cal"])),
                 "plateau": _plateau(by["val"], grid)}
        for rule, i in rules.items():
            r = by["val"][i]
            point = f"{r['onset_threshold']:.2f} / {r['frame_threshold']:.2f} / {r['frame_note_threshold']}"
            print(f"| {stem} | {rule} | {point} | {r['onset_f1']:.4f} | {by['ind'][i]['onset_f1']:.4f} | {by['ood'][i]['onset_f1']:.4f} |",
                  flush=True)


if __name__ == "__main__":
    main()
