"""Hostile model files and checkpoints through semcom-export and semcom-train --resume: a crafted
pickle runs nothing and is refused with one line; a truncated checkpoint is refused the same way;
a real checkpoint still resumes and exports."""
import os
import pickle
import shutil

import pytest

pytest.importorskip("torch")
pytest.importorskip("gnuradio.semcom.training.trainer")
import torch  # noqa: E402

from plain import REPO, run_app as app  # noqa: E402

CONFIG = os.path.join(REPO, "configs", "smoke_synthetic.json")



class Payload:
    """Unpickling it creates ``marker`` (what a crafted checkpoint could do instead)."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def crafted(path, marker, kind):
    """A file that runs code when unpickled: torch's zip format with the payload next to real-looking
    keys, or a bare pickle."""
    if kind == "torch.save, payload beside the weights":
        torch.save({"model": {"w": torch.zeros(2)}, "config": {"model": {}}, "step": 1, "extra": Payload(marker)},
                   path)
    else:
        with open(path, "wb") as f:
            pickle.dump({"model": Payload(marker)}, f)


def refused_in_one_line(r, path):
    return (r.returncode != 0 and "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1
            and f"{path} is not a gr-semcom model or checkpoint (" in r.stderr)


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    """A run folder after 2 steps of the smoke training."""
    run = tmp_path_factory.mktemp("smoke") / "run"
    r = app("semcom-train", CONFIG, "--out", run, "--steps", 2, "--no-progress")
    assert r.returncode == 0, r.stderr
    return run


@pytest.mark.parametrize("kind", ["torch.save, payload beside the weights", "bare pickle"])
def test_a_crafted_checkpoint_runs_nothing(tmp_path, smoke_run, kind, fault_matrix):
    marker = tmp_path / "marker"
    evil = tmp_path / "evil.pt"
    crafted(evil, marker, kind)
    r = app("semcom-export", evil, "--out", tmp_path / "onnx")
    export_ok = refused_in_one_line(r, evil) and not marker.exists() and not (tmp_path / "onnx").exists()
    fault_matrix.record("crafted model files and checkpoints", f"{kind}, semcom-export", export_ok)
    assert export_ok, (r.returncode, r.stderr, marker.exists())
    run = tmp_path / "run"
    shutil.copytree(smoke_run, run)
    shutil.copy(evil, run / "ckpt_00000099.pt")  # the latest checkpoint: the one --resume loads
    r = app("semcom-train", CONFIG, "--out", run, "--resume", "--steps", 2, "--no-progress")
    resume_ok = refused_in_one_line(r, run / "ckpt_00000099.pt") and not marker.exists()
    fault_matrix.record("crafted model files and checkpoints", f"{kind}, semcom-train --resume", resume_ok)
    assert resume_ok, (r.returncode, r.stderr, marker.exists())


def test_a_truncated_checkpoint_is_refused_in_one_line(tmp_path, smoke_run, fault_matrix):
    run = tmp_path / "run"
    shutil.copytree(smoke_run, run)
    (ckpt,) = run.glob("ckpt_*.pt")
    data = ckpt.read_bytes()
    ckpt.write_bytes(data[:len(data) // 2])
    r = app("semcom-train", CONFIG, "--out", run, "--resume", "--steps", 2, "--no-progress")
    ok = refused_in_one_line(r, ckpt)
    fault_matrix.record("crafted model files and checkpoints", "truncated checkpoint, semcom-train --resume", ok)
    assert ok, (r.returncode, r.stderr)


def test_a_real_checkpoint_still_resumes_and_exports(tmp_path, smoke_run, fault_matrix):
    run = tmp_path / "run"
    shutil.copytree(smoke_run, run)
    r = app("semcom-train", CONFIG, "--out", run, "--resume", "--steps", 2, "--no-progress")
    assert r.returncode == 0, r.stderr
    assert "step 4/30" in r.stdout and (run / "ckpt_00000004.pt").exists()
    assert not [p for p in os.listdir(run) if p.endswith(".tmp")]
    r2 = app("semcom-export", run / "ckpt_00000004.pt", "--out", tmp_path / "onnx")
    ok = r2.returncode == 0 and (tmp_path / "onnx" / "encoder.onnx").exists()
    fault_matrix.record("crafted model files and checkpoints", "real checkpoint resumes and exports", ok)
    assert ok, r2.stderr
