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


MIMO = "mimo8x4"  # the masked VQ-VAE paper's channel: Nt = 8 transmit, Nr = 4 receive antennas


def mimo_shape(channel: str) -> tuple[int, int] | None:
    """(Nt, Nr) of a channel named like 'mimo8x4'; None for other names."""
    if not channel.startswith("mimo"):
        return None
    try:
        nt, nr = (int(v) for v in channel[4:].split("x"))
    except ValueError:
        return None
    return (nt, nr) if 1 <= nt <= 64 and 1 <= nr <= 64 else None


def mimo_precoder(nt: int, streams: int) -> np.ndarray:
    """(Nt, S) orthonormal columns (of the DFT matrix): S streams over Nt antennas, no CSI at the transmitter."""
    k = np.arange(nt)
    return (np.exp(-2j * np.pi * np.outer(k, np.arange(streams)) / nt) / np.sqrt(nt)).astype(np.complex64)


def mimo_transmit(symbols: np.ndarray, nt: int, nr: int, block_len: int, rng: np.random.Generator):
    """Symbols as S = min(Nt, Nr) streams (zero-padded to whole vectors) through i.i.d. CN(0, 1)
    Rayleigh block fading, H constant over ``block_len`` vector uses; total transmit power 1 per use
    (each stream 1/S), so the SNR Es/N0 is the one every receive antenna sees. Returns (the Nr
    received signals (uses, Nr) before noise, the effective channels G = H Q / sqrt(S) (uses, Nr, S))."""
    s = min(nt, nr)
    uses = -(-len(symbols) // s)
    x = np.zeros(uses * s, np.complex64)
    x[:len(symbols)] = symbols
    x = x.reshape(uses, s)
    blocks = -(-uses // block_len)
    h = (rng.standard_normal((blocks, nr, nt)) + 1j * rng.standard_normal((blocks, nr, nt))) / np.sqrt(2)
    g = (h @ mimo_precoder(nt, s) / np.sqrt(s)).astype(np.complex64)
    g = np.repeat(g, block_len, axis=0)[:uses]
    return np.einsum("urs,us->ur", g, x).astype(np.complex64), g


def lmmse(received: np.ndarray, g: np.ndarray, n0: float, n_symbols: int):
    """Linear MMSE detection W = (G^H G + N0 I)^-1 G^H per use; each stream's estimate unbiased
    (divided by its gain (WG)_kk) with the variance of its residual interference plus noise.
    Returns (estimates, equivalent CSI h) flattened to ``n_symbols``, such that estimate * h with
    noise variance N0 is what a single-antenna receiver with per-symbol CSI reads (exact LLRs)."""
    s = g.shape[2]
    gh = np.conj(np.transpose(g, (0, 2, 1)))
    w = np.linalg.solve(gh @ g + n0 * np.eye(s, dtype=np.complex64)[None], gh)  # (uses, S, Nr)
    wg = w @ g  # (uses, S, S)
    gain = np.real(np.einsum("ukk->uk", wg))
    interference = np.sum(np.abs(wg) ** 2, axis=2) - np.abs(np.einsum("ukk->uk", wg)) ** 2
    var = (interference + n0 * np.sum(np.abs(w) ** 2, axis=2)) / np.maximum(gain, 1e-12) ** 2
    est = np.einsum("usr,ur->us", w, received) / np.maximum(gain, 1e-12)
    h = np.sqrt(n0 / np.maximum(var, 1e-30))
    return est.reshape(-1)[:n_symbols].astype(np.complex64), h.reshape(-1)[:n_symbols].astype(np.complex64)


def received(channel: str, symbols: np.ndarray, snr_db: float, rng: np.random.Generator, block_len: int = 64):
    """``symbols`` through ``channel`` ('awgn', 'rayleigh' with perfect CSI, or 'mimoNTxNR' with LMMSE
    detection) at Es/N0 ``snr_db``, in numpy: (equalised symbols, per-symbol noise variance), whose
    exact LLRs are what the receiver reads (the numpy twin of the sim_channel block)."""
    n0 = noise_var(snr_db)
    shape = mimo_shape(channel)
    if shape:
        rx, g = mimo_transmit(symbols, *shape, block_len, rng)
        noise = (rng.standard_normal(rx.shape) + 1j * rng.standard_normal(rx.shape)) * np.sqrt(n0 / 2)
        est, h = lmmse((rx + noise).astype(np.complex64), g, n0, len(symbols))
        return est, (n0 / np.maximum(np.abs(h) ** 2, 1e-30)).astype(np.float32)
    if channel == "rayleigh":
        h = rayleigh_block_gains(len(symbols), block_len, rng)
        return equalise(awgn(symbols * h, snr_db, rng), h, n0)
    if channel == "awgn":
        return awgn(symbols, snr_db, rng), np.full(len(symbols), n0, np.float32)
    raise ValueError(f"unknown channel '{channel}'; choose awgn, rayleigh or mimoNTxNR")


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
