"""PDU <-> numpy/dict conversion for the GNU Radio adapter blocks.

Uniform vectors cross between numpy and pmt through pmt's serialised form (tag, type,
big-endian length, padding, big-endian elements; the format of pmt_serialize.cc), which
pmt reads and writes in C++ (pmt.init_u8vector and pmt.to_python go element by element).
"""
from __future__ import annotations

import struct

import numpy as np
import pmt

from ..phy.framing import check_metadata

_UNIFORM_VECTOR = 0x0A
# pmt's uniform-vector type codes, in order, as numpy big-endian types
_TYPES = (">u1", ">i1", ">u2", ">i2", ">u4", ">i4", ">u8", ">i8", ">f4", ">f8", ">c8", ">c16")
_CODES = {np.dtype(t).newbyteorder("="): code for code, t in enumerate(_TYPES)}


def make_vector(data: np.ndarray):
    """1-D numpy array -> pmt uniform vector of the same type."""
    data = np.asarray(data).reshape(-1)
    code = _CODES[data.dtype.newbyteorder("=")]
    head = struct.pack(">BBIBB", _UNIFORM_VECTOR, code, len(data), 1, 0)
    return pmt.deserialize_str(head + data.astype(_TYPES[code], copy=False).tobytes())


def vector_elements(vec) -> np.ndarray:
    """pmt uniform vector -> numpy array of its type (native byte order)."""
    raw = pmt.serialize_str(vec)
    code, count, pad = struct.unpack_from(">BIB", raw, 1)
    wire = np.dtype(_TYPES[code])
    return np.frombuffer(raw, wire, count, 7 + pad).astype(wire.newbyteorder("="))


def make_pdu(meta: dict, data: np.ndarray):
    return pmt.cons(meta_to_pmt(meta), make_vector(data))


def meta_to_pmt(meta: dict):
    d = pmt.make_dict()
    for key, value in meta.items():
        if isinstance(value, np.ndarray) and value.dtype.kind in "iub":
            value = pmt.to_pmt([int(v) for v in value.ravel()])  # a vector of longs: exact, and to_python reads it
        elif isinstance(value, np.ndarray):
            value = make_vector(value.astype(np.complex64 if np.iscomplexobj(value) else np.float32))
        elif isinstance(value, (np.integer, np.floating, np.bool_)):
            value = pmt.to_pmt(value.item())
        elif isinstance(value, (list, tuple)):
            value = pmt.to_pmt([v.item() if isinstance(v, np.generic) else v for v in value])
        else:
            value = pmt.to_pmt(value)
        d = pmt.dict_add(d, pmt.intern(key), value)
    return d


def split_pdu(msg, dtype):
    """(meta dict, numpy array) from a PDU; raises ValueError if it is not one of ``dtype``, or
    ``framing.BadMetadata`` (a ValueError) when its metadata holds a number no block can use."""
    if not pmt.is_pair(msg):
        raise ValueError("message is not a PDU (expected a (metadata . vector) pair)")
    meta, vec = pmt.car(msg), pmt.cdr(msg)
    if not pmt.is_uniform_vector(vec):
        raise ValueError("PDU payload is not a uniform vector")
    data = vector_elements(vec)
    if data.dtype != np.dtype(dtype):
        raise ValueError(f"PDU payload is {data.dtype}, expected {np.dtype(dtype)}")
    out = {}
    if pmt.is_dict(meta):
        items = pmt.to_python(meta) or {}
        for key, value in items.items():
            out[str(key)] = np.asarray(value) if isinstance(value, (list, tuple, np.ndarray)) else value
    return check_metadata(out), data
