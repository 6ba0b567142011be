"""research/decoder_tradeoff.py: PSNR and decode cost per decoder, against the first model."""
import os
import shutil
import subprocess
import sys

import pytest

pytest.importorskip("onnxruntime")

HERE = os.path.dirname(__file__)
SCRIPT = os.path.join(HERE, "..", "decoder_tradeoff.py")


def test_a_row_per_decoder_with_the_first_model_as_reference(tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    shutil.copy(os.path.join(HERE, "..", "..", "examples", "images", "kodim23.png"), photos)
    md = tmp_path / "t.md"
    r = subprocess.run([sys.executable, SCRIPT, "models/bitsemcom-qpsk-cpp16", "models/hardste-qpsk-cpp16",
                        "--snr", "3", "--runs", "1", "--images", str(photos), "--md", str(md)],
                       capture_output=True, text=True, timeout=600, cwd=os.path.join(HERE, "..", ".."))
    assert r.returncode == 0, r.stderr[-2000:]
    rows = [line.strip("| ").split(" | ") for line in md.read_text().splitlines()
            if line.startswith("| bitsemcom") or line.startswith("| hardste")]
    assert [(row[0], row[2]) for row in rows] == [("bitsemcom-qpsk-cpp16", "float32"), ("bitsemcom-qpsk-cpp16", "int8"),
                                                  ("hardste-qpsk-cpp16", "float32"), ("hardste-qpsk-cpp16", "int8")]
    assert all(row[1] == "32, 64, 128, 192" and row[3] == rows[0][3] for row in rows)  # same widths, same GFLOP
    assert rows[0][6] == rows[1][6] == "1.00" and rows[0][9:] == rows[1][9:] == ["+0.00", "+0.00"]
    assert 23 < float(rows[0][7]) < 28 and abs(float(rows[1][7]) - float(rows[0][7])) < 0.15  # int8 close
    assert float(rows[2][9]) == pytest.approx(float(rows[2][7]) - float(rows[0][7]), abs=0.011)


@pytest.mark.parametrize("args, message", [(["no/such/model"], "no/such/model"),
                                           (["models/bitsemcom-qpsk-cpp16", "--runs", "0"], "at least 1")])
def test_bad_arguments_get_one_line(args, message):
    r = subprocess.run([sys.executable, SCRIPT, *args], capture_output=True, text=True, timeout=120,
                       cwd=os.path.join(HERE, "..", ".."))
    assert r.returncode == 1 and "Traceback" not in r.stderr and message in r.stderr.strip().splitlines()[-1]
