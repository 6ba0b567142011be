"""PDU <-> numpy/dict conversion for the GNU Radio adapter blocks."""
from __future__ import annotations

import numpy as np
import pmt

_MAKERS = {
    np.dtype(np.uint8): pmt.init_u8vector,
    np.dtype(np.float32): pmt.init_f32vector,
    np.dtype(np.complex64): pmt.init_c32vector,
}


def make_pdu(meta: dict, data: np.ndarray):
    data = np.ascontiguousarray(data)
    return pmt.cons(meta_to_pmt(meta), _MAKERS[data.dtype](len(data), data))


def meta_to_pmt(meta: dict):
    d = pmt.make_dict()
    for key, value in meta.items():
        if isinstance(value, np.ndarray):
            value = pmt.init_c32vector(len(value), value.astype(np.complex64)) if np.iscomplexobj(value) \
                else pmt.init_f32vector(len(value), value.astype(np.float32))
        elif isinstance(value, (np.integer, np.floating, np.bool_)):
            value = pmt.to_pmt(value.item())
        else:
            value = pmt.to_pmt(value)
        d = pmt.dict_add(d, pmt.intern(key), value)
    return d


def split_pdu(msg, dtype):
    """(meta dict, numpy array) from a PDU; raises ValueError if it is not one of ``dtype``."""
    if not pmt.is_pair(msg):
        raise ValueError("message is not a PDU (expected a (metadata . vector) pair)")
    meta, vec = pmt.car(msg), pmt.cdr(msg)
    if not pmt.is_uniform_vector(vec):
        raise ValueError("PDU payload is not a uniform vector")
    data = np.asarray(pmt.to_python(vec))
    if data.dtype != np.dtype(dtype):
        raise ValueError(f"PDU payload is {data.dtype}, expected {np.dtype(dtype)}")
    out = {}
    if pmt.is_dict(meta):
        items = pmt.to_python(meta) or {}
        for key, value in items.items():
            out[str(key)] = np.asarray(value) if isinstance(value, (list, tuple, np.ndarray)) else value
    return out, data
