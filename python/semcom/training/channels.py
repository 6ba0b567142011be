"""Differentiable twins of the GNU Radio PHY for training.

Same constellations and Gray labels (taken from ``phy.constellations``), same
SNR definition (Es = 1, N0 = 10**(-SNR/10)) and the same exact LLR (positive =
bit 1), so a model trained here reads the same values ``phy_rx`` produces.
Bits are float tensors in {0, 1} (straight-through bits keep their gradients).
"""
from __future__ import annotations

import numpy as np
import torch

from ..phy.constellations import constellation


class Modem(torch.nn.Module):
    def __init__(self, modulation: str):
        super().__init__()
        const = constellation(modulation)
        self.bits_per_symbol = const.bits_per_symbol
        self.register_buffer("points", torch.tensor(np.stack([const.points.real, const.points.imag], -1),
                                                    dtype=torch.float32))  # (M, 2)
        self.register_buffer("labels", torch.tensor(const.label_bits, dtype=torch.float32))  # (M, k)

    def modulate(self, bits: torch.Tensor) -> torch.Tensor:
        """(B, L) bits -> (B, L/k, 2) real/imag symbols; differentiable in the bits."""
        b = bits.reshape(bits.shape[0], -1, 1, self.bits_per_symbol)  # (B, S, 1, k)
        lab = self.labels[None, None]  # (1, 1, M, k)
        weight = torch.prod(b * lab + (1 - b) * (1 - lab), dim=-1)  # (B, S, M): one-hot for hard bits
        return weight @ self.points

    def llr(self, y: torch.Tensor, noise_var) -> torch.Tensor:
        """Exact LLRs (B, S*k) from (B, S, 2) symbols; noise_var scalar, (B, 1) or (B, S)."""
        nv = torch.as_tensor(noise_var, dtype=y.dtype, device=y.device)
        nv = nv.reshape(nv.shape + (1,) * (2 - nv.dim())) if nv.dim() < 2 else nv
        d2 = ((y[:, :, None, :] - self.points[None, None]) ** 2).sum(-1)  # (B, S, M)
        metric = -d2 / nv[..., None] if nv.dim() == 2 else -d2 / nv
        ones = self.labels.T.bool()  # (k, M)
        big = torch.finfo(y.dtype).max
        m1 = torch.where(ones[None, None], metric[:, :, None, :], -big)
        m0 = torch.where(~ones[None, None], metric[:, :, None, :], -big)
        out = torch.logsumexp(m1, -1) - torch.logsumexp(m0, -1)  # (B, S, k)
        return out.reshape(y.shape[0], -1)


def noise_var(snr_db) -> torch.Tensor:
    return 10.0 ** (-torch.as_tensor(snr_db, dtype=torch.float32) / 10.0)


def awgn(symbols: torch.Tensor, snr_db) -> tuple[torch.Tensor, torch.Tensor]:
    """Adds CN(0, N0) noise; snr_db scalar or (B,). Returns (y, N0 of shape (B, 1))."""
    n0 = noise_var(snr_db).to(symbols.device).reshape(-1, 1).expand(symbols.shape[0], 1)
    noise = torch.randn_like(symbols) * torch.sqrt(n0 / 2)[..., None]
    return symbols + noise, n0


def rayleigh_block(symbols: torch.Tensor, snr_db, block_len: int = 64):
    """Block fading with perfect-CSI zero forcing: returns (equalised y, per-symbol noise var)."""
    batch, n = symbols.shape[:2]
    blocks = -(-n // block_len)
    h = torch.randn(batch, blocks, 2, device=symbols.device) / np.sqrt(2)
    h = h.repeat_interleave(block_len, dim=1)[:, :n]  # (B, S, 2)
    hr, hi = h[..., 0], h[..., 1]
    sr, si = symbols[..., 0], symbols[..., 1]
    faded = torch.stack([hr * sr - hi * si, hr * si + hi * sr], -1)
    y, n0 = awgn(faded, snr_db)
    gain = (hr ** 2 + hi ** 2).clamp_min(1e-12)
    yr, yi = y[..., 0], y[..., 1]
    z = torch.stack([(yr * hr + yi * hi) / gain, (yi * hr - yr * hi) / gain], -1)  # y * conj(h) / |h|^2
    return z, n0 / gain


def flip(bits: torch.Tensor, flip_prob) -> torch.Tensor:
    """Each bit flipped with its probability (broadcast against ``bits``)."""
    return torch.where(torch.rand_like(bits) < flip_prob, 1 - bits, bits)


def position_flip_probs(modulation: str, snr_db, positions: np.ndarray, per_position: bool = True) -> torch.Tensor:
    """(B, L) flip probability of every bit of a batch: bit i sits on label position ``positions[i]``
    of the Gray constellation, image b at Es/N0 ``snr_db[b]``; the exact hard-decision error rate of
    that position (``phy.theory.bit_error_rates``), or with ``per_position`` false every position's mean."""
    from ..phy.theory import bit_error_rates
    rates = np.stack([bit_error_rates(modulation, float(s)) for s in np.atleast_1d(snr_db)])  # (B, k)
    if not per_position:
        rates[:] = rates.mean(axis=1, keepdims=True)
    return torch.as_tensor(rates[:, np.asarray(positions)], dtype=torch.float32)


def bsc_llr(bits: torch.Tensor, flip_prob) -> torch.Tensor:
    """Hard-decision receiver: flips each bit with probability p; LLR +-log((1-p)/p)."""
    p = torch.as_tensor(flip_prob, dtype=bits.dtype, device=bits.device).reshape(-1, 1)
    flipped = flip(bits, p)
    mag = torch.log((1 - p) / p.clamp_min(1e-12))
    return (2 * flipped - 1) * mag
