"""Digital receiver block: symbols PDU -> exact LLRs -> LDPC decoding -> payload LLR PDU.

Demappers:
  * 'lut'   GNU Radio's ``constellation_soft_decoder_cf`` with a table of exact
            LLRs at the frame's noise variance (AWGN);
  * 'exact' numpy log-sum-exp with per-symbol noise variance; uses the CSI of
            fading channels (zero-forcing equalisation first).
LDPC decoders (``modem.FecDecoder``, shared with the burst chain):
  * 'minsum'   vectorised normalised min-sum in numpy (fast, reports failures);
  * 'gnuradio' ``fec.ldpc_decoder`` in ``fec.decoder``, fed LLR*sigma^2/2, the
               BPSK-like values it expects; failures found by re-encoding.
Output: float32 LLRs of the payload bits (positive = 1), with metadata
``fec_ok`` and ``fec_blocks_failed``.
"""
from __future__ import annotations

import numpy as np
from gnuradio import blocks, digital, gr

from ..errors import SemcomError
from .pdu_block import pdu_block
from .pdu_io import make_pdu
from ..phy import channels, framing, soft_lut
from ..phy.link import LinkConfig
from ..options import check, default as opt
from . import modem
from .stream_run import run_chain

DEMAPPERS = ("lut", "exact")


class phy_rx(pdu_block):
    """Symbols PDU in, payload LLR PDU out.

    Args:
        modulation: as at the transmitter.
        fec_code: as at the transmitter (a user code 'alist:FILE' too).
        demapper: 'lut' (GNU Radio soft decoder with exact table) or 'exact'.
        ldpc_backend: 'minsum' (fast) or 'gnuradio' (fec.ldpc_decoder).
        lut_precision: the table has 4**lut_precision cells.
        max_iterations: LDPC iterations.
        constellation: a ``digital.constellation`` as given to ``phy_tx``.
    """

    in_dtype = np.complex64

    def __init__(self, modulation=opt("modulation"), fec_code=opt("phy_fec"), demapper="lut", ldpc_backend=opt("ldpc_backend"),
                 lut_precision=soft_lut.DEFAULT_PRECISION, max_iterations=50, constellation=None):
        pdu_block.__init__(self, "semcom_phy_rx")
        if demapper not in DEMAPPERS:
            raise SemcomError(f"unknown demapper '{demapper}'; choose one of {', '.join(DEMAPPERS)}")
        self.gr_const, name = modem.resolve(modulation, constellation)
        self.link = LinkConfig(name, check("phy_fec", fec_code))
        self.const = modem.plain(self.gr_const)
        self.demapper, self.ldpc_backend = demapper, check("ldpc_backend", ldpc_backend)
        self.lut_precision = lut_precision
        self.fec = modem.FecDecoder(self.ldpc_backend, max_iterations)
        self._lut_noise_var = None

    def process(self, meta, symbols):
        llrs = self.demodulate(symbols, meta)
        return [make_pdu(meta, llrs)]

    def demodulate(self, y: np.ndarray, meta: dict) -> np.ndarray:
        n0 = float(meta[framing.NOISE_VAR])
        coded, payload = int(meta[framing.CODED_BITS]), int(meta[framing.PAYLOAD_BITS])
        if len(y) * self.link.bits_per_symbol < coded or payload > coded:
            raise ValueError(f"frame has {len(y)} symbols, header says {coded} coded bits")
        csi = meta.pop(framing.CSI, None)
        if csi is not None:
            if len(csi) != len(y):
                raise ValueError(f"CSI has {len(csi)} values for {len(y)} symbols")
            y, nv = channels.equalise(y, np.asarray(csi, np.complex64), n0)
            llr = self.const.llr(y, nv)
        elif self.demapper == "exact":
            llr = self.const.llr(y, n0)
        else:
            llr = self._lut_demap(y, n0)
        return self.decode(llr[:coded].astype(np.float32), payload, meta)

    def _lut_demap(self, y, n0):
        if self._lut_noise_var != n0:
            table = soft_lut.build_table(self.const, n0, self.lut_precision)
            modem.load_table(self.gr_const, table, self.lut_precision)
            self._lut_noise_var = n0
        scale = 1.0 / soft_lut.axis_limit(self.const, n0)
        return run_chain(y, [lambda: blocks.multiply_const_cc(scale),
                             lambda: digital.constellation_soft_decoder_cf(self.gr_const)], np.float32,
                         out_per_in=self.const.bits_per_symbol)

    def decode(self, llr: np.ndarray, payload: int, meta: dict) -> np.ndarray:
        out, failed = self.fec.decode(self.link, llr, payload)
        meta[framing.FEC_OK], meta[framing.FEC_BLOCKS_FAILED] = failed == 0, failed
        return out
