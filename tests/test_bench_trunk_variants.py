"""benchmarks/bench_trunk_variants.py: each variant is exported with the shape asked for, and the
model module's sizes are left as they were."""
import sys
from pathlib import Path

import pytest

import midi_extractor.model.harmonic as harmonic
from midi_extractor.config import load_params

from helpers_data import script_module


REPO = Path(__file__).resolve().parents[1]


def _module(monkeypatch):
    monkeypatch.syspath_prepend(str(REPO / "benchmarks"))   # it imports bench_transcribe
    return script_module("benchmarks/bench_trunk_variants.py")


def _convs(path: Path) -> list:
    import onnx

    return [n for n in onnx.load(str(path)).graph.node if n.op_type == "Conv"]


@pytest.mark.filterwarnings("ignore")
def test_variants_export_their_own_shape_and_restore_the_sizes(tmp_path, monkeypatch):
    pytest.importorskip("onnxruntime")
    onnx = pytest.importorskip("onnx")
    bench = _module(monkeypatch)
    params = load_params(REPO / "params.yaml")
    before = (harmonic.HARMONIC_SIZES["harmonic"], harmonic.ONSET_DILATIONS, harmonic.FRAME_DILATIONS)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    shipped, n_shipped = bench._export(params, bench.VARIANTS["shipped"], tmp_path / "a")
    small, n_small = bench._export(params, dict(channels=8, blocks=1, onset_dilations=(1, 2), frame_dilations=(1, 2, 4)),
                                   tmp_path / "b")
    assert (harmonic.HARMONIC_SIZES["harmonic"], harmonic.ONSET_DILATIONS, harmonic.FRAME_DILATIONS) == before
    assert n_shipped == 18212                      # the shipped piano model's count (README)
    assert n_small < n_shipped
    # one residual block fewer (its conv and three harmonic runs), two onset and two frame dilations
    assert len(_convs(shipped)) - len(_convs(small)) == 4 + 2 + 2
    first = _convs(small)[0]                       # the stem: 1 -> 8 channels
    weights = {i.name: i for i in onnx.load(str(small)).graph.initializer}
    assert list(weights[first.input[1]].dims)[:2] == [8, 1]


def test_with_trunk_runs_a_script_with_the_size_changed(tmp_path):
    import subprocess

    script = tmp_path / "probe.py"
    script.write_text(
        "import sys\n"
        "from midi_extractor.config import load_params\n"
        "from midi_extractor.model.transcriber import create_model\n"
        "p = load_params(sys.argv[1])\n"
        "m = create_model(p.features, p.model, p.features.n_pitches, p.role('piano'))\n"
        "print(len(m.blocks), m.stem[0].out_channels, m.head.inp.out_channels, sys.argv[2])\n")
    out = subprocess.run([sys.executable, str(REPO / "benchmarks" / "with_trunk.py"), "--blocks", "1",
                          "--channels", "8", str(script), str(REPO / "params.yaml"), "last-arg"],
                         capture_output=True, text=True, check=True, cwd=tmp_path)
    assert out.stdout.split() == ["1", "8", "16", "last-arg"]
