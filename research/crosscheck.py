#!/usr/bin/env python3
"""Our PHY against scikit-commpy: bit error rates over AWGN, ours beside theirs beside the closed form.

  make -f research/Makefile crosscheck          # builds build/xcheck-venv (scikit-commpy) first
  .venv/bin/python research/crosscheck.py --md research/results/crosscheck.md

Uncoded Gray QPSK, 16-QAM and 64-QAM with hard decisions: ours (phy.constellations, phy.channels)
and theirs (commpy.modulation.QAMModem, commpy.channels.awgn), each with its own bits and noise,
against phy.theory.ber_awgn. LDPC-coded QPSK: the same codewords (our encoder; commpy checks them
against its own reading of the parity-check matrix), then ours (exact LLRs, normalised min-sum)
and theirs (commpy's soft demodulator and sum-product decoder, the matrix read from the design
file that commpy writes from our alist), each over its own noise. Info-bit BER and frame error rate.

commpy runs in its own venv (--xcheck-python): this script starts it with --theirs, which imports
commpy and numpy only, and reads the codewords and the matrix from a .npz.
"""
import argparse
import datetime
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

UNCODED = {"qpsk": (0, 3, 6, 9), "16qam": (6, 10, 14), "64qam": (12, 16, 20)}
CODED_SNR_DB = (0.0, 0.5, 1.0, 1.5, 2.0)
ITERATIONS = 50


# ---------------------------------------------------------------- theirs (commpy's venv: commpy and numpy only)

def theirs(job: dict) -> dict:
    import scipy.sparse as sp
    from commpy.channelcoding import ldpc
    from commpy.channels import awgn
    from commpy.modulation import QAMModem

    rng_seed = job["seed"]
    np.random.seed(rng_seed)  # commpy draws noise from numpy's global generator
    from importlib.metadata import version
    out = {"uncoded": {}, "coded": {}, "version": version("scikit-commpy")}
    for name, order in (("qpsk", 4), ("16qam", 16), ("64qam", 64)):
        modem = QAMModem(order)
        k = modem.num_bits_symbol
        for snr in UNCODED[name]:
            errors = 0
            for _ in range(job["chunks"]):
                bits = np.random.randint(0, 2, job["symbols"] * k)
                y = awgn(modem.modulate(bits), snr)
                errors += int(np.count_nonzero(modem.demodulate(y, "hard") != bits))
            out["uncoded"][f"{name} {snr:g}"] = errors / (job["chunks"] * job["symbols"] * k)
    data = np.load(job["npz"])
    h, words, m = data["h"], data["codewords"], int(data["m"])
    with tempfile.TemporaryDirectory() as tmp:
        design = os.path.join(tmp, "code.txt")
        ldpc.write_ldpc_params(h, design)
        params = ldpc.get_ldpc_code_params(design)
    rows = params["cnode_adj_list"].reshape(params["n_cnodes"], params["max_cnode_deg"])
    matrix = sp.lil_matrix((params["n_cnodes"], params["n_vnodes"]), dtype=np.int8)
    for c in range(params["n_cnodes"]):
        matrix[c, rows[c, :params["cnode_deg_list"][c]]] = 1
    params["parity_check_matrix"] = matrix.tocsc()
    out["codewords_valid"] = bool(not (params["parity_check_matrix"] @ words.T.astype(np.int64) % 2).any())
    modem = QAMModem(4)
    for snr in CODED_SNR_DB:
        bit_errors = frame_errors = 0
        for word in words:
            y = awgn(modem.modulate(word), snr)
            n0 = modem.Es / 10 ** (snr / 10)
            llr = -modem.demodulate(y, "soft", n0)  # commpy's demodulator: positive = 1; its decoder: positive = 0
            decoded, _ = ldpc.ldpc_bp_decode(llr, params, "SPA", ITERATIONS)
            wrong = int(np.count_nonzero(decoded[m:] != word[m:]))
            bit_errors += wrong
            frame_errors += wrong > 0
        out["coded"][f"{snr:g}"] = {"ber": bit_errors / (len(words) * (h.shape[1] - m)),
                                    "fer": frame_errors / len(words)}
    return out


# ---------------------------------------------------------------- ours

def ours(symbols: int, chunks: int, words_info: np.ndarray, seed: int) -> dict:
    from gnuradio.semcom.phy import channels, ldpc
    from gnuradio.semcom.phy.constellations import constellation

    rng = np.random.default_rng(seed)
    out = {"uncoded": {}, "coded": {}}
    for name, grid in UNCODED.items():
        const = constellation(name)
        k = const.bits_per_symbol
        for snr in grid:
            errors = 0
            for _ in range(chunks):
                bits = rng.integers(0, 2, symbols * k, dtype=np.uint8)
                y = channels.awgn(const.modulate(bits), snr, rng)
                errors += int(np.count_nonzero(const.hard_bits(y) != bits))
            out["uncoded"][f"{name} {snr:g}"] = errors / (chunks * symbols * k)
    code = ldpc.code("ldpc-1/2")
    qpsk = constellation("qpsk")
    words = code.encode(words_info)
    for snr in CODED_SNR_DB:
        y = channels.awgn(qpsk.modulate(words.reshape(-1)), snr, rng)
        llr = qpsk.llr(y, channels.noise_var(snr)).reshape(words.shape)
        info, _ = code.decode_info(llr, ITERATIONS)
        wrong = np.count_nonzero(info != words[:, code.m:], axis=1)
        out["coded"][f"{snr:g}"] = {"ber": float(wrong.sum() / info.size), "fer": float(np.mean(wrong > 0))}
    return out, code, words


def table(mine: dict, other: dict, code, bits: int, frames: int) -> str:
    from gnuradio.semcom.phy import theory

    lines = [f"`research/crosscheck.py` against scikit-commpy {other['version']}, {datetime.date.today()}.", "",
             f"Uncoded Gray QAM over AWGN, hard decisions: bit error rate ({bits} symbols a point, each side).", "",
             "| modulation | Es/N0 dB | ours | commpy | closed form | ours / closed form | commpy / closed form |",
             "|---|---|---|---|---|---|---|"]
    for name, grid in UNCODED.items():
        for snr in grid:
            key, exact = f"{name} {snr:g}", theory.ber_awgn(name, snr)
            a, b = mine["uncoded"][key], other["uncoded"][key]
            lines.append(f"| {name} | {snr:g} | {a:.3e} | {b:.3e} | {exact:.3e} | {a / exact:.3f} | {b / exact:.3f} |")
    lines += ["", f"LDPC-coded QPSK over AWGN ({code.name}, n = {code.n}, k = {code.k}; the same codewords, each "
              f"side's own noise; at most {ITERATIONS} iterations): info-bit BER and frame error rate. Ours: exact "
              f"LLRs, normalised min-sum (alpha 0.8); {frames} codewords a point; commpy: its soft demodulator "
              "and sum-product decoder. Closed form: uncoded QPSK at the same Es/N0. Codewords satisfy commpy's "
              "reading of the parity-check matrix: "
              f"{'yes' if other['codewords_valid'] else 'NO'}.", "",
              "| Es/N0 dB | ours BER | commpy BER | ours FER | commpy FER | uncoded QPSK (closed form) |",
              "|---|---|---|---|---|---|"]
    for snr in CODED_SNR_DB:
        a, b = mine["coded"][f"{snr:g}"], other["coded"][f"{snr:g}"]
        lines.append(f"| {snr:g} | {a['ber']:.2e} | {b['ber']:.2e} | {a['fer']:.3f} | {b['fer']:.3f} | "
                     f"{theory.ber_awgn('qpsk', snr):.2e} |")
    return "\n".join(lines) + "\n"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--xcheck-python", default="build/xcheck-venv/bin/python", help="python of the venv with commpy")
    p.add_argument("--symbols", type=int, default=100_000, help="symbols per chunk (uncoded)")
    p.add_argument("--chunks", type=int, default=4, help="chunks per uncoded point")
    p.add_argument("--frames", type=int, default=200, help="LDPC codewords per coded point")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--md", help="also write the tables to this Markdown file")
    p.add_argument("--theirs", help=argparse.SUPPRESS)  # a JSON job: run in commpy's venv, print JSON
    args = p.parse_args()
    if args.theirs:
        print(json.dumps(theirs(json.loads(args.theirs))))
        return 0
    if not os.path.isfile(args.xcheck_python):
        sys.exit(f"crosscheck: no {args.xcheck_python}; make -f research/Makefile crosscheck builds commpy's venv")
    from gnuradio.semcom.phy import ldpc
    info = np.random.default_rng(args.seed + 1).integers(0, 2, (args.frames, ldpc.code("ldpc-1/2").k), dtype=np.uint8)
    mine, code, words = ours(args.symbols, args.chunks, info, args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        npz = os.path.join(tmp, "code.npz")
        np.savez(npz, h=code.dense_h(), codewords=words, m=code.m)
        job = {"seed": args.seed, "symbols": args.symbols, "chunks": args.chunks, "npz": npz}
        done = subprocess.run([args.xcheck_python, os.path.abspath(__file__), "--theirs", json.dumps(job)],
                              capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"crosscheck: commpy's side failed: {(done.stderr.strip().splitlines() or ['?'])[-1]}")
    text = table(mine, json.loads(done.stdout), code, args.symbols * args.chunks, args.frames)
    print(text, end="")
    if args.md:
        with open(args.md, "w") as f:
            f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
