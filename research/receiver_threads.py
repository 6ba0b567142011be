#!/usr/bin/env python3
"""Where the burst receiver's CPU time goes: CPU seconds per GNU Radio thread (one per block) while
``burst_rx`` demodulates a packed recording (with --decoder, ``burst_rx -> image_rx`` decoding the
images too), medians of --runs replays.

The recording is ``semcom-ota-bench``'s (--frames images sent as bursts through the acceptance
impairments at 15 dB, back to back); GNU Radio names each block's thread after the block, so the
table reads as the chain: sample_limiter, corr_est_cc, burst_sync, multiply_const,
constellation_soft_decoder, burst_llr, fec_decoder, burst_reassembler, image_rx. Threads that
GNU Radio did not start (ONNX Runtime's pool, the decode worker) carry the process's name.

  .venv/bin/python research/receiver_threads.py --waveform sc --frames 24 --runs 3
"""
import argparse
import os
import statistics
import time

import numpy as np

TICK = os.sysconf("SC_CLK_TCK")
# thread names are the block's, with its id appended and cut to 15 characters
BLOCKS = {"semcom_sample_": "sample_limiter", "corr_est_cc": "corr_est_cc", "semcom_burst_s": "burst_sync",
          "multiply_const": "multiply_const_cc", "constellation_": "constellation_soft_decoder_cf",
          "semcom_burst_l": "burst_llr", "semcom_fec_dec": "fec_decoder", "semcom_burst_r": "burst_reassembler",
          "semcom_image_r": "image_rx", "semcom_decode": "image_rx decode worker",
          "vector_source": "vector_source_c (the recording)", "python": "unnamed (ONNX Runtime pool, main)"}


def block_of(thread_name: str) -> str:
    stem = thread_name.rstrip("0123456789")
    return next((label for prefix, label in BLOCKS.items() if stem.startswith(prefix)), stem or thread_name)


def thread_cpu() -> dict:
    """{thread id: (name, CPU seconds)} of this process's live threads."""
    out = {}
    for tid in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{tid}/comm") as f:
                name = f.read().strip()
            with open(f"/proc/self/task/{tid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:  # the thread ended meanwhile
            continue
        out[tid] = (name, (int(fields[11]) + int(fields[12])) / TICK)  # utime + stime
    return out


def replay(stream, waveform: str, frames: int, decode: bool) -> tuple[float, dict]:
    """Wall seconds and {thread name: CPU seconds} for one replay through burst_rx [-> image_rx]."""
    from gnuradio import blocks, gr
    from gnuradio.semcom.blocks.burst_rx import burst_rx
    from gnuradio.semcom.blocks.image import image_rx
    tb = gr.top_block()
    src = blocks.vector_source_c(stream)
    rx = burst_rx(waveform)
    tb.connect(src, rx)
    if decode:
        sink = image_rx("", "bitsemcom")
        sink.upstream_blocks = 1
        tb.msg_connect(rx, "out", sink, "in")
        done = lambda: sink.count  # noqa: E731
    else:
        sink = blocks.message_debug()
        tb.msg_connect(rx, "out", sink, "store")
        done = sink.num_messages
    before = thread_cpu()
    last: dict = {}
    t0 = time.perf_counter()
    tb.start()
    while done() < frames and time.perf_counter() - t0 < 120:
        for tid, (name, cpu) in thread_cpu().items():  # a block's thread ends with the stream: keep its last
            if tid not in before:
                last[tid] = (name, cpu)
        time.sleep(0.02)
    wall = time.perf_counter() - t0
    tb.wait()
    per_name: dict = {}
    for name, cpu in last.values():
        per_name[block_of(name)] = per_name.get(block_of(name), 0.0) + cpu
    return wall, per_name


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--waveform", default="sc", choices=("sc", "ofdm"))
    p.add_argument("--frames", type=int, default=24)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--decoder", choices=("float32", "int8"), help="decode the images too, with this decoder")
    args = p.parse_args()
    if args.decoder:
        os.environ["SEMCOM_DECODER"] = args.decoder
    from gnuradio.semcom.cli import common as cli
    from gnuradio.semcom.cli.ota_bench import record_stream
    from gnuradio.semcom.imageio import load_image
    stream = record_stream([load_image(cli.sample_image())] * args.frames, 15.0, args.waveform, 4096)
    runs = [replay(stream, args.waveform, args.frames, bool(args.decoder)) for _ in range(args.runs)]
    names = sorted({n for _, d in runs for n in d}, key=lambda n: -statistics.median(d.get(n, 0) for _, d in runs))
    wall = statistics.median(w for w, _ in runs)
    total = statistics.median(sum(d.values()) for _, d in runs)
    chain = f"burst_rx -> image_rx ({args.decoder} decoder)" if args.decoder else "burst_rx"
    print(f"{chain}, {args.waveform}, {len(stream)} samples ({args.frames} images packed), medians of {args.runs}: "
          f"wall {wall:.2f} s ({len(stream) / wall / 1e6:.2f} Msps), CPU {total:.2f} s over all threads\n")
    print("| thread (block) | CPU s | share |\n|---|---|---|")
    for n in names:
        cpu = statistics.median(d.get(n, 0.0) for _, d in runs)
        if cpu >= 0.005:
            print(f"| {n} | {cpu:.2f} | {100 * cpu / total:.0f} % |")


if __name__ == "__main__":
    main()
