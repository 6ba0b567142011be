"""Frame metadata keys (the one place each is named), shared by transmitter, channel and receiver; padding."""
from __future__ import annotations

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


def pad_to_multiple(bits: np.ndarray, multiple: int) -> np.ndarray:
    extra = (-len(bits)) % multiple
    return np.concatenate([bits, np.zeros(extra, bits.dtype)]) if extra else bits
