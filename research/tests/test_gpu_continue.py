"""research/gpu_continue.sh: the shipped models continued side by side on one CUDA machine, run here
on the CPU with stand-ins, jobs packed, failures retried."""
import os
import subprocess

import pytest

pytest.importorskip("torch")

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def test_gpu_continue_explains_itself_and_refuses_unknown_jobs(tmp_path):
    script = os.path.join(ROOT, "research", "gpu_continue.sh")
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
    r = subprocess.run(["bash", os.path.join(ROOT, "research", "gpu_continue.sh"), "2", str(tmp_path / "out"), *jobs],
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
    text = open(os.path.join(ROOT, "research", "gpu_continue.sh")).read()
    table = re.search(r"declare -A config=\((.*?)\)\n", text, re.S).group(1)
    jobs = dict(re.findall(r"\[([\w-]+)\]=(\w+)", table))
    assert {"qpsk-big-batch", "16qam-big-batch", "qpsk-scratch"} <= set(jobs)
    def path(name):
        study = os.path.join(ROOT, "research", "configs", name + ".json")
        return study if os.path.exists(study) else os.path.join(ROOT, "configs", name + ".json")

    for job, name in jobs.items():
        cfg = load_config(path(name))
        assert cfg["name"] == name, job
    big = load_config(path(jobs["qpsk-big-batch"]))
    assert big["data"]["batch"] * big["data"]["crop"] ** 2 >= 16 * 128 ** 2 * 16  # 16 times the CPU batch's pixels
