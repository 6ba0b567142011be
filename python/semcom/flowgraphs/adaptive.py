"""A transmitter that picks the codec and link per image (``tx_image.py --codec auto``): one
``AirTransmitter`` whose bursts go through a ``multi_link_burst_tx`` holding every link it may use."""
from __future__ import annotations

import numpy as np

from . import radios
from .air import AirOptions, AirTransmitter, Impairments
from ..blocks.burst_tx import multi_link_burst_tx
from ..blocks.pdu_io import split_pdu
from ..codecs import registry
from ..options import default as opt
from ..phy.link import LinkConfig


class AdaptiveTransmitter(AirTransmitter):
    """Sends each image with the codec and link ``send`` names; ``links``: every link it may name."""

    def __init__(self, radio: radios.RadioConfig, links, cpp=opt("cpp"), options: AirOptions | None = None,
                 throttle: bool = False, impairments: Impairments | None = None):
        opts = options or AirOptions()
        links = [LinkConfig.parse(text).describe() for text in links]
        bursts = multi_link_burst_tx(links, opts.waveform, opts.burst_symbols, opts.amplitude, opts.key)
        first = LinkConfig.parse(links[0])
        super().__init__(radio, opt("codec"), first.modulation, first.fec, cpp, opts, throttle, impairments, bursts)
        self.codecs = {}

    def send(self, image: np.ndarray, meta: dict | None = None, codec: str = opt("codec"), link: str = "qpsk"):
        """Encodes one image with ``codec`` for ``link`` and queues it; returns (frame metadata,
        payload bits). SemcomError (nothing queued) when the codec cannot fit the budget."""
        if codec not in self.codecs:
            self.codecs[codec] = registry.get(codec)
        self.image.codec, self.image.link = self.codecs[codec], LinkConfig.parse(link)
        m, bits = split_pdu(self.image.encode(image, meta), np.uint8)
        self.bursts.send(bits, m, self.image.link.describe())
        return m, len(bits)
