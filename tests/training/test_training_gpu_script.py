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


def test_gpu_continue_explains_itself_and_refuses_unknown_jobs(tmp_path):
    script = os.path.join(ROOT, "scripts", "gpu_continue.sh")
    usage = subprocess.run(["bash", script], capture_output=True, text=True)
    assert usage.returncode == 2 and "MINUTES OUT" in usage.stdout and "qpsk-anneal-fp32" in usage.stdout
    bad = subprocess.run(["bash", script, "1", str(tmp_path / "out"), "qpsk", "nonsense"], capture_output=True, text=True)
    assert bad.returncode == 2 and bad.stderr.strip().splitlines() == [
        bad.stderr.strip()] and "unknown job 'nonsense'" in bad.stderr
    assert not (tmp_path / "out").exists()  # refused before anything ran


STAND_IN = """#!/usr/bin/env bash
# records its arguments; fails when the job's config name is in $FAIL_FIRST and no --precision fp32
out=$3
echo "$@" >> "$CALLS"
case " $* " in *" --precision fp32 "*) ;; *) for f in $FAIL_FIRST; do case "$1" in *$f*) exit 1;; esac; done;; esac
mkdir -p "$out/run/" "$out/model"
echo step > "$out/run/log.csv"; echo weights > "$out/run/model.pt"; echo ckpt > "$out/run/ckpt_00000001.pt"
echo onnx > "$out/model/encoder.onnx"; echo '{"summary": 1}' > "$out/train.log"
"""


def _gpu_continue(tmp_path, *jobs, fail_first=""):
    stand_in = tmp_path / "train.sh"
    stand_in.write_text(STAND_IN)
    stand_in.chmod(0o755)
    calls = tmp_path / "calls.txt"
    env = {**os.environ, "SEMCOM_TRAIN_SCRIPT": str(stand_in), "CALLS": str(calls), "FAIL_FIRST": fail_first}
    r = subprocess.run(["bash", os.path.join(ROOT, "scripts", "gpu_continue.sh"), "2", str(tmp_path / "out"), *jobs],
                       capture_output=True, text=True, env=env, timeout=60)
    return r, sorted(calls.read_text().splitlines())


def test_gpu_continue_starts_from_the_shipped_models_and_packs_each_job(tmp_path):
    import tarfile
    r, calls = _gpu_continue(tmp_path, "qpsk", "16qam-scratch")
    assert r.returncode == 0, r.stderr
    by_config = {c.split()[0].rsplit("/", 1)[1]: c for c in calls}
    assert set(by_config) == {"bitsemcom_qpsk_cpp16_gpu_continue.json", "bitsemcom_16qam_cpp16_gpu.json"}
    cont, scratch = by_config["bitsemcom_qpsk_cpp16_gpu_continue.json"], by_config["bitsemcom_16qam_cpp16_gpu.json"]
    assert "--init-from " + os.path.join(ROOT, "models", "bitsemcom-qpsk-cpp16") in cont
    assert "--init-from" not in scratch and "--model-id bitsemcom-16qam-cpp16" in scratch
    assert all("--fill 0.75" in c for c in calls)  # two jobs share the GPU
    with tarfile.open(tmp_path / "out" / "qpsk-run.tar.gz") as t:
        assert sorted(t.getnames()) == ["qpsk/run", "qpsk/run/log.csv", "qpsk/run/model.pt", "qpsk/train.log"]
    with tarfile.open(tmp_path / "out" / "16qam-scratch-model.tar.gz") as t:
        assert "16qam-scratch/model/encoder.onnx" in t.getnames()


def test_gpu_continue_retries_a_job_that_fails_at_start_in_float32(tmp_path):
    r, calls = _gpu_continue(tmp_path, "qpsk-anneal", fail_first="qpsk_cpp16_gpu_anneal")
    assert r.returncode == 0, r.stderr
    assert len(calls) == 2 and "qpsk-anneal: failed at start; once more in float32" in r.stdout
    assert all("--fill 0.9" in c for c in calls)  # alone on the GPU
    assert sum("--precision fp32" in c for c in calls) == 1


def test_gpu_continue_can_start_a_model_from_another(tmp_path):
    """16qam-from-qpsk: the QPSK model's weights (widened by --init-from) become a 16-QAM candidate."""
    r, calls = _gpu_continue(tmp_path, "16qam-from-qpsk")
    assert r.returncode == 0, r.stderr
    assert len(calls) == 1 and "bitsemcom_16qam_cpp16_gpu_wide.json" in calls[0]
    assert "--init-from " + os.path.join(ROOT, "models", "bitsemcom-qpsk-cpp16") in calls[0]
    assert "--model-id bitsemcom-16qam-cpp16" in calls[0]


def test_every_gpu_continue_job_names_a_config_that_loads():
    import re

    from gnuradio.semcom.training.trainer import load_config
    text = open(os.path.join(ROOT, "scripts", "gpu_continue.sh")).read()
    table = re.search(r"declare -A config=\((.*?)\)\n", text, re.S).group(1)
    jobs = dict(re.findall(r"\[([\w-]+)\]=(\w+)", table))
    assert {"qpsk-big-batch", "16qam-big-batch", "qpsk-scratch"} <= set(jobs)
    for job, name in jobs.items():
        cfg = load_config(os.path.join(ROOT, "configs", name + ".json"))
        assert cfg["name"] == name, job
    big = load_config(os.path.join(ROOT, "configs", jobs["qpsk-big-batch"] + ".json"))
    assert big["data"]["batch"] * big["data"]["crop"] ** 2 >= 16 * 128 ** 2 * 16  # 16 times the CPU batch's pixels
