"""research/arch_latency.py: untrained backbones timed with ONNX Runtime, a table with ratios."""
import os
import subprocess
import sys

import pytest

pytest.importorskip("torch")
pytest.importorskip("onnxruntime")

SCRIPT = os.path.join(os.path.dirname(__file__), "..", "arch_latency.py")


def test_narrower_stages_get_a_row_each_with_the_first_as_reference(tmp_path):
    md = tmp_path / "t.md"
    r = subprocess.run([sys.executable, SCRIPT, "16,32,64,64", "8,16,64,64", "--size", "128x64", "--runs", "2",
                        "--md", str(md)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    rows = [line.split(" | ") for line in md.read_text().splitlines() if line.startswith("| 16,") or line.startswith("| 8,")]
    assert [row[0] for row in rows] == ["| 16, 32, 64, 64", "| 8, 16, 64, 64"]
    assert rows[0][4:] == ["1.00", "1.00 |"]  # the first is the reference
    params = [float(row[1].split()[0]) for row in rows]
    assert params[1] < params[0]  # narrower stages, fewer weights


@pytest.mark.parametrize("args", [["32,64,128"], ["32,64,128,x"], ["32,64,128,192", "--size", "700x512"],
                                  ["32,64,128,192", "--runs", "0"]])
def test_bad_arguments_get_one_line(args):
    r = subprocess.run([sys.executable, SCRIPT, *args], capture_output=True, text=True, timeout=60)
    assert r.returncode == 1 and len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr
