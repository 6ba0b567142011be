#!/usr/bin/env python3
"""Hostile soak over ZeroMQ with --key: one rx_image.py, legitimate transmitters and attackers.

    tx_image.py --radio zmq --zmq-pattern pushpull --key K (binds A), batches of 64x64 crops
        -> this script's proxy (PULL from A, PUSH bound on B), forwarding every message and
           injecting attacks: dropped-kind garbage (odd lengths, multipart, 8 MiB) between any
           messages; while the legitimate stream pauses, bursts forged with a wrong key, replays
           of legitimate messages, float64 noise, a 20 MiB message (ZeroMQ drops the
           connection) and a raw TCP server on B in place of the proxy for 3 s
        -> rx_image.py --radio zmq --zmq-pattern pushpull --key K (connects B).

Reports, as JSON (--out) and one summary line: legitimate images sent and received intact
(PSNR against the crop sent above --psnr-floor), false images (any other image), duplicates
(a session's frame twice), the attacks made, the receiver's drop counts, and its RSS and
thread count over time.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time

import numpy as np
import zmq

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
GARBAGE = ("odd length", "multipart", "8 MiB")
PAUSE_ATTACKS = ("forged (wrong key)", "replayed", "float64 noise", "20 MiB", "raw TCP")
PAUSE_S = 0.5  # no legitimate message this long: the stream is between transmitters


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def process_status(pid: int) -> dict:
    """RSS (MB) and thread count of a running process, from /proc."""
    fields = dict(line.split(":", 1) for line in open(f"/proc/{pid}/status"))
    return {"rss_mb": round(int(fields["VmRSS"].split()[0]) / 1024, 1), "threads": int(fields["Threads"])}


def app(name: str) -> list[str]:
    return [sys.executable, os.path.join(ROOT, "apps", name)]


def crops(folder: str, count: int, size: int) -> list[str]:
    """``count`` distinct size x size crops of the sample photo, as PNG files."""
    from gnuradio.semcom.imageio import load_image, save_image
    photo = load_image(os.path.join(ROOT, "examples", "images", "kodim23.png"))
    paths = []
    for i in range(count):
        y, x = (i * 37) % (photo.shape[0] - size), (i * 53) % (photo.shape[1] - size)
        paths.append(os.path.join(folder, f"crop{i:03d}.png"))
        save_image(paths[-1], np.ascontiguousarray(photo[y:y + size, x:x + size]))
    return paths


def forged_messages(folder: str, image: str, key: str) -> list[bytes]:
    """A transmission under another key (recorded by tx_image.py --radio file), as 1000-sample messages."""
    path = os.path.join(folder, "forged.sigmf-data")
    subprocess.run(app("tx_image.py") + ["--radio", "file", "--file", path, "--key", key, image],
                   check=True, capture_output=True)
    samples = np.fromfile(path, np.complex64)
    return [samples[i:i + 1000].tobytes() for i in range(0, len(samples), 1000)]


def raw_tcp_peer(port: int, seconds: float, rng: random.Random):
    """A plain TCP server on ``port``: HTTP and random bytes to whoever connects."""
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", port))
    server.listen(16)
    server.settimeout(0.05)
    held, end = [], time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            conn, _ = server.accept()
            conn.setblocking(False)
            held.append(conn)
        except (socket.timeout, BlockingIOError):
            pass
        for conn in held:
            try:
                conn.send(b"HTTP/1.1 200 OK\r\n\r\n" + rng.randbytes(4096))
            except OSError:
                pass
    server.close()
    for conn in held:
        conn.close()


class Proxy:
    """PULL from the transmitters' address, PUSH bound on the receiver's; injects attacks."""

    def __init__(self, tx_address: str, rx_port: int, forged: list[bytes], seed: int):
        self.context = zmq.Context()
        self.pull = self.context.socket(zmq.PULL)
        self.pull.connect(tx_address)
        self.rx_port, self.forged = rx_port, forged
        self.rng, self.nprng = random.Random(seed), np.random.default_rng(seed)
        self.push = None
        self._bind()
        self.recent: list[bytes] = []  # the last legitimate messages, replayed later
        self.last_legit = time.monotonic()
        self.attacks = {kind: 0 for kind in GARBAGE + PAUSE_ATTACKS}
        self.next_pause_attack = 0

    def _bind(self):
        self.push = self.context.socket(zmq.PUSH)
        self.push.setsockopt(zmq.LINGER, 0)
        self.push.setsockopt(zmq.SNDHWM, 0)
        self.push.bind(f"tcp://127.0.0.1:{self.rx_port}")

    def _unbind(self):
        self.push.close(linger=0)
        time.sleep(0.2)  # ZeroMQ closes the listening socket in its I/O thread

    def _send(self, message):
        (self.push.send_multipart if isinstance(message, list) else self.push.send)(message)

    def step(self):
        """Forwards what arrived within 50 ms; injects garbage now and then, a pause attack in pauses."""
        if self.pull.poll(50):
            while True:
                try:
                    message = self.pull.recv(zmq.NOBLOCK)
                except zmq.Again:
                    break
                self._send(message)
                self.recent = (self.recent + [message])[-400:]
                self.last_legit = time.monotonic()
                if self.rng.random() < 0.1:
                    self._garbage()
        elif time.monotonic() - self.last_legit > PAUSE_S:
            self._pause_attack()
            self.last_legit = time.monotonic()  # the next one after another pause

    def _garbage(self):
        kind = self.rng.choice(GARBAGE)
        self.attacks[kind] += 1
        self._send({"odd length": lambda: self.rng.randbytes(8 * self.rng.randint(1, 500) + self.rng.randint(1, 7)),
                    "multipart": lambda: [b"x" * 16, b"y" * 8],
                    "8 MiB": lambda: bytes(8 << 20)}[kind]())

    def _pause_attack(self):
        kind = PAUSE_ATTACKS[self.next_pause_attack % len(PAUSE_ATTACKS)]
        self.next_pause_attack += 1
        if kind == "replayed" and not self.recent:
            return
        self.attacks[kind] += 1
        if kind == "forged (wrong key)":
            for message in self.forged:
                self._send(message)
        elif kind == "replayed":
            for message in self.recent:
                self._send(message)
        elif kind == "float64 noise":
            self._send(self.nprng.standard_normal(int(self.nprng.integers(1, 20000))).tobytes())
        elif kind == "20 MiB":
            self._send(bytes(20 << 20))
        else:
            self._unbind()
            raw_tcp_peer(self.rx_port, 3.0, self.rng)
            self._bind()

    def close(self):
        self.pull.close(linger=0)
        self.push.close(linger=0)
        self.context.term()


def score(folder: str, images: list[str], psnr_floor: float) -> dict:
    """Intact legitimate images, false images and duplicates among the receiver's records."""
    from gnuradio.semcom import metrics
    from gnuradio.semcom.imageio import load_image
    sent = [load_image(p) for p in images]
    intact = false = duplicates = lost = 0
    seen = set()
    for name in sorted(n for n in os.listdir(folder) if n.endswith(".json")):
        with open(os.path.join(folder, name)) as f:
            rec = json.load(f)
        key = (rec.get("session"), rec.get("frame"))
        if key in seen:
            duplicates += 1
            continue
        seen.add(key)
        frame = rec.get("frame", -1)
        image = load_image(os.path.join(folder, name[:-5] + ".png"))
        expected = sent[frame] if 0 <= frame < len(sent) else None
        if expected is None or expected.shape != image.shape or metrics.psnr(expected, image) < psnr_floor:
            false += 1
        elif rec.get("lost") or rec.get("bursts_lost"):
            lost += 1
        else:
            intact += 1
    return {"received_intact": intact, "received_damaged": lost, "false_images": false, "duplicates": duplicates}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--minutes", type=float, default=10.0, help="how long the legitimate transmitters run")
    p.add_argument("--key", default="soak shared secret", help="the legitimate ends' --key")
    p.add_argument("--batch", type=int, default=20, help="images per transmitter process")
    p.add_argument("--size", type=int, default=64, help="crop size, pixels")
    p.add_argument("--psnr-floor", type=float, default=18.0, help="dB: below, a received image is false")
    p.add_argument("--out", default="out/soak.json", help="JSON report")
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args()
    work = tempfile.mkdtemp(prefix="semcom-soak-")
    images = crops(work, args.batch, args.size)
    forged = forged_messages(work, images[0], args.key + " (forged)")
    tx_address, rx_port = f"tcp://127.0.0.1:{free_port()}", free_port()
    rx_dir = os.path.join(work, "rx")
    rx = subprocess.Popen(app("rx_image.py") + ["--radio", "zmq", "--zmq-pattern", "pushpull", "--address",
                                                f"tcp://127.0.0.1:{rx_port}", "--key", args.key,
                                                "--output-dir", rx_dir],
                          stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    proxy = Proxy(tx_address, rx_port, forged, args.seed)
    sent, tx_failures, samples, tx = 0, 0, [], None
    start = time.monotonic()
    end, next_sample = start + 60 * args.minutes, start
    try:
        rx.stdout.readline()  # listening
        while time.monotonic() < end or tx is not None:
            if tx is not None and tx.poll() is not None:
                out = tx.stdout.read()
                sent += sum(1 for line in out.splitlines() if line.startswith("frame "))
                tx_failures += tx.returncode != 0
                tx = None
            if tx is None and time.monotonic() < end:
                tx = subprocess.Popen(app("tx_image.py") + ["--radio", "zmq", "--zmq-pattern", "pushpull",
                                                            "--address", tx_address, "--key", args.key, *images],
                                      stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
            proxy.step()
            if time.monotonic() >= next_sample:
                samples.append({"t_s": round(time.monotonic() - start, 1), **process_status(rx.pid)})
                next_sample += 10
        drain = time.monotonic() + 10
        while time.monotonic() < drain:
            proxy.step()
        samples.append({"t_s": round(time.monotonic() - start, 1), **process_status(rx.pid)})
    finally:
        if tx is not None:
            tx.kill()
        rx.send_signal(2)
        summary = rx.communicate(timeout=60)[0].strip().splitlines()[-1:]
        proxy.close()
    report = {"minutes": args.minutes, "legit_sent": sent, "transmitter_failures": tx_failures,
              **score(rx_dir, images, args.psnr_floor), "attacks": proxy.attacks,
              "receiver_summary": summary[0] if summary else "", "receiver": samples}
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(report, f, indent=1)
    shutil.rmtree(work, ignore_errors=True)
    first, last = samples[0], samples[-1]
    with open(os.path.splitext(args.out)[0] + ".md", "w") as f:
        f.write(markdown(report, sent, args))
    print(f"soak {args.minutes:g} min: {report['received_intact']}/{sent} legitimate images intact, "
          f"{report['received_damaged']} damaged, {report['false_images']} false, {report['duplicates']} duplicates, "
          f"{sum(proxy.attacks.values())} attacks; receiver RSS {first['rss_mb']} -> {last['rss_mb']} MB "
          f"(peak {max(s['rss_mb'] for s in samples)}), threads {first['threads']} -> {last['threads']}; {args.out}")
    return 0 if report["received_intact"] == sent and not report["false_images"] and not report["duplicates"] else 1


def markdown(report: dict, sent: int, args) -> str:
    """The report as the table docs/reliability.md shows (make soak copies it there)."""
    samples = report["receiver"]
    first, last = samples[0], samples[-1]
    late = [x["rss_mb"] for x in samples if x["t_s"] >= samples[-1]["t_s"] / 2]
    attacks = ", ".join(f"{kind} {n}" for kind, n in report["attacks"].items())
    rows = [("legitimate images intact", f"{report['received_intact']} of {sent}"),
            ("damaged / false / duplicate images",
             f"{report['received_damaged']} / {report['false_images']} / {report['duplicates']}"),
            ("attacks", f"{sum(report['attacks'].values())} ({attacks})"),
            ("receiver RSS, MB", f"{first['rss_mb']} at start, {max(x['rss_mb'] for x in samples)} peak, "
                                 f"{min(late)}-{max(late)} over the second half, {last['rss_mb']} at the end"),
            ("receiver threads", f"{first['threads']} -> {last['threads']}")]
    return (f"ZeroMQ soak with --key (`make soak`: `scripts/soak.py --minutes {args.minutes:g}`), {args.size}x"
            f"{args.size} crops:\n\n| check | result |\n|---|---|\n"
            + "".join(f"| {a} | {b} |\n" for a, b in rows))


if __name__ == "__main__":
    sys.exit(main())
