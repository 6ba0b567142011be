"""Closed-form bit error rates of Gray-labelled square QAM (Cho & Yoon, 2002).

The BER of Gray M-QAM is a weighted sum of Q(sqrt(c * snr)) terms, so the
Rayleigh average follows term by term from E[Q(sqrt(c g))] with g ~ Exp(snr).
"""
from __future__ import annotations

from math import erfc, sqrt

import numpy as np

from .constellations import constellation


def _q(x: float) -> float:
    return 0.5 * erfc(x / sqrt(2.0))


def _q_terms(modulation: str):
    """[(weight, c)] with BER = sum weight * Q(sqrt(c * Es/N0))."""
    k = constellation(modulation).bits_per_symbol
    if k == 1:
        return [(1.0, 2.0)]
    if k == 2:
        return [(1.0, 1.0)]
    half = k // 2
    side = 1 << half  # sqrt(M)
    c = 3.0 / ((1 << k) - 1)  # d^2/(2 N0) per unit Es/N0, squared unit: 3/(M-1)
    terms = []
    for bit in range(1, half + 1):
        upper = int((1 - 2.0 ** -bit) * side)
        for i in range(upper):
            w = (-1) ** ((i * (1 << (bit - 1))) // side) * ((1 << (bit - 1)) - ((i * (1 << (bit - 1))) / side + 0.5) // 1)
            terms.append((2.0 * w / (side * half), (2 * i + 1) ** 2 * c))
    return terms


def ber_awgn(modulation: str, snr_db: float) -> float:
    snr = 10 ** (snr_db / 10)
    return float(sum(w * _q(np.sqrt(c * snr)) for w, c in _q_terms(modulation)))


def ber_rayleigh(modulation: str, snr_db: float) -> float:
    snr = 10 ** (snr_db / 10)
    total = 0.0
    for w, c in _q_terms(modulation):
        g = c * snr / 2.0
        total += w * 0.5 * (1 - np.sqrt(g / (1 + g)))
    return float(total)


def bit_error_rates(modulation: str, snr_db: float) -> np.ndarray:
    """Exact flip probability of every label position (MSB first) of the Gray constellation over
    AWGN with hard (nearest-point) decisions at Es/N0 ``snr_db``. Square QAM decides I and Q apart,
    so each position's errors follow from one PAM axis: for every sent level, the Gaussian mass of
    every decision interval whose level carries another bit. Their mean is ``ber_awgn``."""
    const = constellation(modulation)
    k = const.bits_per_symbol
    sigma = sqrt(10 ** (-snr_db / 10) / 2)  # noise std per real axis (Es = 1)
    if k == 1:
        return np.array([_q(abs(const.points[0].real) / sigma)])
    half = k // 2
    labels = np.arange(1 << half)
    levels = const.points[labels << half].real  # I level of every axis label (Q label 0)
    order = np.argsort(levels)
    levels, labels = levels[order], labels[order]
    edges = np.concatenate([[-np.inf], (levels[1:] + levels[:-1]) / 2, [np.inf]])
    # mass[t, r]: the sent level t is decided as level r
    upper = np.array([[_q((lo - x) / sigma) for lo in edges[:-1]] for x in levels])
    mass = upper - np.array([[_q((hi - x) / sigma) for hi in edges[1:]] for x in levels])
    bits = (labels[:, None] >> np.arange(half - 1, -1, -1)) & 1  # (levels, half), MSB first
    axis = np.array([(mass * (bits[:, None, j] != bits[None, :, j])).sum() / len(levels) for j in range(half)])
    return np.concatenate([axis, axis])
