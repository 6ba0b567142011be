#!/usr/bin/env python3
"""Hostile soak (issue 13): many images over ZeroMQ at 15 dB through the impaired channel, with a
share of hostile traffic, into one long-running rx_image.py.

    tx_image.py --radio zmq (PUSH, binds A) --add-channel --impaired --snr 15
        -> this script's proxy (PULL from A, PUSH on B): forwards every message and, after a
           share of them, injects a hostile one: a forged burst of every kind
           (evaluation.hostile.FORGED_KINDS), an odd-length message, a huge one (2x the
           receiver's max_message_bytes), or a burst of impulsive noise
        -> rx_image.py --radio zmq (PULL, connects B), writing every image it receives.

Checks: every legitimate image received; the receiver's RSS and thread count when the first image
arrives and at the end; 0 false images (an image whose session or frame the transmitter never
sent). Without --key a forged header that names a real codec and a plausible size, from a
session of its own, is indistinguishable from a second transmitter, so it comes out as an image
of that session; with --key it is dropped. Writes --out/soak[_key].json and .md.
"""
from __future__ import annotations

import argparse
import glob
import json
import os
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
HOSTILE = ["forged burst", "odd-length message", "huge message", "impulsive noise"]


def proc_status(pid: int) -> dict:
    """VmRSS (MB) and Threads of a process, from /proc."""
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                out["rss_mb"] = int(line.split()[1]) / 1024
            elif line.startswith("Threads:"):
                out["threads"] = int(line.split()[1])
    return out


def legit_images(folder: str, count: int, size: tuple[int, int]) -> list[str]:
    """``count`` distinct crops (h x w) of the sample photo, as PNG files."""
    sys.path.insert(0, os.path.join(ROOT, "python"))
    from gnuradio.semcom.imageio import load_image, save_image
    photo = load_image(os.path.join(ROOT, "examples", "images", "kodim23.png"))
    h, w = size
    paths = []
    for i in range(count):
        y = (i * 37) % (photo.shape[0] - h)
        x = (i * 53) % (photo.shape[1] - w)
        path = os.path.join(folder, f"legit{i:04d}.png")
        save_image(path, np.ascontiguousarray(photo[y:y + h, x:x + w]))
        paths.append(path)
    return paths


class Proxy(threading.Thread):
    """PULL from the transmitter, PUSH to the receiver, injecting hostile messages."""

    def __init__(self, src: str, dst: str, share: float, seed: int, max_message_bytes: int):
        super().__init__(daemon=True)
        import zmq
        ctx = zmq.Context.instance()
        self.pull, self.push = ctx.socket(zmq.PULL), ctx.socket(zmq.PUSH)
        self.pull.connect(src)
        self.pull.setsockopt(zmq.RCVTIMEO, 200)
        self.push.bind(dst)
        self.share, self.rng, self.max_bytes = share, np.random.default_rng(seed), max_message_bytes
        self.forwarded, self.injected = 0, {k: 0 for k in HOSTILE}
        self.forged = {}
        self.stop = threading.Event()

    def hostile(self, n: int) -> bytes:
        from gnuradio.semcom.evaluation.hostile import FORGED_KINDS, forged_burst, forged_header
        kind = HOSTILE[n % len(HOSTILE)]
        self.injected[kind] += 1
        if kind == "forged burst":
            which = FORGED_KINDS[self.injected[kind] % len(FORGED_KINDS)]
            self.forged[which] = self.forged.get(which, 0) + 1
            header = forged_header(self.rng, which, int(self.rng.integers(0, 1 << 32)), int(self.rng.integers(0, 65536)))
            return forged_burst(header, self.rng).astype(np.complex64).tobytes()
        if kind == "odd-length message":
            return self.rng.bytes(int(self.rng.integers(1, 4000)) * 8 + int(self.rng.integers(1, 8)))
        if kind == "huge message":
            return bytes(2 * self.max_bytes)
        x = np.zeros(20000, np.complex64)
        spikes = self.rng.random(x.size) < 0.01
        x[spikes] = np.exp(2j * np.pi * self.rng.random(int(spikes.sum())))
        return x.tobytes()

    @staticmethod
    def between_bursts(msg: bytes) -> bool:
        """The message ends in a gap (mean power of its last 256 samples below 0.2; bursts have about
        1, the channel's noise 0.03 at 15 dB), so what is injected after it cuts no burst in two:
        the soak measures what hostile traffic does to the receiver, not an overlap destroying a burst."""
        tail = np.frombuffer(msg[-(256 * 8):], np.complex64) if len(msg) % 8 == 0 and msg else np.zeros(0)
        return tail.size == 256 and float(np.mean(np.abs(tail) ** 2)) < 0.2

    def run(self):
        import zmq
        n = 0
        while not self.stop.is_set():
            try:
                msg = self.pull.recv()
            except zmq.Again:
                continue
            self.push.send(msg)
            self.forwarded += 1
            if self.between_bursts(msg) and self.rng.random() < self.share:
                self.push.send(self.hostile(n))
                n += 1


def describe(record: dict) -> str:
    """What a false image was: its size, codec and whether the receiver called it lost."""
    return (f"{record.get('width')}x{record.get('height')} {record.get('model') or record.get('codec')}"
            + (" (lost)" if record.get("lost") else ""))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--images", type=int, default=500, help="legitimate images to send (default 500)")
    ap.add_argument("--distinct", type=int, default=20, help="distinct crops they cycle through")
    ap.add_argument("--size", type=int, nargs=2, default=[96, 128], metavar=("H", "W"), help="crop size")
    ap.add_argument("--share", type=float, default=0.1, help="hostile messages per forwarded message")
    ap.add_argument("--snr", type=float, default=15.0)
    ap.add_argument("--codec", default="bitsemcom-qpsk-cpp16")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--key", default="", help="pre-shared key for both ends (--key of tx_image/rx_image): forged "
                    "and foreign bursts are then dropped as unauthentic")
    ap.add_argument("--out", default=os.path.join(ROOT, "docs", "results", "soak"))
    args = ap.parse_args()
    py = sys.executable
    port = 30000 + os.getpid() % 20000
    src, dst = f"tcp://127.0.0.1:{port}", f"tcp://127.0.0.1:{port + 1}"
    from gnuradio.semcom.blocks.zmq_source import MAX_MESSAGE_BYTES
    with tempfile.TemporaryDirectory() as tmp:
        paths = legit_images(tmp, args.distinct, tuple(args.size))
        rx_dir = os.path.join(tmp, "rx")
        proxy = Proxy(src, dst, args.share, args.seed, MAX_MESSAGE_BYTES)
        proxy.start()
        rx = subprocess.Popen([py, os.path.join(ROOT, "apps", "rx_image.py"), "--radio", "zmq", "--zmq-pattern",
                               "pushpull", "--address", dst, "--output-dir", rx_dir, "--idle-exit", "30",
                               *(["--key", args.key] if args.key else [])],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        lines, first = [], {}
        log_path = os.path.join(args.out, "soak_key_rx.log" if args.key else "soak_rx.log")

        samples = []  # (RSS MB, threads) at every image the receiver reports

        def read():
            for line in rx.stdout:
                lines.append(line.rstrip())
                if line.startswith("image "):
                    try:
                        st = proc_status(rx.pid)
                    except OSError:
                        continue
                    samples.append((st["rss_mb"], st["threads"]))
                    if not first:
                        first.update(st)
        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        time.sleep(3)
        repeat = -(-args.images // len(paths))
        t0 = time.monotonic()
        tx = subprocess.run([py, os.path.join(ROOT, "apps", "tx_image.py"), "--radio", "zmq", "--zmq-pattern",
                             "pushpull", "--address", src, "--add-channel", "--impaired", "--snr", str(args.snr),
                             "--codec", args.codec, "--repeat", str(repeat), "--json",
                             *(["--key", args.key] if args.key else []), *paths],
                            capture_output=True, text=True)
        if tx.returncode != 0:
            print(tx.stdout[-2000:], tx.stderr[-2000:])
            return 1
        sent = [json.loads(x) for x in tx.stdout.splitlines() if x.startswith("{")]
        # wait for the receiver to take in what was sent, then read its state before it exits
        deadline = time.monotonic() + 600
        while len(glob.glob(os.path.join(rx_dir, "*.json"))) < len(sent) and time.monotonic() < deadline \
                and rx.poll() is None:
            time.sleep(1)
        time.sleep(5)
        last = proc_status(rx.pid) if rx.poll() is None else {}
        wall = time.monotonic() - t0
        proxy.stop.set()
        rx.wait(timeout=120)
        reader.join(timeout=5)
        os.makedirs(args.out, exist_ok=True)
        with open(log_path, "w") as f:
            f.write("\n".join(lines) + "\n")
        records = []
        for path in sorted(glob.glob(os.path.join(rx_dir, "*.json"))):
            with open(path) as f:
                records.append(json.load(f))
    frames = {int(s["frame"]) for s in sent}
    sessions = {}
    for r in records:
        sessions[r.get("session")] = sessions.get(r.get("session"), 0) + 1
    legit_session = max(sessions, key=sessions.get) if sessions else None
    legit = [r for r in records if r.get("session") == legit_session and int(r.get("frame", -1)) in frames]
    got = {int(r["frame"]) for r in legit if not r.get("lost")}
    false = [r for r in records if r not in legit]
    result = {"images_sent": len(sent), "legit_received": len(got), "missing": sorted(frames - got)[:20],
              "false_images": len(false), "records": len(records), "hostile_injected": proxy.injected,
              "forged_kinds": proxy.forged, "forwarded_messages": proxy.forwarded, "rss_mb_first": first.get("rss_mb"),
              "rss_mb_end": last.get("rss_mb"), "threads_first": first.get("threads"), "threads_end": last.get("threads"),
              "rss_mb_median_first_tenth": float(np.median([r for r, _ in samples[:max(1, len(samples) // 10)]]))
              if samples else None,
              "rss_mb_median_last_tenth": float(np.median([r for r, _ in samples[-max(1, len(samples) // 10):]]))
              if samples else None,
              "rss_mb_max": max((r for r, _ in samples), default=None),
              "wall_s": round(wall, 1), "snr_db": args.snr, "codec": args.codec, "size": args.size,
              "rx_summary": lines[-1] if lines else ""}
    os.makedirs(args.out, exist_ok=True)
    name = "soak_key" if args.key else "soak"
    with open(os.path.join(args.out, name + ".json"), "w") as f:
        json.dump(result, f, indent=1)
    total = sum(proxy.injected.values())
    keyed = " --key ..." if args.key else ""
    md = [f"Hostile soak (`python3 research/hostile_soak.py --images {args.images}{keyed}`): {len(sent)} images of "
          f"{args.size[1]}x{args.size[0]} ({args.codec}) over ZeroMQ at {args.snr:g} dB through the impaired channel, "
          f"{total} hostile messages among {proxy.forwarded} forwarded ones "
          + ", ".join(f"{k} {v}" for k, v in proxy.injected.items()) + f"; {wall:.0f} s.", "",
          "| check | result |", "|---|---|",
          f"| legitimate images received | {len(got)} / {len(sent)} |",
          f"| false images (a session or frame never sent) | {len(false)}"
          + (f": {', '.join(sorted({describe(r) for r in false}))}" if false else "") + " |",
          f"| receiver RSS, median over the first / last tenth of the images | "
          f"{result['rss_mb_median_first_tenth']:.0f} MB / {result['rss_mb_median_last_tenth']:.0f} MB "
          f"(max {result['rss_mb_max']:.0f} MB) |",
          f"| receiver threads at the first image / at the end | {first.get('threads')} / "
          f"{last.get('threads', samples[-1][1] if samples else None)} |",
          f"| receiver's own summary | {result['rx_summary']} |"]
    with open(os.path.join(args.out, name + ".md"), "w") as f:
        f.write("\n".join(md) + "\n")
    print("\n".join(md))
    ok = len(got) == len(sent) and not false
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
