"""Digital receiver block: symbols PDU -> exact LLRs -> LDPC decoding -> payload LLR PDU.

Demappers:
  * 'lut'   GNU Radio's ``constellation_soft_decoder_cf`` with a table of exact
            LLRs at the frame's noise variance (AWGN);
  * 'exact' numpy log-sum-exp with per-symbol noise variance; uses the CSI of
            fading channels (zero-forcing equalisation first).
LDPC decoders:
  * 'minsum'   vectorised normalised min-sum in numpy (fast, reports failures);
  * 'gnuradio' ``fec.ldpc_decoder`` in ``fec.decoder``, fed LLR*sigma^2/2, the
               BPSK-like values it expects; it cannot report failures.
Output: float32 LLRs of the payload bits (positive = 1), with metadata
``fec_ok`` and ``fec_blocks_failed``.
"""
from __future__ import annotations

import numpy as np
from gnuradio import blocks, digital, fec, gr

from ..errors import SemcomError
from .pdu_block import pdu_block
from .pdu_io import make_pdu
from ..phy import channels, framing, soft_lut
from ..phy.constellations import constellation
from ..phy.link import LinkConfig
from ..options import check, default as opt
from .phy_tx import gr_constellation
from .stream_run import run_chain

DEMAPPERS = ("lut", "exact")
LDPC_BACKENDS = ("minsum", "gnuradio")
GR_LDPC_SIGMA = 0.5  # fec.ldpc_decoder computes LLR = 2*x/sigma^2 from its input x
HARD_LLR = 20.0  # magnitude given to hard decisions from the GNU Radio decoder


class phy_rx(pdu_block):
    """Symbols PDU in, payload LLR PDU out.

    Args:
        modulation: as at the transmitter.
        fec_code: as at the transmitter.
        demapper: 'lut' (GNU Radio soft decoder with exact table) or 'exact'.
        ldpc_backend: 'minsum' (fast) or 'gnuradio' (fec.ldpc_decoder).
        lut_precision: the table has 4**lut_precision cells.
        max_iterations: LDPC iterations.
    """

    in_dtype = np.complex64

    def __init__(self, modulation=opt("modulation"), fec_code=opt("phy_fec"), demapper="lut", ldpc_backend=opt("ldpc_backend"),
                 lut_precision=soft_lut.DEFAULT_PRECISION, max_iterations=50):
        pdu_block.__init__(self, "semcom_phy_rx")
        if demapper not in DEMAPPERS:
            raise SemcomError(f"unknown demapper '{demapper}'; choose one of {', '.join(DEMAPPERS)}")
        if ldpc_backend not in LDPC_BACKENDS:
            raise SemcomError(f"unknown LDPC backend '{ldpc_backend}'; choose one of {', '.join(LDPC_BACKENDS)}")
        self.link = LinkConfig(check("modulation", modulation), check("phy_fec", fec_code))
        self.const = constellation(modulation)
        self.demapper, self.ldpc_backend = demapper, ldpc_backend
        self.lut_precision, self.max_iterations = lut_precision, max_iterations
        self.gr_const = gr_constellation(modulation)
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
            self.gr_const.set_soft_dec_lut(table.tolist(), self.lut_precision)
            self._lut_noise_var = n0
        scale = 1.0 / soft_lut.axis_limit(self.const, n0)
        return run_chain(y, [lambda: blocks.multiply_const_cc(scale),
                             lambda: digital.constellation_soft_decoder_cf(self.gr_const)], np.float32,
                         out_per_in=self.const.bits_per_symbol)

    def decode(self, llr: np.ndarray, payload: int, meta: dict) -> np.ndarray:
        code = self.link.code
        if code is None:
            meta[framing.FEC_OK], meta[framing.FEC_BLOCKS_FAILED] = True, 0
            return llr[:payload]
        if self.ldpc_backend == "gnuradio":
            decoder = fec.ldpc_decoder.make(code.alist, GR_LDPC_SIGMA, self.max_iterations)
            scaled = llr * (GR_LDPC_SIGMA ** 2 / 2)
            bits = run_chain(scaled, [lambda: fec.decoder(decoder, gr.sizeof_float, gr.sizeof_char)], np.uint8,
                             out_per_in=code.rate, tail=0)
            meta[framing.FEC_OK], meta[framing.FEC_BLOCKS_FAILED] = True, 0
            return np.where(bits[:payload] > 0, HARD_LLR, -HARD_LLR).astype(np.float32)
        _, ok, post = code.decode(llr.reshape(-1, code.n), self.max_iterations)
        meta[framing.FEC_OK] = bool(ok.all())
        meta[framing.FEC_BLOCKS_FAILED] = int((~ok).sum())
        return post[:, code.m:].ravel()[:payload].astype(np.float32)
