"""The return path of ``--codec auto`` over ZeroMQ: ``rx_image.py --feedback ADDR`` publishes, per
received image, its bursts' SNR estimates (PUB, bound at ADDR); ``tx_image.py --feedback ADDR``
subscribes and picks the next image's codec for the latest estimate. One JSON object a message:
{"frame", "session", "codec", "lost", "snr_est_db" (mean over the bursts), "snr_est_db_min",
"snr_est_db_bursts" ("segment:dB,...")}."""
from __future__ import annotations

import json
import math
import sys
import time

from ..errors import SemcomError

FIELDS = ("frame", "session", "codec", "model", "lost", "bursts", "bursts_lost", "snr_est_db", "snr_est_db_min",
          "snr_est_db_bursts")
MAX_MESSAGE_BYTES = 4096


def zmq_socket(kind: int, address: str, bind: bool, flag: str = "--feedback"):
    """A ZeroMQ socket bound or connected at ``address``; SemcomError (one line naming ``flag``) when it cannot be."""
    import zmq
    sock = zmq.Context.instance().socket(kind)
    sock.setsockopt(zmq.LINGER, 0)
    try:
        (sock.bind if bind else sock.connect)(address)
    except zmq.ZMQError as err:
        sock.close()
        raise SemcomError(f"{flag} {address}: cannot {'bind' if bind else 'connect'} ({err}); give a "
                          "ZeroMQ address like tcp://127.0.0.1:5556") from None
    return sock


class FeedbackPublisher:
    """rx_image's side: ``publish(record)`` sends the record's SNR fields (never blocks)."""

    def __init__(self, address: str):
        import zmq
        self.sock = zmq_socket(zmq.PUB, address, bind=True)
        self.sent = 0

    def publish(self, record: dict) -> None:
        import zmq
        message = {k: record[k] for k in FIELDS if k in record}
        try:
            self.sock.send_string(json.dumps(message), zmq.NOBLOCK)
            self.sent += 1
        except zmq.ZMQError:  # nobody subscribed, or the queue is full: feedback is best effort
            pass

    def close(self) -> None:
        self.sock.close()


def parse_message(data: bytes) -> dict:
    """A feedback message's fields; ValueError unless it is a JSON object with a finite snr_est_db."""
    if len(data) > MAX_MESSAGE_BYTES:
        raise ValueError(f"{len(data)} bytes")
    message = json.loads(data.decode("utf-8"))
    if not isinstance(message, dict):
        raise ValueError("not a JSON object")
    snr = message.get("snr_est_db")
    if isinstance(snr, bool) or not isinstance(snr, (int, float)) or not math.isfinite(snr):
        raise ValueError("no finite snr_est_db")
    return message


class FeedbackSubscriber:
    """tx_image's side: ``latest`` is the newest valid message; a malformed one is dropped with one line."""

    def __init__(self, address: str):
        import zmq
        self.sock = zmq_socket(zmq.SUB, address, bind=False)
        self.sock.setsockopt(zmq.SUBSCRIBE, b"")
        self.last: dict | None = None
        self.rejected = 0

    def _receive(self, timeout: float) -> bool:
        """Takes one message if one comes within ``timeout`` seconds; whether one came."""
        if not self.sock.poll(max(0, int(timeout * 1000))):
            return False
        data = self.sock.recv()
        try:
            self.last = parse_message(data)
        except (ValueError, UnicodeDecodeError) as err:
            self.rejected += 1
            print(f"warning: ignored a feedback message ({err})", file=sys.stderr, flush=True)
        return True

    def latest(self, frame: int | None = None, wait: float = 0.0) -> dict | None:
        """The newest message after reading every one queued; with ``frame``, waits up to ``wait``
        seconds for the message about that frame (the image just sent)."""
        while self._receive(0):
            pass
        deadline = time.monotonic() + wait
        while frame is not None and (self.last is None or self.last.get("frame") != frame):
            left = deadline - time.monotonic()
            if left <= 0:
                break
            self._receive(left)
        return self.last

    def close(self) -> None:
        self.sock.close()
