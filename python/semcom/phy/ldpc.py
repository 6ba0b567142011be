"""LDPC codes from alist files: encoder and normalised min-sum decoders.

Codeword layout matches ``fec.ldpc_par_mtrx_encoder``: m parity bits first, then
the k information bits. The decoders run normalised min-sum with early stopping
over many codewords at once; LLRs use the project convention (positive = bit 1).
``LdpcCode.decode`` uses the compiled layered decoder (``gnuradio.semcom.kernels``,
lib/ldpc_decoder.cc) when it is installed, else ``decode_numpy``, the numpy reference
(flooding schedule).

Codes are named (``CODES``, from GNU Radio's alist files) or user codes from any alist
file, written ``alist:PATH`` (or a bare path ending in ``.alist``). A user code needs an
invertible parity part (its first m columns); its ``signature`` is a 7-bit hash of its
parity structure (n, m and the edges), which the burst header carries. gr-fec's
``ldpc_par_mtrx_encoder`` needs H in "gap" form (Richardson-Urbanke, as GNU Radio reads it:
the top-left (m - gap) square upper triangular with a unit diagonal); ``encoder_alist``
finds the smallest such gap, or, for a file not in that form, writes the equivalent
systematic H (inverse(parity part) x H, same code, gap 1) for gr-fec's encoder only.
"""
from __future__ import annotations

import hashlib
import os
import tempfile
import threading
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from ..errors import SemcomError

try:
    from .. import kernels  # the compiled kernels, installed beside this package (no GNU Radio)
except ImportError:  # the source tree without a build: numpy only
    kernels = None

COMPILED = kernels is not None

# the module's own codes (scripts/make_ldpc_codes.py), then GNU Radio's
ALIST_DIRS = (os.path.join(os.path.dirname(os.path.abspath(__file__)), "alist"), "/usr/share/gnuradio/fec/ldpc",
              "/usr/local/share/gnuradio/fec/ldpc")

# Named codes users pick by rate; values are alist file names and the gap for
# GNU Radio's parity-matrix encoder. The burst header carries a code's position here:
# new codes go at the end.
CODES = {
    "ldpc-1/3": ("n_0300_k_0103_gap_24.alist", 24),
    "ldpc-2/5": ("n_1100_k_0442_gap_24.alist", 24),
    "ldpc-1/2": ("n_1800_k_0902_gap_28.alist", 28),
    "ldpc-2/3": ("n_1800_k_1200_gap_01.alist", 1),
    "ldpc-3/4": ("n_1800_k_1350_gap_01.alist", 1),
    "ldpc-5/6": ("n_1800_k_1500_gap_01.alist", 1),
}


USER_PREFIX = "alist:"
SIGNATURE_BITS = 7  # the burst header carries 128 + signature for a user code
MAX_N = 4096  # largest user code: bounds the dense matrices (ours and gr-fec's) at load
MAX_ALIST_BYTES = 4 << 20


def is_user_code(name: str) -> bool:
    name = str(name)
    return name.startswith(USER_PREFIX) or name.endswith(".alist") and name not in CODES


def canonical(name: str) -> str:
    """'PATH.alist' -> 'alist:PATH'; other names unchanged."""
    name = str(name)
    return USER_PREFIX + name if is_user_code(name) and not name.startswith(USER_PREFIX) else name


def find_alist(name: str) -> str:
    if os.path.isfile(name):
        return name
    for d in ALIST_DIRS:
        path = os.path.join(d, name)
        if os.path.isfile(path):
            return path
    raise SemcomError(f"LDPC alist '{name}' not found in {', '.join(ALIST_DIRS)}; is gnuradio installed?")


def parse_alist(path: str):
    """Returns (n, m, list of (check, variable) edges), 0-based; SemcomError (one line) for a file
    that is missing, too large, not an alist, or inconsistent. Allocation is bounded by
    ``MAX_ALIST_BYTES`` and ``MAX_N`` before anything is built."""
    where = f"LDPC alist '{path}'"
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_ALIST_BYTES + 1)  # bounded: /dev/zero or a huge file never fills memory
        if len(raw) > MAX_ALIST_BYTES:
            raise SemcomError(f"{where} is larger than {MAX_ALIST_BYTES >> 20} MiB; not an alist file")
        text = raw.decode("ascii")
        lines = [[int(t) for t in ln.split()] for ln in text.splitlines() if ln.strip()]
    except OSError as err:
        raise SemcomError(f"{where}: cannot read it ({err.strerror})") from None
    except (UnicodeDecodeError, ValueError):
        raise SemcomError(f"{where} is not an alist file (it must hold whole numbers only)") from None
    if len(lines) < 4 or len(lines[0]) != 2 or len(lines[1]) != 2:
        raise SemcomError(f"{where} is not an alist file (it starts with 'n m', then the two largest degrees)")
    n, m = lines[0]
    if not 1 <= m < n <= MAX_N:
        raise SemcomError(f"{where} declares n={n}, m={m}; need 1 <= m < n <= {MAX_N}")
    if len(lines) < 4 + n or len(lines[2]) != n or len(lines[3]) != m:
        raise SemcomError(f"{where} is truncated: it needs {n} column degrees, {m} row degrees and {n} column lists")
    edges = set()
    for v, line in enumerate(lines[4:4 + n]):  # one line per column; some files pad with 0
        rows = [r - 1 for r in line if r != 0]
        if any(not 0 <= r < m for r in rows) or len(set(rows)) != len(rows):
            raise SemcomError(f"{where}: column {v + 1} lists rows outside 1..{m} or twice")
        edges.update((r, v) for r in rows)
    by_rows = lines[4 + n:4 + n + m]
    if len(by_rows) == m:  # the row lists, when present, must say the same
        listed = {(c, v - 1) for c, line in enumerate(by_rows) for v in line if v != 0}
        if listed != edges:
            raise SemcomError(f"{where}: its row lists and column lists disagree")
    return n, m, sorted(edges)


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
    _compiled: object = field(default=None, repr=False)

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

    @property
    def signature(self) -> int:
        """7-bit hash (SHA-256) of the parity structure: n, m and every (check, variable) edge."""
        digest = hashlib.sha256(f"{self.n} {self.m} ".encode() + self.check_vars.astype("<i4").tobytes()).digest()
        return digest[0] & ((1 << SIGNATURE_BITS) - 1)

    def same_code(self, other: "LdpcCode") -> bool:
        """Same parity-check matrix (whatever the file or name)."""
        return other is self or (other.n, other.m) == (self.n, self.m) and np.array_equal(other.check_vars,
                                                                                           self.check_vars)

    def encoder_gap(self) -> int | None:
        """Smallest gap (1..m-1) with which gr-fec's ``ldpc_H_matrix`` encodes this H as it is: the
        top-left (m - gap) square upper triangular with a unit diagonal; None when there is none."""
        h = self.dense_h()
        t = 0
        while t < self.m and h[t, t] and not h[t, :t].any():
            t += 1
        return None if t == 0 else max(1, self.m - t)

    def gnuradio_alist(self) -> str:
        """The alist file for gr-fec's objects: a named code's own; for a user code, this H rewritten
        plainly (no zero padding, no blank lines: gr-fec's reader aborts the process on a 0 entry
        and reads lines blindly), once, to a cache folder."""
        return self.alist if self.name in CODES else write_alist(self.dense_h())

    def encoder_alist(self) -> tuple[str, int]:
        """(alist file, gap) for gr-fec's ``ldpc_par_mtrx_encoder``: this H when it is in gap form,
        else the equivalent systematic H (inverse(parity part) x H, the same code) with gap 1."""
        gap = self.gap or self.encoder_gap()
        if gap:
            return self.gnuradio_alist(), gap
        self.encode(np.zeros((1, self.k), np.uint8))  # builds the parity inverse (SemcomError when singular)
        inv_p, h_s = self._enc
        return write_alist(np.concatenate([np.eye(self.m, dtype=np.uint8), (inv_p @ h_s % 2).astype(np.uint8)], 1)), 1

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
        """Normalised min-sum: the compiled layered decoder when installed, else ``decode_numpy``.
        llr: (B, n), positive = 1.

        Returns (codeword bits (B, n) uint8, ok flags (B,), posterior LLRs (B, n)).
        """
        if not COMPILED:
            return self.decode_numpy(llr, max_iter, alpha)
        if self._compiled is None:
            self._compiled = kernels.ldpc_decoder(self.n, self.check_vars)
        post, ok, _ = self._compiled.decode(np.asarray(llr, np.float32).reshape(-1, self.n), int(max_iter),
                                            float(alpha))
        return (post > 0).astype(np.uint8), ok, post

    def decode_numpy(self, llr: np.ndarray, max_iter: int = 50, alpha: float = 0.8):
        """``decode`` in numpy, flooding schedule (every check, then every variable)."""
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


def alist_text(h: np.ndarray) -> str:
    """A dense 0/1 parity-check matrix in alist format, as gr-fec writes it (lists not padded)."""
    m, n = h.shape
    cols = [np.nonzero(h[:, v])[0] + 1 for v in range(n)]
    rows = [np.nonzero(h[c])[0] + 1 for c in range(m)]
    lines = [f"{n} {m}", f"{max(map(len, cols))} {max(map(len, rows))}",
             " ".join(str(len(c)) for c in cols), " ".join(str(len(r)) for r in rows)]
    return "\n".join(lines + [" ".join(map(str, x)) for x in cols + rows]) + "\n"


def write_alist(h: np.ndarray) -> str:
    """``h`` as an alist file in a per-user cache folder (named by its content; written once)."""
    text = alist_text(h)
    folder = os.path.join(tempfile.gettempdir(), f"semcom-ldpc-{os.getuid()}")
    path = os.path.join(folder, hashlib.sha256(text.encode()).hexdigest()[:20] + ".alist")
    if not os.path.isfile(path):
        tmp = f"{path}.{os.getpid()}.{threading.get_ident()}.tmp"
        try:
            os.makedirs(folder, exist_ok=True)
            with open(tmp, "w") as f:
                f.write(text)
            os.replace(tmp, path)
        except OSError as err:
            raise SemcomError(f"cannot write the alist file gr-fec reads to {folder} ({err.strerror})") from None
    return path


_USER_CODES: dict[int, LdpcCode] = {}  # signature -> the user code last loaded or given with it
_USER_LOCK = threading.Lock()


def user_code(signature: int) -> LdpcCode | None:
    """The user code last loaded (or given to a receiver) in this process with ``signature``, if any:
    the name a received header's code is reported by."""
    with _USER_LOCK:
        return _USER_CODES.get(int(signature))


def _register(c: LdpcCode) -> LdpcCode:
    with _USER_LOCK:
        other = _USER_CODES.get(c.signature)
        if other is not None and not other.same_code(c):
            raise SemcomError(f"LDPC alists '{other.alist}' and '{c.alist}' have the same 7-bit header signature "
                              f"{c.signature}; a receiver could not tell them apart: use one of them")
        _USER_CODES[c.signature] = c
    return c


def _load_user(name: str) -> LdpcCode:
    path = name[len(USER_PREFIX):]
    c = LdpcCode.from_alist(path, name)
    if int(c.check_mask.sum(axis=1).max()) < 2:
        raise SemcomError(f"LDPC alist '{path}': every check has fewer than 2 bits; not a usable code")
    try:
        c.encode(np.zeros((1, c.k), np.uint8))  # an invertible parity part, or one line why not
    except SemcomError as err:
        raise SemcomError(f"LDPC alist '{path}': {err}") from None
    return _register(c)


def given(alist) -> LdpcCode | None:
    """The user code of a receiver's ``alist`` option: '' none, else 'FILE' or 'alist:FILE'. Received
    headers of its signature then report its name."""
    alist = str(alist or "")
    return _register(code(alist if alist.startswith(USER_PREFIX) else USER_PREFIX + alist)) if alist else None


@lru_cache(maxsize=None)
def code(name: str) -> LdpcCode:
    """A named code (see CODES), or a user code from any alist file: 'alist:PATH' or 'PATH.alist'."""
    if name in CODES:
        fname, gap = CODES[name]
        return LdpcCode.from_alist(find_alist(fname), name, gap)
    if is_user_code(name):
        return _load_user(canonical(name))
    raise SemcomError(f"unknown LDPC code '{name}'; choose one of {', '.join(CODES)}, 'none', or alist:FILE")
