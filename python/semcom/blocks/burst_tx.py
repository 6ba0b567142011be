"""The ``burst_tx`` block of the burst waveform (see ``blocks/__init__.py`` for the whole chain)."""
from __future__ import annotations


import numpy as np
from gnuradio import fec, gr

from . import modem
from ..errors import SemcomError
from ..options import default as opt
from .pdu_block import IN
from .pdu_io import make_pdu
from .burst_common import MTU
from .burst_modulator import burst_modulator
from .burst_segmenter import burst_segmenter
from .symbol_mapper import symbol_mapper


class burst_tx(gr.hier_block2):
    """Frame bits PDU (one bit per byte; metadata codec_id, height, width, frame) in, burst
    samples out: ``burst_segmenter`` -> gr-fec ``async_encoder`` (LDPC; none when uncoded) ->
    ``symbol_mapper`` -> ``burst_modulator``.

    Args:
        modulation, fec_code: the payload's link, as ``image_tx`` was given.
        waveform: 'sc' or 'ofdm'.
        burst_symbols: payload channel uses per burst at most.
        amplitude: output scale.
        constellation: a ``digital.constellation`` to map with instead of the project's (same
            number of points as ``modulation``; the receiver must be given the same one).
        key: pre-shared authentication key ('' none): every header carries its HMAC tag.
        encoder: a gr-fec LDPC encoder definition to encode with instead of the one built from
            ``fec_code`` (checked: it must encode that code as [parity | information]).

    ``fec_code`` 'alist:FILE' is a user code: the receiver must be given the same file.
    """

    def __init__(self, modulation=opt("modulation"), fec_code=opt("phy_fec"), waveform=opt("waveform"),
                 burst_symbols=opt("burst_symbols"), amplitude=1.0, constellation=None, key=opt("key"),
                 encoder=None):
        gr.hier_block2.__init__(self, "semcom_burst_tx", gr.io_signature(0, 0, 0),
                                gr.io_signature(1, 1, gr.sizeof_gr_complex))
        self.message_port_register_hier_in("in")
        self.posted = 0
        self.segmenter = burst_segmenter(modulation, fec_code, burst_symbols, waveform, key)
        obj = modem.as_constellation(constellation if constellation is not None else modulation)
        if modem.modulation_of(obj) != self.segmenter.link.modulation:
            raise SemcomError(f"constellation has {1 << obj.bits_per_symbol()} points; {modulation} has "
                              f"{1 << self.segmenter.link.bits_per_symbol}")
        self.mapper = symbol_mapper(obj)
        self.modulator = burst_modulator(waveform, amplitude)
        encoder = modem.encoder_object(self.segmenter.link.fec, encoder)
        chain = [self.segmenter]
        if encoder is not None:
            self.encoder_object = encoder
            self.encoder = fec.async_encoder(encoder, False, False, False, MTU)
            chain.append(self.encoder)
        chain += [self.mapper, self.modulator]
        self.msg_connect(self, "in", self.segmenter, "in")
        for a, b in zip(chain, chain[1:]):
            self.msg_connect(a, "out", b, "in")
        self.connect(self.modulator, self)

    def send(self, bits: np.ndarray, meta: dict):
        """Queues one frame (as if posted to the message input)."""
        self.posted += 1
        self.segmenter.to_basic_block()._post(IN, make_pdu(meta, np.asarray(bits, np.uint8)))

    @property
    def idle(self) -> bool:
        """True when every frame given to ``send`` has left the block (or was dropped on the way)."""
        lost = self.mapper.dropped + self.modulator.dropped
        return self.segmenter.frames_in + self.segmenter.dropped >= self.posted and self.modulator.idle \
            and self.segmenter.bursts_out <= self.modulator.bursts_sent + lost

    @property
    def frames_sent(self) -> int:
        return self.modulator.frames_sent

    @property
    def bursts_sent(self) -> int:
        return self.modulator.bursts_sent

    @property
    def samples_sent(self) -> int:
        return self.modulator.samples_sent

    @property
    def dropped(self) -> int:
        return self.segmenter.dropped + self.mapper.dropped + self.modulator.dropped
