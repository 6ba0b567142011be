"""Each received burst's SNR estimate as a float stream, for a QT GUI Time or Number Sink."""
from __future__ import annotations

import collections
import threading

import numpy as np
import pmt
from gnuradio import gr

IN = pmt.intern("in")
SNR_DB = pmt.intern("snr_db")
WAIT_SECONDS = 0.05  # work() waits this long for a burst before returning to the scheduler
KEPT = 1024  # estimates held for work() at most; beyond, the oldest go


class burst_snr(gr.sync_block):
    """Message input 'in': burst PDUs (as ``burst_llr`` emits them, metadata ``snr_db``); stream
    output: one float per burst, its SNR estimate in dB. PDUs without a finite ``snr_db`` are
    counted in ``dropped``."""

    def __init__(self):
        gr.sync_block.__init__(self, name="semcom_burst_snr", in_sig=None, out_sig=[np.float32])
        self.message_port_register_in(IN)
        self.set_msg_handler(IN, self.handle)
        self.estimates: collections.deque = collections.deque(maxlen=KEPT)
        self.arrived = threading.Event()
        self.received = self.dropped = 0

    def handle(self, msg):
        meta = pmt.car(msg) if pmt.is_pair(msg) else pmt.PMT_NIL
        value = pmt.dict_ref(meta, SNR_DB, pmt.PMT_NIL) if pmt.is_dict(meta) else pmt.PMT_NIL
        snr = pmt.to_double(value) if pmt.is_real(value) or pmt.is_integer(value) else float("nan")
        if not np.isfinite(snr):
            self.dropped += 1
            return
        self.received += 1
        self.estimates.append(snr)
        self.arrived.set()

    def work(self, input_items, output_items):
        if not self.estimates:
            self.arrived.wait(WAIT_SECONDS)
            self.arrived.clear()
        out = output_items[0]
        n = 0
        while self.estimates and n < len(out):
            out[n] = self.estimates.popleft()
            n += 1
        return n
