"""Live frames: tx_image.py --frames sends a folder, a video file or a camera back to back at one
size; rx_image.py shows frames/s and the median latency in its status line.

Latency needs the transmitter's clock: with --timestamps ADDR the transmitter publishes (PUB, bound
at ADDR) one JSON object per frame, {"session", "frame", "taken", "sent"} (Unix seconds: the frame
taken from its source, and its bits queued for the radio), and the receiver (SUB, connected)
matches them to the frames it decodes. Both ends must share the clock (one machine, or NTP)."""
from __future__ import annotations

import collections
import json
import math
import statistics
import sys
import time

from .common import positive_int
from .feedback import MAX_MESSAGE_BYTES, zmq_socket
from ..errors import SemcomError
from ..phy.burst import FRAME_MODULO

WINDOW = 30  # frames the live frames/s and latency are taken over
KEPT_STAMPS = 1024  # timestamps the receiver holds for frames not yet decoded


def add_options(p, receiver: bool = False) -> None:
    from .. import options
    g = p.add_argument_group("live frames")
    if not receiver:
        g.add_argument("--frames", default="", metavar="SOURCE",
                       help="send live frames instead of images: a folder of images (sorted by name, --repeat "
                            "times), a video file or a camera (/dev/videoN); video files and cameras need the "
                            "Python package imageio-ffmpeg")
        g.add_argument("--size", default="256x256", type=size_value, metavar="WxH",
                       help="--frames: each frame is cropped about its centre to this aspect and resized to it")
        options.add(g, "fps")
        options.add(g, "count", help="--frames: stop after this many frames (0 = at the end of the source)")
    g.add_argument("--timestamps", default="", metavar="ADDR", type=address_value,
                   help="ZeroMQ address of the frames' timestamps (the transmitter binds, the receiver "
                        "connects): the receiver's median latency, frame taken or sent -> decoded")
    if receiver:
        g.add_argument("--video", default="", metavar="FILE",
                       help="also write the received frames into this video file (e.g. .mp4; needs the Python "
                            "package imageio-ffmpeg), at --video-fps")
        g.add_argument("--video-fps", default=15, type=positive_int, metavar="FPS", help="--video: its frame rate")
        g.add_argument("--keep-up", action="store_true",
                       help="never hold the stream back: when frames come faster than they are decoded, drop "
                            "the oldest one waiting for a decoder undecoded (counted as stale): a receiver "
                            "slower than the frames shows the newest, its latency bounded")


def address_value(text) -> str:
    """argparse type of --timestamps: '' (off) or a ZeroMQ address."""
    from .. import options
    return options.argparse_type(options.OPTIONS["address"])(text) if text else ""


def size_value(text):
    import argparse
    from ..frames import parse_size
    try:
        return parse_size(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


class StampPublisher:
    """The transmitter's side of --timestamps (never blocks)."""

    def __init__(self, address: str):
        import zmq
        self.sock = zmq_socket(zmq.PUB, address, bind=True, flag="--timestamps")

    def publish(self, session: int, frame: int, taken: float, sent: float) -> None:
        import zmq
        message = {"session": session, "frame": frame % FRAME_MODULO, "taken": taken, "sent": sent}
        try:
            self.sock.send_string(json.dumps(message), zmq.NOBLOCK)
        except zmq.ZMQError:
            pass

    def close(self) -> None:
        self.sock.close()


def parse_stamp(data: bytes) -> tuple[tuple[int, int], tuple[float, float]]:
    """((session, frame), (taken, sent)) of a timestamp message; ValueError otherwise."""
    if len(data) > MAX_MESSAGE_BYTES:
        raise ValueError(f"{len(data)} bytes")
    message = json.loads(data.decode("utf-8"))
    if not isinstance(message, dict):
        raise ValueError("not a JSON object")
    key = tuple(message.get(k) for k in ("session", "frame"))
    times = tuple(message.get(k) for k in ("taken", "sent"))
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in key):
        raise ValueError("session and frame must be whole numbers")
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in times):
        raise ValueError("taken and sent must be finite numbers")
    return key, times


class StampSubscriber:
    """The receiver's side of --timestamps: ``times(session, frame)`` -> (taken, sent) or None."""

    def __init__(self, address: str):
        import zmq
        self.sock = zmq_socket(zmq.SUB, address, bind=False, flag="--timestamps")
        self.sock.setsockopt(zmq.SUBSCRIBE, b"")
        self.stamps: collections.OrderedDict = collections.OrderedDict()
        self.rejected = 0

    def _drain(self) -> None:
        while self.sock.poll(0):
            data = self.sock.recv()
            try:
                key, times = parse_stamp(data)
            except (ValueError, UnicodeDecodeError) as err:
                self.rejected += 1
                print(f"warning: ignored a timestamp message ({err})", file=sys.stderr, flush=True)
                continue
            self.stamps[key] = times
            while len(self.stamps) > KEPT_STAMPS:
                self.stamps.popitem(last=False)

    def times(self, session, frame):
        self._drain()
        try:
            return self.stamps.pop((int(session), int(frame)))
        except (KeyError, TypeError, ValueError):
            return None

    def close(self) -> None:
        self.sock.close()


class LiveStats:
    """Frames/s and latency of the frames a receiver decodes: over the last ``WINDOW`` frames
    (``live_text``) and over the whole run (``summary``)."""

    def __init__(self):
        self.arrivals: list[float] = []
        self.latency: list[float] = []  # seconds, frame sent -> decoded
        self.end_to_end: list[float] = []  # seconds, frame taken -> decoded

    def add(self, decoded: float, times=None) -> None:
        self.arrivals.append(decoded)
        if times is not None:
            taken, sent = times
            self.end_to_end.append(decoded - taken)
            self.latency.append(decoded - sent)

    @staticmethod
    def rate(arrivals) -> float | None:
        if len(arrivals) < 2 or arrivals[-1] <= arrivals[0]:
            return None
        return (len(arrivals) - 1) / (arrivals[-1] - arrivals[0])

    def text(self, window: int | None = WINDOW) -> str:
        """'x.x frames/s, median latency y ms (z ms from taken)' over the last ``window`` frames
        (None: all); '' before two frames arrived."""
        cut = slice(-window, None) if window else slice(None)
        rate = self.rate(self.arrivals[cut])
        if rate is None:
            return ""
        parts = [f"{rate:.1f} frames/s"]
        if self.latency[cut]:
            parts.append(f"median latency {1e3 * statistics.median(self.latency[cut]):.0f} ms "
                         f"({1e3 * statistics.median(self.end_to_end[cut]):.0f} ms from taken)")
        return ", ".join(parts)

    def summary(self) -> dict:
        out = {"frames": len(self.arrivals), "frames_per_s": self.rate(self.arrivals)}
        if self.latency:
            out["median_latency_ms"] = 1e3 * statistics.median(self.latency)
            out["median_end_to_end_ms"] = 1e3 * statistics.median(self.end_to_end)
        return out


def send_frames(args, tx) -> tuple[int, str]:
    """tx_image.py --frames: every frame of the source encoded and sent as it comes (paced at --fps
    when given); an unreadable frame is skipped with one line. Returns (frames queued, the line
    that says what was sent)."""
    from ..frames import open_frames
    height, width = args.size
    stamps = StampPublisher(args.timestamps) if args.timestamps else None
    session = tx.bursts.segmenter.framer.session
    sent = skipped = 0
    start = due = time.monotonic()
    try:
        for name, image in open_frames(args.frames, height, width, args.repeat):
            if args.count and sent >= args.count:
                break
            if isinstance(image, SemcomError):
                skipped += 1
                print(f"skipped {name}: {image}", file=sys.stderr, flush=True)
                continue
            if args.fps:  # a late frame (the first one opens the encoder) does not make the next ones early
                time.sleep(max(0.0, due - time.monotonic()))
                due = max(due, time.monotonic()) + 1 / args.fps
            taken = time.time()
            meta, bits = tx.send(image, {"path": name})
            if stamps is not None:
                stamps.publish(session, int(meta["frame"]), taken, time.time())
            sent += 1
            if args.json:
                print(json.dumps({"sent": name, "frame": int(meta["frame"]), "bits": int(bits)}), flush=True)
            if tx.bursts.frames_sent + 1 < sent:  # at most one frame queued behind the one on the air
                tx.wait_sent(timeout=600)
        tx.wait_sent(timeout=600)
        elapsed = time.monotonic() - start
    finally:
        if stamps is not None:
            stamps.close()
    rate = f", {sent / elapsed:.1f} frames/s" if sent > 1 and elapsed > 0 else ""
    return sent, (f"sent {sent} frames of {width}x{height} in {tx.bursts.bursts_sent} bursts{rate}"
                  + (f"; skipped {skipped} unreadable" if skipped else ""))
