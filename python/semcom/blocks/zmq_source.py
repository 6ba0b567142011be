"""A ZeroMQ IQ source that survives any message: pyzmq in, complex samples out.

GNU Radio 3.10's zmq sources stop for good ("Incompatible vector sizes") on the first message
whose length is not a multiple of the item size. This source receives with pyzmq, checks each
message (one frame, a whole number of complex64 samples, at most ``max_message_bytes``) and
drops a bad one, counted by reason in ``drops``, while reception goes on. It speaks to GNU
Radio's zmq sinks (pub, push, rep) without tags, as the project's transmitters send.

A reader thread of its own owns the socket and takes messages off it as they arrive: ZeroMQ
discards the unread messages of a connection it drops, so read in work(), a good message
queued behind an oversized one was lost with it. The scheduler calls a source whose work()
returned nothing again only after its blocked-input timer (250 ms by default): this source sets
it to ``IDLE_WAIT_MS``, so that samples arriving meanwhile are not held back (frames would
reach the decoder in bunches).

A pause in the messages is a pause in time only: the samples before it would wait in the
receiver's buffers and land in one detector call with the next transmission's (garbage there
hides its preamble). Given ``gap_zeros``, after ``GAP_SECONDS`` without a message the source
sends that many zeros once, as a radio would deliver silence.
"""
from __future__ import annotations

import collections
import struct
import threading
import time

import numpy as np
from gnuradio import gr

from ..errors import SemcomError
from ..options import check
from .burst_common import TAIL_ZEROS
from .stream_run import fill_from

PATTERNS = ("pubsub", "pushpull", "reqrep")
ITEM = np.dtype(np.complex64).itemsize
MAX_MESSAGE_BYTES = 1 << 22  # 4 MiB, 512 Ki samples: 8x the 64 Ki-item chunks GNU Radio's zmq sinks send
# messages ZeroMQ queues for this socket: with the size limit, what a flood of huge messages can make
# the receiver hold (32 x 4 x 4 MiB = 512 MiB); 32 chunks of legitimate samples are 2 s at 1 Msps
QUEUED_MESSAGES = 32
REFUSE_FACTOR = 4  # ZeroMQ's own size limit (MAXMSGSIZE), in units of max_message_bytes
POLL_MS = 20  # the reader polls, and work() waits, this long at a time: stop() and the scheduler get control back soon
IDLE_WAIT_MS = 1  # after a work() call that found no samples, the scheduler calls it again this soon
REQUEST_ITEMS = 1 << 16  # samples a REQ asks GNU Radio's rep_sink for
RECONNECT_MS = 20
HANDSHAKE_MS = 2000  # ZeroMQ's default is 30 s
HEARTBEAT_MS, HEARTBEAT_TIMEOUT_MS = 1000, 5000
DRAIN_MESSAGES = 4 * QUEUED_MESSAGES  # messages the reader takes off the socket in one go at most
DRAIN_SAMPLES = 1 << 20  # samples the reader takes off the socket in one go at most
HELD_SAMPLES = 4 * DRAIN_SAMPLES  # received samples held for work() (32 MiB); beyond, ZeroMQ queues
GAP_SECONDS = 0.5  # a pause this long in the messages goes out as gap_zeros zero samples
GAP_ZEROS = TAIL_ZEROS  # for burst_rx: pushes what a peer left unfinished (garbage, a cut burst) through its detector
RETRY_WAIT_MS = 100  # after a disconnection, how long libzmq's retry event may take to show it connects again
CONNECTION_DROPPED = "connection dropped (a message above max_message_bytes, or a peer that is not a ZeroMQ transmitter)"


class zmq_source(gr.sync_block):
    """Complex samples from a ZeroMQ PUB, PUSH or REP peer; bad messages are dropped and counted.

    Args:
        address: the peer's endpoint, e.g. tcp://127.0.0.1:5555 (the transmitter binds).
        pattern: 'pubsub', 'pushpull' or 'reqrep' (as the transmitter's sink).
        timeout_ms: receive timeout of one poll, milliseconds.
        max_message_bytes: larger messages are dropped and counted. Beyond 4 times that,
            ZeroMQ refuses them before allocating, by dropping the connection; this block then
            opens a new one at once (what the peer had in flight may be lost), and counts it.
    """

    def __init__(self, address: str, pattern: str = "pubsub", timeout_ms: int = POLL_MS,
                 max_message_bytes: int = MAX_MESSAGE_BYTES, gap_zeros: int = 0):
        gr.sync_block.__init__(self, name="semcom_zmq_source", in_sig=None, out_sig=[np.complex64])
        self.to_basic_block().set_blkd_input_timer_value(IDLE_WAIT_MS)
        import zmq
        from zmq.utils.monitor import recv_monitor_message
        self.recv_monitor_message = recv_monitor_message
        self.handshake_failures = (zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL
                                   | zmq.EVENT_HANDSHAKE_FAILED_AUTH)
        if pattern not in PATTERNS:
            raise SemcomError(f"unknown ZeroMQ pattern '{pattern}'; choose one of {', '.join(PATTERNS)}")
        self.zmq, self.pattern = zmq, pattern
        # a context of its own: libzmq's I/O thread blocks for good on a monitor event nobody reads
        # (libzmq issue 3575), and that must never stall another block's or the app's sockets
        self.context = zmq.Context(io_threads=1)
        self.socket = self.monitor = None
        self.monitors = 0  # monitors opened, each at an address of its own
        self.address, self.max_message_bytes = check("address", address), int(max_message_bytes)
        # opened here so that a bad address fails at construction, and closed until start(): a monitor
        # nobody reads must not fill up with the retry events of a connection that finds no peer
        self._open()
        self._close()
        self.timeout_ms = max(1, int(timeout_ms))
        self.pending: collections.deque = collections.deque()
        self.held = 0  # samples in pending
        self.lock = threading.Lock()
        self.arrived = threading.Event()
        self.reader: threading.Thread | None = None
        self.stopping = threading.Event()
        self.failure: str | None = None
        self.requested = False
        self.messages = self.samples = 0
        self.last_arrival = 0.0  # time.monotonic() of the last samples received
        self.pause_zeros = int(gap_zeros)
        self.gap_zeros = 0  # zeros still to send for the current pause
        self.drops: dict[str, int] = {}
        self.transmitters_ended = 0  # peers that closed their connection (a transmitter that stopped)

    def _open(self):
        """The socket, watched by its monitor of dropped connections, then connected."""
        zmq = self.zmq
        kind = {"pubsub": zmq.SUB, "pushpull": zmq.PULL, "reqrep": zmq.REQ}[self.pattern]
        self.socket = self.context.socket(kind)
        self.socket.setsockopt(zmq.LINGER, 0)
        # above max_message_bytes a message is dropped after receipt; ZeroMQ itself refuses (before
        # allocating) only beyond REFUSE_FACTOR times that, as it does so by dropping the connection
        self.socket.setsockopt(zmq.MAXMSGSIZE, REFUSE_FACTOR * self.max_message_bytes)
        self.socket.setsockopt(zmq.RCVHWM, QUEUED_MESSAGES)
        # a restarted transmitter binds again: find it within RECONNECT_MS, before its first bursts
        # (a PUB drops what it sends before the subscription arrives)
        self.socket.setsockopt(zmq.RECONNECT_IVL, RECONNECT_MS)
        self.socket.setsockopt(zmq.RECONNECT_IVL_MAX, 0)
        # a peer that does not speak ZMTP, or stops answering, is dropped (and the socket reopened)
        self.socket.setsockopt(zmq.HANDSHAKE_IVL, HANDSHAKE_MS)
        self.socket.setsockopt(zmq.HEARTBEAT_IVL, HEARTBEAT_MS)
        self.socket.setsockopt(zmq.HEARTBEAT_TIMEOUT, HEARTBEAT_TIMEOUT_MS)
        if kind == zmq.SUB:
            self.socket.setsockopt(zmq.SUBSCRIBE, b"")
        if kind == zmq.REQ:  # a lost reply must not wedge the REQ state machine
            self.socket.setsockopt(zmq.REQ_RELAXED, 1)
            self.socket.setsockopt(zmq.REQ_CORRELATE, 1)
        # ZeroMQ ends a connection on a protocol error (a message above MAXMSGSIZE, a peer that is
        # not ZeroMQ) and libzmq 4.3 then never connects again: the monitor sees it, and the block
        # opens a new socket. A peer that closed its connection libzmq connects to again by itself
        # (a retry event follows the disconnection). It watches before connecting: a peer can break
        # the first connection within a millisecond. Its address is new each time: pyzmq's default
        # names it after the socket's file descriptor, which the next socket may reuse.
        self.monitors += 1
        self.monitor = self.socket.get_monitor_socket(
            zmq.EVENT_DISCONNECTED | zmq.EVENT_CONNECT_RETRIED | self.handshake_failures,
            f"inproc://semcom-zmq-source-{id(self):x}-{self.monitors}")
        self.handshake_failed = False
        try:
            self.socket.connect(self.address)
        except zmq.ZMQError as err:
            self._close()
            raise SemcomError(f"cannot connect to ZeroMQ address '{self.address}': {err}") from None

    @property
    def dropped(self) -> int:
        return sum(self.drops.values())

    def _drop(self, reason: str):
        self.drops[reason] = self.drops.get(reason, 0) + 1
        if self.drops[reason] in (1, 10, 100, 1000) or self.drops[reason] % 10000 == 0:  # rate-limited
            self.logger.warn(f"dropped a ZeroMQ message ({reason}; {self.drops[reason]} so far)")

    def accept(self, frames: list) -> np.ndarray | None:
        """The samples of one received message, or None (dropped, reason counted)."""
        if len(frames) != 1:
            self._drop("multipart message")
            return None
        data = frames[0]
        if len(data) > self.max_message_bytes:
            self._drop("message too large")
            return None
        if len(data) % ITEM:
            self._drop(f"length not a multiple of {ITEM} bytes")
            return None
        self.messages += 1
        return np.frombuffer(data, np.complex64)

    def _event(self, timeout_ms: int = 0):
        """The next monitor event's number, or None when none comes within ``timeout_ms``."""
        if not self.monitor.poll(timeout_ms):
            return None
        return self.recv_monitor_message(self.monitor)["event"]

    def _reconnect_if_dropped(self):
        """Ended connections are counted: a transmitter that closed its connection (libzmq connects
        again by itself) in ``transmitters_ended``; a connection ZeroMQ dropped (an oversized message,
        a peer that failed the handshake) in ``drops``, and made again."""
        zmq = self.zmq
        dropped = False
        while True:
            event = self._event()
            if event is None:
                break
            if event & self.handshake_failures:
                self.handshake_failed = True
            elif event == zmq.EVENT_DISCONNECTED:
                if self._event(RETRY_WAIT_MS) == zmq.EVENT_CONNECT_RETRIED and not self.handshake_failed:
                    self.transmitters_ended += 1
                else:
                    dropped = True
                    self._drop(CONNECTION_DROPPED)
                self.handshake_failed = False
        if dropped:
            for _ in range(QUEUED_MESSAGES):  # the whole messages that came before (a transmitter's last ones)
                if not self._take_queued():
                    break
            self._close()
            self._open()
            self.requested = False

    def _close(self):
        """The monitor is disabled before its socket closes: an event sent to a closed monitor
        blocks the context's I/O thread for good (libzmq issue 3575)."""
        if self.socket is not None and not self.socket.closed:
            try:
                self.socket.disable_monitor()
            except self.zmq.ZMQError:
                pass
        for sock in (self.monitor, self.socket):
            if sock is not None and not sock.closed:
                sock.close(linger=0)
        self.socket = self.monitor = None

    def __del__(self):
        try:
            self._close()
            self.context.term()
        except Exception:  # noqa: BLE001 (interpreter shutdown: zmq may be half torn down)
            pass

    def _receive(self):
        zmq = self.zmq
        self._reconnect_if_dropped()
        if self.pattern == "reqrep" and not self.requested:
            try:
                self.socket.send(struct.pack("=i", REQUEST_ITEMS), zmq.NOBLOCK)
                self.requested = True
            except zmq.ZMQError:
                return
        if not self.socket.poll(self.timeout_ms, zmq.POLLIN):
            if self.pattern == "reqrep":
                self.requested = False  # ask again (REQ_RELAXED allows it)
            return
        self._take_queued()

    def _take_queued(self) -> int:
        """Takes everything queued (up to a bound), not one message per call: a SUB socket drops
        messages beyond its high-water mark when its reader falls behind. Returns how many messages."""
        zmq = self.zmq
        taken = messages = 0
        for _ in range(DRAIN_MESSAGES):  # dropped messages count too: a flood of them must not hold the reader
            if taken >= DRAIN_SAMPLES:
                break
            try:
                frames = self.socket.recv_multipart(zmq.NOBLOCK, copy=True)
            except zmq.ZMQError:
                break
            messages += 1
            self.requested = False
            samples = self.accept(frames)
            if samples is not None and samples.size:
                with self.lock:
                    self.pending.append(samples)
                    self.held += samples.size
                    self.last_arrival = time.monotonic()
                self.arrived.set()
                taken += samples.size
            if self.pattern == "reqrep":
                break
        return messages

    def _read(self):
        """The reader thread: the only user of the socket from start() to stop()."""
        try:
            while not self.stopping.is_set():
                if self.held >= HELD_SAMPLES:  # the flowgraph is behind: ZeroMQ queues meanwhile
                    self.stopping.wait(self.timeout_ms / 1000)
                    continue
                self._receive()
        except Exception as err:  # noqa: BLE001 (reported in one line; work() then ends the stream)
            self.failure = f"ZeroMQ source stopped: {type(err).__name__}: {err}"
            self.logger.error(self.failure)
            self.arrived.set()
        finally:
            self._close()

    def start(self):
        if self.socket is None:
            self._open()
        self.stopping.clear()
        self.reader = threading.Thread(target=self._read, name="semcom_zmq_source reader", daemon=True)
        self.reader.start()
        return True

    def work(self, input_items, output_items):
        out = output_items[0]
        if not self.held:
            if self.failure:
                return -1  # WORK_DONE: the stream ends, with the reason logged, rather than going deaf
            self.arrived.wait(self.timeout_ms / 1000)
            self.arrived.clear()
        with self.lock:
            if not self.held and self.gap_zeros and time.monotonic() - self.last_arrival >= GAP_SECONDS:
                n = min(self.gap_zeros, len(out))
                out[:n] = 0
                self.gap_zeros -= n
                return n
            n = fill_from(self.pending, out)
            self.held -= n
        if n:
            self.gap_zeros = self.pause_zeros
        self.samples += n
        return n

    def stop(self):
        self.stopping.set()
        if self.reader is not None:
            self.reader.join()
            self.reader = None
        return True
