"""research/bit_usage.py: entropy bookkeeping of a model's bits, on made-up posteriors."""
import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
bit_usage = pytest.importorskip("bit_usage")


def test_coin_flips_carry_nothing_and_fixed_random_bits_carry_all():
    rng = np.random.default_rng(0)
    flips = bit_usage.usage(np.full((4, 8, 8), 0.5), stochastic=True)
    assert flips["coin_flip_share"] == pytest.approx(1.0) and flips["information_bound_bits"] == pytest.approx(0, abs=1e-6)
    sure = bit_usage.usage((rng.random((4, 8, 8)) > 0.5).astype(float), stochastic=False)
    assert sure["coin_flip_share"] == 0 and sure["information_bound_bits"] == pytest.approx(256, rel=0.02)
    constant = np.zeros((4, 8, 8))
    constant[1] = 1.0  # every channel the same at every position: nothing to learn from the bits
    assert bit_usage.usage(constant, stochastic=False)["marginal_bits"] == pytest.approx(0, abs=1e-6)


def test_linear_redundancy_tells_copies_from_independent_channels():
    rng = np.random.default_rng(1)
    independent = rng.random((5000, 6))
    assert bit_usage.linear_redundancy(independent) < 0.01
    copies = np.concatenate([independent[:, :3], 1 - independent[:, :3]], axis=1)
    assert bit_usage.linear_redundancy(copies) == pytest.approx(1.0)


def test_a_folder_that_is_not_a_model_gets_one_line(tmp_path):
    import subprocess
    (tmp_path / "decoder.onnx").write_text("garbage")
    script = os.path.join(os.path.dirname(__file__), "..", "bit_usage.py")
    photos = tmp_path / "photos"
    photos.mkdir()
    from gnuradio.semcom.imageio import save_image
    save_image(str(photos / "a.png"), np.zeros((32, 48, 3), np.uint8))
    r = subprocess.run([sys.executable, script, str(tmp_path), "--images", str(photos)], capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 1 and "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert r.stderr.startswith("bit_usage: model ") and "encoder.onnx is missing" in r.stderr
