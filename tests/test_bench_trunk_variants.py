"""benchmarks/bench_trunk_variants.py: each variant is exported with the shape asked for, and the
model module's sizes are left as they were."""
import importlib.util
from pathlib import Path

import pytest

import midi_extractor.model.harmonic as harmonic
from midi_extractor.config import load_params

REPO = Path(__file__).resolve().parents[1]


def _module(monkeypatch):
    monkeypatch.syspath_prepend(str(REPO / "benchmarks"))   # it imports bench_transcribe
    spec = importlib.util.spec_from_file_location("bench_trunk_variants", REPO / "benchmarks" / "bench_trunk_variants.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


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
    shipped, n_shipped = bench._export(params, bench.VARIANTS["shipped (16, 16, 2 blocks)"], tmp_path / "a")
    small, n_small = bench._export(params, (8, 16, 1, (1, 2), (1, 2, 4)), tmp_path / "b")
    assert (harmonic.HARMONIC_SIZES["harmonic"], harmonic.ONSET_DILATIONS, harmonic.FRAME_DILATIONS) == before
    assert n_shipped == 18212                      # the shipped piano model's count (README)
    assert n_small < n_shipped
    # one residual block fewer (its conv and three harmonic runs), two onset and two frame dilations
    assert len(_convs(shipped)) - len(_convs(small)) == 4 + 2 + 2
    first = _convs(small)[0]                       # the stem: 1 -> 8 channels
    weights = {i.name: i for i in onnx.load(str(small)).graph.initializer}
    assert list(weights[first.input[1]].dims)[:2] == [8, 1]
