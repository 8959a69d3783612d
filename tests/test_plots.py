"""DVC plots render what a user compares: in a throwaway git + DVC repository holding a copy of
dvc.yaml's plot definitions (stage plots of train/evaluate, the top-level `plots:`), the
repository's templates and tiny fake CSVs for every stem of params.yaml, `dvc plots show --json`
gives per-track scores on a nominal axis and a validation onset F1 curve per stem, and the
offline HTML page (`--html-template dvc_plots_templates/offline.html`) loads nothing from a network."""
from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest
import yaml

from helpers_data import REPO
from helpers_dvc import DVC, params_stems, plots_project, stdout_of

HISTORY = "step,loss_total,val_loss_total,val_onset_f1\n1,0.9,,\n2,0.8,0.85,0.25\n3,0.7,,\n4,0.6,0.65,0.5\n"
TRACKS = "track,n_ref_notes,onset_f1,frame_f1\nTrack00037/S01,21,0.75,0.8\nTrack00038/S03,27,0.125,0.5\n"
# Renders each spec of `dvc plots show --json` with the vega/vega-lite inlined in offline.html (node,
# headless) and counts what was drawn: line series and items of other data marks (not axes, legends).
RENDER_JS = r"""// node render.js offline.html shown.json -> {plot id: {marktype: items, "line": series}}
const fs = require('fs'), vm = require('vm');
const page = fs.readFileSync(process.argv[2], 'utf8');
const SCRIPT = /<script type="text\/javascript">\/\* (vega(?:-lite)?\.min\.js) \*\/\n([\s\S]*?)\n    <\/script>/g;
for (const m of page.matchAll(SCRIPT)) {
  vm.runInThisContext(m[2], {filename: m[1]});
}
const vega = globalThis.vega, vl = globalThis.vegaLite;
const shown = JSON.parse(fs.readFileSync(process.argv[3], 'utf8'));
function walk(node, acc) {
  if (node.marktype && node.role === 'mark') {
    if (node.marktype === 'line') acc.line = (acc.line || 0) + 1;
    else acc[node.marktype] = (acc[node.marktype] || 0) + node.items.length;
  }
  for (const item of node.items || []) for (const child of item.items || []) walk(child, acc);
}
(async () => {
  const out = {};
  for (const [id, plots] of Object.entries(shown.data)) {
    const view = new vega.View(vega.parse(vl.compile(plots[0].content).spec), {renderer: 'none'});
    await view.runAsync();
    const acc = {};
    walk(view.scenegraph().root, acc);
    out[id] = acc;
  }
  console.log(JSON.stringify(out));
})().catch(e => { console.error(e); process.exit(1); });
"""


@pytest.fixture(scope="module")
def plots_repo(tmp_path_factory):
    root = plots_project(tmp_path_factory.mktemp("plots_repo"))
    for stem in params_stems():
        (root / "models" / stem).mkdir(parents=True)
        (root / "models" / stem / "history.csv").write_text(HISTORY)
        (root / "metrics").mkdir(exist_ok=True)
        (root / "metrics" / f"{stem}_tracks.csv").write_text(TRACKS.replace("S01", stem))
    return root


@pytest.fixture(scope="module")
def shown(plots_repo):
    return json.loads(stdout_of(DVC + ["plots", "show", "--json"], plots_repo))


def test_no_plot_fails(shown):
    assert "errors" not in shown, shown.get("errors")


def test_per_track_scores_on_a_nominal_axis(shown):
    for stem in params_stems():
        (plot,) = shown["data"][f"metrics/{stem}_tracks.csv"]
        spec = plot["content"]
        y = spec["encoding"]["y"]
        assert y["field"] == "track" and y["type"] in ("nominal", "ordinal")
        assert spec["encoding"]["x"]["type"] == "quantitative"
        rows = {r["track"]: float(r["onset_f1"]) for r in spec["data"]["values"]}
        assert rows == {f"Track00037/{stem}": 0.75, "Track00038/S03": 0.125}
        assert stem in spec["title"]["text"]


def test_a_validation_curve_per_stem(shown):
    for stem in params_stems():
        (plot,) = shown["data"][f"models/{stem}/history.csv"]
        spec = plot["content"]
        text = json.dumps(spec)
        assert "val_onset_f1" in text and "<DVC_METRIC" not in text
        assert spec["encoding"]["y"]["type"] == "quantitative"
        # the template keeps validation rows only (the others have an empty val_onset_f1)
        assert any(t.get("filter", "").startswith("isValid(datum.value)") for t in spec["transform"])
        points = [(int(r["step"]), r["val_onset_f1"]) for r in spec["data"]["values"] if r["val_onset_f1"] != ""]
        assert points == [(2, "0.25"), (4, "0.5")]


def test_a_loss_chart_per_stem(shown):
    for stem in params_stems():
        (plot,) = shown["data"][f"training loss: {stem}"]
        series = {(r["filename"], r["field"]) for r in plot["content"]["data"]["values"]}
        assert series == {(f"models/{stem}/history.csv", "loss_total"), (f"models/{stem}/history.csv", "val_loss_total")}
        assert "datum.field" in json.dumps(plot["content"]["transform"])  # the template names lines by them


def test_the_offline_page_loads_nothing_from_a_network(plots_repo, tmp_path):
    template = REPO / "dvc_plots_templates" / "offline.html"
    stdout_of(DVC + ["plots", "show", "--html-template", str(template), "-o", str(tmp_path / "out")], plots_repo)
    page = (tmp_path / "out" / "index.html").read_text()
    assert not re.search(r"<script[^>]+src=", page)
    assert "cdn.jsdelivr" not in page
    assert "vegaEmbed" in page and "Track00038/S03" in page
    for lib in ("vega.min.js", "vega-lite.min.js", "vega-embed.min.js"):
        assert f"/* {lib} */" in page


def test_every_stem_of_params_has_its_loss_curves_in_dvc_yaml():
    top = {name: body for entry in yaml.safe_load((REPO / "dvc.yaml").read_text())["plots"]
           for name, body in entry.items()}
    missing = [s for s in params_stems() if top.get(f"training loss: {s}", {}).get("y") !=
               {f"models/{s}/history.csv": ["loss_total", "val_loss_total"]}]
    assert not missing, f"dvc.yaml plots: no 'training loss: <stem>' chart of models/<stem>/history.csv for {missing}"


@pytest.mark.skipif(shutil.which("node") is None, reason="node not installed")
def test_the_offline_libraries_draw_every_chart(plots_repo, shown, tmp_path):
    (tmp_path / "render.js").write_text(RENDER_JS)
    (tmp_path / "shown.json").write_text(json.dumps(shown))
    proc = subprocess.run(["node", str(tmp_path / "render.js"), str(REPO / "dvc_plots_templates" / "offline.html"),
                           str(tmp_path / "shown.json")], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    drawn = json.loads(proc.stdout)
    for stem in params_stems():
        assert drawn[f"training loss: {stem}"] == {"line": 2, "symbol": 4 + 2}  # 4 training + 2 validation points
        assert drawn[f"models/{stem}/history.csv"] == {"line": 1, "symbol": 2}  # validation rows only
        assert drawn[f"metrics/{stem}_tracks.csv"] == {"rect": 2}
