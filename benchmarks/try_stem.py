"""One stem's fine-tune and evaluation with params overridden, outside the pipeline, in a scratch folder.

The same ``stages/train.py`` and ``stages/evaluate.py`` commands as ``train@<stem>`` and
``evaluate@<stem>`` (``dvc.yaml``), on the committed prepared data, index and base, with a copy of
``params.yaml`` in which each ``key=value`` is set (values read as YAML, ``2e-3`` as a number).
``dvc exp run -S stems.piano.lr=2e-3`` does the same inside the pipeline; this leaves the
workspace and its shipped models alone, so variants can be tried one after another::

    python benchmarks/try_stem.py /tmp/try/piano_lr2e-3 piano stems.piano.lr=2e-3

It prints the validation score that picks the checkpoint, the validation score at the decoding
``evaluate`` chose, and the out-of-domain onset F1 pooled and averaged over tracks.
"""
import argparse
import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
from slakh_exp import present, with_leaves  # noqa: E402  (the one home of dotted params keys)


def _value(text: str):
    value = yaml.safe_load(text)
    if isinstance(value, str):   # PyYAML reads 2e-3 (no dot) as a string
        try:
            return float(value)
        except ValueError:
            pass
    return value


def overridden(params: dict, items: list[str]) -> dict:
    """A copy of ``params`` with every ``dotted.key=value`` of ``items`` set; a key that
    ``params`` does not hold is an error (``ValueError`` naming it), as a typo must not pass."""
    pairs = []
    for item in items:
        key, sep, text = item.partition("=")
        if not sep:
            raise ValueError(f"{item!r}: expected key=value")
        if not present(params, key):
            raise ValueError(f"{key}: no such key in params.yaml")
        pairs.append((key, _value(text)))
    return with_leaves(params, pairs)


def figures(out: Path) -> str:
    """The line this script prints, from ``out``'s summary, metrics and per-track CSV."""
    summary = json.loads((out / "model" / "summary.json").read_text())
    metrics = json.loads((out / "metrics.json").read_text())
    with open(out / "tracks.csv", newline="") as f:
        ood = [float(r["onset_f1"]) for r in csv.DictReader(f) if r["domain"] == "out_of_domain"]
    mean = f"{sum(ood) / len(ood):.4f}" if ood else "-"
    return (f"{out}: validation {summary['best_metric']} (step {summary['best_step']}, blend "
            f"{summary.get('base_blend')}), at the chosen decoding {metrics['decoding']['validation_onset_f1']}; "
            f"out of domain pooled {metrics['onset_f1']}, mean over {len(ood)} tracks {mean}")


def run(out: Path, stem: str, items: list[str]) -> str:
    out.mkdir(parents=True, exist_ok=True)
    params = overridden(yaml.safe_load(Path("params.yaml").read_text()), items)
    (out / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    p, base = str(out / "params.yaml"), params["stems"][stem]["base"]
    env = {**os.environ, "MIDI_EXTRACTOR_TRACKING": "0"}
    train = [sys.executable, "stages/train.py", "--params", p, "--stem", stem, "--index",
             f"data/prepared/{stem}/index.json", "--out-dir", str(out / "model"), "--init-from", f"bases/{base}.pt"]
    evaluate = [sys.executable, "stages/evaluate.py", "--params", p, "--stem", stem, "--index",
                f"data/index/filtered_dataset_{stem}.json", "--data", params["dataset"]["root"],
                "--model", str(out / "model" / "best.pt"), "--summary", str(out / "model" / "summary.json"),
                "--split", "test", "--decoding-out", str(out / "model" / "decoding.json"),
                "--out", str(out / "metrics.json"), "--tracks-out", str(out / "tracks.csv"),
                "--plots-dir", str(out / "plots")]
    for name, cmd in (("train", train), ("evaluate", evaluate)):
        with open(out / f"{name}.log", "w") as log:
            if subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, env=env).returncode:
                raise SystemExit(f"{name} failed: see {out / f'{name}.log'}")
    return figures(out)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("out", type=Path, help="scratch folder (params, model, metrics, logs)")
    p.add_argument("stem")
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE")
    a = p.parse_args()
    try:
        print(run(a.out, a.stem, a.overrides))
    except ValueError as exc:   # an override params.yaml cannot take, named
        p.error(str(exc))


if __name__ == "__main__":
    main()
