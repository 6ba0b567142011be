"""semcom-rate-profile's measurements on a shipped model, with tiny images (ONNX Runtime, no GNU Radio)."""
import os

import numpy as np
import pytest

from plain import REPO, module

pytest.importorskip("onnxruntime")
neural = module("codecs.neural")
rate_profile = module("evaluation.rate_profile")
imageio = module("imageio")
metrics = module("metrics")

SAMPLE = os.path.join(REPO, "examples", "images", "kodim23.png")


@pytest.fixture(scope="module")
def model():
    for d in neural.model_dirs() + [os.path.join(REPO, "models", "bitsemcom-qpsk-cpp16")]:
        if os.path.basename(d) == "bitsemcom-qpsk-cpp16" and os.path.isfile(os.path.join(d, "encoder.onnx")):
            return neural.OnnxModel(d)
    pytest.skip("no shipped QPSK model")


def test_profile_measures_order_curves_and_the_random_comparison(model, tmp_path, monkeypatch):
    photo = imageio.load_image(SAMPLE)
    paths = []
    for i, (r, c) in enumerate(((0, 0), (200, 300))):
        p = str(tmp_path / f"v{i}.png")
        imageio.save_image(p, photo[r:r + 64, c:c + 96])
        paths.append(p)
    monkeypatch.setattr(rate_profile, "VAL_CROP", 64)
    profile = rate_profile.measure(model, paths, paths[:1])
    c = int(model.card["latent_channels"])
    assert sorted(profile["channel_order"]) == list(range(c)) and len(profile["elimination_psnr_db"]) == c - 1
    assert set(profile["curves"]) == {"1", "2", "4"}
    full = dict(map(tuple, profile["curves"]["1"]))[1.0]
    photos = [imageio.load_image(p) for p in paths]
    expect = np.mean([metrics.psnr(x, model.decode(model.encode(x).astype(np.float32), 64, 96)) for x in photos])
    assert full == pytest.approx(expect, abs=1e-3)  # all of the whole photo's latent sent: its error-free decode
    curve = dict(map(tuple, profile["curves"]["1"]))
    assert curve[0.015625] < curve[0.5] - 3  # sending 1/64 of the latent is much worse than half
    assert set(profile["order_against_random"]) == {"25%", "50%"}
    # the elimination path: erasing the channels in the measured order ends far below where it starts
    assert profile["elimination_psnr_db"][-1] < profile["elimination_psnr_db"][0] - 3
