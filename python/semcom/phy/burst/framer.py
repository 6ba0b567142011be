"""The transmitter's framer: a frame's payload as bursts with headers, and their samples.

* ``BurstFramer.segments`` splits a frame's payload into one segment per burst (whole LDPC
  blocks, at most ``burst_symbols`` channel uses each) with its ``Header``; ``modulate`` turns a
  header and the segment's symbols into the waveform's samples.
* ``BurstTransmitter`` is the numpy reference of the transmit chain, for tests and benchmarks.
"""
from __future__ import annotations

import os

import numpy as np

from ...errors import SemcomError
from .. import waveform as wf_mod
from ..constellations import BURST_MODULATIONS
from ..link import FEC_NONE, LinkConfig
from .header import FRAME_MODULO, Header, fec_index
from .segments import segment

DEFAULT_BURST_SYMBOLS = 4096
FRAME_GAP_BURSTS = 16  # stream samples (in bursts of MAX_BURST_DATA symbols) a frame may wait for its next burst
MAX_BURST_DATA = DEFAULT_BURST_SYMBOLS + wf_mod.HEADER_SYMBOLS
MAX_PILOT_ERROR = 4.0  # pilot error this many times the preamble's noise estimate: burst corrupted
MAX_SAMPLE = 1e4  # radios deliver about +-1; larger or non-finite samples are zeroed and counted


def frame_channel_uses(frame) -> int:
    """Payload channel uses of a whole frame (a Header or Frame): every segment, FEC and padding included."""
    return sum(frame.link.channel_uses(n) for n in frame.lengths)


def new_session() -> int:
    """A random, non-zero 32-bit transmitter session id (one per transmitter start)."""
    return int.from_bytes(os.urandom(4), "big") or 1


class BurstFramer:
    """Frame bits -> one (Header, segment bits) per burst for one link and waveform; a header
    and the segment's symbols -> burst samples. ``key`` (bytes): every header carries its
    authentication tag (``auth_tag``; over the segment's bits too when FEC-coded)."""

    def __init__(self, modulation="qpsk", fec="none", waveform="sc", burst_symbols=DEFAULT_BURST_SYMBOLS,
                 session: int | None = None, key: bytes = b""):
        self.link = LinkConfig(modulation, fec)
        self.key = bytes(key)
        self.wave = wf_mod.waveform(waveform)
        self.session = new_session() if session is None else int(session)
        self.bits_per_burst = self.link.payload_bits(int(burst_symbols))
        if self.bits_per_burst < 1:
            raise SemcomError(f"{burst_symbols} symbols per burst cannot carry one {self.link.describe()} "
                              f"FEC block; raise the burst size")

    def segments(self, bits: np.ndarray, codec_id: int, height: int, width: int, frame: int,
                 fingerprint: int = 0) -> list[tuple[Header, np.ndarray]]:
        """Each burst's header and information bits, zero-padded to whole FEC blocks."""
        bits = np.asarray(bits, np.uint8)
        align = self.link.segment_align
        segments = segment(bits, self.bits_per_burst, align)  # whole LDPC blocks
        out = []
        for i, seg in enumerate(segments):
            header = Header(int(codec_id), int(height), int(width), int(frame) % FRAME_MODULO, i,
                                  len(segments), BURST_MODULATIONS.index(self.link.modulation),
                                  fec_index(self.link.fec), len(bits), self.session, int(fingerprint))
            if self.key:
                header = header.signed(self.key, seg if self.link.fec != FEC_NONE else None)
            padded = np.zeros(-(-len(seg) // self.link.block[0]) * self.link.block[0], np.uint8)
            padded[:len(seg)] = seg
            out.append((header, padded))
        return out

    def modulate(self, header: Header, symbols: np.ndarray) -> np.ndarray:
        return self.wave.modulate(header, symbols)


class BurstTransmitter(BurstFramer):
    """The numpy reference of the transmit chain (LDPC encoder, Gray mapper) for tests."""

    def bursts(self, bits: np.ndarray, codec_id: int, height: int, width: int, frame: int,
               fingerprint: int = 0) -> list[np.ndarray]:
        return [self.modulate(h, self.link.reference_symbols(seg))
                for h, seg in self.segments(bits, codec_id, height, width, frame, fingerprint)]


