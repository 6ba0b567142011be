"""The ``burst_sync`` block of the burst waveform (see ``blocks/__init__.py`` for the whole chain)."""
from __future__ import annotations

import collections
import threading
from dataclasses import astuple

import numpy as np
import pmt
from gnuradio import gr

from . import malloc, modem
from ..errors import SemcomError
from ..options import check, default as opt
from .pdu_io import make_pdu, meta_to_pmt
from .stream_run import fill_from
from ..phy import burst, framing, ldpc
from ..phy.constellations import BURST_MODULATIONS
from ..phy.link import LLR_CLIP
from .burst_common import BURST_TAG, CORR_START, EXPIRE, EXPIRE_TAG, FLUSH_SYMBOLS, HEADER, LLR, MAX_QUEUED_SYMBOLS

HOLD_WAIT = 0.005  # seconds a work call waits while ``hold`` says the stages downstream are full


class burst_sync(gr.basic_block):
    """Samples (with ``corr_est_cc``'s ``corr_start`` tags) in; out, one stream per modulation
    (``modulations``, by default bpsk, qpsk, 16qam, 64qam, 8psk) of each burst's equalised payload
    symbols, the first tagged ``burst`` with the header, SNR, CFO, position, per-symbol noise
    variance, its number of ``symbols`` and the ``coded_bits`` its segment carries (what
    ``burst_llr`` reads), and last an output of every burst's symbols (for a constellation
    display). While message port ``llr`` is connected, a burst whose payload the sequence
    detector demodulated (16-QAM through multipath) leaves there as an LLR PDU like
    ``burst_llr``'s instead, counted in ``sequence_bursts``. Bursts of another modulation are
    dropped and counted in ``other_modulation``. A frame that will get no more bursts is
    announced in its stream by one zero symbol tagged ``expire``, or, when the input stops for
    ``frame_timeout`` seconds, on message port ``expire``.

    Args:
        waveform: as at the transmitter ('sc' or 'ofdm').
        frame_timeout: seconds without samples before a pending frame's missing bursts count as
            lost (samples ``upstream`` wrote that wait here are no pause); while samples flow, 16
            bursts' worth of samples without one does.
        modulations: the modulations with an output, in this order.
        display: add the last output, of every burst's symbols.
        alist: a user LDPC code (alist file) this receiver decodes besides the named ones ('' none);
            bursts of another user code are dropped, counted in ``receiver.foreign_code``.
    """

    def __init__(self, waveform=opt("waveform"), frame_timeout=opt("frame_timeout"), modulations=BURST_MODULATIONS,
                 display=True, alist=opt("alist")):
        self.modulations = [modem.burst_modulation(m) for m in modulations]
        if not self.modulations or len(set(self.modulations)) != len(self.modulations):
            raise SemcomError("burst_sync needs one or more different modulations")
        gr.basic_block.__init__(self, name="semcom_burst_sync", in_sig=[np.complex64],
                                out_sig=[np.complex64] * (len(self.modulations) + bool(display)))
        self.show = bool(display)
        # corr_est_cc's tags stay here: propagated, they would land at output offsets far beyond
        # what this block produces, where no reader ever prunes them (memory grows per detection)
        self.set_tag_propagation_policy(gr.TPP_DONT)
        malloc.limit_arenas()  # flat memory when running for days
        self.sync = burst.BurstSynchroniser(check("waveform", waveform), check("frame_timeout", frame_timeout),
                                          codes=(ldpc.given(alist),))
        self.message_port_register_out(pmt.intern(EXPIRE))
        self.message_port_register_out(pmt.intern(LLR))
        self.lock = threading.Lock()
        self.pending = [collections.deque() for _ in self.modulations]  # (symbols, tag or None) per port
        self.other_modulation = self.errors = self.sequence_bursts = 0
        self.display: collections.deque = collections.deque()
        self.queued = 0
        self.modulation_of: dict[tuple, int] = {}  # frame key -> port, for its expire marker
        self._reported = 0
        self.hold = None  # a callable: while it returns True, no samples are taken (a stage downstream is full)
        self.held = 0  # work calls that took no samples because of ``hold``
        self.upstream = None  # the block feeding this one: samples it wrote that wait here are no pause
        self._stop = threading.Event()
        self._timer = None

    @property
    def receiver(self) -> burst.BurstSynchroniser:
        return self.sync

    def start(self):
        # bursts demodulated to LLRs here leave on port llr: only when something reads it
        listeners = self.to_basic_block().message_subscribers(pmt.intern(LLR))
        self.sync.sequence_detection = pmt.length(listeners) > 0
        self._stop.clear()
        self._timer = threading.Thread(target=self._idle_loop, name="semcom_burst_idle", daemon=True)
        self._timer.start()
        return True

    def stop(self):
        self._stop.set()
        if self._timer is not None:
            self._timer.join()
        return True

    def _idle_loop(self):
        """The input stopped (a transmitter went away): frames it left pending expire by message."""
        while not self._stop.wait(0.25):
            with self.lock:
                if self.queued:
                    continue  # still draining: their markers will follow in-stream
                if self._input_waiting():  # this thread waits for the CPU (a loaded machine): not idle
                    self.sync.waiting()
                    continue
                for event in self.sync.expire():
                    self.modulation_of.pop(event.key, None)
                    self.message_port_pub(pmt.intern(EXPIRE), make_pdu({EXPIRE: list(event.key)},
                                                                        np.zeros(0, np.float32)))

    def _input_waiting(self) -> bool:
        return self.upstream is not None and self.upstream.nitems_written(0) > self.nitems_read(0)

    def forecast(self, noutput_items, ninputs):
        # symbols still waiting for output space need no input: without this they would wait
        # for the next samples, which after a frame's last burst may never come
        return [0 if self.queued else 1] * ninputs

    def general_work(self, input_items, output_items):
        samples = input_items[0]
        with self.lock:
            taken = 0
            if self.queued < MAX_QUEUED_SYMBOLS and len(samples) and not self._held():
                tags = self.get_tags_in_window(0, 0, len(samples), CORR_START)
                taken = len(samples)
                try:
                    self._queue(self.sync.feed(samples, sorted(t.offset for t in tags)))
                except Exception as err:  # noqa: BLE001 (these samples only: never a dead receiver)
                    self.errors += 1
                    self.logger.warn(f"dropped {taken} samples: {type(err).__name__}: {err}")
                if self.sync.dropped > self._reported:
                    self._reported = self.sync.dropped
                    if not self.sync.last_error.startswith("burst header"):  # header failures: mostly noise
                        self.logger.info(f"dropped a burst: {self.sync.last_error}")
            self.consume(0, taken)
            for port, queue in enumerate(self.pending):
                self.produce(port, self._emit(queue, output_items[port], port))
            if self.show:
                self.produce(len(self.pending), self._emit_display(output_items[-1]))
        return gr.WORK_CALLED_PRODUCE

    def _held(self) -> bool:
        """``hold`` says wait: waits a little (the scheduler calls again at once) and says so."""
        if self.hold is None or not self.hold():
            return False
        self.held += 1
        self.sync.waiting()
        self._stop.wait(HOLD_WAIT)
        return True

    def _queue(self, events):
        for event in events:
            if isinstance(event, burst.Expired):
                port = self.modulation_of.pop(event.key, None)
                if port is not None:
                    self.pending[port].append((np.zeros(1, np.complex64), (EXPIRE_TAG, {EXPIRE: list(event.key)})))
                    self.pending[port].append((np.zeros(FLUSH_SYMBOLS, np.complex64), None))
                    self.queued += 1 + FLUSH_SYMBOLS
                continue
            h, info = event.header, event.info
            if h.modulation_name not in self.modulations:
                self.other_modulation += 1
                continue
            port = self.modulations.index(h.modulation_name)
            self.modulation_of[burst.frame_key(h)] = port
            nv = event.noise_var
            noise = float(nv[0]) if nv.size and np.all(nv == nv[0]) else nv  # sc: one value per burst
            meta = {HEADER: list(astuple(h)), "position": info.position, "snr_db": float(info.snr_db),
                    "cfo": float(info.cfo), framing.NOISE_VAR: noise, "symbols": len(event.symbols),
                    "coded_bits": h.link.coded_bits(h.lengths[h.segment])}
            if self.show:
                self.display.append(event.symbols)
            if event.llr is not None:  # a sequence detector's LLRs: straight to the FEC decoder
                del meta["symbols"], meta["coded_bits"]
                meta[framing.NOISE_VAR] = float(np.mean(nv))
                llr = np.clip(event.llr[:h.link.coded_bits(h.lengths[h.segment])], -LLR_CLIP, LLR_CLIP)
                self.message_port_pub(pmt.intern(LLR), make_pdu(meta, llr.astype(np.float32)))
                self.sequence_bursts += 1
                continue
            self.pending[port].append((event.symbols, (BURST_TAG, meta)))
            self.pending[port].append((np.zeros(FLUSH_SYMBOLS, np.complex64), None))
            self.queued += len(event.symbols) + FLUSH_SYMBOLS

    def _emit(self, queue, out, port) -> int:
        n = 0
        while queue and n < len(out):
            symbols, tag = queue[0]
            if tag is not None:
                self.add_item_tag(port, self.nitems_written(port) + n, tag[0], meta_to_pmt(tag[1]))
            k = min(len(symbols), len(out) - n)
            out[n:n + k] = symbols[:k]
            n += k
            self.queued -= k
            if k == len(symbols):
                queue.popleft()
            else:
                queue[0] = (symbols[k:], None)
        return n

    def _emit_display(self, out) -> int:
        n = fill_from(self.display, out)
        if len(self.display) > 64:  # nobody watches: keep memory flat
            self.display.clear()
        return n
