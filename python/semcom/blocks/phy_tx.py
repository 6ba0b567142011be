"""Digital transmitter block: bits PDU -> LDPC (gr-fec) -> Gray QAM (gr-digital) -> symbols PDU."""
from __future__ import annotations

import numpy as np
from gnuradio import blocks, digital, fec, gr

from . import modem
from .pdu_block import pdu_block
from .pdu_io import make_pdu
from ..phy import framing
from ..phy.link import LinkConfig
from ..options import check, default as opt
from .stream_run import TAIL, run_chain


class phy_tx(pdu_block):
    """Bits PDU (one bit per byte) in, complex symbols PDU out.

    The payload is zero-padded to whole LDPC blocks, encoded by gr-fec's
    ``ldpc_par_mtrx_encoder`` in ``fec.encoder``, padded to whole symbols,
    packed by ``repack_bits_bb`` and mapped by ``constellation_encoder_bc``
    (the stack of ``modem``, which the burst chain shares). Metadata gains
    ``payload_bits`` and ``coded_bits`` so the receiver can strip the padding.

    Args:
        modulation: bpsk, qpsk, 16qam or 64qam (Gray, unit average energy), or any
            ``digital.constellation`` (e.g. ``digital.constellation_8psk()``), scaled to unit energy.
        fec_code: 'ldpc-1/2', 'ldpc-2/5', 'ldpc-1/3', 'ldpc-2/3', 'ldpc-3/4', 'ldpc-5/6', 'none', or a user code 'alist:FILE' (any alist).
        constellation: a ``digital.constellation`` with as many points as ``modulation``,
            instead of the project's.
    """

    in_dtype = np.uint8

    def __init__(self, modulation: str = opt("modulation"), fec_code: str = opt("phy_fec"), constellation=None):
        pdu_block.__init__(self, "semcom_phy_tx")
        self.constellation, name = modem.resolve(modulation, constellation)
        self.link = LinkConfig(name, check("phy_fec", fec_code))
        self.encoder = modem.encoder_object(self.link.fec)

    def process(self, meta, bits):
        if bits.size and bits.max() > 1:
            raise ValueError("bits PDU must hold one bit (0 or 1) per byte")
        return [make_pdu(meta, self.modulate(bits, meta))]

    def modulate(self, bits: np.ndarray, meta: dict) -> np.ndarray:
        k_info, _ = self.link.block
        k = self.link.bits_per_symbol
        meta[framing.PAYLOAD_BITS] = len(bits)
        coded = framing.pad_to_multiple(bits, k_info)
        if self.encoder is not None:
            coded = run_chain(coded, [lambda: fec.encoder(self.encoder, gr.sizeof_char, gr.sizeof_char)], np.uint8,
                              out_per_in=1 / self.link.rate, tail=0)
        meta[framing.CODED_BITS] = len(coded)
        coded = framing.pad_to_multiple(coded, k)
        return run_chain(coded, [lambda: blocks.repack_bits_bb(1, k, "", False, gr.GR_MSB_FIRST),
                                 lambda: digital.constellation_encoder_bc(self.constellation)], np.complex64,
                         out_per_in=1 / k, tail=k * TAIL)
