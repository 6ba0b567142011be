"""Live frames over ZeroMQ loopback: rx_image.py and tx_image.py --frames on this machine, one
frame folder (crops panning across the sample photo), each decoder precision --runs times
(alternated); frames/s and median latency as the receiver measures them, and what bounds them:
the codec's encode and decode ms for one frame, alone, on this machine.

    python research/live_frames.py --out research/results/live     (then scripts/update_docs.py live=...)
"""
import argparse
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

from gnuradio.semcom import machine
from gnuradio.semcom.codecs import neural, registry
from gnuradio.semcom.codecs.base import Received
from gnuradio.semcom.imageio import load_image, save_image
from gnuradio.semcom.phy.link import LinkConfig, channel_use_budget

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
SAMPLE = os.path.join(REPO, "examples", "images", "kodim23.png")
SUMMARY = re.compile(r"stopped after (\d+) images.*; ([\d.]+) frames/s, "
                     r"median latency (\d+) ms \((\d+) ms from taken\)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pan_frames(folder: str, count: int, side: int) -> None:
    """``count`` side x side crops of the sample photo, panning left to right and back."""
    photo = load_image(SAMPLE)
    h, w = photo.shape[:2]
    for n in range(count):
        phase = n / max(1, count - 1)
        x = round((w - side) * (1 - abs(2 * phase - 1)))
        y = round((h - side) * phase)
        save_image(os.path.join(folder, f"frame{n:04d}.png"), np.ascontiguousarray(photo[y:y + side, x:x + side]))


def settled(folder: str, quiet: float = 3.0) -> None:
    """Returns once no frame file was added to ``folder`` for ``quiet`` seconds (the receiver caught up)."""
    count, since = -1, time.monotonic()
    while time.monotonic() - since < quiet:
        now = len([n for n in os.listdir(folder) if n.endswith(".png")])
        if now != count:
            count, since = now, time.monotonic()
        time.sleep(0.2)


def app(name: str) -> list:
    return [sys.executable, os.path.join(REPO, "apps", name)]


def run_once(folder: str, size: int, codec: str, decoder: str, keep_up: bool) -> dict:
    address, stamps = f"tcp://127.0.0.1:{free_port()}", f"tcp://127.0.0.1:{free_port()}"
    with tempfile.TemporaryDirectory() as out:
        rx = subprocess.Popen(app("rx_image.py") + ["--radio", "zmq", "--address", address, "--timestamps", stamps,
                                                    "--decoder", decoder, "--idle-exit", "120",
                                                    "--status", "0", "--output-dir", out]
                              + (["--keep-up"] if keep_up else []),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        ready = rx.stdout.readline()
        if not ready.startswith("listening on"):
            raise SystemExit(f"rx_image.py did not start: {ready}{rx.stderr.read()}")
        tx = subprocess.run(app("tx_image.py") + ["--radio", "zmq", "--address", address, "--timestamps", stamps,
                                                  "--codec", codec, "--frames", folder, "--size", f"{size}x{size}"],
                            capture_output=True, text=True, timeout=600)
        settled(out)
        rx.send_signal(signal.SIGINT)  # Ctrl-C: the receiver's summary line
        stdout, stderr = rx.communicate(timeout=120)
    if tx.returncode:
        raise SystemExit(f"tx_image.py failed: {tx.stdout}{tx.stderr}")
    last = stdout.strip().splitlines()[-1]
    m = SUMMARY.search(last)
    if not m:
        raise SystemExit(f"no frames/s in the receiver's summary: {last}\n{stderr}")
    sent = re.search(r"([\d.]+) frames/s", tx.stdout)
    return {"decoder": decoder, "keep_up": keep_up, "received": int(m[1]), "frames_per_s": float(m[2]),
            "latency_ms": float(m[3]), "end_to_end_ms": float(m[4]),
            "tx_frames_per_s": float(sent[1]) if sent else None}


def codec_ms(codec_name: str, size: int, decoder: str) -> dict:
    """``measure_codec`` in a new process (the decoder precision is chosen when a session opens)."""
    r = subprocess.run([sys.executable, __file__, "--codec", codec_name, "--size", str(size), "--codec-ms", decoder],
                       capture_output=True, text=True, timeout=600, env={**os.environ, neural.DECODER_ENV: decoder})
    if r.returncode:
        raise SystemExit(f"codec timing failed: {r.stderr}")
    return json.loads(r.stdout)


def measure_codec(codec_name: str, size: int, runs: int = 7) -> dict:
    """Median encode and decode ms of one size x size frame, the codec alone."""
    codec = registry.get(codec_name)
    image = load_image(SAMPLE)[:size, :size].copy()
    link = LinkConfig("qpsk", codec.default_fec)
    enc_t, dec_t = [], []
    for n in range(runs + 1):
        t = time.perf_counter()
        enc = codec.encode(image, link, channel_use_budget(1 / 16, size, size))
        t1 = time.perf_counter()
        rx = Received(enc.bits, np.where(enc.bits > 0, 4.0, -4.0).astype(np.float32), True,
                      {**enc.meta, "height": size, "width": size})
        codec.decode(rx)
        if n:  # the first run loads the sessions
            enc_t.append(t1 - t)
            dec_t.append(time.perf_counter() - t1)
    return {"encode_ms": 1e3 * statistics.median(enc_t), "decode_ms": 1e3 * statistics.median(dec_t)}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--frames", type=int, default=60, help="frames per run")
    p.add_argument("--size", type=int, default=256, help="frame side, pixels")
    p.add_argument("--runs", type=int, default=3, help="runs per decoder (median reported)")
    p.add_argument("--codec", default="bitsemcom-qpsk-cpp16")
    p.add_argument("--ort-threads", type=int, default=0,
                   help="ONNX Runtime threads per session in both apps (0: its choice, all cores)")
    p.add_argument("--out", default="research/results/live")
    p.add_argument("--codec-ms", choices=("float32", "int8"), help=argparse.SUPPRESS)
    args = p.parse_args()
    os.environ[neural.THREADS_ENV] = str(args.ort_threads)  # the apps and the codec timing inherit it
    if args.codec_ms:
        print(json.dumps(measure_codec(args.codec, args.size)))
        return
    decoders = ("float32", "int8")
    with tempfile.TemporaryDirectory() as folder:
        pan_frames(folder, args.frames, args.size)
        runs = [run_once(folder, args.size, args.codec, d, k)
                for _ in range(args.runs) for d in decoders for k in (False, True)]
    load = os.getloadavg()
    ms = {d: codec_ms(args.codec, args.size, d) for d in decoders}
    rows = []
    for d in decoders:
        for keep_up in (False, True):
            mine = [r for r in runs if r["decoder"] == d and r["keep_up"] == keep_up]
            med = {k: statistics.median(r[k] for r in mine)
                   for k in ("frames_per_s", "latency_ms", "end_to_end_ms", "tx_frames_per_s")}
            rows.append({"decoder": d, "keep_up": keep_up, **med, "received": [r["received"] for r in mine], **ms[d]})
    lines = [f"{args.frames} frames of {args.size}x{args.size} over ZeroMQ loopback, tx_image.py --frames and "
             f"rx_image.py on the same machine, codec {args.codec} (QPSK, cpp 1/16, sc at 1 Msample/s); medians of "
             f"{args.runs} runs per row, alternated; the receiver decodes every frame, or with --keep-up drops the "
             f"oldest frame waiting for a decoder when its queue is full (counted stale); ONNX Runtime threads {args.ort_threads or 'all cores'}; load average {load[0]:.1f} after the runs; "
             f"{machine.cpu_summary()}. Latency: frame's bits queued for the radio -> frame decoded (from taken: "
             "read from the folder, before encoding); encode / decode: the codec alone, one frame, median of 7.", "",
             "| decoder | receiver | frames/s | median latency ms | from taken ms | frames decoded | tx frames/s | "
             "encode ms | decode ms |", "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['decoder']} | {'--keep-up' if r['keep_up'] else 'every frame'} | "
                     f"{r['frames_per_s']:.1f} | {r['latency_ms']:.0f} | {r['end_to_end_ms']:.0f} | "
                     f"{', '.join(map(str, r['received']))} of {args.frames} | {r['tx_frames_per_s']:.1f} | "
                     f"{r['encode_ms']:.0f} | "
                     f"{r['decode_ms']:.0f} |")
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "live.json"), "w") as f:
        json.dump({"runs": runs, "rows": rows, "load": load}, f, indent=1)
    with open(os.path.join(args.out, "live.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
