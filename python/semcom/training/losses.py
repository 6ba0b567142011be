"""Training losses on images in [0, 1]: MSE, L1, and MSE + MS-SSIM (torch twin of ``metrics.ms_ssim``).

``make(spec)`` takes a name or ``{"kind": "mse+msssim", "msssim_weight": w}``; the combined loss is
``(1 - w) * MSE + w * s * (1 - MS-SSIM)``; the scale s (``msssim_scale``, 0.05) brings both terms to
the same order at 20-30 dB (MSE 0.001-0.01, 1 - MS-SSIM 0.02-0.2).

``{"kind": "mse" or "l1", "chroma_weight": w}`` measures the error in YCbCr (BT.601) with the Cb and
Cr errors weighted by w (the luma error by 1): a network that learns the luma first is pushed
towards the colours as well. ``"coarse_chroma_weight": w`` adds w times the MSE of the Cb and Cr
means over 16x16 blocks (``coarse_chroma``): the colour of areas, which a loss per pixel counts little.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
_WIN, _SIGMA, _K1, _K2 = 11, 1.5, 0.01, 0.03
KINDS = ("mse", "l1", "mse+msssim")


def _gaussian(size: int, sigma: float, device, dtype) -> torch.Tensor:
    x = torch.arange(size, device=device, dtype=dtype) - (size - 1) / 2
    g = torch.exp(-(x ** 2) / (2 * sigma ** 2))
    return g / g.sum()


def _filter(x: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """Separable 'valid' Gaussian filter of (B, C, H, W), per channel."""
    c = x.shape[1]
    x = F.conv2d(x, g.view(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)
    return F.conv2d(x, g.view(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)


def ms_ssim(x: torch.Tensor, y: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """MS-SSIM per image (B,) of (B, C, H, W) in [0, 1]: the window, constants, pooling and scale
    rule of ``metrics.ms_ssim`` (as many of the 5 scales as fit, weights renormalised). SSIM/CS
    values clamp to ``eps`` (not 0) so the power stays differentiable."""
    side = min(x.shape[-2:])
    win = min(_WIN, side if side % 2 else side - 1)
    scales = 1
    while scales < len(MS_SSIM_WEIGHTS) and side >= win * 2 ** scales:
        scales += 1
    w = torch.tensor(MS_SSIM_WEIGHTS[:scales], device=x.device, dtype=torch.float32)
    w = w / w.sum()
    x, y = x.float(), y.float()
    g = _gaussian(win, _SIGMA, x.device, x.dtype)
    c1, c2 = _K1 ** 2, _K2 ** 2
    result = torch.ones(x.shape[0], x.shape[1], device=x.device)
    for level in range(scales):
        mx, my = _filter(x, g), _filter(y, g)
        sxx = _filter(x * x, g) - mx * mx
        syy = _filter(y * y, g) - my * my
        sxy = _filter(x * y, g) - mx * my
        cs = (2 * sxy + c2) / (sxx + syy + c2)
        last = level == scales - 1
        term = ((2 * mx * my + c1) / (mx * mx + my * my + c1) * cs) if last else cs
        result = result * term.mean(dim=(-2, -1)).clamp_min(eps) ** w[level]
        if not last:
            x, y = F.avg_pool2d(x, 2), F.avg_pool2d(y, 2)
    return result.mean(dim=1)


# BT.601 RGB -> Y, Cb, Cr (offsets drop out of a difference)
YCBCR = ((0.299, 0.587, 0.114), (-0.168736, -0.331264, 0.5), (0.5, -0.418688, -0.081312))


def chroma_weighted(base, weight: float):
    """``base`` (a loss of two images) on the YCbCr difference, Cb and Cr scaled by ``weight``."""
    def loss(out, target):
        m = torch.tensor(YCBCR, device=out.device, dtype=torch.float32)
        m = m * torch.tensor([1.0, weight, weight], device=out.device)[:, None]
        diff = torch.einsum("kc,bchw->bkhw", m, out.float() - target.float())
        return base(diff, torch.zeros_like(diff))
    return loss


COARSE_BLOCK = 16


def coarse_chroma(out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """MSE of the Cb and Cr means over ``COARSE_BLOCK`` px blocks (the image's edges left out)."""
    m = torch.tensor(YCBCR[1:], device=out.device, dtype=torch.float32)
    diff = torch.einsum("kc,bchw->bkhw", m, out.float() - target.float())
    return F.avg_pool2d(diff, COARSE_BLOCK).square().mean()


def make(spec="mse"):
    """loss(out, target) -> scalar tensor."""
    spec = {"kind": spec} if isinstance(spec, str) else dict(spec)
    kind = spec.get("kind", "mse")
    if kind in ("mse", "l1"):
        base = F.mse_loss if kind == "mse" else F.l1_loss
        if "chroma_weight" in spec:
            base = chroma_weighted(base, float(spec["chroma_weight"]))
        if "coarse_chroma_weight" not in spec:
            return base
        coarse, pixel = float(spec["coarse_chroma_weight"]), base

        def loss(out, target):
            return pixel(out, target) + coarse * coarse_chroma(out, target)
        return loss
    if kind == "mse+msssim":
        weight, scale = float(spec.get("msssim_weight", 0.5)), float(spec.get("msssim_scale", 0.05))

        def loss(out, target):
            return (1 - weight) * F.mse_loss(out, target) + weight * scale * (1 - ms_ssim(out, target)).mean()
        return loss
    raise ValueError(f"unknown loss '{kind}'; choose one of {', '.join(KINDS)}")
