"""Issue 24 item 4: charts that tell the truth, on the specs `dvc plots show --json` fills from
dvc.yaml's plot definitions and .dvc/plots/ (in a throwaway repository with tiny CSVs), drawn by
the vega / vega-lite inlined in dvc_plots_templates/offline.html: validation onset F1 on a fixed
0-1 axis (a constant 0.32 is drawn at 0.32, not as a collapsed line at the bottom), one loss chart
per stem with its two series and an axis from 0, per-track bars coloured by domain."""
from __future__ import annotations

import json
import shutil
import subprocess

import pytest
import yaml

from helpers_data import REPO
from helpers_dvc import DVC, params_stems, plots_project, stdout_of

# a constant validation score (0.32 twice) and a loss that barely moves (0.3665 -> 0.3680)
HISTORY = ("step,loss_total,val_loss_total,val_onset_f1\n10,0.3665,,\n20,0.3670,0.40,0.32\n30,0.3675,,\n"
           "40,0.3680,0.41,0.32\n")
TRACKS = ("track,domain,n_ref_notes,onset_f1\nTrack00001/S01,in_domain,21,0.75\n"
          "Track00002/S01,out_of_domain,27,0.125\nTrack00003/S01,out_of_domain,9,0.5\n")
DRAW_JS = r"""// node draw.js offline.html shown.json -> {plot id: {y: y domain, lines: n, fills: {colour: n bars}}}
const fs = require('fs'), vm = require('vm');
const page = fs.readFileSync(process.argv[2], 'utf8');
const SCRIPT = /<script type="text\/javascript">\/\* (vega(?:-lite)?\.min\.js) \*\/\n([\s\S]*?)\n    <\/script>/g;
for (const m of page.matchAll(SCRIPT)) vm.runInThisContext(m[2], {filename: m[1]});
const vega = globalThis.vega, vl = globalThis.vegaLite;
const shown = JSON.parse(fs.readFileSync(process.argv[3], 'utf8'));
function walk(node, acc) {
  if (node.marktype && node.role === 'mark') {
    if (node.marktype === 'line') acc.lines += 1;
    if (node.marktype === 'rect') for (const it of node.items) acc.fills[it.fill] = (acc.fills[it.fill] || 0) + 1;
    if (node.marktype === 'symbol') for (const it of node.items) acc.points.push(it.y);
  }
  for (const item of node.items || []) for (const child of item.items || []) walk(child, acc);
}
(async () => {
  const out = {};
  for (const [id, plots] of Object.entries(shown.data)) {
    const view = new vega.View(vega.parse(vl.compile(plots[0].content).spec), {renderer: 'none'});
    await view.runAsync();
    const acc = {lines: 0, fills: {}, points: []};
    walk(view.scenegraph().root, acc);
    const y = view.scale('y');
    acc.y = y.domain();
    acc.height = Math.max(...y.range());
    out[id] = acc;
  }
  console.log(JSON.stringify(out));
})().catch(e => { console.error(e); process.exit(1); });
"""


@pytest.fixture(scope="module")
def shown(tmp_path_factory):
    """`dvc plots show --json` of dvc.yaml's plots (stages cut to their plot definitions)."""
    root = plots_project(tmp_path_factory.mktemp("charts"))
    (root / "metrics").mkdir()
    for stem in params_stems():
        (root / "models" / stem).mkdir(parents=True)
        (root / "models" / stem / "history.csv").write_text(HISTORY)
        (root / "metrics" / f"{stem}_tracks.csv").write_text(TRACKS)
    return json.loads(stdout_of(DVC + ["plots", "show", "--json"], root))


@pytest.fixture(scope="module")
def drawn(shown, tmp_path_factory):
    if shutil.which("node") is None:
        pytest.skip("node not installed")
    tmp = tmp_path_factory.mktemp("draw")
    (tmp / "draw.js").write_text(DRAW_JS)
    (tmp / "shown.json").write_text(json.dumps(shown))
    proc = subprocess.run(["node", str(tmp / "draw.js"), str(REPO / "dvc_plots_templates" / "offline.html"),
                           str(tmp / "shown.json")], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout)


def test_validation_f1_sits_on_a_fixed_0_1_axis(shown, drawn):
    assert "errors" not in shown, shown.get("errors")
    for stem in params_stems():
        spec = shown["data"][f"models/{stem}/history.csv"][0]["content"]
        assert spec["encoding"]["y"]["scale"]["domain"] == [0, 1]
        chart = drawn[f"models/{stem}/history.csv"]
        assert chart["y"] == [0, 1] and chart["lines"] == 1
        # the constant 0.32 is drawn 32 % of the way up, not at an axis end
        assert [round(1 - y / chart["height"], 2) for y in chart["points"]] == [0.32, 0.32]


def test_one_loss_chart_per_stem_from_zero(shown, drawn):
    loss_ids = [k for k in shown["data"] if k.startswith("training loss")]
    assert sorted(loss_ids) == sorted(f"training loss: {s}" for s in params_stems())
    for stem in params_stems():
        plot = shown["data"][f"training loss: {stem}"][0]["content"]
        assert {(r["filename"], r["field"]) for r in plot["data"]["values"]} == \
            {(f"models/{stem}/history.csv", "loss_total"), (f"models/{stem}/history.csv", "val_loss_total")}
        chart = drawn[f"training loss: {stem}"]
        assert chart["lines"] == 2 and chart["y"][0] == 0 and chart["y"][1] >= 0.41
        # 0.3665 -> 0.3680 moves less than 1 % of the axis height: no steep rise
        train_ys = sorted(chart["points"])[-4:]
        assert (max(train_ys) - min(train_ys)) / chart["height"] < 0.01


def test_per_track_bars_are_coloured_by_domain(shown, drawn):
    for stem in params_stems():
        spec = shown["data"][f"metrics/{stem}_tracks.csv"][0]["content"]
        assert spec["encoding"]["color"]["field"] == "test domain"
        assert spec["encoding"]["x"]["scale"]["domain"] == [0, 1]
        fills = drawn[f"metrics/{stem}_tracks.csv"]["fills"]
        assert sorted(fills.values()) == [1, 2] and len(fills) == 2  # 1 in-domain bar, 2 out-of-domain
