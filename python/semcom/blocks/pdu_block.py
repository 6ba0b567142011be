"""Base class for the module's PDU-in/PDU-out Python blocks.

A malformed PDU is logged on one line and dropped; the flowgraph keeps running.
"""
from __future__ import annotations

import pmt
from gnuradio import gr

from ..errors import SemcomError

IN, OUT = pmt.intern("in"), pmt.intern("out")


class pdu_block(gr.basic_block):
    """Subclasses implement ``process(meta, data)`` returning a list of PDUs to emit."""

    in_dtype = None

    def __init__(self, name: str):
        gr.basic_block.__init__(self, name=name, in_sig=None, out_sig=None)
        self.message_port_register_in(IN)
        self.message_port_register_out(OUT)
        self.set_msg_handler(IN, self.handle)
        self.dropped = 0

    def handle(self, msg):
        from .pdu_io import split_pdu
        try:
            meta, data = split_pdu(msg, self.in_dtype)
            outputs = self.process(meta, data)
        except (ValueError, KeyError, TypeError, SemcomError) as err:
            self.dropped += 1
            self.logger.warn(f"dropped a malformed PDU: {err}")
            return
        for pdu in outputs:
            self.message_port_pub(OUT, pdu)

    def process(self, meta: dict, data):
        raise NotImplementedError
