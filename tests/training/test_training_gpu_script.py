"""scripts/train_on_gpu.sh on the CPU: a tiny config from a prepared folder, bounded time, ONNX + card
out, run from the source tree without GNU Radio (the package's __init__ is skipped)."""
import json
import os
import subprocess
import sys
import time

import pytest

pytest.importorskip("torch")
pytest.importorskip("onnx")
from gnuradio.semcom.training import prepared, trainer  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


@pytest.mark.slow
def test_train_on_gpu_script_bounded_time_on_cpu(tmp_path):
    ims = trainer.synthetic_images(6, size=160, seed=3)
    data = tmp_path / "prepared"
    prepared.write(str(data), {"train": [(f"t{i}", im) for i, im in enumerate(ims[:5])], "val": [("v", ims[5])]},
                   1.0, "synthetic-test")
    cfg = tmp_path / "tiny.json"
    with open(os.path.join(ROOT, "configs", "tiny_prepared.json")) as f:
        tiny = json.load(f)
    tiny["recipe"][1]["steps"] = 100000  # far more than fits: the script must scale the recipe down
    cfg.write_text(json.dumps(tiny))
    out = tmp_path / "out"
    env = {**os.environ, "SEMCOM_PREPARED": str(data), "PYTHON": sys.executable, "PYTHONPATH": ""}
    t0 = time.time()
    r = subprocess.run(["bash", os.path.join(ROOT, "scripts", "train_on_gpu.sh"), str(cfg), "0.75", str(out),
                        "--device", "cpu"], capture_output=True, text=True, timeout=120, env=env)
    took = time.time() - t0
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    assert took < 0.75 * 60 + 15
    summary = json.loads(r.stdout.strip().splitlines()[-1])
    assert summary["recipe_steps"] < 100200  # scaled down to what fits
    # the recipe is scaled from a short speed probe; on a shared CPU the run may get half the speed
    assert 0.4 * summary["recipe_steps"] <= summary["steps"] <= summary["recipe_steps"]
    card = json.loads((out / "model" / "card.json").read_text())
    assert card["dataset_hash"] == "synthetic-test" and card["train_steps"] == summary["steps"]
    assert [s["channel"] for s in card["recipe"]] == ["error-free", "mixed"]
    assert (out / "model" / "encoder.onnx").exists() and (out / "model" / "decoder.onnx").exists()
    assert (out / "run" / "log.csv").exists() and (out / "train.log").exists()
