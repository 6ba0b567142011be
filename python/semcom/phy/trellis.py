"""Soft-output sequence detection over a short intersymbol-interference channel (BCJR).

The model: ``y[n] = sum_l taps[l] s[n - l] + w[n]``, ``w`` complex Gaussian of variance
``noise_var``; ``s[n]`` one of the ``M`` points of ``alphabet[n]`` (a row of M equal points is a
known symbol). The trellis state is the last ``L = len(taps) - 1`` symbols (``M**L`` states, the
newest symbol the least significant base-``M`` digit); the symbols before ``y[0]`` are known
(``history``). The forward-backward recursions in the log domain give each symbol's a-posteriori
metric, and bit LLRs (positive means bit 1) follow over the labels: exactly (log-sum-exp) or
max-log.
"""
from __future__ import annotations

import numpy as np

try:
    from .. import kernels  # the compiled kernels, installed beside this package (no GNU Radio)
except ImportError:  # the source tree without a build: numpy only
    kernels = None

NO_PATH = -1e30  # metric of a transition that cannot happen


def branch_metrics(y: np.ndarray, taps: np.ndarray, noise_var: float, alphabet: np.ndarray,
                   history: np.ndarray) -> np.ndarray:
    """-|y[n] - expected|^2 / noise_var per (n, state, new symbol): shape (N, M**L, M)."""
    y = np.asarray(y, np.complex128)
    alphabet = np.asarray(alphabet, np.complex128)
    taps = np.asarray(taps, np.complex128)
    n, m = alphabet.shape
    memory = len(taps) - 1
    # the points each past symbol may take: rows of alphabet, with history's known symbols first
    if memory < 1 or len(history) < memory:
        raise ValueError(f"{len(taps)} taps need at least 2 taps and {memory} known symbols before y")
    past = np.concatenate([np.repeat(np.asarray(history, np.complex128)[-memory:, None], m, axis=1), alphabet])
    expected = taps[0] * alphabet[:, None, :]  # (N, 1, M)
    for j in range(memory):  # digit j of the state: symbol n - 1 - j
        digit = (np.arange(m ** memory) // m ** j) % m
        expected = expected + taps[j + 1] * past[memory - 1 - j:memory - 1 - j + n][:, digit][:, :, None]
    return -np.abs(y[:, None, None] - expected) ** 2 / float(noise_var)


def _reduce(values: np.ndarray, axis, exact: bool) -> np.ndarray:
    """log sum exp over ``axis`` (``exact``), else the maximum (max-log)."""
    peak = values.max(axis=axis, keepdims=True)
    if not exact:
        return np.squeeze(peak, axis)
    return np.squeeze(peak, axis) + np.log(np.sum(np.exp(values - peak), axis=axis))


def symbol_metrics(gamma: np.ndarray, exact: bool = True) -> np.ndarray:
    """BCJR over branch metrics ``gamma`` (N, M**L, M), L >= 1: each symbol's log a-posteriori
    probability (N, M) up to a constant per n; with ``exact`` False, max-log (the best path's metric)."""
    n, states, m = gamma.shape
    rest = states // m  # a state is (oldest digit, the rest); the next is new symbol + M * rest
    g = gamma.reshape(n, m, rest, m)
    alpha = np.empty((n + 1, states))
    beta = np.empty((n + 1, states))
    alpha[0] = NO_PATH
    alpha[0, 0] = 0.0  # the history: every digit's row of candidates is one known symbol
    beta[n] = 0.0
    for i in range(n):
        a = _reduce(alpha[i].reshape(m, rest)[:, :, None] + g[i], 0, exact).ravel()
        alpha[i + 1] = a - a.max()
    for i in range(n - 1, -1, -1):
        b = _reduce(g[i] + beta[i + 1].reshape(rest, m)[None], 2, exact).ravel()
        beta[i] = b - b.max()
    total = alpha[:-1].reshape(n, m, rest)[:, :, :, None] + g + beta[1:].reshape(n, rest, m)[:, None]
    return _reduce(total.reshape(n, -1, m), 1, exact)


def bit_llrs(metrics: np.ndarray, label_bits: np.ndarray, exact: bool = True) -> np.ndarray:
    """Bit LLRs (positive means 1) from symbol metrics (N, M): (N, k)."""
    ones = np.asarray(label_bits, bool)
    out = np.empty((len(metrics), ones.shape[1]))
    for b in range(ones.shape[1]):
        out[:, b] = _reduce(metrics[:, ones[:, b]], 1, exact) - _reduce(metrics[:, ~ones[:, b]], 1, exact)
    return out


def detect(y, taps, noise_var, alphabet, history, label_bits, exact: bool = True) -> np.ndarray:
    """Bit LLRs (N, k) of the symbols behind ``y`` (see the module docstring): the compiled
    kernel when installed, else ``detect_numpy``."""
    if kernels is None:
        return detect_numpy(y, taps, noise_var, alphabet, history, label_bits, exact)
    if len(taps) < 2 or len(history) < len(taps) - 1:
        raise ValueError(f"{len(taps)} taps need at least 2 taps and {len(taps) - 1} known symbols before y")
    return kernels.bcjr_llrs(np.asarray(y, np.complex128), np.asarray(taps, np.complex128), float(noise_var),
                             np.asarray(alphabet, np.complex128), np.asarray(history, np.complex128),
                             np.asarray(label_bits, np.uint8), bool(exact))


def detect_numpy(y, taps, noise_var, alphabet, history, label_bits, exact: bool = True) -> np.ndarray:
    """``detect`` in numpy (the reference of the compiled kernel)."""
    metrics = symbol_metrics(branch_metrics(y, taps, noise_var, alphabet, history), exact)
    return bit_llrs(metrics, label_bits, exact)
