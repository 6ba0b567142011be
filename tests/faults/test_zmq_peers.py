"""rx_image.py --radio zmq against hostile and broken peers, through the real apps: a raw TCP
server on its address, garbage senders, a bind/unbind storm, a transmitter killed with -9 and
garbage ZeroMQ messages between legitimate samples; the receiver keeps receiving and the first
legitimate image after each arrives intact. Transmitters without a receiver, and bad ports,
fail in one line."""
import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

zmq = pytest.importorskip("zmq")
pytest.importorskip("gnuradio.semcom.blocks.zmq_source")
from gnuradio.semcom.imageio import load_image, save_image  # noqa: E402

from plain import REPO, free_port, run_app as app  # noqa: E402

SAMPLE = os.path.join(REPO, "examples", "images", "kodim23.png")
from gnuradio.semcom.blocks.zmq_source import CONNECTION_DROPPED  # noqa: E402


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    """Two crops of the sample photo: the legitimate 64x64 image and a 128x128 one for the
    transmitter that gets killed (its partial frame is told apart by size)."""
    folder = tmp_path_factory.mktemp("zmq_peers")
    photo = load_image(SAMPLE)
    out = {}
    for name, size in (("small", 64), ("killed", 128)):
        out[name] = str(folder / f"{name}.png")
        save_image(out[name], np.ascontiguousarray(photo[:size, :size]))
    return out


class Receiver:
    """rx_image.py --radio zmq as a user runs it, scored against ``reference``."""

    def __init__(self, folder, address, reference, *args):
        self.out = folder / "rx"
        self.proc = subprocess.Popen([sys.executable, os.path.join(REPO, "apps", "rx_image.py"), "--radio", "zmq",
                                      "--address", address, "--reference", reference, "--output-dir", self.out,
                                      "--frame-timeout", "1", *map(str, args)],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        ready = self.proc.stdout.readline()  # "listening on zmq ..." once the flowgraph runs
        assert ready.startswith("listening on"), ready + self.proc.stderr.read()
        self.stdout = self.stderr = ""

    def stop(self):
        """Ctrl-C, then its JSON records (in order) and summary line."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        self.stdout, self.stderr = self.proc.communicate(timeout=30)
        names = sorted(n for n in os.listdir(self.out) if n.endswith(".json")) if self.out.exists() else []
        records = [json.loads((self.out / n).read_text()) for n in names]
        return records, self.stdout.strip().splitlines()[-1]

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def intact(record) -> bool:
    """A legitimate 64x64 image, every burst received, close to the reference."""
    return not record["lost"] and record["bursts_lost"] == 0 and record.get("psnr_db", 0) > 20


def transmit(address, image, *args):
    r = app("tx_image.py", "--radio", "zmq", "--address", address, *args, image, timeout=120)
    assert r.returncode == 0 and "sent 1 images" in r.stdout, r.stdout + r.stderr


def raw_tcp_peer(port: int, seconds: float):
    """A plain TCP server (not ZeroMQ) on ``port`` for ``seconds``: it answers every connection with
    an HTTP request and random bytes and keeps sending random bytes. Returns the connections it
    accepted."""
    rng = random.Random(7)
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", port))
    server.listen(64)
    server.settimeout(0.05)
    held, accepted, end = [], 0, time.monotonic() + seconds
    try:
        while time.monotonic() < end:
            try:
                conn, _ = server.accept()
                accepted += 1
                conn.setblocking(False)
                conn.send(b"GET / HTTP/1.1\r\nHost: semcom\r\n\r\n" + rng.randbytes(2000))
                held.append(conn)
            except (socket.timeout, BlockingIOError):
                pass
            for conn in held:
                try:
                    conn.send(rng.randbytes(4096))
                    conn.recv(65536)
                except OSError:
                    pass
    finally:
        server.close()
        for conn in held:
            conn.close()
    return accepted


@pytest.mark.parametrize("pattern", ["pubsub", "pushpull"])
def test_a_raw_tcp_peer_does_not_deafen_the_receiver(pattern, images, tmp_path):
    """A non-ZeroMQ server on the address breaks the receiver's connections (ZeroMQ ends them on
    a protocol error and libzmq 4.3 never connects again by itself); once it is gone, two
    transmitters in turn each get their image through."""
    address = f"tcp://127.0.0.1:{free_port()}"
    rx = Receiver(tmp_path, address, images["small"], "--zmq-pattern", pattern)
    try:
        assert raw_tcp_peer(int(address.rsplit(":", 1)[1]), 6.0) >= 2
        for _ in range(2):
            transmit(address, images["small"], "--zmq-pattern", pattern)
            time.sleep(1.5)
        records, summary = rx.stop()
    finally:
        rx.kill()
    assert len(records) == 2 and all(intact(r) for r in records), (summary, rx.stderr[-2000:])
    assert records[-1]["receiver_drops"]["radio"][CONNECTION_DROPPED] >= 2, summary


def test_a_transmitter_that_ends_is_not_a_dropped_connection(images, tmp_path):
    """Two transmitters in turn send an image and exit normally: each end is counted as a
    transmitter that ended, not as a dropped connection, in the summary and the live status line."""
    address = f"tcp://127.0.0.1:{free_port()}"
    rx = Receiver(tmp_path, address, images["small"], "--status", "0.5")
    try:
        for _ in range(2):
            transmit(address, images["small"])
            time.sleep(1.5)
        records, summary = rx.stop()
    finally:
        rx.kill()
    assert len(records) == 2 and all(intact(r) for r in records), (summary, rx.stderr[-2000:])
    assert all("radio" not in r["receiver_drops"] for r in records), records
    assert summary.endswith("; transmitters ended 2") and "radio:" not in summary, summary
    status = [line for line in rx.stdout.splitlines() if line.startswith("status:")]
    assert status and status[-1].endswith("; transmitters ended 2") and "radio" not in status[-1], status


def float64_garbage(address, rng):
    """A ZeroMQ PUB on the address sending float64 noise (8-byte multiples: taken as samples)."""
    context = zmq.Context()
    pub = context.socket(zmq.PUB)
    pub.bind(address)
    time.sleep(0.5)  # the receiver connects and subscribes
    for _ in range(20):
        pub.send(rng.standard_normal(int(rng.integers(1, 3000))).tobytes())
        time.sleep(0.02)
    pub.close(linger=0)
    context.term()


def bind_storm(address, rng):
    """40 PUBs in turn, each bound for a few milliseconds and sending a little noise."""
    for _ in range(40):
        context = zmq.Context()  # its own: term() frees the port for the next one
        pub = context.socket(zmq.PUB)
        pub.bind(address)
        time.sleep(float(rng.uniform(0.005, 0.05)))
        pub.send(rng.bytes(8 * int(rng.integers(1, 500))))
        pub.close(linger=0)
        context.term()


def killed_transmitter(address, image):
    """tx_image.py sending a larger image, killed with -9 while its bursts go out."""
    tx = subprocess.Popen([sys.executable, os.path.join(REPO, "apps", "tx_image.py"), "--radio", "zmq",
                           "--address", address, "--repeat", "100", image], stdout=subprocess.PIPE, text=True)
    try:
        tx.stdout.readline()  # "frame 0: ..." once its first image is queued
        time.sleep(0.1)
    finally:
        tx.kill()
        tx.wait()


def test_the_first_image_after_an_abrupt_disconnect_arrives(images, tmp_path):
    """After a float64 garbage sender, a bind/unbind storm and a transmitter killed with -9, the
    next transmitter's one image arrives (it was lost: garbage left in the receiver's buffers
    went into the preamble detector together with the next burst)."""
    rng = np.random.default_rng(5)
    address = f"tcp://127.0.0.1:{free_port()}"
    rx = Receiver(tmp_path, address, images["small"])
    try:
        for disconnect in (lambda: float64_garbage(address, rng), lambda: bind_storm(address, rng),
                           lambda: killed_transmitter(address, images["killed"])):
            disconnect()
            time.sleep(1.0)
            transmit(address, images["small"])
            time.sleep(1.5)
        records, summary = rx.stop()
    finally:
        rx.kill()
    legit = [r for r in records if (r["height"], r["width"]) == (64, 64)]
    assert len(legit) == 3 and all(intact(r) for r in legit), (summary, legit)


@pytest.mark.parametrize("pattern, message", [
    ("pushpull", "error: no receiver took samples from"),
    ("reqrep", "error: no receiver asked for samples at"),
])
def test_push_and_req_transmitters_without_a_receiver_say_so(pattern, message, images):
    """PUSH and REP hold the samples until a receiver connects or asks: without one the transmitter
    says so in one line and exits 2, instead of 'sent'."""
    address = f"tcp://127.0.0.1:{free_port()}"
    t = time.monotonic()
    r = app("tx_image.py", "--radio", "zmq", "--address", address, "--zmq-pattern", pattern, images["small"],
            timeout=120)
    assert r.returncode == 2 and "sent 1 images" not in r.stdout, r.stdout + r.stderr
    assert r.stderr.strip().splitlines() == [r.stderr.strip()] and r.stderr.startswith(message), r.stderr
    assert time.monotonic() - t < 55


def test_the_help_says_a_pub_transmitter_cannot_know():
    r = app("tx_image.py", "--help")
    assert r.returncode == 0 and "cannot tell whether anyone received" in " ".join(r.stdout.split())


@pytest.mark.parametrize("app_name", ["tx_image.py", "rx_image.py"])
@pytest.mark.parametrize("port", ["99999", "-1", "0", "9" * 5000], ids=["99999", "-1", "0", "5000 digits"])
def test_zeromq_ports_out_of_range_are_refused_at_parsing(app_name, port, images, tmp_path):
    address = f"tcp://127.0.0.1:{port}"
    r = app(app_name, "--radio", "zmq", "--address", address,
            *([images["small"]] if app_name == "tx_image.py" else ["--output-dir", tmp_path / "rx", "--count", 1]),
            timeout=60)
    assert r.returncode == 2, r.stdout + r.stderr
    (line,) = r.stderr.strip().splitlines()[-1:]
    assert "argument --address" in line and "the port must be a number from 1 to 65535" in line, r.stderr
    assert len(line) < 300 and "sent" not in r.stdout and "Traceback" not in r.stderr


def recorded_images(folder, image, count):
    """tx_image.py --radio file: the complex64 samples of ``count`` transmissions of ``image``, one
    array per image."""
    path = folder / "legit.sigmf-data"
    r = app("tx_image.py", "--radio", "file", "--file", path, "--repeat", count, image)
    assert r.returncode == 0, r.stderr
    samples = np.fromfile(path, np.complex64)
    assert len(samples) % count == 0
    return np.split(samples, count)


def test_garbage_zeromq_messages_drop_only_themselves(images, tmp_path):
    """A PUB plays three recorded legitimate images to rx_image.py in 1000-sample messages with
    garbage between them: odd byte counts, int16 samples, multipart, empty and 8 MiB messages
    inside an image; float64 noise between images; a 20 MiB message (ZeroMQ drops the connection,
    the receiver reopens it). Every garbage message is dropped (or, float64, received as noise)
    and each image arrives intact."""
    rng = np.random.default_rng(11)
    legit = recorded_images(tmp_path, images["small"], 3)
    address = f"tcp://127.0.0.1:{free_port()}"
    rx = Receiver(tmp_path, address, images["small"])
    context = zmq.Context()
    pub = context.socket(zmq.PUB)
    pub.setsockopt(zmq.SNDHWM, 0)
    try:
        pub.bind(address)
        time.sleep(1.0)  # the receiver connects and subscribes
        garbage = [rng.bytes(8 * 100 + 3), np.arange(301, dtype=np.int16).tobytes(), [b"a" * 16, b"b" * 8], b"",
                   bytes(8 << 20)]
        for n, samples in enumerate(legit):
            for i, start in enumerate(range(0, len(samples), 1000)):
                pub.send(samples[start:start + 1000].tobytes())
                part = garbage[i % len(garbage)]
                pub.send_multipart(part) if isinstance(part, list) else pub.send(part)
                time.sleep(0.001)
            time.sleep(1.0)
            pub.send(rng.standard_normal(4096).tobytes())  # float64 noise after the image
            if n == 1:
                pub.send(bytes(20 << 20))  # beyond ZeroMQ's limit: it drops the connection
            time.sleep(1.5)  # the receiver reconnects and subscribes again
        records, summary = rx.stop()
    finally:
        pub.close(linger=0)
        context.term()
        rx.kill()
    assert len(records) == 3 and all(intact(r) for r in records), (summary, records)
    drops = records[-1]["receiver_drops"]["radio"]
    assert drops["length not a multiple of 8 bytes"] >= 6 and drops["multipart message"] >= 3, drops
    assert drops["message too large"] >= 3 and drops[CONNECTION_DROPPED] >= 1, drops
