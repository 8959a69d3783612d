"""The README's MLflow link, checked in a real browser: a baseline and an experiment side by side.

Builds a throwaway SQLite store with two training runs per stem (a baseline at one learning rate,
an experiment ``lr-3e-5`` at another; opened as ``train/loop.py`` opens them) and their evaluations
(``evaluate/mlflow_log.log_evaluation``, which writes ``eval.*`` onto the training run and saves
the runs-table view), starts ``mlflow ui`` on it, opens
``#/experiments/<id>/runs?viewStateShareKey=onset-f1`` in headless Chromium and checks that the
rendered table shows the view's columns and every training run, then writes a screenshot.

    python benchmarks/mlflow_view.py --out /tmp/mlflow_view.png      # needs chromium and mlflow

Exit 0 when every expected header and run name is in the page, 1 otherwise (what is missing is
printed), 2 when chromium or the UI is not there.
"""
from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

STEMS = ("bass", "piano")
RUNS = (("", 3e-4, 0.91, 0.78), ("lr-3e-5", 3e-5, 0.93, 0.81))  # (DVC_EXP_NAME, lr, in-domain F1, out)
HEADERS = ("eval.out_of_domain.onset_f1", "eval.in_domain.onset_f1", "train.lr", "dvc_exp")


def _metrics(stem: str, f1_in: float, f1_out: float) -> dict:
    block = lambda f1: {"n_tracks": 10, "onset_f1": f1, "onset_offset_f1": f1 - 0.2,  # noqa: E731
                        "frame_f1": f1 - 0.1, "ci95": {"onset_f1": [f1 - 0.05, f1 + 0.03]}}
    return {"stem": stem, "split": "test", "domain": "out_of_domain", "onset_f1": f1_out,
            "onset_offset_f1": f1_out - 0.2, "frame_f1": f1_out - 0.1, "n_tracks": 20, "n_skipped": 0,
            "decoding": {"onset_threshold": 0.4, "frame_threshold": 0.3, "chosen_on": "validation",
                         "validation_onset_f1": f1_in},
            "in_domain": block(f1_in), "out_of_domain": block(f1_out)}


def build_store(root: Path) -> list[str]:
    """The runs (module docstring); returns the training runs' names."""
    from midi_extractor import tracking
    from midi_extractor.evaluate.mlflow_log import log_evaluation

    names = []
    for exp, lr, f1_in, f1_out in RUNS:
        os.environ.pop("DVC_EXP_NAME", None)
        if exp:
            os.environ["DVC_EXP_NAME"] = exp
        for stem in STEMS:
            run = tracking.start_run("midi-extractor", f"train-{stem}", {"stem": stem, "role": "melodic"})
            run.log_params({"stem": stem, "train": {"lr": lr, "epochs": 4}})
            for step in (100, 200):
                run.log_metrics({"loss_total": 1 / step, "val_onset_f1": f1_in - 0.1 + step / 2000}, step)
            run.end()
            decoding = _metrics(stem, f1_in, f1_out)["decoding"]
            log_evaluation(stem, _metrics(stem, f1_in, f1_out), decoding, [], experiment="midi-extractor",
                           training_run_id=run.run_id, role="melodic")
            names.append(run.client.get_run(run.run_id).info.run_name)
    return names


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(url: str, timeout_s: float) -> bool:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        try:
            urllib.request.urlopen(url, timeout=2).close()
            return True
        except OSError:
            time.sleep(1)
    return False


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="mlflow_view.png", help="screenshot path (PNG)")
    ap.add_argument("--timeout-s", type=float, default=120.0, help="how long the UI may take to start")
    args = ap.parse_args(argv)
    browser = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if browser is None:
        print("mlflow_view: no chromium on PATH", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        os.environ.update(DVC_ROOT=str(root), MLFLOW_TRACKING_URI=f"sqlite:///{root / 'mlflow.db'}")
        names = build_store(root)
        port = _free_port()
        ui = subprocess.Popen([sys.executable, "-m", "mlflow", "ui", "--backend-store-uri",
                               f"sqlite:///{root / 'mlflow.db'}", "--port", str(port)], cwd=root,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            if not _wait(f"http://127.0.0.1:{port}/health", args.timeout_s):
                print(f"mlflow_view: mlflow ui did not answer on port {port}", file=sys.stderr)
                return 2
            url = f"http://127.0.0.1:{port}/#/experiments/1/runs?viewStateShareKey=onset-f1"
            common = [browser, "--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                      "--window-size=1600,900", "--virtual-time-budget=20000"]
            dom = subprocess.run([*common, "--dump-dom", url], capture_output=True, text=True, timeout=180).stdout
            subprocess.run([*common, f"--screenshot={Path(args.out).resolve()}", url], capture_output=True,
                           timeout=180)
        finally:
            ui.terminate()
            ui.wait(30)
    missing = [h for h in (*HEADERS, *names) if h not in dom]
    print(f"mlflow_view: {url}\n  runs {names}\n  screenshot {args.out}")
    if missing:
        print(f"  missing from the rendered page: {missing}")
        return 1
    print("  every column and run is shown")
    return 0


if __name__ == "__main__":
    sys.exit(main())
