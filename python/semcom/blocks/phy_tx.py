"""Digital transmitter block: bits PDU -> LDPC (gr-fec) -> Gray QAM (gr-digital) -> symbols PDU."""
from __future__ import annotations

import numpy as np
from gnuradio import blocks, digital, fec, gr

from .pdu_block import pdu_block
from .pdu_io import make_pdu
from ..phy import framing
from ..phy.constellations import constellation
from ..phy.link import LinkConfig
from ..options import check, default as opt
from .stream_run import TAIL, run_chain


def gr_constellation(modulation: str):
    """A ``digital.constellation`` with the project's points, Gray labels and unit energy."""
    points = [complex(p) for p in constellation(modulation).points]
    return digital.constellation_calcdist(points, [], 1, 1, digital.constellation.NO_NORMALIZATION)


class phy_tx(pdu_block):
    """Bits PDU (one bit per byte) in, complex symbols PDU out.

    The payload is zero-padded to whole LDPC blocks, encoded by
    ``fec.ldpc_par_mtrx_encoder`` in ``fec.encoder``, padded to whole symbols,
    packed by ``repack_bits_bb`` and mapped by ``constellation_encoder_bc``.
    Metadata gains ``payload_bits`` and ``coded_bits`` so the receiver can strip
    the padding.

    Args:
        modulation: bpsk, qpsk, 16qam or 64qam (Gray, unit average energy).
        fec_code: 'ldpc-1/2', 'ldpc-2/5', 'ldpc-1/3' or 'none'.
    """

    in_dtype = np.uint8

    def __init__(self, modulation: str = opt("modulation"), fec_code: str = opt("phy_fec")):
        pdu_block.__init__(self, "semcom_phy_tx")
        self.link = LinkConfig(check("modulation", modulation), check("phy_fec", fec_code))
        self.constellation = gr_constellation(modulation)
        code = self.link.code
        self.encoder = None if code is None else fec.ldpc_par_mtrx_encoder.make_H(fec.ldpc_H_matrix(code.alist, code.gap))

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
