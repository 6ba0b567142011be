"""Hostile traffic for the fault suite and the soak (``research/hostile_soak.py``): bursts whose
headers carry valid CRCs but forged fields, of every kind the receiver must survive.

``forged_header(rng, kind, session, legit_frame)`` makes one header of ``FORGED_KINDS``; the
learned kinds name the codec id of ``model`` (a frame of that model announcing impossible sizes
or lengths); ``forged_burst`` turns a header into the samples of one burst with random payload.
"""
from __future__ import annotations

import numpy as np

from ..codecs import registry
from ..phy import burst

FORGED_KINDS = ["random fields", "huge image", "empty image", "unknown codec", "wrong length for its model",
                "same frame, other session", "newer frame, other session", "huge frame, few segments"]


def forged_header(rng: np.random.Generator, kind: str, session: int, legit_frame: int,
                  model: str = "bitsemcom-qpsk-cpp16") -> burst.Header:
    """A header with a valid CRC of one forged kind (QPSK, uncoded, as the legitimate frames)."""
    mod, fec = 1, 0
    if kind == "random fields":
        h = burst.Header(int(rng.integers(0, 1 << 16)), int(rng.integers(0, 1 << 16)), int(rng.integers(0, 1 << 16)),
                         int(rng.integers(0, 1 << 16)), 0, int(rng.integers(1, 8)), int(rng.integers(0, 4)),
                         int(rng.integers(0, len(burst.FEC_NAMES))), int(rng.integers(64, 4000)),
                         int(rng.integers(0, 1 << 32)), int(rng.integers(0, 1 << 48)))
        return h if h.problem() is None else burst.Header(7, 64, 64, 0, 0, 1, mod, fec, 512, h.session)
    codec_id = registry.get(model).codec_id
    if kind == "huge image":
        return burst.Header(codec_id, 65535, 65535, legit_frame, 0, 1, mod, fec, 2048, session ^ 0x5A5A)
    if kind == "empty image":
        return burst.Header(codec_id, 0, 0, int(rng.integers(0, 1 << 16)), 0, 1, mod, fec, 512, session ^ 1)
    if kind == "unknown codec":
        return burst.Header(0xFFFE, 64, 64, int(rng.integers(0, 1 << 16)), 0, 1, mod, fec, 512, session ^ 2)
    if kind == "wrong length for its model":
        return burst.Header(codec_id, 96, 128, int(rng.integers(0, 1 << 16)), 0, 1, mod, fec, 1000, session ^ 3)
    if kind == "same frame, other session":
        return burst.Header(codec_id, 96, 128, legit_frame, 0, 2, mod, fec, 1536, session ^ 4)
    if kind == "newer frame, other session":
        return burst.Header(codec_id, 96, 128, (legit_frame + 5) % 65536, 0, 1, mod, fec, 1536, session ^ 5)
    if kind == "huge frame, few segments":
        return burst.Header(codec_id, 8000, 8000, int(rng.integers(0, 1 << 16)), 0, 20000, mod, fec,
                            20000 * 2048, session ^ 6)
    raise ValueError(f"unknown forged kind '{kind}'; one of {', '.join(FORGED_KINDS)}")


def forged_burst(header: burst.Header, rng: np.random.Generator, waveform: str = "sc") -> np.ndarray:
    """The samples of one burst with ``header`` and random payload bits (at most 8192)."""
    framer = burst.BurstFramer(header.modulation_name, header.fec_name, waveform)
    want = framer.link.channel_uses(header.lengths[header.segment]) if header.problem() is None else 0
    bits = rng.integers(0, 2, min(2 * want, 8192) if want else 64).astype(np.uint8)
    return framer.modulate(header, framer.link.reference_symbols(bits))
