"""Reference channel models in numpy (the GNU Radio chain uses gr-channels; these
are the closed-form-checked twins used by tests, training and BSC studies).

SNR is Es/N0 with Es = 1, so the complex noise variance is N0 = 10**(-snr_db/10).
"""
from __future__ import annotations

import numpy as np


def noise_var(snr_db: float) -> float:
    return float(10.0 ** (-float(snr_db) / 10.0))


def awgn(symbols: np.ndarray, snr_db: float, rng: np.random.Generator) -> np.ndarray:
    n0 = noise_var(snr_db)
    noise = rng.standard_normal((2, len(symbols))) * np.sqrt(n0 / 2)
    return (symbols + noise[0] + 1j * noise[1]).astype(np.complex64)


def rayleigh_block_gains(n_symbols: int, block_len: int, rng: np.random.Generator) -> np.ndarray:
    """Per-symbol CN(0,1) fades, constant over blocks of ``block_len`` symbols."""
    n_blocks = -(-n_symbols // block_len)
    h = (rng.standard_normal(n_blocks) + 1j * rng.standard_normal(n_blocks)) / np.sqrt(2)
    return np.repeat(h, block_len)[:n_symbols].astype(np.complex64)


def equalise(y: np.ndarray, h: np.ndarray, n0: float):
    """Perfect-CSI zero-forcing: returns (y/h, per-symbol noise variance n0/|h|^2)."""
    gain = np.maximum(np.abs(h) ** 2, 1e-12)
    return (y * np.conj(h) / gain).astype(np.complex64), (n0 / gain).astype(np.float32)


def bsc(bits: np.ndarray, flip_prob: float, rng: np.random.Generator) -> np.ndarray:
    flips = rng.random(len(bits)) < flip_prob
    return (np.asarray(bits, dtype=np.uint8) ^ flips).astype(np.uint8)


def bsc_llr(bits: np.ndarray, flip_prob: float) -> np.ndarray:
    """LLRs a hard-decision receiver hands on: +-log((1-p)/p)."""
    mag = np.log((1 - flip_prob) / max(flip_prob, 1e-12))
    return np.where(np.asarray(bits) > 0, mag, -mag).astype(np.float32)


def capacity(channel: str, snr_db: float) -> float:
    """Bits per channel use with Gaussian inputs: log2(1+SNR) for AWGN; for Rayleigh
    fading, the ergodic E[log2(1+|h|^2 SNR)] with |h|^2 ~ Exp(1) (Gauss-Laguerre)."""
    snr = 10.0 ** (snr_db / 10.0)
    if channel == "awgn":
        return float(np.log2(1 + snr))
    if channel == "rayleigh":
        x, w = np.polynomial.laguerre.laggauss(64)
        return float(np.sum(w * np.log2(1 + x * snr)))
    raise ValueError(f"no capacity formula for channel '{channel}'")
