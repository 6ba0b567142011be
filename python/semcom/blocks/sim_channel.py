"""Simulated channel block on symbol PDUs: AWGN at an exact Es/N0, optional Rayleigh block fading.

Noise is GNU Radio's ``analog.noise_source_c`` added by ``blocks.add_cc``; its
complex variance is amplitude**2, so amplitude = sqrt(N0) with Es = 1 (checked
by a test). The receiver is told N0, and with fading the fades, in PDU
metadata: the genie knowledge of an ideal synchronised link.
"""
from __future__ import annotations

import numpy as np
from gnuradio import analog, blocks

from ..errors import SemcomError
from .pdu_block import pdu_block
from .pdu_io import make_pdu
from ..phy import channels, framing
from .stream_run import run_chain

CHANNELS = ("awgn", "rayleigh", channels.MIMO)


class sim_channel(pdu_block):
    """Symbols PDU in, noisy (and faded) symbols PDU out.

    Args:
        channel: 'awgn', 'rayleigh' (block fading, perfect CSI at the receiver) or 'mimo8x4'
            (any mimoNTxNR: min(Nt, Nr) streams, i.i.d. Rayleigh block fading, LMMSE detection in
            numpy; each symbol leaves with the equivalent CSI of its post-detection SINR).
        snr_db: Es/N0 in dB.
        block_len: symbols per independent fade for 'rayleigh'.
        seed: noise and fading seed.
    """

    in_dtype = np.complex64

    def __init__(self, channel: str = "awgn", snr_db: float = 10.0, block_len: int = 64, seed: int = 0):
        pdu_block.__init__(self, "semcom_sim_channel")
        if channel not in CHANNELS and channels.mimo_shape(channel) is None:
            raise SemcomError(f"unknown channel '{channel}'; choose one of {', '.join(CHANNELS)} (or mimoNTxNR)")
        self.channel, self.block_len = channel, int(block_len)
        self.reseed(seed)
        self.set_snr(snr_db)

    def reseed(self, seed: int):
        """Restart the noise and fading from ``seed``."""
        self.rng = np.random.default_rng(seed)

    def set_snr(self, snr_db: float):
        self.snr_db = float(snr_db)
        self.noise_var = channels.noise_var(snr_db)

    def process(self, meta, symbols):
        return [make_pdu(meta, self.apply(symbols, meta))]

    def apply(self, symbols: np.ndarray, meta: dict) -> np.ndarray:
        meta[framing.NOISE_VAR] = self.noise_var
        shape = channels.mimo_shape(self.channel)
        if shape:  # numpy MIMO fading and LMMSE detection; GNU Radio's noise on the Nr received signals
            received, g = channels.mimo_transmit(symbols, *shape, self.block_len, self.rng)
            noisy = self._noise(received.reshape(-1)).reshape(received.shape)
            est, h = channels.lmmse(noisy, g, self.noise_var, len(symbols))
            meta[framing.CSI] = h
            return (est * h).astype(np.complex64)
        if self.channel == "rayleigh":
            h = channels.rayleigh_block_gains(len(symbols), self.block_len, self.rng)
            symbols = (symbols * h).astype(np.complex64)
            meta[framing.CSI] = h
        return self._noise(symbols)

    def _noise(self, symbols: np.ndarray) -> np.ndarray:
        amplitude, seed = float(np.sqrt(self.noise_var)), int(self.rng.integers(1 << 30))
        return run_chain(symbols, [blocks.add_cc], np.complex64,
                         side_inputs=[(0, lambda: analog.noise_source_c(analog.GR_GAUSSIAN, amplitude, seed))])
