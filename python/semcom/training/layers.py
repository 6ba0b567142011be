"""Network layers the methods' models share; ``STRIDE``: the pixels per latent cell along each side."""
from __future__ import annotations

import torch
from torch import nn

STRIDE = 16


def latent_channels_for(cpp: float, bits_per_symbol: int) -> int:
    """C such that C * H/16 * W/16 bits fill cpp * H * W channel uses: C = 256 * cpp * k."""
    c = STRIDE * STRIDE * cpp * bits_per_symbol
    if abs(c - round(c)) > 1e-9 or round(c) < 1:
        raise ValueError(f"cpp {cpp} with {bits_per_symbol} bits/symbol gives a non-integer C = {c}")
    return int(round(c))


def leaky_relu():
    return nn.LeakyReLU(0.2)


class GDN(nn.Module):
    """Generalised divisive normalisation (Balle et al. 2016): y_i = x_i / sqrt(beta_i + sum_j gamma_ij x_j^2);
    ``inverse`` (IGDN) multiplies instead. beta and gamma are kept non-negative by squaring stored
    parameters (with a small pedestal on beta). Exports to ONNX as Mul, Conv, Sqrt, Div."""

    def __init__(self, ch: int, inverse: bool = False, gamma_init: float = 0.1):
        super().__init__()
        self.inverse = inverse
        self.beta = nn.Parameter(torch.ones(ch))
        self.gamma = nn.Parameter(torch.sqrt(gamma_init * torch.eye(ch) + 1e-6))

    def forward(self, x):
        beta = self.beta * self.beta + 1e-6
        gamma = (self.gamma * self.gamma)[:, :, None, None]
        norm = torch.sqrt(torch.nn.functional.conv2d(x * x, gamma, beta))
        return x * norm if self.inverse else x / norm


class SqueezeExcite(nn.Module):
    """Channel attention (Hu et al. 2018): x * sigmoid(W2 relu(W1 mean_hw(x)))."""

    def __init__(self, ch: int, reduction: int = 4):
        super().__init__()
        hidden = max(4, ch // reduction)
        self.fc = nn.Sequential(nn.Conv2d(ch, hidden, 1), nn.ReLU(), nn.Conv2d(hidden, ch, 1), nn.Sigmoid())

    def forward(self, x):
        return x * self.fc(x.mean(dim=(2, 3), keepdim=True))
