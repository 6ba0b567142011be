"""Gray-labelled, unit-energy constellations and exact per-bit LLRs.

Conventions shared by the whole project (and by GNU Radio's soft decoder):
  * bits are MSB first inside a symbol label;
  * ``points[label]`` is the complex point carrying integer ``label``;
  * average symbol energy Es = 1, so SNR = Es/N0 = 1/noise_var;
  * LLR = log P(b=1|y) - log P(b=0|y): positive means bit 1, P(b=1) = sigmoid(LLR).
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from ..errors import SemcomError

MODULATIONS = ("bpsk", "qpsk", "16qam", "64qam")  # what the codecs, apps and GRC offer
# what a burst header's modulation field indexes; new ones are only appended, so that a receiver
# that predates one drops its bursts as an unknown index
BURST_MODULATIONS = (*MODULATIONS, "8psk")
_BITS = {"bpsk": 1, "qpsk": 2, "16qam": 4, "64qam": 6, "8psk": 3}
MAX_BITS = 6  # bits per symbol of the largest constellation (64 points)
_REGISTERED: dict[str, "Constellation"] = {}  # name -> constellation of a size no modulation has


def _gray_pam(bits: int) -> np.ndarray:
    """Levels of a 2**bits PAM indexed by Gray-coded label: neighbours differ by one bit."""
    m = 1 << bits
    levels = np.empty(m)
    for pos in range(m):
        label = pos ^ (pos >> 1)
        levels[label] = 2 * pos - (m - 1)
    return levels


@dataclass(frozen=True)
class Constellation:
    name: str
    points: np.ndarray  # complex128, indexed by label

    @property
    def bits_per_symbol(self) -> int:
        return int(np.log2(len(self.points)))

    @property
    def label_bits(self) -> np.ndarray:
        """(M, k) array of label bits, MSB first."""
        k = self.bits_per_symbol
        labels = np.arange(len(self.points))
        return ((labels[:, None] >> np.arange(k - 1, -1, -1)) & 1).astype(np.uint8)

    def bits_to_labels(self, bits: np.ndarray) -> np.ndarray:
        k = self.bits_per_symbol
        bits = np.asarray(bits, dtype=np.uint8)
        if bits.size % k:
            raise ValueError(f"{bits.size} bits is not a multiple of {k} bits per {self.name} symbol")
        weights = (1 << np.arange(k - 1, -1, -1)).astype(np.uint8)
        return bits.reshape(-1, k) @ weights

    def modulate(self, bits: np.ndarray) -> np.ndarray:
        return self.points[self.bits_to_labels(bits)].astype(np.complex64)

    def llr(self, y: np.ndarray, noise_var, chunk: int = 1 << 16) -> np.ndarray:
        """Exact LLRs by log-sum-exp over the constellation; noise_var may be per symbol."""
        y = np.asarray(y, dtype=np.complex128).ravel()
        nv = np.broadcast_to(np.asarray(noise_var, dtype=np.float64), y.shape)
        out = np.empty((y.size, self.bits_per_symbol), dtype=np.float64)
        ones = self.label_bits.astype(bool)
        for start in range(0, y.size, chunk):
            sl = slice(start, start + chunk)
            metric = -np.abs(y[sl, None] - self.points[None, :]) ** 2 / nv[sl, None]
            for b in range(self.bits_per_symbol):
                out[sl, b] = _logsumexp(metric[:, ones[:, b]]) - _logsumexp(metric[:, ~ones[:, b]])
        return out.ravel()

    def hard_bits(self, y: np.ndarray) -> np.ndarray:
        y = np.asarray(y).ravel()
        labels = np.argmin(np.abs(y[:, None] - self.points[None, :]), axis=1)
        return self.label_bits[labels].ravel()


def _logsumexp(a: np.ndarray) -> np.ndarray:
    peak = a.max(axis=1)
    return peak + np.log(np.exp(a - peak[:, None]).sum(axis=1))


def burst_modulation_of(const: Constellation) -> str | None:
    """The burst modulation (``BURST_MODULATIONS``) with as many points as ``const``, or None."""
    return next((n for n in BURST_MODULATIONS if _BITS[n] == const.bits_per_symbol), None)


def labelled(points, labels=None) -> Constellation:
    """Any M-point constellation: ``points[i]`` carries label ``labels[i]`` (default ``i``), scaled
    to unit average energy. Named after the project's modulation with M points, else registered
    under a name of its own, so that ``constellation(name)`` finds it."""
    points = np.asarray(points, np.complex128).ravel()
    m = points.size
    if m < 2 or m & (m - 1) or m > 1 << MAX_BITS:
        raise SemcomError(f"a constellation needs 2, 4, 8, ... up to {1 << MAX_BITS} points, got {m}")
    labels = np.arange(m) if labels is None or len(labels) == 0 else np.asarray(labels, np.int64).ravel()
    if labels.shape != (m,) or sorted(labels.tolist()) != list(range(m)):
        raise SemcomError(f"the labels of a {m}-point constellation must be 0..{m - 1}, each once")
    if len(np.unique(np.round(points, 9))) != m:
        raise SemcomError("constellation points must be distinct")
    by_label = np.empty(m, np.complex128)
    by_label[labels] = points / np.sqrt(np.mean(np.abs(points) ** 2))
    by_label.setflags(write=False)
    k = m.bit_length() - 1
    name = next((n for n in MODULATIONS if _BITS[n] == k), None)
    if name is None:
        name = f"{m}-point-{hashlib.sha1(np.round(by_label, 6).tobytes()).hexdigest()[:8]}"
        _REGISTERED.setdefault(name, Constellation(name, by_label))
    return Constellation(name, by_label)


def constellation(name: str) -> Constellation:
    """The project's constellation called ``name`` (bpsk, qpsk, 16qam, 64qam, 8psk), or one that
    ``labelled`` registered."""
    registered = _REGISTERED.get(name)
    return registered if registered is not None else _project(name)


@lru_cache(maxsize=None)
def _project(name: str) -> Constellation:
    key = str(name).lower()
    if key not in _BITS:
        raise SemcomError(f"unknown modulation '{name}'; choose one of {', '.join(BURST_MODULATIONS)}")
    k = _BITS[key]
    if k == 1:
        points = np.array([-1.0, 1.0], dtype=np.complex128)
    elif key == "8psk":
        positions = np.arange(1 << k)
        points = np.empty(1 << k, np.complex128)
        points[positions ^ (positions >> 1)] = np.exp(2j * np.pi * positions / (1 << k))  # Gray around the circle
    else:
        half = k // 2
        pam = _gray_pam(half)
        labels = np.arange(1 << k)
        points = pam[labels >> half] + 1j * pam[labels & ((1 << half) - 1)]
        points /= np.sqrt(np.mean(np.abs(points) ** 2))
    points.setflags(write=False)
    return Constellation(key, points)
