"""The ``burst_tx`` block of the burst waveform (see ``blocks/__init__.py`` for the whole chain)."""
from __future__ import annotations


import numpy as np
from gnuradio import fec, gr

from . import modem
from ..errors import SemcomError
from ..options import default as opt
from .pdu_block import IN
from .pdu_io import make_pdu
from ..phy.link import LinkConfig
from .burst_common import MTU
from .burst_modulator import burst_modulator
from .burst_segmenter import burst_segmenter
from .symbol_mapper import symbol_mapper


def payload_chain(modulation, fec_code, waveform, burst_symbols, key, constellation=None, encoder=None):
    """([burst_segmenter, LDPC async_encoder (not when uncoded), symbol_mapper] of one link, unconnected;
    the encoder's gr-fec definition or None)."""
    segmenter = burst_segmenter(modulation, fec_code, burst_symbols, waveform, key)
    obj = modem.normalised(constellation if constellation is not None else modulation)
    if modem.modulation_of(obj) != segmenter.link.modulation:
        raise SemcomError(f"constellation has {1 << obj.bits_per_symbol()} points; {modulation} has "
                          f"{1 << segmenter.link.bits_per_symbol}")
    chain = [segmenter]
    definition = modem.encoder_object(segmenter.link.fec, encoder)
    if definition is not None:
        chain.append(fec.async_encoder(definition, False, False, False, MTU))
    return chain + [symbol_mapper(obj)], definition


class SentCounts:
    """``idle`` and the sent counts of a transmitter of ``chains`` (payload chains, see
    ``payload_chain``) into one ``modulator``, ``posted`` frames given to it."""

    @property
    def idle(self) -> bool:
        """True when every frame given to ``send`` has left the block (or was dropped on the way)."""
        segmenters = [chain[0] for chain in self.chains.values()]
        lost = sum(chain[-1].dropped for chain in self.chains.values()) + self.modulator.dropped
        return sum(s.frames_in + s.dropped for s in segmenters) >= self.posted and self.modulator.idle \
            and sum(s.bursts_out for s in segmenters) <= self.modulator.bursts_sent + lost

    @property
    def frames_sent(self) -> int:
        return self.modulator.frames_sent

    @property
    def bursts_sent(self) -> int:
        return self.modulator.bursts_sent

    @property
    def samples_sent(self) -> int:
        return self.modulator.samples_sent


class burst_tx(SentCounts, gr.hier_block2):
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
        chain, definition = payload_chain(modulation, fec_code, waveform, burst_symbols, key, constellation, encoder)
        self.segmenter, self.mapper = chain[0], chain[-1]
        self.chains = {self.segmenter.link.describe(): chain}
        if definition is not None:
            self.encoder, self.encoder_object = chain[1], definition
        self.modulator = burst_modulator(waveform, amplitude)
        self.msg_connect(self, "in", self.segmenter, "in")
        for a, b in zip(chain, chain[1:] + [self.modulator]):
            self.msg_connect(a, "out", b, "in")
        self.connect(self.modulator, self)

    def send(self, bits: np.ndarray, meta: dict):
        """Queues one frame (as if posted to the message input)."""
        self.posted += 1
        self.segmenter.to_basic_block()._post(IN, make_pdu(meta, np.asarray(bits, np.uint8)))

    @property
    def dropped(self) -> int:
        return self.segmenter.dropped + self.mapper.dropped + self.modulator.dropped


class multi_link_burst_tx(SentCounts, gr.hier_block2):
    """``burst_tx`` for several links at once: one payload chain per link (segmenter, encoder,
    mapper; one transmitter session for all) into one ``burst_modulator``, so a transmitter picks
    the link frame by frame (``send``). ``links``: LinkConfig texts ('qpsk', '16qam/ldpc-1/2')."""

    def __init__(self, links, waveform=opt("waveform"), burst_symbols=opt("burst_symbols"), amplitude=1.0,
                 key=opt("key")):
        gr.hier_block2.__init__(self, "semcom_multi_link_burst_tx", gr.io_signature(0, 0, 0),
                                gr.io_signature(1, 1, gr.sizeof_gr_complex))
        self.posted = 0
        self.modulator = burst_modulator(waveform, amplitude)
        self.chains, self.encoder_objects = {}, []
        session = None
        for text in dict.fromkeys(links):
            link = LinkConfig.parse(text)
            chain, definition = payload_chain(link.modulation, link.fec, waveform, burst_symbols, key)
            self.encoder_objects.append(definition)
            session = session or chain[0].framer.session
            chain[0].framer.session = session  # the receiver sees one transmitter
            for a, b in zip(chain, chain[1:] + [self.modulator]):
                self.msg_connect(a, "out", b, "in")
            self.chains[link.describe()] = chain
        if not self.chains:
            raise SemcomError("multi_link_burst_tx needs at least one link")
        self.connect(self.modulator, self)

    def send(self, bits: np.ndarray, meta: dict, link: str):
        """Queues one frame on ``link`` (a LinkConfig text this block was built with)."""
        self.posted += 1
        self.chains[link][0].to_basic_block()._post(IN, make_pdu(meta, np.asarray(bits, np.uint8)))

