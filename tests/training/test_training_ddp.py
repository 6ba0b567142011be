"""DDP on the CPU (gloo, 2 processes) through a recipe with a frozen stage, then a resume."""
import os
import re
import shutil
import subprocess
import sys

import pytest

torch = pytest.importorskip("torch")
from gnuradio.semcom.training import trainer  # noqa: E402

SCRIPT = r'''
import json, sys
from gnuradio.semcom.training import trainer
cfg = trainer.load_config(json.loads(sys.argv[1]))
t = trainer.Trainer(cfg, sys.argv[2], device="cpu", progress=False)
s = t.fit(resume=sys.argv[3] == "1", max_steps=int(sys.argv[4]) or None)
enc = sum(float(p.sum()) for p in t.model.encoder.parameters())
print(json.dumps({"rank": t.rank, "step": s["step"], "enc": enc}))
import torch.distributed as dist
dist.barrier(); dist.destroy_process_group()
'''


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("torchrun") is None and not os.path.exists(
    os.path.join(os.path.dirname(sys.executable), "torchrun")), reason="no torchrun")
def test_ddp_two_processes_recipe_with_frozen_stage_and_resume(tmp_path):
    import json
    cfg = {"model": {"preset": "tiny"}, "data": {"synthetic": 4, "crop": 32, "batch": 2, "val_crop": 64,
                                                 "val_images": 1},
           "recipe": [{"steps": 3}, {"steps": 3, "train": ["decoder"], "channel": {"kind": "awgn"}}],
           "val": {"every": 1000, "snrs": [3.0]}, "checkpoint_every": 2, "threads": 1}
    torchrun = shutil.which("torchrun") or os.path.join(os.path.dirname(sys.executable), "torchrun")
    script = tmp_path / "ddp.py"
    script.write_text(SCRIPT)

    def launch(resume, steps):
        r = subprocess.run([torchrun, "--standalone", "--nproc_per_node=2", str(script), json.dumps(cfg),
                            str(tmp_path / "run"), resume, str(steps)], capture_output=True, text=True, timeout=240,
                           env={**os.environ, "OMP_WAIT_POLICY": "PASSIVE"})
        assert r.returncode == 0, r.stderr[-3000:]
        # the two ranks share stdout: one's line may land inside the other's, so read every {...} object
        return sorted((json.loads(obj) for obj in re.findall(r"\{[^{}]*\}", r.stdout)), key=lambda d: d["rank"])

    first = launch("0", 4)  # stops inside the decoder-only stage
    assert [d["step"] for d in first] == [4, 4] and first[0]["enc"] == pytest.approx(first[1]["enc"])
    second = launch("1", 0)
    assert [d["step"] for d in second] == [6, 6]
    assert second[0]["enc"] == pytest.approx(first[0]["enc"], rel=0, abs=1e-9)  # the encoder stayed frozen
    assert (tmp_path / "run" / "model.pt").exists()
    assert trainer.latest_checkpoint(str(tmp_path / "run")).endswith("ckpt_00000006.pt")
