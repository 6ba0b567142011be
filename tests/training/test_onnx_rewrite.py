"""training/onnx_rewrite.py: DepthToSpace as a one-hot ConvTranspose, bit-identical and idempotent."""
import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from gnuradio.semcom.training import onnx_rewrite  # noqa: E402


def _decoder(mode_last: str = "CRD"):
    """p1 (N, 4, h, w) -> conv 16 -> shuffle -> LeakyReLU (also feeding a skip Add) -> conv 12 ->
    shuffle(mode_last) -> Sigmoid: a small BitSemCom-like decoder tail."""
    rng = np.random.default_rng(1)
    w1 = numpy_helper.from_array(rng.standard_normal((16, 4, 3, 3)).astype(np.float32), "w1")
    w2 = numpy_helper.from_array(rng.standard_normal((4, 4, 3, 3)).astype(np.float32), "w2")
    w3 = numpy_helper.from_array(rng.standard_normal((12, 4, 3, 3)).astype(np.float32), "w3")
    nodes = [helper.make_node("Conv", ["p1", "w1"], ["c1"], pads=[1, 1, 1, 1]),
             helper.make_node("DepthToSpace", ["c1"], ["s1"], blocksize=2, mode="CRD"),
             helper.make_node("LeakyRelu", ["s1"], ["a1"], alpha=0.2),
             helper.make_node("Conv", ["a1", "w2"], ["c2"], pads=[1, 1, 1, 1]),
             helper.make_node("Add", ["a1", "c2"], ["r"]),
             helper.make_node("Conv", ["r", "w3"], ["c3"], pads=[1, 1, 1, 1]),
             helper.make_node("DepthToSpace", ["c3"], ["s3"], blocksize=2, mode=mode_last),
             helper.make_node("Sigmoid", ["s3"], ["image"])]
    graph = helper.make_graph(nodes, "d", [helper.make_tensor_value_info("p1", TensorProto.FLOAT, ["N", 4, "h", "w"])],
                              [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 3, "H", "W"])], [w1, w2, w3])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def _run(model, x):
    return ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"p1": x})[0]


def test_the_shuffle_kernel_is_the_crd_permutation():
    x = np.arange(8 * 3 * 5, dtype=np.float32).reshape(1, 8, 3, 5)
    crd = x.reshape(1, 2, 2, 2, 3, 5).transpose(0, 1, 4, 2, 5, 3).reshape(1, 2, 6, 10)
    w = onnx_rewrite.shuffle_kernel(8, 2)
    assert w.shape == (8, 1, 2, 2) and w.sum() == 8 and set(np.unique(w)) == {0.0, 1.0}
    out = np.zeros_like(crd)
    for c in range(8):  # ConvTranspose, stride = kernel = 2, 4 inputs per group
        i, j = np.argwhere(w[c, 0])[0]
        out[0, c // 4, i::2, j::2] += x[0, c]
    assert np.array_equal(out, crd)


def test_rewritten_decoder_is_bit_identical_and_the_activation_moves_before_the_shuffle():
    model = _decoder()
    x = np.random.default_rng(0).random((1, 4, 5, 7), dtype=np.float32)
    before = _run(model, x)
    assert onnx_rewrite.fast_upsampling(model) == 2
    ops = [n.op_type for n in model.graph.node]
    assert "DepthToSpace" not in ops and ops.count("ConvTranspose") == 2
    assert ops.index("LeakyRelu") < ops.index("ConvTranspose")  # fused into the conv by onnxruntime
    assert ops[-2:] == ["Sigmoid", "ConvTranspose"]  # the last shuffle's activation moves before it too
    after = _run(model, x)
    assert after.shape == (1, 3, 20, 28) and np.array_equal(before, after)
    assert onnx_rewrite.fast_upsampling(model) == 0  # idempotent


def test_dcr_shuffles_are_left_alone_and_files_are_checked_before_they_change(tmp_path, monkeypatch):
    path = str(tmp_path / "decoder.onnx")
    onnx.save(_decoder("DCR"), path)
    assert onnx_rewrite.rewrite_file(path) == 1
    assert [n.op_type for n in onnx.load(path).graph.node].count("DepthToSpace") == 1
    assert onnx_rewrite.rewrite_file(path) == 0
    onnx.save(_decoder(), path)
    original = open(path, "rb").read()
    monkeypatch.setattr(onnx_rewrite, "shuffle_kernel", lambda c, b: np.ones((c, 1, b, b), np.float32))
    with pytest.raises(RuntimeError, match="changes the output"):
        onnx_rewrite.rewrite_file(path)
    assert open(path, "rb").read() == original


def test_the_script_times_rewrites_and_tabulates_a_model_folder(tmp_path):
    import os
    import subprocess
    import sys
    folder = tmp_path / "tiny"
    folder.mkdir()
    onnx.save(_decoder(), str(folder / "decoder.onnx"))
    x = np.random.default_rng(2).random((1, 4, 3, 5), dtype=np.float32)
    before = _run(onnx.load(str(folder / "decoder.onnx")), x)
    script = os.path.join(os.path.dirname(__file__), "..", "..", "research", "fast_decoders.py")
    md = tmp_path / "t.md"
    r = subprocess.run([sys.executable, script, "--time", "--runs", "1", "--md", str(md), str(folder), str(tmp_path / "none")],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 1 and "none: no decoder.onnx" in r.stderr  # the empty folder, one line
    assert "2 upsampling(s) rewritten" in r.stdout
    row = [line for line in md.read_text().splitlines() if line.startswith("| tiny |")][0]
    assert float(row.split(" | ")[2]) > 0 and float(row.split(" | ")[4].rstrip(" |")) > 0
    assert np.array_equal(_run(onnx.load(str(folder / "decoder.onnx")), x), before)


def test_an_export_keeps_the_plain_graph_when_the_rewrite_fails(tmp_path, monkeypatch, capsys):
    from gnuradio.semcom.training import export
    path = str(tmp_path / "decoder.onnx")
    onnx.save(_decoder(), path)
    original = open(path, "rb").read()
    monkeypatch.setattr(onnx_rewrite, "fast_upsampling", lambda model: 1 / 0)
    assert export.fast_upsampling_file(path) == 0
    assert open(path, "rb").read() == original
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "left with its plain upsampling (division by zero)" in err[0]
