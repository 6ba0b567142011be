"""The ``burst_reassembler`` block of the burst waveform (see ``blocks/__init__.py`` for the whole chain)."""
from __future__ import annotations

import threading

import numpy as np
import pmt

from ..errors import SemcomError
from .. import options
from ..options import check, default as opt
from .pdu_block import IN, OUT, pdu_block
from .pdu_io import make_pdu
from ..phy import burst, framing
from ..phy.link import FEC_NONE
from .burst_common import EXPIRE, UNAUTHENTIC, frame_meta, header_of


class burst_reassembler(pdu_block):
    """Segment LLR PDUs in; a frame's LLR PDU out once all its bursts arrived, or when it expires
    (lost bursts as LLR 0, erasures), with the header fields, SNR estimate and bursts lost in its
    metadata (what ``image_rx`` reads). At the end of the stream (every upstream block
    finished) the frames still pending are published with their missing bursts as erasures."""

    in_dtype = np.float32

    def __init__(self, max_frame_bits=opt("max_frame_bits"), max_pending_frames=opt("max_pending_frames"),
                 key=opt("key")):
        pdu_block.__init__(self, "semcom_burst_reassembler")
        self.key = options.key_bytes(key)
        self.message_port_register_in(pmt.intern(EXPIRE))
        self.set_msg_handler(pmt.intern(EXPIRE), self.handle)
        self.collector = burst.FrameCollector(check("max_frame_bits", max_frame_bits),
                                            check("max_pending_frames", max_pending_frames))
        self.lock = threading.Lock()
        self.feeder = None  # a block whose queued messages come here first (burst_rx: fec_decoder)
        self.frames_out = self.frames_dropped = 0

    def process(self, meta, llr):
        with self.lock:
            if EXPIRE in meta:
                return self._frames(self.collector.expire(tuple(int(v) for v in np.asarray(meta[EXPIRE]).ravel())))
            header = header_of(meta)
            if self.key and not header.authentic(self.key, (llr > 0) if header.fec_name != FEC_NONE else None):
                self.drops[UNAUTHENTIC] = self.drops.get(UNAUTHENTIC, 0) + 1
                if self.drops[UNAUTHENTIC] in (1, 10, 100) or self.drops[UNAUTHENTIC] % 1000 == 0:
                    self.logger.warn(f"dropped a burst without a valid authentication tag ({UNAUTHENTIC}; "
                                     f"{self.drops[UNAUTHENTIC]} so far)")
                return []
            info = burst.BurstInfo(header, int(meta.get("position", -1)), float(meta.get("snr_db", float("nan"))),
                                 float(meta.get("cfo", 0.0)), bool(meta.get(framing.FEC_OK, True)))
            return self._frames(self.collector.add(info, llr))

    @property
    def drain_ports(self):
        return (pmt.intern(EXPIRE), IN)

    def stop(self):
        """What is still queued upstream and here (the end of a recording). Pending frames stay:
        GNU Radio may stop this block before the last bursts left the stream stages, so the
        flowgraph's owner flushes them once it has ended (``burst_rx.drain``)."""
        if self.feeder is not None:
            self.feeder.drain()
        self.drain()
        return True

    def end_of_stream(self):
        self.flush()

    def flush(self):
        """Publishes every pending frame, its missing bursts as erasures."""
        with self.lock:
            for pdu in self._frames(self.collector.flush()):
                self.message_port_pub(OUT, pdu)

    def _frames(self, frames):
        out = []
        for received in frames:
            try:
                meta = frame_meta(received)
            except SemcomError as err:  # a codec or model this installation lacks: counted by its id
                self.frames_dropped += 1
                self._drop(f"frame for unknown codec id {received.frame.codec_id:#06x} (its model is not installed "
                           "here: --codec ITS_FOLDER)", err)
                continue
            self.frames_out += 1
            out.append(make_pdu(meta, received.frame.llrs))
        return out
