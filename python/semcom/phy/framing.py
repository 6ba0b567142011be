"""Frame metadata keys (the one place each is named), shared by transmitter, channel and receiver, and
the ranges of their numbers (``check_metadata``); padding."""
from __future__ import annotations

import math

import numpy as np

FRAME = "frame"
PAYLOAD_BITS = "payload_bits"  # information bits before FEC padding
CODED_BITS = "coded_bits"  # bits after FEC, before symbol padding
NOISE_VAR = "noise_var"
CSI = "csi"
FEC_OK = "fec_ok"
FEC_BLOCKS_FAILED = "fec_blocks_failed"
CODEC, CODEC_ID = "codec", "codec_id"  # registry name; the id burst headers carry
MODEL, MODEL_HASH = "model", "model_hash"  # learned codecs: the model's folder name and fingerprint
HEIGHT, WIDTH = "height", "width"
LOST, REASON = "lost", "reason"


BURSTS, BURSTS_LOST = "bursts", "bursts_lost"  # a received frame's bursts, and how many never arrived

# the numbers a PDU's metadata may hold under these keys: (whole number, lowest, highest or None)
NUMBERS = {FRAME: (True, 0, None), PAYLOAD_BITS: (True, 0, None), CODED_BITS: (True, 0, None),
           CODEC_ID: (True, 0, None), HEIGHT: (True, 0, None), WIDTH: (True, 0, None),
           FEC_BLOCKS_FAILED: (True, 0, None), BURSTS: (True, 0, None), BURSTS_LOST: (True, 0, None),
           "bursts_fec_failed": (True, 0, None), "channel_uses": (True, 0, None), "position": (True, -1, None),
           NOISE_VAR: (False, 1e-15, 1e15)}


class BadMetadata(ValueError):
    """A PDU whose metadata holds a number out of ``NUMBERS``' ranges (NaN, infinite, negative...)."""
    reason = "bad metadata"


def check_metadata(meta: dict) -> dict:
    """``meta`` when each of its ``NUMBERS`` keys holds a finite number in range (a whole one where
    asked); BadMetadata (one line naming the key) otherwise."""
    for key, (whole, low, high) in NUMBERS.items():
        if key not in meta:
            continue
        value = meta[key]
        number = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))
        finite = number and math.isfinite(value)
        if not (finite and low <= value and (high is None or value <= high) and (not whole or value == int(value))):
            kind = "a whole number" if whole else "a number"
            span = f">= {low:g}" if high is None else f"in [{low:g}, {high:g}]"
            raise BadMetadata(f"metadata {key} = {value!r} is not {kind} {span}")
    return meta


def pad_to_multiple(bits: np.ndarray, multiple: int) -> np.ndarray:
    extra = (-len(bits)) % multiple
    return np.concatenate([bits, np.zeros(extra, bits.dtype)]) if extra else bits
