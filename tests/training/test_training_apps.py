"""semcom-train and semcom-export run as users run them (synthetic data, tiny model)."""
import json
import os
import subprocess
import sys

import pytest

pytest.importorskip("torch")
pytest.importorskip("gnuradio.semcom.training.trainer")

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")


def app(name, *args):
    return subprocess.run([sys.executable, os.path.join(ROOT, "apps", name), *map(str, args)],
                          capture_output=True, text=True, timeout=300)


def test_train_resume_and_export_apps(tmp_path):
    cfg = os.path.join(ROOT, "configs", "smoke_synthetic.json")
    run = tmp_path / "run"
    r = app("semcom-train", cfg, "--out", run, "--steps", 10, "--no-progress")
    assert r.returncode == 0, r.stderr
    assert (run / "ckpt_00000010.pt").exists() and not (run / "model.pt").exists()
    r = app("semcom-train", cfg, "--out", run, "--no-progress")
    assert r.returncode == 2 and "--resume" in r.stderr
    r = app("semcom-train", cfg, "--out", run, "--resume", "--no-progress")
    assert r.returncode == 0, r.stderr
    assert "step 30/30" in r.stdout and (run / "model.pt").exists()
    r = app("semcom-export", run / "model.pt", "--out", tmp_path / "onnx")
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout.splitlines()[0])
    assert summary["bits_per_image"] == "32*ceil(H/16)*ceil(W/16)" and summary["train_steps"] == 30
    assert (tmp_path / "onnx" / "encoder.onnx").exists() and (tmp_path / "onnx" / "card.json").exists()
    r = app("semcom-export", tmp_path / "missing.pt", "--out", tmp_path / "x")
    assert r.returncode == 2 and "does not exist" in r.stderr
