"""LLR lookup tables for GNU Radio's ``constellation_soft_decoder_cf``.

GNU Radio 3.10.5's own soft decisions use unsquared distances (not LLRs), and its
decoder has no noise-power input. It can instead read a table: 2**prec x 2**prec
cells covering [-1, 1) on both axes, row = imaginary part, samples outside
clamped to the edge cell (checked on 3.10.5.1). We scale the input by
1/axis_limit so the table covers [-axis_limit, axis_limit) and fill each cell
with the exact LLR at its centre; the limit grows with the noise.
"""
from __future__ import annotations

import numpy as np

from .constellations import Constellation

DEFAULT_PRECISION = 8


def axis_limit(const: Constellation, noise_var: float) -> float:
    """Half-width of the table: outermost coordinate plus 4 noise standard deviations
    (per dimension), so clamping at the edge touches about 3e-5 of the samples."""
    outer = float(max(np.abs(const.points.real).max(), np.abs(const.points.imag).max()))
    return outer + 4.0 * float(np.sqrt(noise_var / 2))


def build_table(const: Constellation, noise_var: float, precision: int = DEFAULT_PRECISION):
    """(cells, bits) float32 table of exact LLRs, in GNU Radio's cell order."""
    cells = 1 << precision
    centres = (-1 + (2 * np.arange(cells) + 1) / cells) * axis_limit(const, noise_var)
    grid = centres[None, :] + 1j * centres[:, None]  # row = imag, column = real
    return const.llr(grid.ravel(), noise_var).reshape(cells * cells, -1).astype(np.float32)


def lookup(const: Constellation, table: np.ndarray, y: np.ndarray, noise_var: float,
           precision: int = DEFAULT_PRECISION):
    """What the GNU Radio block outputs for samples ``y`` (numpy model of the lookup)."""
    cells = 1 << precision
    u = np.asarray(y) / axis_limit(const, noise_var)
    col = np.clip(np.floor((u.real + 1) * cells / 2), 0, cells - 1).astype(np.int64)
    row = np.clip(np.floor((u.imag + 1) * cells / 2), 0, cells - 1).astype(np.int64)
    return table[row * cells + col].ravel()


# Streams of bursts: one table for every noise variance. Max-log LLRs scale exactly with 1/N0,
# so the table holds min_{b=0}|y-s|^2 - min_{b=1}|y-s|^2 (the LLR at N0 = 1) and each burst's
# LLRs are that times 1/N0 of its symbols. For Gray BPSK and QPSK max-log is exact.
STREAM_AXIS_MARGIN = 6.0  # table half-width: outermost coordinate + this (4 sigma at Es/N0 -5 dB)
STREAM_PRECISION = 9


def stream_axis_limit(const: Constellation) -> float:
    outer = float(max(np.abs(const.points.real).max(), np.abs(const.points.imag).max()))
    return outer + STREAM_AXIS_MARGIN


def maxlog_distances(const: Constellation, y: np.ndarray) -> np.ndarray:
    """(len(y) * bits) max-log LLRs at N0 = 1: min distance^2 to a 0-point minus to a 1-point.
    Running minima point by point (float32): 64-QAM's 512x512 stream table in 0.04 s, not 2.6 s."""
    y = np.asarray(y).ravel().astype(np.complex64)
    ones = const.label_bits.astype(bool)
    nearest = np.full((2, const.bits_per_symbol, len(y)), np.inf, np.float32)  # [bit value, bit, sample]
    for point, bits in zip(const.points.astype(np.complex64), ones):
        diff = y - point
        d = diff.real * diff.real + diff.imag * diff.imag
        for b, one in enumerate(bits):
            np.minimum(nearest[int(one), b], d, out=nearest[int(one), b])
    return (nearest[0] - nearest[1]).T.ravel()


def build_stream_table(const: Constellation, precision: int = STREAM_PRECISION) -> np.ndarray:
    """(cells, bits) float32 max-log table at N0 = 1 over [-limit, limit), GNU Radio's cell order."""
    cells = 1 << precision
    centres = (-1 + (2 * np.arange(cells) + 1) / cells) * stream_axis_limit(const)
    grid = centres[None, :] + 1j * centres[:, None]  # row = imag, column = real
    return maxlog_distances(const, grid.ravel()).reshape(cells * cells, -1).astype(np.float32)
