"""The ``fec_decoder`` block of the burst waveform (see ``blocks/__init__.py`` for the whole chain)."""
from __future__ import annotations


import numpy as np

from . import modem
from ..options import check, default as opt
from .pdu_block import pdu_block
from .pdu_io import make_pdu
from ..phy import burst, framing, ldpc
from .burst_common import EXPIRE, header_of


class fec_decoder(pdu_block):
    """Coded LLR PDU of one burst (metadata: its header) in, the segment's information LLRs out,
    with ``fec_ok`` and ``fec_blocks_failed``. Expire PDUs pass through.

    Args:
        backend: 'minsum' (the project's vectorised min-sum; reports failed codewords) or
            'gnuradio' (gr-fec's ldpc_decoder; failures found by re-encoding).
        max_iterations: LDPC iterations.
        alist: a user LDPC code (alist file) this decoder accepts besides the named ones ('' none);
            bursts of another user code are dropped, counted under ``burst.ForeignCode.reason``.
        decoder: a gr-fec LDPC decoder definition (``fec.ldpc_decoder.make(FILE, ...)``) that the
            'gnuradio' backend uses for the ``alist`` code.
    """

    in_dtype = np.float32

    def __init__(self, backend=opt("ldpc_backend"), max_iterations=50, alist=opt("alist"), decoder=None):
        pdu_block.__init__(self, "semcom_fec_decoder")
        code = ldpc.given(alist)
        self.accepted = burst.accepted_fecs((code,))
        self.decoder = modem.FecDecoder(check("ldpc_backend", backend), max_iterations, code, decoder)
        self.blocks_failed = 0

    def process(self, meta, llr):
        if EXPIRE in meta:
            return [make_pdu(meta, llr)]
        header = burst.check_code(header_of(meta), self.accepted)
        payload, failed = self.decoder.decode(header.link, llr, header.lengths[header.segment])
        meta[framing.FEC_OK], meta[framing.FEC_BLOCKS_FAILED] = failed == 0, failed
        self.blocks_failed += failed
        return [make_pdu(meta, payload)]
