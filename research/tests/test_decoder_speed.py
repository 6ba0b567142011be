"""research/decoder_speed.py and ort_options.py: exact FLOP counts, a row per decoder, one-line errors."""
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

HERE = os.path.dirname(__file__)
SCRIPT = os.path.join(HERE, "..", "decoder_speed.py")
sys.path.insert(0, os.path.join(HERE, ".."))
import decoder_speed  # noqa: E402


def test_flops_count_every_multiply_accumulate_twice(tmp_path):
    from onnx import TensorProto, helper, numpy_helper
    rng = np.random.default_rng(0)
    weights = [numpy_helper.from_array(rng.random(shape, dtype=np.float32), name) for name, shape in
               (("w", (4, 3, 3, 3)), ("up", (4, 1, 2, 2)), ("m", (16, 5)))]
    nodes = [helper.make_node("Conv", ["x", "w"], ["a"], pads=[1, 1, 1, 1]),  # (1, 4, 8, 8): 4*8*8 * 3*3*3
             helper.make_node("ConvTranspose", ["a", "up"], ["b"], group=4, strides=[2, 2]),  # 4*8*8 inputs * 1*2*2
             helper.make_node("MatMul", ["b", "m"], ["y"])]  # (1, 4, 16, 5) outputs * 16
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, "h", "w"])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], weights)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    feeds = {"x": np.zeros((1, 3, 8, 8), np.float32)}
    path = str(tmp_path / "three.onnx")
    onnx.save(model, path)
    assert decoder_speed.flops(path, feeds) == 2 * (4 * 8 * 8 * 27 + 4 * 8 * 8 * 4 + 4 * 16 * 5 * 16)


@pytest.mark.parametrize("args, message", [(["no/such/model"], "no/such/model/encoder.onnx is missing"),
                                           (["models/bitsemcom-qpsk-cpp16", "--runs", "0"], "must be at least 1")])
def test_bad_arguments_get_one_line(args, message):
    r = subprocess.run([sys.executable, SCRIPT, *args], capture_output=True, text=True, timeout=120,
                       cwd=os.path.join(HERE, "..", ".."))
    assert r.returncode != 0 and "Traceback" not in r.stderr and message in r.stderr.strip().splitlines()[-1]


def test_session_option_variants_are_timed_against_the_defaults(tmp_path):
    md = tmp_path / "o.md"
    r = subprocess.run([sys.executable, os.path.join(HERE, "..", "ort_options.py"), "models/bitsemcom-16qam-cpp16",
                        "--runs", "1", "--md", str(md)], capture_output=True, text=True, timeout=600,
                       cwd=os.path.join(HERE, "..", ".."))
    assert r.returncode == 0, r.stderr[-2000:]
    rows = [line.split(" | ") for line in md.read_text().splitlines() if line.startswith("| decoder")]
    assert len(rows) == 16  # eight variants, float32 and int8
    for row in rows:
        if row[1] == "defaults":
            assert row[3] == "1.00" and row[5] == "1.00" and row[6] == "0.0e+00 |"
        if row[1].startswith("receivers'"):
            assert row[6] == "0.0e+00 |"  # the same image


def test_session_options_bad_folder_is_one_line(tmp_path):
    r = subprocess.run([sys.executable, os.path.join(HERE, "..", "ort_options.py"), str(tmp_path)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 1 and "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_a_model_gets_a_row_per_decoder_with_the_same_arithmetic_and_close_psnr(tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    shutil.copy(os.path.join(HERE, "..", "..", "examples", "images", "kodim23.png"), photos)
    md = tmp_path / "d.md"
    r = subprocess.run([sys.executable, SCRIPT, "models/bitsemcom-16qam-cpp16", "--runs", "1", "--images", str(photos),
                        "--md", str(md)], capture_output=True, text=True, timeout=600,
                       cwd=os.path.join(HERE, "..", ".."))
    assert r.returncode == 0, r.stderr[-2000:]
    rows = [line.split(" | ") for line in md.read_text().splitlines() if line.startswith("| bitsemcom")]
    assert [row[1] for row in rows] == ["decoder.onnx", "decoder.int8.onnx"]
    assert rows[0][2] == rows[1][2] and float(rows[0][2]) > 1  # int8 does the same multiply-accumulates
    assert rows[0][6] == rows[1][6] == "yes"  # the receivers' options give the same image
    psnr = [float(row[12].rstrip(" |")) for row in rows]
    assert psnr[0] > 21 and abs(psnr[0] - psnr[1]) < 0.15, psnr


def test_core_time_is_measured_per_decoder_in_the_order_given(tmp_path):
    """core_ms alternates its runs between the files and returns one median each, in their order."""
    from onnx import TensorProto, helper, numpy_helper
    paths = []
    for name, channels in (("small", 2), ("big", 256)):
        w = numpy_helper.from_array(np.ones((channels, 3, 5, 5), np.float32), "w")
        graph = helper.make_graph([helper.make_node("Conv", ["x", "w"], ["y"], pads=[2, 2, 2, 2])], name,
                                  [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, "h", "w"])],
                                  [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], [w])
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
        model.ir_version = 8
        paths.append(str(tmp_path / f"{name}.onnx"))
        onnx.save(model, paths[-1])
    feeds = {"x": np.ones((1, 3, 128, 128), np.float32)}
    small, big, small_again = decoder_speed.core_ms([(paths[0], feeds), (paths[1], feeds), (paths[0], feeds)], 3)
    assert big > 10 * max(small, small_again) > 0
