"""research/gradient_noise.py: the noise-scale estimator on known gradients, and the draw share of
a deterministic and a sampling model on synthetic data."""
import os
import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")
SCRIPTS = os.path.join(os.path.dirname(__file__), "..")
sys.path.insert(0, SCRIPTS)
gradient_noise = pytest.importorskip("gradient_noise")


def test_noise_scale_recovers_signal_and_noise_of_made_up_gradients():
    rng = np.random.default_rng(0)
    d, k, batch, sigma = 4000, 400, 8, 0.05
    mean = rng.normal(size=d) * 0.01  # |G|^2 about 0.4
    grads = [torch.tensor(mean + sigma * rng.normal(size=d)) for _ in range(k)]
    r = gradient_noise.noise_scale(grads, batch)
    assert r["noise"] == pytest.approx(d * sigma ** 2, rel=0.02)
    assert r["signal"] == pytest.approx(float((mean ** 2).sum()), rel=0.05)
    assert r["b_noise"] == pytest.approx(batch * d * sigma ** 2 / float((mean ** 2).sum()), rel=0.06)


def config(variant):
    return {"name": f"tiny_{variant}", "model": {"preset": "tiny", "variant": variant}, "modulation": "qpsk",
            "cpp": "1/16", "data": {"synthetic": 8, "crop": 32, "batch": 4, "val_crop": 64, "val_images": 1},
            "lr": 1e-3, "recipe": [{"name": "error-free", "steps": 1, "channel": {"kind": "error-free"}},
                                   {"name": "mixed", "steps": 1, "channel": {"kind": "mixed", "snr_range": [0, 6]}}],
            "val": {"every": 10, "snrs": [0.0]}, "checkpoint_every": 10, "log_every": 1, "threads": 1}


def test_only_sampled_bits_or_a_channel_make_noise_on_fixed_crops():
    fixed = gradient_noise.measure(config("deepjscc-1bit"), None, 4, 0, None, fixed_batches=2, progress=False)
    assert fixed["draw_share"] < 1e-12 # uniform quantisation, no channel: the same crops, the same gradient
    drawn = gradient_noise.measure(config("bitsemcom"), None, 4, 0, None, fixed_batches=2, progress=False)
    assert drawn["draw_share"] > 1e-6  # Gumbel draws
    channel = gradient_noise.measure(config("deepjscc-1bit"), None, 4, 1, ["decoder"], fixed_batches=2, progress=False)
    assert channel["draw_share"] > 1e-6 and channel["trains"] == "decoder"
    assert 0 < channel["params"] < fixed["params"]


def test_a_stage_the_recipe_lacks_gets_one_line(tmp_path):
    r = subprocess.run([sys.executable, os.path.join(SCRIPTS, "gradient_noise.py"),
                        "configs/smoke_synthetic.json@5", "", "--batches", "8"],
                       capture_output=True, text=True, timeout=300,
                       cwd=os.path.join(os.path.dirname(__file__), "..", ".."))
    assert r.returncode == 1
    assert r.stderr.strip().splitlines()[-1].startswith("gradient_noise: ")
    assert "no stage 5" in r.stderr and "Traceback" not in r.stderr
