"""The ``air_channel`` block of the burst waveform (see ``blocks/__init__.py`` for the whole chain)."""
from __future__ import annotations


import numpy as np
from gnuradio import blocks, channels, filter as gr_filter, gr

from .. import options
from ..errors import SemcomError
from .burst_common import noise_voltage


class air_channel(gr.hier_block2):
    """The simulated radio between ``burst_tx`` and ``burst_rx``.

    Args:
        snr_db: Es/N0 per data symbol (noise variance per sample = 10^(-snr/10)).
        cfo: carrier offset in cycles per sample (sc: 0.005 = 1% of the symbol rate).
        delay: fractional timing offset in samples (0..1).
        clock_ppm: sample-clock offset between the radios, parts per million.
        taps: multipath impulse response (sample spaced); normalised to unit energy.
        rayleigh: add flat Rayleigh fading (``channels.fading_model``), normalised Doppler ``doppler``.
        seed: noise and fading seed.
    """

    def __init__(self, snr_db=10.0, cfo=0.0, delay=0.0, clock_ppm=0.0, taps=(1.0,), rayleigh=False,
                 doppler=1e-5, seed=0):
        gr.hier_block2.__init__(self, "semcom_air_channel", gr.io_signature(1, 1, gr.sizeof_gr_complex),
                                gr.io_signature(1, 1, gr.sizeof_gr_complex))
        taps = np.asarray(options.check("taps", taps), complex)
        if not 0 <= float(delay) < 1:
            raise SemcomError(f"fractional timing offset must be in [0, 1) samples, got {delay}")
        taps = taps / np.linalg.norm(taps)
        self.resampler = gr_filter.mmse_resampler_cc(float(delay), 1.0 + float(clock_ppm) * 1e-6)
        # the noise is added at 0 dB to the signal scaled by the SNR's amplitude, and the sum scaled
        # back: channel_model's noise source runs ahead of the signal, so changing its voltage would
        # reach only samples after the noise it already made; the gains apply to the next sample
        self.model = channels.channel_model(noise_voltage(0.0), float(cfo), 1.0, taps.tolist(),
                                            int(seed) or 1, False)
        self.boost, self.unboost = blocks.multiply_const_cc(1.0), blocks.multiply_const_cc(1.0)
        self.set_snr(snr_db)
        chain = [self, self.resampler]
        if rayleigh:
            self.fading = channels.fading_model(8, float(doppler), False, 4.0, int(seed) + 1)
            chain.append(self.fading)
        chain += [self.boost, self.model, self.unboost, self]
        self.connect(*chain)

    def set_snr(self, snr_db: float):
        """Es/N0 from the next sample on."""
        gain = 1.0 / noise_voltage(snr_db)
        self.boost.set_k(complex(gain))
        self.unboost.set_k(complex(1.0 / gain))
