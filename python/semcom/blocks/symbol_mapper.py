"""The ``symbol_mapper`` block of the burst waveform (see ``blocks/__init__.py`` for the whole chain)."""
from __future__ import annotations


import numpy as np

from . import modem
from ..options import default as opt
from .pdu_block import pdu_block
from .pdu_io import make_pdu
from .burst_common import HEADER, header_of


class symbol_mapper(pdu_block):
    """Bits PDU in, symbols PDU out, through a ``digital.constellation`` (the PDU form of
    ``constellation_encoder_bc``); metadata passes through. Pads to whole symbols.

    Args:
        constellation: a ``digital.constellation`` (scaled to unit average energy, labels kept),
            or a modulation name (the project's Gray QPSK, 16-QAM, 64-QAM, 8-PSK).
    """

    in_dtype = np.uint8

    def __init__(self, constellation=opt("modulation")):
        pdu_block.__init__(self, "semcom_symbol_mapper")
        self.mapper = modem.SymbolMapper(constellation)

    def process(self, meta, bits):
        if bits.size and bits.max() > 1:
            raise ValueError("bits PDU must hold one bit (0 or 1) per byte")
        if HEADER in meta:
            modulation = header_of(meta).modulation_name
            if modulation != self.mapper.modulation:
                raise ValueError(f"burst header says {modulation}, this mapper's constellation is "
                                 f"{self.mapper.modulation}")
        return [make_pdu(meta, self.mapper.map(bits))]
