#!/usr/bin/env python3
"""Where the burst receiver loses 16-QAM effective SNR: one frame of 16-QAM bursts through
``air_channel`` (GNU Radio's channel_model and resampler), each impairment alone and all of them
(the acceptance channel), received by the numpy synchroniser (the receiver ``burst_rx`` runs).

  python3 research/qam16_rx.py phy [--snr 10] [--frames 2]   # the breakdown table (markdown)
  python3 research/qam16_rx.py images --results DIR          # per-model table from semcom-eval's
                                                             # ideal and sc+impaired rows in DIR

Columns of ``phy``: EVM SNR (Es over the mean squared error of the equalised payload symbols
against the sent ones), the SNR the receiver believes (1 / its mean noise variance), the complex
gain left on the symbols (|a| in dB, angle in degrees), the EVM SNR of the first and last eighth of
each burst (drift), the bounds of the channel's multipath with the channel known (the unbiased
linear MMSE equaliser's, the unbiased MMSE-DFE's by the Salz formula, the matched-filter bound),
and the LLRs' information (GMI, bits per symbol) as an equivalent AWGN SNR: the linear
equaliser's symbols with the exact demapper and with the stream chain's max-log table times 1/N0,
and what the receiver hands the decoder (the sequence detector's LLRs on the bursts it took,
counted in the last column).
"""
from __future__ import annotations

import argparse
import csv
import itertools
import os
import sys

import numpy as np

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))

CASES = {  # name: air_channel impairments besides the SNR
    "awgn": {},
    "cfo": dict(cfo=0.005),
    "timing": dict(delay=0.37),
    "clock": dict(clock_ppm=10.0),
    "multipath": dict(taps=(1.0, 0.4j, 0.2)),
    "acceptance": None,  # flowgraphs.air.ACCEPTANCE
}


def through_air(samples: np.ndarray, snr_db: float, seed: int, **impairments) -> np.ndarray:
    from gnuradio import blocks, gr
    from gnuradio.semcom.blocks.air_channel import air_channel
    tb = gr.top_block()
    src = blocks.vector_source_c(samples.tolist(), False)
    sink = blocks.vector_sink_c()
    tb.connect(src, air_channel(snr_db, seed=seed, **impairments), sink)
    tb.run()
    return np.asarray(sink.data(), np.complex64)


def gmi(llr: np.ndarray, bits: np.ndarray) -> float:
    """Bitwise mutual information of LLRs (positive = 1) with the sent bits, bits per bit."""
    sign = 2.0 * bits - 1.0
    return float(1 - np.mean(np.logaddexp(0, -sign * llr)) / np.log(2))


def maxlog_llr(const, y, noise_var):
    from gnuradio.semcom.phy import soft_lut
    return soft_lut.maxlog_distances(const, y) * np.repeat(1.0 / np.asarray(noise_var, np.float64),
                                                           const.bits_per_symbol)


def awgn_gmi_curve(const, rng, grid=np.arange(4.0, 16.01, 0.25), n=200000):
    """GMI (per bit) of exact LLRs on the ideal AWGN channel at each Es/N0 of ``grid``."""
    bits = rng.integers(0, 2, n * const.bits_per_symbol).astype(np.uint8)
    s = const.modulate(bits)
    noise = (rng.standard_normal(n) + 1j * rng.standard_normal(n)) / np.sqrt(2)
    values = []
    for snr in grid:
        nv = 10 ** (-snr / 10)
        values.append(gmi(const.llr(s + np.sqrt(nv) * noise, nv), bits))
    return grid, np.maximum.accumulate(np.array(values))


def equivalent_snr(value, curve) -> float:
    grid, values = curve
    return float(np.interp(value, values, grid))


def folded_spectrum(taps, rolloff=0.35, n=4096) -> np.ndarray:
    """|H(f)|^2 at the symbol rate behind the matched filter, per frequency bin: the folded
    raised-cosine spectrum times |C(f)|^2, C the sample-spaced (2 per symbol) taps, unit energy."""
    taps = np.asarray(taps, complex) / np.linalg.norm(taps)
    f = (np.arange(n) + 0.5) / n - 0.5  # cycles per symbol
    folded = np.zeros(n)
    for k in (-1, 0, 1):
        g = f - k
        a = np.abs(g)
        lo, hi = (1 - rolloff) / 2, (1 + rolloff) / 2
        rc = np.where(a <= lo, 1.0, np.where(a <= hi, 0.5 * (1 + np.cos(np.pi / rolloff * (a - lo))), 0.0))
        c = np.polyval(taps[::-1], np.exp(-2j * np.pi * g / 2))  # sum c_m e^{-j 2 pi g m / 2}
        folded += rc * np.abs(c) ** 2
    return folded


def bounds_db(snr_db: float, taps) -> tuple[float, float, float]:
    """SNR bounds of the channel with perfect knowledge, dB: the unbiased infinite-length linear
    MMSE equaliser's, the unbiased MMSE-DFE's (Salz: exp(mean log(1 + SNR |H|^2)) - 1) and the
    matched-filter bound (SNR mean |H|^2)."""
    spectrum = 10 ** (snr_db / 10) * folded_spectrum(taps)
    db = lambda v: float(10 * np.log10(v))
    return (db(1 / np.mean(1 / (spectrum + 1)) - 1), db(np.exp(np.mean(np.log1p(spectrum))) - 1),
            db(np.mean(spectrum)))


def phy(args) -> str:
    from gnuradio.semcom.flowgraphs.air import ACCEPTANCE
    from gnuradio.semcom.phy import burst, waveform
    from gnuradio.semcom.phy.constellations import constellation
    rng = np.random.default_rng(args.seed)
    const = constellation("16qam")
    curve = awgn_gmi_curve(const, rng)
    tx = burst.BurstTransmitter("16qam", "none", "sc", burst_symbols=4096, session=7)
    bits_per_frame = 6 * 4096 * 4
    lines = [f"Es/N0 {args.snr:g} dB, 16-QAM, sc bursts of 4096 payload symbols, {args.frames} frames of 6 bursts; "
             f"the exact demapper's information on the ideal channel is {args.snr:.2f} dB by construction.", "",
             "| channel | bursts | EVM SNR dB | believed SNR dB | gain dB | phase deg | first 1/8 dB | last 1/8 dB "
             "| MMSE / MMSE-DFE / MF bound dB | LLR exact dB | LLR max-log dB | LLR receiver dB | trellis bursts |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for name, imp in CASES.items():
        imp = dict(ACCEPTANCE) if imp is None else imp
        err = []
        believed, gains, head, tail, ex, ml, rx, sent_bits = [], [], [], [], [], [], [], []
        for frame in range(args.frames):
            payload = rng.integers(0, 2, bits_per_frame).astype(np.uint8)
            pieces, sent = [np.zeros(500, np.complex64)], {}
            for header, seg in tx.segments(payload, 0x0102, 512, 768, frame):
                symbols = tx.link.reference_symbols(seg)
                sent[header.segment] = (seg, symbols)
                pieces += [tx.modulate(header, symbols), np.zeros(300, np.complex64)]
            pieces.append(np.zeros(5000, np.complex64))
            stream = through_air(np.concatenate(pieces), args.snr, args.seed + 100 * frame + 1, **imp)
            sync = burst.BurstSynchroniser("sc")
            sync.sequence_detection = True
            events = sync.feed(stream, range(0, len(stream), 150))
            for ev in events:
                if not isinstance(ev, burst.SyncedBurst):
                    continue
                seg, s = sent[ev.header.segment]
                y, nv = ev.symbols[:len(s)], ev.noise_var[:len(s)]
                e = np.abs(y - s) ** 2
                err.append(e)
                believed.append(np.mean(nv))
                gains.append(np.vdot(s, y) / np.vdot(s, s))
                eighth = len(s) // 8
                head.append(np.mean(e[:eighth]))
                tail.append(np.mean(e[-eighth:]))
                ex.append(const.llr(y, nv))
                ml.append(maxlog_llr(const, y, nv))
                rx.append(ex[-1] if ev.llr is None else ev.llr[:len(s) * 4])
                sent_bits.append(seg[:len(s) * 4])
        e = np.concatenate(err)
        trellis_bursts = sum(r is not x for r, x in zip(rx, ex))
        bits = np.concatenate(sent_bits)
        g = np.mean(gains)
        db = lambda v: 10 * np.log10(v)
        bounds = bounds_db(args.snr, imp.get("taps", (1.0,)))
        llr_db = lambda parts: equivalent_snr(gmi(np.concatenate(parts), bits), curve)
        lines.append(f"| {name} | {len(err)} | {-db(np.mean(e)):.2f} | {-db(np.mean(believed)):.2f} | "
                     f"{20 * np.log10(abs(g)):+.3f} | {np.degrees(np.angle(g)):+.2f} | {-db(np.mean(head)):.2f} | "
                     f"{-db(np.mean(tail)):.2f} | {' / '.join(f'{b:.2f}' for b in bounds)} | "
                     f"{llr_db(ex):.2f} | {llr_db(ml):.2f} | {llr_db(rx):.2f} | {trellis_bursts} |")
    return "\n".join(lines)


def images(args) -> str:
    """Per model and receiver (linear equaliser, sequence detector): mean PSNR on the ideal link and
    over the impaired burst link, the loss, and the per-photo loss range (rows of semcom-eval's
    results.csv)."""
    with open(os.path.join(args.results, "results.csv")) as f:
        rows = list(csv.DictReader(f))
    table = {}
    for r in rows:
        table.setdefault(r["codec"], {}).setdefault(r["channel"], {})[r["image"]] = float(r["psnr_db"])
    lines = ["| model | receiver | photos | ideal PSNR dB | impaired PSNR dB | loss dB | per-photo loss min / max dB |",
             "|---|---|---|---|---|---|---|"]
    receivers = {"awgn/sc+impaired": "linear", "awgn/sc+impaired+sequence": "sequence detector"}
    for (codec, by_channel), (label, receiver) in itertools.product(sorted(table.items()), receivers.items()):
        ideal, air = by_channel.get("awgn", {}), by_channel.get(label, {})
        common = sorted(set(ideal) & set(air))
        if not common:
            continue
        loss = np.array([ideal[i] - air[i] for i in common])
        lines.append(f"| {codec} | {receiver} | {len(common)} | {np.mean([ideal[i] for i in common]):.2f} | "
                     f"{np.mean([air[i] for i in common]):.2f} | {loss.mean():.2f} | {loss.min():.2f} / {loss.max():.2f} |")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="command", required=True)
    p = sub.add_parser("phy")
    p.add_argument("--snr", type=float, default=10.0)
    p.add_argument("--frames", type=int, default=2)
    p.add_argument("--seed", type=int, default=1)
    p = sub.add_parser("images")
    p.add_argument("--results", required=True, help="semcom-eval --out folder")
    args = ap.parse_args()
    print(phy(args) if args.command == "phy" else images(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
