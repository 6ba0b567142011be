import importlib
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "python"))
semcom = importlib.import_module("semcom")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from numpy.lib.stride_tricks import sliding_window_view  # noqa: E402

from semcom import metrics  # noqa: E402


@pytest.fixture(scope="module")
def image():
    rng = np.random.default_rng(1)
    y, x = np.mgrid[0:200, 0:240]
    smooth = 120 + 60 * np.sin(x / 17.0)[..., None] * np.cos(y / 23.0)[..., None] * np.array([1.0, 0.7, -0.5])
    return np.clip(smooth + rng.normal(0, 8, (200, 240, 3)), 5, 245).astype(np.uint8)


def noisy(img, sigma, seed=0):
    rng = np.random.default_rng(seed)
    return np.clip(img + rng.normal(0, sigma, img.shape), 0, 255).astype(np.uint8)


def test_identical_images(image):
    assert metrics.psnr(image, image) == 100.0
    assert metrics.ms_ssim(image, image) == pytest.approx(1.0, abs=1e-12)


def test_psnr_of_known_mse(image):
    shifted = (image.astype(int) + 5).astype(np.uint8)  # image <= 245, so no clipping
    assert metrics.psnr(image, shifted) == pytest.approx(20 * np.log10(255 / 5), abs=1e-9)


def test_monotonic_in_noise(image):
    scores = [(metrics.psnr(image, noisy(image, s)), metrics.ms_ssim(image, noisy(image, s))) for s in (2, 5, 10, 20, 40)]
    psnrs, ssims = zip(*scores)
    assert all(a > b for a, b in zip(psnrs, psnrs[1:]))
    assert all(a > b for a, b in zip(ssims, ssims[1:]))
    assert all(0.0 <= s < 1.0 for s in ssims)


@pytest.mark.parametrize("shape", [(64, 96, 3), (20, 30, 3), (8, 9, 3), (1, 1, 3), (40, 50)])
def test_small_images_and_greyscale(shape):
    rng = np.random.default_rng(2)
    a = rng.integers(0, 256, shape, dtype=np.uint8)
    b = noisy(a, 10)
    assert metrics.ms_ssim(a, a) == pytest.approx(1.0)
    assert 0.0 <= metrics.ms_ssim(a, b) <= 1.0


def test_shape_mismatch():
    with pytest.raises(ValueError):
        metrics.psnr(np.zeros((4, 4, 3), np.uint8), np.zeros((4, 5, 3), np.uint8))
    with pytest.raises(ValueError):
        metrics.ms_ssim(np.zeros((4, 4, 3), np.uint8), np.zeros((4, 5, 3), np.uint8))


def test_separable_filter_equals_2d_valid_convolution():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(2, 30, 25))
    g = metrics._gaussian(11, 1.5)
    windows = sliding_window_view(x, (11, 11), axis=(1, 2))
    assert np.allclose(metrics._filter(x, g), np.einsum("cijkl,kl->cij", windows, np.outer(g, g)))


def test_opposite_structure_clips_to_zero():
    a = np.tile(np.arange(0, 256, dtype=np.uint8)[None, :, None], (256, 1, 3))
    assert metrics.ms_ssim(a, 255 - a) == 0.0


def test_hue_error_is_the_mean_circular_hue_difference_over_saturated_pixels():
    red, orange, grey = [255, 0, 0], [255, 128, 0], [128, 128, 128]
    ref = np.array([[red, red, grey]], np.uint8)
    test = np.array([[orange, red, red]], np.uint8)  # the grey pixel is not counted
    assert metrics.hue_error(ref, test) == pytest.approx((128 / 255 * 60 + 0) / 2, abs=1e-9)
    magenta_red, orange_red = [255, 0, 43], [255, 43, 0]  # hues 350 and 10: 20 apart across 0
    assert metrics.hue_error(np.array([[magenta_red]], np.uint8), np.array([[orange_red]], np.uint8)) == \
        pytest.approx(2 * 43 / 255 * 60, abs=1e-9)
    assert metrics.hue_error(np.full((2, 2, 3), 128, np.uint8), np.zeros((2, 2, 3), np.uint8)) == 0.0


def test_seam_ratio_is_one_for_a_ramp_and_grows_with_steps_at_tile_borders():
    y, x = np.mgrid[0:64, 0:96]
    ramp = np.repeat((x + y)[..., None], 3, axis=2).astype(np.uint8)
    assert metrics.seam_ratio(ramp, 32) == pytest.approx(1.0, abs=1e-12)
    steps = ramp + (x // 32 * 10 + y // 32 * 10)[..., None].astype(np.uint8)  # +10 at every border
    assert metrics.seam_ratio(steps, 32) == pytest.approx(11.0, abs=1e-12)
    with pytest.raises(ValueError, match="no inner 64-px tile border"):
        metrics.seam_ratio(ramp[:, :64], 64)
