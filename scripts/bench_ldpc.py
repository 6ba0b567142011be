#!/usr/bin/env python3
"""LDPC decoding throughput on one CPU core: information Mbit/s and BER of the compiled layered
min-sum decoder, the numpy min-sum reference and gr-fec's ldpc_decoder (n=1800, rate 1/2, BPSK,
AWGN), medians of --runs runs, at each --snr (Es/N0, dB). Runs against the installed module:

    .venv/bin/python scripts/bench_ldpc.py [--runs 5] [--frames 1000] [--gr-frames 40]
"""
import argparse
import os

from gnuradio.semcom import machine
from gnuradio.semcom.cli.bench import bench_ldpc_decoders


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--snr", type=float, nargs="+", default=[0.0, 1.0, 2.0, 3.0], help="Es/N0 values, dB")
    p.add_argument("--runs", type=int, default=5, help="runs per measurement (median reported)")
    p.add_argument("--frames", type=int, default=1000, help="codewords per run, compiled and numpy decoders")
    p.add_argument("--gr-frames", type=int, default=40, help="codewords per run, gr-fec's decoder")
    args = p.parse_args()
    if hasattr(os, "sched_setaffinity"):  # the figures are per core
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    print(f"machine: {machine.cpu_summary()}; one core; medians of {args.runs} runs")
    print("| Es/N0 | compiled Mbit/s (BER) | numpy Mbit/s (BER) | gr-fec Mbit/s (BER) | compiled / numpy |")
    print("|---|---|---|---|---|")
    for snr in args.snr:
        r = bench_ldpc_decoders(snr, args.frames, args.gr_frames, args.runs)
        cells = [f"{r[d]['info_bits_per_s'] / 1e6:.3f} ({r[d]['ber']:.1e})" if d in r else "-"
                 for d in ("compiled", "numpy", "gnuradio")]
        ratio = r["compiled"]["info_bits_per_s"] / r["numpy"]["info_bits_per_s"] if "compiled" in r else float("nan")
        print(f"| {snr:g} dB | {' | '.join(cells)} | {ratio:.0f}x |", flush=True)


if __name__ == "__main__":
    main()
