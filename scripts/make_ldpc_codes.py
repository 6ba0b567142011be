#!/usr/bin/env python3
"""Writes the high-rate LDPC codes (ldpc-2/3, 3/4, 5/6; n=1800) as alist files into
python/semcom/phy/alist/: an upper-bidiagonal parity part (so gr-fec's ldpc_par_mtrx_encoder
encodes it with gap 1) and information columns of weight 3 placed greedily on the lightest
rows without 4-cycles (girth >= 6). Deterministic: the same files on every run.

    python3 scripts/make_ldpc_codes.py
"""
import os
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "python", "semcom", "phy", "alist")
N = 1800
RATES = ((2, 3), (3, 4), (5, 6))
INFO_WEIGHT = 3


def parity_check(n: int, k: int, seed: int) -> np.ndarray:
    m = n - k
    rng = np.random.default_rng(seed)
    h = np.zeros((m, n), np.uint8)
    h[np.arange(m), np.arange(m)] = 1
    h[np.arange(m - 1), np.arange(1, m)] = 1  # row i: parity bits i and i + 1
    degree = h.sum(axis=1).astype(np.int64)
    paired = np.zeros((m, m), bool)  # rows that already share a column
    paired[np.arange(m - 1), np.arange(1, m)] = paired[np.arange(1, m), np.arange(m - 1)] = True
    for v in range(m, n):
        rows = []
        for r in np.lexsort((rng.random(m), degree)):  # lightest rows first, ties at random
            if all(not paired[r, s] for s in rows):
                rows.append(r)
                if len(rows) == INFO_WEIGHT:
                    break
        if len(rows) < INFO_WEIGHT:
            sys.exit(f"no 4-cycle-free placement for column {v} of n={n}, k={k}")
        for a in rows:
            for b in rows:
                paired[a, b] |= a != b
        h[rows, v] = 1
        degree[rows] += 1
    return h


def main():
    sys.path.insert(0, os.path.join(ROOT, "python"))
    sys.modules.setdefault("gnuradio", None)  # the plain module only: no GNU Radio blocks
    from semcom.phy.ldpc import alist_text
    os.makedirs(OUT, exist_ok=True)
    for num, den in RATES:
        k = N * num // den
        path = os.path.join(OUT, f"n_{N:04d}_k_{k:04d}_gap_01.alist")
        with open(path, "w") as f:
            f.write(alist_text(parity_check(N, k, seed=num * 100 + den)))
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
