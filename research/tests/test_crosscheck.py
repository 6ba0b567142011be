"""research/crosscheck.py: our BER beside scikit-commpy's and the closed form (needs make crosscheck's venv)."""
import os
import subprocess
import sys

import pytest

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")
SCRIPT = os.path.join(ROOT, "research", "crosscheck.py")
XCHECK = os.path.join(ROOT, "build", "xcheck-venv", "bin", "python")


@pytest.mark.skipif(not os.path.exists(XCHECK), reason="no build/xcheck-venv (make -f research/Makefile crosscheck)")
def test_ours_and_commpy_agree_with_the_closed_form_and_the_code(tmp_path):
    md = tmp_path / "x.md"
    r = subprocess.run([sys.executable, SCRIPT, "--xcheck-python", XCHECK, "--symbols", "40000", "--chunks", "1",
                        "--frames", "8", "--md", str(md)], capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr[-2000:]
    text = md.read_text()
    assert "parity-check matrix: yes" in text  # our codewords satisfy commpy's reading of our alist
    uncoded = [line.split(" | ") for line in text.splitlines() if line.startswith(("| qpsk", "| 16qam", "| 64qam"))]
    assert len(uncoded) == 10
    for row in uncoded:  # ours / closed form and commpy / closed form; at least 80 errors a point
        assert 0.8 < float(row[5]) < 1.25 and 0.8 < float(row[6].rstrip(" |")) < 1.25, row
    coded = [line.split(" | ") for line in text.splitlines() if line.startswith("| 2 |")]
    assert float(coded[0][1]) < 1e-3 and float(coded[0][2]) < 1e-3  # both decoders clean at 2 dB (uncoded: 1e-1)


def test_a_missing_commpy_venv_is_one_line(tmp_path):
    r = subprocess.run([sys.executable, SCRIPT, "--xcheck-python", str(tmp_path / "none"), "--symbols", "100",
                        "--chunks", "1", "--frames", "1"], capture_output=True, text=True, timeout=300)
    assert r.returncode != 0 and "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1
