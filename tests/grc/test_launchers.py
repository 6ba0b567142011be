"""How users start GRC and grcc: semcom-grc shows the flowgraphs' windows, .venv/bin/grcc finds
the [Semcom] blocks without the venv activated."""
import os
import subprocess
import sys

import pytest

from plain import REPO

pytest.importorskip("gnuradio.semcom")


def test_semcom_grc_lets_flowgraph_windows_show():
    """make grc once ran GRC under QT_QPA_PLATFORM=offscreen: F6 decoded to disk and showed nothing."""
    from gnuradio.semcom.cli import grc
    env = grc.environment({"QT_QPA_PLATFORM": "offscreen", "GRC_BLOCKS_PATH": "/elsewhere"})
    assert "QT_QPA_PLATFORM" not in env
    assert env["GRC_BLOCKS_PATH"].split(os.pathsep) == [grc.blocks_dir(), "/elsewhere"]
    assert grc.environment({"QT_QPA_PLATFORM": "xcb"})["QT_QPA_PLATFORM"] == "xcb"


def test_venv_grcc_finds_the_blocks_without_the_venv_activated(tmp_path):
    grcc = os.path.join(sys.prefix, "bin", "grcc")
    if not os.path.isfile(grcc):
        pytest.skip("no grcc beside this Python (installed outside scripts/bootstrap.sh)")
    env = {k: v for k, v in os.environ.items() if k not in ("GRC_BLOCKS_PATH", "VIRTUAL_ENV")}
    r = subprocess.run([grcc, os.path.join(REPO, "examples", "air_loopback.grc"), "-o", str(tmp_path)],
                       capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0, r.stderr[-1500:]
    assert "semcom.image_source(" in (tmp_path / "air_loopback.py").read_text()
