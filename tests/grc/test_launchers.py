"""How users start GRC and grcc: semcom-grc shows the flowgraphs' windows, .venv/bin/grcc finds
the [Semcom] blocks without the venv activated."""
import os
import shutil
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
    if sys.prefix == sys.base_prefix or not os.path.isfile(grcc):  # GNU Radio's own grcc, not the venv's
        pytest.skip("no venv grcc beside this Python (installed outside scripts/bootstrap.sh)")
    env = {k: v for k, v in os.environ.items() if k not in ("GRC_BLOCKS_PATH", "VIRTUAL_ENV")}
    r = subprocess.run([grcc, os.path.join(REPO, "examples", "air_loopback.grc"), "-o", str(tmp_path)],
                       capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0, r.stderr[-1500:]
    assert "semcom.image_source(" in (tmp_path / "air_loopback.py").read_text()


def git_status(path):
    r = subprocess.run(["git", "status", "--porcelain", "--ignored", path], cwd=REPO, capture_output=True, text=True)
    return r.stdout if r.returncode == 0 else pytest.skip("not a git checkout")


def test_semcom_grc_opens_copies_so_f6_leaves_the_examples_clean(tmp_path):
    """semcom-grc opens copies in its work folder, with the images they read; GRC generates the
    Python (F6) next to the copy, so examples/ gains nothing. A copy already there is kept
    (the user's edits) unless --fresh."""
    before = git_status("examples")
    work = tmp_path / "grc"
    env = dict(os.environ, SEMCOM_GRC_DIR=str(work))
    launcher = [sys.executable, os.path.join(REPO, "apps", "semcom-grc"), "--print-command"]
    example = os.path.join(REPO, "examples", "air_loopback_gui.grc")
    r = subprocess.run([*launcher, example, "zmq_rx"], capture_output=True, text=True, env=env, timeout=60)
    assert r.returncode == 0, r.stderr
    copy = work / "air_loopback_gui.grc"
    assert r.stdout.split()[-2:] == [str(copy), str(work / "zmq_rx.grc")], r.stdout
    assert copy.read_bytes() == open(example, "rb").read()
    assert (work / "images" / "kodim23.png").is_file()
    from gnuradio.semcom.cli import grc
    grcc = shutil.which("grcc", path=os.path.join(sys.prefix, "bin") + os.pathsep + os.environ.get("PATH", ""))
    if grcc:  # what F6 does first: the Python beside the .grc, with this installation's blocks
        g = subprocess.run([grcc, str(copy), "-o", str(work)], capture_output=True, text=True, timeout=120,
                           env=dict(env, GRC_BLOCKS_PATH=grc.blocks_dir()))
        assert g.returncode == 0 and (work / "air_loopback_gui.py").is_file(), g.stderr[-1500:]
    assert git_status("examples") == before
    copy.write_text(copy.read_text() + "# edited\n")
    subprocess.run([*launcher, example], capture_output=True, env=env, timeout=60, check=True)
    assert copy.read_text().endswith("# edited\n")
    subprocess.run([*launcher, "--fresh", example], capture_output=True, env=env, timeout=60, check=True)
    assert copy.read_bytes() == open(example, "rb").read()


def test_semcom_grc_names_an_unknown_flowgraph_in_one_line(tmp_path):
    r = subprocess.run([sys.executable, os.path.join(REPO, "apps", "semcom-grc"), "--print-command", "no_such_graph"],
                       capture_output=True, text=True, env=dict(os.environ, SEMCOM_GRC_DIR=str(tmp_path)), timeout=60)
    assert r.returncode == 2 and r.stderr.startswith("error: no flowgraph no_such_graph:"), r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and "air_loopback_gui.grc" in r.stderr, r.stderr
