"""Frame metadata keys shared by the transmitter, channel and receiver, and padding."""
from __future__ import annotations

import numpy as np

FRAME = "frame"
PAYLOAD_BITS = "payload_bits"  # information bits before FEC padding
CODED_BITS = "coded_bits"  # bits after FEC, before symbol padding
NOISE_VAR = "noise_var"
CSI = "csi"
FEC_OK = "fec_ok"
FEC_BLOCKS_FAILED = "fec_blocks_failed"


def pad_to_multiple(bits: np.ndarray, multiple: int) -> np.ndarray:
    extra = (-len(bits)) % multiple
    return np.concatenate([bits, np.zeros(extra, bits.dtype)]) if extra else bits
