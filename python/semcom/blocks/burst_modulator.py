"""The ``burst_modulator`` block of the burst waveform (see ``blocks/__init__.py`` for the whole chain)."""
from __future__ import annotations

import collections
import threading

import numpy as np
import pmt
from gnuradio import gr

from ..options import check, default as opt
from .pdu_block import DONE, IN, SYSTEM
from .pdu_io import split_pdu
from ..phy import burst
from .burst_common import EOB, SOB, TAIL_ZEROS, header_of


class burst_modulator(gr.sync_block):
    """Symbols PDU (metadata: the burst header) in, burst samples out (preamble, header, payload;
    ``tx_sob``/``tx_eob`` tagged). Between bursts the output is idle (no samples).

    Args:
        waveform: 'sc' (RRC single carrier, 2 samples/symbol) or 'ofdm'.
        amplitude: output scale (keep peaks below 1 for a DAC: about 0.5 for sc, 0.3 for ofdm).
    """

    def __init__(self, waveform=opt("waveform"), amplitude=1.0):
        gr.sync_block.__init__(self, name="semcom_burst_modulator", in_sig=None, out_sig=[np.complex64])
        self.wave = burst.wf_mod.waveform(check("waveform", waveform))
        self.amplitude = check("amplitude", amplitude)
        self.message_port_register_in(IN)
        self.set_msg_handler(IN, self.handle)
        self.set_msg_handler(SYSTEM, self._system)
        self.queue: collections.deque = collections.deque()
        self.ready = threading.Event()
        self.current, self.pos, self.last = None, 0, False
        self.frames_sent = self.bursts_sent = self.samples_sent = self.dropped = self.bursts_in = 0
        self.upstream_done = False

    def _system(self, msg):
        """Upstream finished: send what is queued, then end the stream (not at once, as GNU Radio
        would)."""
        if pmt.is_pair(msg) and pmt.eqv(pmt.car(msg), DONE):
            self.upstream_done = True
            self.ready.set()

    def handle(self, msg):
        try:
            meta, symbols = split_pdu(msg, np.complex64)
            header = header_of(meta)
            if symbols.size != header.link.channel_uses(header.lengths[header.segment]):
                raise ValueError(f"{symbols.size} symbols, the header's segment needs "
                                 f"{header.link.channel_uses(header.lengths[header.segment])}")
            samples = self.wave.modulate(header, symbols) * self.amplitude
        except Exception as err:  # noqa: BLE001 (whatever it is: this burst only)
            self.dropped += 1
            self.logger.warn(f"dropped a burst: {err}")
            return
        self.bursts_in += 1
        last = header.segment == header.segments - 1
        if last:
            samples = np.concatenate([samples, np.zeros(TAIL_ZEROS, np.complex64)])
        self.queue.append((samples.astype(np.complex64), last))
        self.ready.set()

    @property
    def idle(self) -> bool:
        return self.current is None and not self.queue

    def work(self, input_items, output_items):
        out = output_items[0]
        if self.current is None:
            if not self.queue:
                self.ready.wait(0.02)  # idle: return to the scheduler (and its message handling) soon
                self.ready.clear()
                if not self.queue:
                    return -1 if self.upstream_done else 0  # -1: WORK_DONE
            self.current, self.last = self.queue.popleft()
            self.pos = 0
            self.add_item_tag(0, self.nitems_written(0), SOB, pmt.PMT_T)
        n = min(len(out), len(self.current) - self.pos)
        out[:n] = self.current[self.pos:self.pos + n]
        self.pos += n
        if self.pos == len(self.current):
            self.add_item_tag(0, self.nitems_written(0) + n - 1, EOB, pmt.PMT_T)
            self.bursts_sent += 1
            self.frames_sent += self.last
            self.current = None
        self.samples_sent += n
        return n
