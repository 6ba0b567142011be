"""LDPC codes from GNU Radio's alist files: encoder and a vectorised min-sum decoder.

Codeword layout matches ``fec.ldpc_par_mtrx_encoder``: m parity bits first, then
the k information bits. The decoder runs normalised min-sum with early stopping
over many codewords at once; LLRs use the project convention (positive = bit 1).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from ..errors import SemcomError

ALIST_DIRS = ("/usr/share/gnuradio/fec/ldpc", "/usr/local/share/gnuradio/fec/ldpc")

# Named codes users pick by rate; values are alist file names and the gap for
# GNU Radio's parity-matrix encoder.
CODES = {
    "ldpc-1/3": ("n_0300_k_0103_gap_24.alist", 24),
    "ldpc-2/5": ("n_1100_k_0442_gap_24.alist", 24),
    "ldpc-1/2": ("n_1800_k_0902_gap_28.alist", 28),
}


def find_alist(name: str) -> str:
    if os.path.isfile(name):
        return name
    for d in ALIST_DIRS:
        path = os.path.join(d, name)
        if os.path.isfile(path):
            return path
    raise SemcomError(f"LDPC alist '{name}' not found in {', '.join(ALIST_DIRS)}; is gnuradio installed?")


def parse_alist(path: str):
    """Returns (n, m, list of (check, variable) edges), 0-based."""
    with open(path) as f:
        lines = [ln.split() for ln in f if ln.strip()]
    n, m = int(lines[0][0]), int(lines[0][1])
    edges = []
    for v, line in enumerate(lines[4:4 + n]):  # one line per column; some files pad with 0
        edges.extend((int(r) - 1, v) for r in line if int(r) > 0)
    return n, m, edges


def _gf2_inverse(a: np.ndarray) -> np.ndarray:
    a = a.copy().astype(np.uint8)
    size = a.shape[0]
    inv = np.eye(size, dtype=np.uint8)
    for col in range(size):
        pivots = np.nonzero(a[col:, col])[0]
        if not len(pivots):
            raise SemcomError("LDPC parity part is singular; this alist cannot be encoded systematically")
        p = col + pivots[0]
        if p != col:
            a[[col, p]] = a[[p, col]]
            inv[[col, p]] = inv[[p, col]]
        rows = np.nonzero(a[:, col])[0]
        rows = rows[rows != col]
        a[rows] ^= a[col]
        inv[rows] ^= inv[col]
    return inv


@dataclass
class LdpcCode:
    name: str
    n: int
    m: int
    check_vars: np.ndarray  # (m, dmax) variable index per check, padded with n
    check_mask: np.ndarray  # (m, dmax) True where real edge
    alist: str = ""
    gap: int = 0
    _enc: tuple = field(default=None, repr=False)
    _var_edges: np.ndarray = field(default=None, repr=False)

    @property
    def var_edges(self) -> np.ndarray:
        """(n, dvmax) flat indices into the (m*dmax) edge array per variable, padded with m*dmax."""
        if self._var_edges is None:
            flat = self.check_vars.ravel()
            order = np.argsort(flat, kind="stable")
            order = order[flat[order] < self.n]
            counts = np.bincount(flat[order], minlength=self.n)
            table = np.full((self.n, counts.max()), flat.size, dtype=np.int64)
            starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
            for v in range(self.n):
                table[v, :counts[v]] = order[starts[v]:starts[v] + counts[v]]
            self._var_edges = table
        return self._var_edges

    @property
    def k(self) -> int:
        return self.n - self.m

    @property
    def rate(self) -> float:
        return self.k / self.n

    @classmethod
    def from_alist(cls, path: str, name: str = "", gap: int = 0) -> "LdpcCode":
        n, m, edges = parse_alist(path)
        per_check = [[] for _ in range(m)]
        for c, v in edges:
            per_check[c].append(v)
        dmax = max(len(p) for p in per_check)
        check_vars = np.full((m, dmax), n, dtype=np.int64)
        for c, vs in enumerate(per_check):
            check_vars[c, :len(vs)] = vs
        return cls(name or os.path.basename(path), n, m, check_vars, check_vars < n, path, gap)

    def dense_h(self) -> np.ndarray:
        h = np.zeros((self.m, self.n + 1), dtype=np.uint8)
        np.put_along_axis(h, self.check_vars, 1, axis=1)
        return h[:, :self.n]

    # -- encoding -------------------------------------------------------
    def encode(self, info: np.ndarray) -> np.ndarray:
        """(..., k) info bits -> (..., n) codewords [parity | info]."""
        if self._enc is None:
            h = self.dense_h()
            self._enc = (_gf2_inverse(h[:, :self.m]).astype(np.int32), h[:, self.m:].astype(np.int32))
        inv_p, h_s = self._enc
        info = np.asarray(info, dtype=np.uint8).reshape(-1, self.k)
        parity = ((info.astype(np.int32) @ h_s.T) % 2) @ inv_p.T % 2
        return np.concatenate([parity.astype(np.uint8), info], axis=1)

    def syndrome_ok(self, hard: np.ndarray) -> np.ndarray:
        hard = np.concatenate([hard, np.zeros((hard.shape[0], 1), hard.dtype)], axis=1)
        return ~(hard[:, self.check_vars].sum(axis=2) & 1).astype(bool).any(axis=1)

    # -- decoding -------------------------------------------------------
    def decode(self, llr: np.ndarray, max_iter: int = 50, alpha: float = 0.8):
        """Normalised min-sum. llr: (B, n), positive = 1.

        Returns (codeword bits (B, n) uint8, ok flags (B,), posterior LLRs (B, n)).
        """
        lch_all = -np.asarray(llr, dtype=np.float32).reshape(-1, self.n)  # internally positive = 0
        total_all = lch_all.copy()
        ok = np.zeros(lch_all.shape[0], dtype=bool)
        cv, mask, var_edges = self.check_vars, self.check_mask, self.var_edges
        regular = bool(mask.all())
        active = np.arange(lch_all.shape[0])
        lch, total = lch_all, total_all.copy()
        c2v = np.zeros((len(active),) + cv.shape, dtype=np.float32)
        for it in range(max_iter + 1):
            done = self.syndrome_ok((total < 0).astype(np.uint8))
            if done.any() or it == max_iter:
                total_all[active] = total
                ok[active[done]] = True
                keep = ~done
                active, lch, total, c2v = active[keep], lch[keep], total[keep], c2v[keep]
            if not len(active) or it == max_iter:
                break
            batch = len(active)
            v2c = np.concatenate([total, np.zeros((batch, 1), np.float32)], axis=1)[:, cv] - c2v
            mag = np.abs(v2c)
            if not regular:
                mag[:, ~mask] = np.inf
            two = np.partition(mag, 1, axis=2)
            min1, min2 = two[..., :1], two[..., 1:2]
            out = alpha * np.where(mag == min1, min2, min1)
            neg = v2c < 0
            flip = neg ^ (np.count_nonzero(neg, axis=2)[..., None] & 1).astype(bool)
            np.negative(out, out=out, where=flip)
            if not regular:
                out[:, ~mask] = 0.0
            c2v = out
            flat = np.concatenate([out.reshape(batch, -1), np.zeros((batch, 1), np.float32)], axis=1)
            total = lch + flat[:, var_edges].sum(axis=2)
        return (total_all < 0).astype(np.uint8), ok, -total_all

    def decode_info(self, llr: np.ndarray, max_iter: int = 50):
        bits, ok, _ = self.decode(llr, max_iter)
        return bits[:, self.m:], ok


@lru_cache(maxsize=None)
def code(name: str) -> LdpcCode:
    """A named code (see CODES) or an alist file name shipped with GNU Radio."""
    if name in CODES:
        fname, gap = CODES[name]
        return LdpcCode.from_alist(find_alist(fname), name, gap)
    raise SemcomError(f"unknown LDPC code '{name}'; choose one of {', '.join(CODES)} or 'none'")
