#!/usr/bin/env python3
"""Training steps/s before and after the prepared data cache, 1 thread, the small QPSK preset.

"before" is the trainer of commit 24e6ab8 (photos decoded from PNG at start-up, crops through a
torch DataLoader one item at a time); "after" is this tree's (prepared uint8 arrays, CropSampler).
Each side runs in its own process, alternately, REPEATS times; a run times start-up (photos to
memory) and STEPS training steps (data included), and reports the median step.

    python3 research/study_data_bench.py [REPEATS] [STEPS]
"""
import json
import os
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BEFORE = "24e6ab8"
CHILD = r'''
import json, os, statistics, sys, time, types
pkg = types.ModuleType("semcom"); pkg.__path__ = [sys.argv[1]]; sys.modules["semcom"] = pkg
import torch
torch.set_num_threads(1)
from semcom.training import trainer
cfg = trainer.load_config(sys.argv[2])
t0 = time.perf_counter()
if hasattr(trainer, "load_split"):
    images = trainer.load_split(cfg, "train"); kind = "after"
else:
    images = trainer.load_images(cfg, "train"); kind = "before"
load = time.perf_counter() - t0
tr = trainer.Trainer(cfg, sys.argv[3], progress=False, **({"train_images": images} if kind == "before" else {}))
batches = tr._batches(tr._loader()) if kind == "before" else tr._sampler()
data, step = [], []
for i in range(int(sys.argv[4]) + 3):
    a = time.perf_counter(); x = next(batches); b = time.perf_counter(); tr.train_step(x); c = time.perf_counter()
    if i >= 3:
        data.append(b - a); step.append(c - a)
print(json.dumps({"kind": kind, "load_s": load, "data_ms": 1e3 * statistics.median(data),
                  "step_s": statistics.median(step)}))
'''


def main():
    repeats = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    steps = int(sys.argv[2]) if len(sys.argv) > 2 else 20
    cfg = os.path.join(ROOT, "configs", "bitsemcom_qpsk_cpp16_small.json")
    env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE"}
    with tempfile.TemporaryDirectory() as tmp:
        old = os.path.join(tmp, "old")
        os.makedirs(old)
        archive = subprocess.run(["git", "-C", ROOT, "archive", BEFORE, "python/semcom"], capture_output=True,
                                 check=True)
        subprocess.run(["tar", "-x", "-C", old], input=archive.stdout, check=True)
        trees = {"before": os.path.join(old, "python", "semcom"), "after": os.path.join(ROOT, "python", "semcom")}
        results = {"before": [], "after": []}
        for _ in range(repeats):
            for kind, tree in trees.items():
                out = subprocess.run([sys.executable, "-c", CHILD, tree, cfg, os.path.join(tmp, kind), str(steps)],
                                     capture_output=True, text=True, env=env, check=True)
                results[kind].append(json.loads(out.stdout.strip().splitlines()[-1]))
    summary = {}
    for kind, runs in results.items():
        summary[kind] = {"load_s": statistics.median(r["load_s"] for r in runs),
                         "data_ms_per_batch": statistics.median(r["data_ms"] for r in runs),
                         "step_s": statistics.median(r["step_s"] for r in runs),
                         "steps_per_s": 1 / statistics.median(r["step_s"] for r in runs),
                         "runs": runs}
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
