"""Base class for the module's PDU-in/PDU-out Python blocks.

A PDU that cannot be handled, for whatever reason, is logged on one line, counted by reason in
``drops`` and dropped; the block and the flowgraph keep running.
"""
from __future__ import annotations

import threading
import time

import pmt
from gnuradio import gr

from ..errors import SemcomError

IN, OUT = pmt.intern("in"), pmt.intern("out")
SYSTEM, DONE = pmt.intern("system"), pmt.intern("done")
END_GRACE = 0.5  # seconds idle after an upstream block finished, before a block of unknown upstream finishes


class pdu_block(gr.basic_block):
    """Subclasses implement ``process(meta, data)`` returning a list of PDUs to emit."""

    in_dtype = None

    def __init__(self, name: str):
        gr.basic_block.__init__(self, name=name, in_sig=None, out_sig=None)
        self.message_port_register_in(IN)
        self.message_port_register_out(OUT)
        self.set_msg_handler(IN, self.handle)
        self.set_msg_handler(SYSTEM, self._system)
        self.dropped = 0
        self.drops: dict[str, int] = {}  # reason -> count
        # message blocks feeding this one; None: unknown (GRC wiring), then the block finishes once
        # it has been idle for END_GRACE seconds after the first upstream block finished
        self.upstream_blocks = None
        self._done_seen = self._handled = self._completed = 0
        self._finishing = False

    def _system(self, msg):
        """GNU Radio marks a message block finished at the first upstream block's 'done', even
        with other upstream blocks still sending (burst_rx's four soft-decision chains, or the
        synchroniser's expire port): their last messages would be lost. Finish after the last
        upstream block, or, when their number is unknown, once idle; in both cases after
        handling what is queued."""
        if not (pmt.is_pair(msg) and pmt.eqv(pmt.car(msg), DONE)):
            self.to_basic_block().system_handler(msg)
            return
        self._done_seen += 1
        if self.upstream_blocks is not None:
            if self._done_seen >= self.upstream_blocks:
                self._finish(msg)
        elif not self._finishing:
            self._finishing = True
            threading.Thread(target=self._finish_when_idle, args=(msg,), daemon=True).start()

    def _finish_when_idle(self, msg):
        block = self.to_basic_block()
        seen = -1
        while seen != self._handled or any(block.nmsgs(p) for p in self.drain_ports):
            seen = self._handled
            time.sleep(END_GRACE)
        self._finish(msg)

    def _finish(self, msg):
        self.drain()
        self.end_of_stream()
        self.to_basic_block().system_handler(msg)

    def end_of_stream(self):
        """Called once, when every upstream block has finished and the queue is handled."""

    def handle(self, msg):
        from .pdu_io import split_pdu
        self._handled += 1
        try:
            meta, data = split_pdu(msg, self.in_dtype)
            outputs = self.process(meta, data)
        except Exception as err:  # noqa: BLE001 (an OSError, MemoryError, onnxruntime error: never a dead block)
            self.reject(err)
            return
        finally:
            self._completed += 1
        for pdu in outputs:
            self.message_port_pub(OUT, pdu)

    def reject(self, err: Exception):
        """Drops the unit that raised ``err``, counted under the reason it names, else its kind."""
        if isinstance(err, (ValueError, KeyError, TypeError, SemcomError)):
            self._drop(getattr(err, "reason", "malformed PDU"), err)  # an error may name its own reason
        else:
            self._drop(type(err).__name__, err)

    @property
    def activity(self) -> tuple[int, bool]:
        """(messages taken so far, one in work now): how an owner tells a working block from an idle one."""
        return self._handled, self._handled != self._completed

    def _drop(self, reason: str, err: Exception):
        self.dropped += 1
        n = self.drops[reason] = self.drops.get(reason, 0) + 1
        if n in (1, 10, 100, 1000) or n % 10000 == 0:  # rate-limited: a flood never floods the log
            self.logger.warn(f"dropped a PDU ({reason}; {n} so far): {err}")

    def process(self, meta: dict, data):
        raise NotImplementedError

    def drain(self) -> int:
        """Handles the messages still queued on the input ports, now, in this thread; returns how
        many. GNU Radio may end a message block's thread with messages queued (the end of a
        recording): ``stop`` and the flowgraph owners call this so that none is lost."""
        block = self.to_basic_block()
        count = 0
        for port in self.drain_ports:
            while block.nmsgs(port):
                msg = block.delete_head_nowait(port)
                if msg is None:
                    break
                self.handle(msg)
                count += 1
        return count

    @property
    def drain_ports(self):
        return (IN,)

    def stop(self):
        self.drain()
        return True
