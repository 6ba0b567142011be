"""Image quality metrics in plain numpy: PSNR and MS-SSIM (Wang, Simoncelli, Bovik 2003)."""
from __future__ import annotations

import numpy as np

PSNR_CAP_DB = 100.0  # what psnr() returns for identical images
MS_SSIM_WEIGHTS = np.array([0.0448, 0.2856, 0.3001, 0.2363, 0.1333])
_WIN, _SIGMA, _K1, _K2, _PEAK = 11, 1.5, 0.01, 0.03, 255.0


BAND_ROWS = 256  # rows per pass: memory stays bounded for photos of any size


def _check(ref: np.ndarray, test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    ref, test = np.asarray(ref), np.asarray(test)
    if ref.shape != test.shape:
        raise ValueError(f"image shapes differ: {ref.shape} vs {test.shape}")
    return ref, test


def psnr(ref: np.ndarray, test: np.ndarray) -> float:
    """PSNR in dB of uint8 images (peak 255), capped at ``PSNR_CAP_DB`` = 100 dB (identical images)."""
    ref, test = _check(ref, test)
    if ref.size == 0:
        raise ValueError("psnr needs a non-empty image")
    sse = 0.0
    for r in range(0, max(1, ref.shape[0]), BAND_ROWS):
        d = ref[r:r + BAND_ROWS].astype(np.float64) - test[r:r + BAND_ROWS]
        sse += float(np.sum(d * d))
    mse = sse / ref.size
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
    """2x2 average pooling of H x W (an odd last row/column is dropped)."""
    h, w = x.shape[0] // 2, x.shape[1] // 2
    return x[: 2 * h, : 2 * w].reshape(h, 2, w, 2).mean(axis=(1, 3))


def _ssim_cs(x: np.ndarray, y: np.ndarray, g: np.ndarray) -> tuple[float, float]:
    """Mean SSIM and mean contrast-structure term of one channel (x, y: H x W), in bands of rows."""
    c1, c2 = (_K1 * _PEAK) ** 2, (_K2 * _PEAK) ** 2
    n = len(g)
    rows = x.shape[0] - n + 1
    ssim_sum = cs_sum = 0.0
    for r in range(0, rows, BAND_ROWS):
        xb = x[r:r + BAND_ROWS + n - 1].astype(np.float64)
        yb = y[r:r + BAND_ROWS + n - 1].astype(np.float64)
        mx, my = _filter(xb, g), _filter(yb, g)
        sxx = _filter(xb * xb, g) - mx * mx
        syy = _filter(yb * yb, g) - my * my
        sxy = _filter(xb * yb, g) - mx * my
        cs = (2 * sxy + c2) / (sxx + syy + c2)
        ssim_sum += float(np.sum((2 * mx * my + c1) / (mx * mx + my * my + c1) * cs))
        cs_sum += float(np.sum(cs))
    count = rows * (x.shape[1] - n + 1)
    return ssim_sum / count, cs_sum / count


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
    side = min(ref.shape[:2])
    if side < 1:
        raise ValueError("ms_ssim needs a non-empty image")
    win = min(_WIN, side if side % 2 else side - 1) if side > 1 else 1
    scales = 1
    while scales < len(MS_SSIM_WEIGHTS) and side >= win * 2**scales:
        scales += 1
    weights = MS_SSIM_WEIGHTS[:scales] / MS_SSIM_WEIGHTS[:scales].sum()
    g = _gaussian(win, _SIGMA)
    per_channel = []
    for ch in range(ref.shape[2]):  # one channel at a time: memory stays bounded
        x, y = ref[..., ch], test[..., ch]
        result = 1.0
        for level, w in enumerate(weights):
            ssim, cs = _ssim_cs(x, y, g)
            last = level == scales - 1
            result *= max(ssim if last else cs, 0.0) ** w
            if not last:
                x, y = _pool(x.astype(np.float64)), _pool(y.astype(np.float64))
        per_channel.append(result)
    return float(np.clip(np.mean(per_channel), 0.0, 1.0))


def hue_saturation(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """HSV hue (degrees, 0..360) and saturation (0..1) of a uint8 RGB image; grey pixels get hue 0."""
    x = np.asarray(image, np.float64) / 255.0
    top, low = x.max(-1), x.min(-1)
    span = top - low
    safe = np.where(span > 0, span, 1.0)
    r, g, b = x[..., 0], x[..., 1], x[..., 2]
    hue = np.where(top == r, ((g - b) / safe) % 6, np.where(top == g, (b - r) / safe + 2, (r - g) / safe + 4)) * 60
    saturation = np.where(top > 0, span / np.where(top > 0, top, 1.0), 0.0)
    return np.where(span > 0, hue, 0.0), saturation


def hue_error(ref: np.ndarray, test: np.ndarray, min_saturation: float = 0.2) -> float:
    """Mean circular difference (degrees) of HSV hue between two uint8 RGB images over the pixels
    whose saturation in ``ref`` exceeds ``min_saturation``; 0 when there are none."""
    ref, test = _check(ref, test)
    hue_ref, sat_ref = hue_saturation(ref)
    hue_test, _ = hue_saturation(test)
    diff = np.abs(hue_ref - hue_test) % 360
    diff = np.minimum(diff, 360 - diff)[sat_ref > min_saturation]
    return float(diff.mean()) if diff.size else 0.0


def seam_ratio(image: np.ndarray, tile: int) -> float:
    """Mean absolute step between neighbouring pixels across the inner borders of a grid of
    ``tile`` px tiles, over the same inside the tiles: about 1 for a seamless photo."""
    x = np.asarray(image, np.float64)
    across, inside = [], []
    for axis in (0, 1):
        steps = np.abs(np.diff(x, axis=axis))
        steps = steps.mean(tuple(a for a in range(steps.ndim) if a != axis))
        border = np.zeros(len(steps), bool)
        border[tile - 1::tile] = True
        across.append(steps[border])
        inside.append(steps[~border])
    across, inside = np.concatenate(across), np.concatenate(inside)
    if not across.size or not inside.size or inside.mean() == 0:
        raise ValueError(f"a {x.shape[1]}x{x.shape[0]} image has no inner {tile}-px tile border to measure")
    return float(across.mean() / inside.mean())
