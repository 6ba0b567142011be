"""research/decoder_flops.py: a decoder's GFLOP per stage for candidate widths."""
import os
import subprocess
import sys

import pytest

pytest.importorskip("torch")

SCRIPT = os.path.join(os.path.dirname(__file__), "..", "decoder_flops.py")


def test_the_shipped_decoder_and_a_narrower_one_by_stage(tmp_path):
    md = tmp_path / "t.md"
    r = subprocess.run([sys.executable, SCRIPT, "32,64,128,192", "16,48,128,192", "--md", str(md)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    rows = [line.strip("| ").split(" | ") for line in md.read_text().splitlines() if line.startswith("| 16,")
            or line.startswith("| 32,")]
    shipped, narrow = [[float(v) for v in row[1:]] for row in rows]
    # 1/16: 1x1 conv 32->192, two 3x3 convs 192->192 and the upsampling conv 192->4*128 on 32x48 cells
    assert shipped[0] == pytest.approx(2 * 32 * 48 * (32 * 192 + 2 * 9 * 192 * 192 + 9 * 192 * 512) / 1e9, abs=0.005)
    assert shipped[4] == pytest.approx(23.6, abs=0.05) and shipped[4] == pytest.approx(sum(shipped[:4]), abs=0.02)
    assert narrow[0] == shipped[0] and narrow[3] < shipped[3] / 3  # only the narrowed stages change
    assert shipped[6] == pytest.approx(23.6 / (2 * 274) * 1e3, abs=0.6)


@pytest.mark.parametrize("args", [["32,64,128"], ["32,64,x,192"], ["32,64,128,0"], ["32,64,128,192", "--cores", "0"]])
def test_bad_widths_get_one_line(args):
    r = subprocess.run([sys.executable, SCRIPT, *args], capture_output=True, text=True, timeout=60)
    assert r.returncode == 1 and len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr
