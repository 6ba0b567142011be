"""scripts/train_on_gpu.sh on the CPU: a tiny config from a prepared folder, bounded time, ONNX + card
out, run from the source tree without GNU Radio (the package's __init__ is skipped)."""
import json
import os
import subprocess
import sys
import time

import numpy as np
import pytest

torch = pytest.importorskip("torch")
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
    probe = next(json.loads(line)["probe"] for line in r.stdout.splitlines() if line.startswith('{"probe"'))
    assert probe["compile"] is False and probe["device"] == "cpu"  # torch.compile is for CUDA only
    assert probe["images_per_s"] == pytest.approx(tiny["data"]["batch"] / probe["s_per_step"], rel=0.01)
    assert probe["expected_images"] == probe["planned_steps"] * tiny["data"]["batch"]
    assert probe["planned_steps"] == summary["recipe_steps"]
    # the recipe is scaled from a short speed probe; on a shared CPU the run may get half the speed
    assert 0.4 * summary["recipe_steps"] <= summary["steps"] <= summary["recipe_steps"]
    card = json.loads((out / "model" / "card.json").read_text())
    assert card["dataset_hash"] == "synthetic-test" and card["train_steps"] == summary["steps"]
    assert [s["channel"] for s in card["recipe"]] == ["error-free", "mixed"]
    assert (out / "model" / "encoder.onnx").exists() and (out / "model" / "decoder.onnx").exists()
    assert (out / "run" / "log.csv").exists() and (out / "train.log").exists()


def test_compact_prepared_folder_keeps_exactly_the_validation_crops(tmp_path):
    """--val-crop stores only the val centre crops: validation at that val_crop sees the same pixels."""
    ims = trainer.synthetic_images(4, size=160, seed=5)
    val = [np.ascontiguousarray(ims[2][:150, :]), np.ascontiguousarray(ims[3][:, :100])]  # odd sizes
    splits = {"train": [("t0", ims[0]), ("t1", ims[1])], "val": [("v0", val[0]), ("v1", val[1])]}
    prepared.write(str(tmp_path / "full"), splits, 1.0, "x")
    prepared.write(str(tmp_path / "compact"), splits, 1.0, "x", val_crop=128)
    full = trainer.center_crops(prepared.Images.load(str(tmp_path / "full"), "val").arrays(), 128, 8)
    compact_images = prepared.Images.load(str(tmp_path / "compact"), "val").arrays()
    assert [im.shape for im in compact_images] == [(128, 128, 3), (128, 96, 3)]
    compact = trainer.center_crops(compact_images, 128, 8)
    assert all(torch.equal(a, b) for a, b in zip(full, compact)) and len(full) == len(compact) == 2
    assert prepared.read_index(str(tmp_path / "compact"))["val_crop"] == 128
    train = prepared.Images.load(str(tmp_path / "compact"), "train").arrays()
    assert all(np.array_equal(a, b) for a, b in zip(train, ims[:2]))  # train photos untouched


def test_training_device_gives_cuda_an_index(monkeypatch):
    """torch.cuda.set_device refuses a bare 'cuda' (the bug a GPU run would have hit at start)."""
    assert trainer.training_device("cuda") == torch.device("cuda", 0)
    monkeypatch.setenv("LOCAL_RANK", "3")
    assert trainer.training_device("cuda") == torch.device("cuda", 3)
    assert trainer.training_device("cuda:1") == torch.device("cuda", 1)
    assert trainer.training_device("cpu") == torch.device("cpu")


@pytest.mark.parametrize("fill", ["nan", "0", "1.5"])
def test_train_refuses_a_fill_that_is_not_a_fraction(fill, tmp_path):
    from gnuradio.semcom.training import run
    with pytest.raises(SystemExit, match="--fill must be in"):
        run.train(["configs/tiny_prepared.json", "--minutes", "1", "--out", str(tmp_path), "--fill", fill])
