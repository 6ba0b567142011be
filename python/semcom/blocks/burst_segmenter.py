"""The ``burst_segmenter`` block of the burst waveform (see ``blocks/__init__.py`` for the whole chain)."""
from __future__ import annotations

from dataclasses import astuple

import numpy as np

from .. import options
from . import modem
from ..options import check, default as opt
from .pdu_block import pdu_block
from .pdu_io import make_pdu
from ..phy import burst, framing
from ..phy.framing import CODEC_ID, HEIGHT, WIDTH
from .burst_common import HEADER, fingerprint_of


class burst_segmenter(pdu_block):
    """Frame bits PDU (one bit per byte; metadata codec_id, height, width, frame, model_hash) in,
    one PDU per burst out: its information bits, zero-padded to whole FEC blocks, with the burst
    header in the metadata. A random session id per block keeps transmitters apart.

    Args:
        modulation, fec_code: the payload's link (the header signals both); fec_code may be a user
            code from any alist file, 'alist:FILE' (the header carries its 7-bit hash).
        burst_symbols: payload channel uses per burst at most.
        key: pre-shared authentication key ('' none; '@FILE' a file's bytes): headers carry its tag.
    """

    in_dtype = np.uint8

    def __init__(self, modulation=opt("modulation"), fec_code=opt("phy_fec"), burst_symbols=opt("burst_symbols"),
                 waveform=opt("waveform"), key=opt("key")):
        pdu_block.__init__(self, "semcom_burst_segmenter")
        self.framer = burst.BurstFramer(modem.burst_modulation(modulation), check("phy_fec", fec_code),
                                      check("waveform", waveform), check("burst_symbols", burst_symbols),
                                      key=options.key_bytes(key))
        self.frames_in = self.bursts_out = 0

    @property
    def link(self):
        return self.framer.link

    def process(self, meta, bits):
        if bits.size and bits.max() > 1:
            raise ValueError("bits PDU must hold one bit (0 or 1) per byte")
        segments = self.framer.segments(bits, int(meta[CODEC_ID]), int(meta[HEIGHT]), int(meta[WIDTH]),
                                        int(meta.get(framing.FRAME, 0)), fingerprint_of(meta))
        self.frames_in += 1
        self.bursts_out += len(segments)
        return [make_pdu({HEADER: list(astuple(h))}, seg) for h, seg in segments]
