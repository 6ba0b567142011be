"""Image quality metrics in plain numpy: PSNR and MS-SSIM (Wang, Simoncelli, Bovik 2003)."""
from __future__ import annotations

import numpy as np

PSNR_CAP_DB = 100.0  # what psnr() returns for identical images
MS_SSIM_WEIGHTS = np.array([0.0448, 0.2856, 0.3001, 0.2363, 0.1333])
_WIN, _SIGMA, _K1, _K2, _PEAK = 11, 1.5, 0.01, 0.03, 255.0


def _check(ref: np.ndarray, test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    ref, test = np.asarray(ref), np.asarray(test)
    if ref.shape != test.shape:
        raise ValueError(f"image shapes differ: {ref.shape} vs {test.shape}")
    return ref.astype(np.float64), test.astype(np.float64)


def psnr(ref: np.ndarray, test: np.ndarray) -> float:
    """PSNR in dB of uint8 images (peak 255), capped at ``PSNR_CAP_DB`` = 100 dB (identical images)."""
    ref, test = _check(ref, test)
    mse = float(np.mean((ref - test) ** 2))
    return PSNR_CAP_DB if mse == 0 else min(PSNR_CAP_DB, 10.0 * np.log10(_PEAK**2 / mse))


def _gaussian(size: int, sigma: float) -> np.ndarray:
    x = np.arange(size) - (size - 1) / 2
    g = np.exp(-(x**2) / (2 * sigma**2))
    return g / g.sum()


def _filter(x: np.ndarray, g: np.ndarray) -> np.ndarray:
    """Separable 'valid' convolution over the last two axes (one vectorised pass per tap)."""
    n = len(g)
    rows = sum(g[k] * x[..., k : x.shape[-2] - n + 1 + k, :] for k in range(n))
    return sum(g[k] * rows[..., k : rows.shape[-1] - n + 1 + k] for k in range(n))


def _pool(x: np.ndarray) -> np.ndarray:
    """2x2 average pooling of C x H x W (an odd last row/column is dropped)."""
    h, w = x.shape[-2] // 2, x.shape[-1] // 2
    return x[:, : 2 * h, : 2 * w].reshape(x.shape[0], h, 2, w, 2).mean(axis=(2, 4))


def _ssim_cs(x: np.ndarray, y: np.ndarray, g: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean SSIM and mean contrast-structure term per channel (x, y: C x H x W)."""
    c1, c2 = (_K1 * _PEAK) ** 2, (_K2 * _PEAK) ** 2
    mx, my = _filter(x, g), _filter(y, g)
    sxx = _filter(x * x, g) - mx * mx
    syy = _filter(y * y, g) - my * my
    sxy = _filter(x * y, g) - mx * my
    cs = (2 * sxy + c2) / (sxx + syy + c2)
    ssim = (2 * mx * my + c1) / (mx * mx + my * my + c1) * cs
    return ssim.mean(axis=(-2, -1)), cs.mean(axis=(-2, -1))


def ms_ssim(ref: np.ndarray, test: np.ndarray) -> float:
    """MS-SSIM in [0, 1] of uint8 images (HxW or HxWx3), computed per RGB channel and averaged.

    Gaussian window 11 (sigma 1.5), K1=0.01, K2=0.03, 2x2 average downsampling, 5 scales with
    the standard weights. Images with a side below 11*2^4 = 176 px use as many scales as fit
    (weights renormalised); below 11 px the window shrinks to the image. Negative SSIM/CS values
    clip to 0 before the power, as in common implementations.
    """
    ref, test = _check(ref, test)
    if ref.ndim == 2:
        ref, test = ref[..., None], test[..., None]
    x, y = np.moveaxis(ref, -1, 0), np.moveaxis(test, -1, 0)
    side = min(x.shape[-2:])
    if side < 1:
        raise ValueError("ms_ssim needs a non-empty image")
    win = min(_WIN, side if side % 2 else side - 1) if side > 1 else 1
    scales = 1
    while scales < len(MS_SSIM_WEIGHTS) and side >= win * 2**scales:
        scales += 1
    weights = MS_SSIM_WEIGHTS[:scales] / MS_SSIM_WEIGHTS[:scales].sum()
    g = _gaussian(win, _SIGMA)
    result = np.ones(x.shape[0])
    for level, w in enumerate(weights):
        ssim, cs = _ssim_cs(x, y, g)
        last = level == scales - 1
        result *= np.maximum(ssim if last else cs, 0.0) ** w
        if not last:
            x, y = _pool(x), _pool(y)
    return float(np.clip(result.mean(), 0.0, 1.0))
