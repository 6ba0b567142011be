"""The runtime-only install (requirements.txt, no torch): sending and receiving work without torch,
and the training CLIs say in one line what to install, through the real apps."""
import os
import subprocess
import sys

import pytest

from plain import REPO

pytest.importorskip("gnuradio.semcom")


@pytest.fixture
def no_torch(tmp_path):
    """An environment in which ``import torch`` fails as it does where torch is not installed."""
    fake = tmp_path / "hide" / "torch"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ModuleNotFoundError(\"No module named 'torch'\", name='torch')\n")
    return hiding(fake.parent)


def hiding(folder):
    """This environment with ``folder``'s packages first on the path (the module may be on it too:
    an install into a prefix)."""
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(folder), os.environ.get("PYTHONPATH", "")])}


def app(name, *args, env):
    return subprocess.run([sys.executable, os.path.join(REPO, "apps", name), *map(str, args)],
                          capture_output=True, text=True, timeout=300, env=env)


def test_an_image_goes_through_without_torch(no_torch, tmp_path):
    out = tmp_path / "rx.png"
    r = app("tx_image.py", "--radio", "sim", "--snr", "10", "--rx-output", out, "--json",
            os.path.join(REPO, "examples", "images", "kodim23.png"), env=no_torch)
    assert r.returncode == 0, r.stderr[-1500:]
    assert out.stat().st_size > 0 and '"lost": false' in r.stdout


@pytest.mark.parametrize("name,args", [("semcom-train", ["configs/tiny_prepared.json"]),
                                       ("semcom-export", ["model.pt"])])
def test_training_clis_name_the_missing_requirements(no_torch, tmp_path, name, args):
    (tmp_path / "model.pt").write_bytes(b"\0" * 64)
    args = [os.path.join(REPO, a) if a.startswith("configs") else tmp_path / a for a in args]
    r = app(name, *args, "--out", tmp_path / "o", env=no_torch)
    assert r.returncode == 2
    assert r.stderr.strip().splitlines() == [
        f"error: {name} needs torch, which the runtime-only install leaves out: "
        "pip install -r requirements-train.txt (in the venv)"]


@pytest.mark.parametrize("name", ["tx_image.py", "rx_image.py", "semcom-eval"])
def test_apps_name_a_missing_runtime_package_in_one_line(tmp_path, name):
    """As on a system python3 without pip packages (cmake --install to /usr/local)."""
    fake = tmp_path / "hide" / "PIL"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ModuleNotFoundError(\"No module named 'PIL'\", name='PIL')\n")
    r = app(name, "--help", env=hiding(fake.parent))
    assert r.returncode == 1 and r.stdout == ""
    line, = r.stderr.strip().splitlines()
    assert line.startswith("error: gr-semcom needs the Python package pillow, which this Python cannot import: "
                           "pip install -r requirements.txt"), line
