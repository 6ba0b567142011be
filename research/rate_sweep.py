#!/usr/bin/env python3
"""One learned model at many rates (rate matching), beside the SSCC envelope at the same cpp.

For every --cpps value, semcom-eval's sweep (the GNU Radio chain, ideal synchronised channel) runs
the learned codecs over their links and the conventional codecs over every LDPC link, at each
--snr. Writes --out/rates.csv (every row, with its cpp), rates.md (mean PSNR per series, cpp
across) and psnr_vs_cpp.png (one panel per SNR).

  python3 research/rate_sweep.py --images ~/.cache/gr-semcom/data/test --out docs/results/rates
"""
import argparse
import csv
import math
import os
import sys
from fractions import Fraction

from gnuradio.semcom.cli.eval import DEFAULT_LINKS
from gnuradio.semcom.evaluation import sweep

CPPS = ("1/64", "1/48", "1/32", "1/24", "1/16", "1/12", "1/8")
LEARNED = ("bitsemcom-qpsk-cpp16@qpsk", "bitsemcom-16qam-cpp16@16qam", "bitsemcom@qpsk")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--images", default="examples/images")
    p.add_argument("--cpps", nargs="+", default=list(CPPS))
    p.add_argument("--snr", nargs="+", type=float, default=[0.0, 10.0])
    p.add_argument("--learned", nargs="+", default=list(LEARNED), help="CODEC@MODULATION (uncoded)")
    p.add_argument("--conventional", nargs="+", default=["sscc"])
    p.add_argument("--only", choices=["learned", "conventional"],
                   help="run one side and keep the other's rows from --out/rates.csv (the conventional side "
                        "takes most of the time and does not change with the models)")
    p.add_argument("--out", default="docs/results/rates")
    args = p.parse_args()
    images = sweep.images_in(args.images, 0)
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "rates.csv")
    rows = []
    if args.only and os.path.exists(path):
        keep = sweep.CONVENTIONAL if args.only == "learned" else sweep.LEARNED
        rows = [r for r in sweep.read_rows(path) if r["family"] == keep]  # its "cpp" column comes along
    for cpp_text in args.cpps:
        cpp = float(Fraction(cpp_text))
        for item in args.learned if args.only != "conventional" else ():
            codec, modulation = item.split("@")
            for r in sweep.sweep(images, [codec], [], ["awgn"], args.snr, cpp, learned_links=(modulation,),
                                 reference=False):
                rows.append({**r, "codec": item, "cpp": cpp_text})
        for r in sweep.sweep(images, args.conventional if args.only != "learned" else [], DEFAULT_LINKS, ["awgn"],
                             args.snr, cpp, reference=False):
            rows.append({**r, "cpp": cpp_text})
        print(f"cpp {cpp_text}: done ({len(rows)} rows)", file=sys.stderr, flush=True)
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["cpp"] + sweep.FIELDS)
        writer.writeheader()
        writer.writerows(rows)
    table = {}  # (snr, series) -> {cpp: mean PSNR}
    for cpp_text in args.cpps:
        for (_, name), d in sweep.series([r for r in rows if r["cpp"] == cpp_text]).items():
            for snr, (psnr, _) in d.items():
                table.setdefault((snr, name), {})[cpp_text] = psnr
    skipped = sorted({(r["codec"], r["cpp"]) for r in rows if math.isnan(r["psnr_db"])})
    lines = [f"Mean PSNR (dB) over {len(images)} images, AWGN, ideal synchronised channel; learned codecs uncoded "
             "(`codec@modulation`), the SSCC envelope the best conventional codec x LDPC link per image. "
             + (f"Points without a result: {skipped}.\n" if skipped else "Every series covers every image.\n")]
    for snr in args.snr:
        lines += [f"**{snr:g} dB**\n", "| series | " + " | ".join(f"cpp {c}" for c in args.cpps) + " |",
                  "|---" * (len(args.cpps) + 1) + "|"]
        for (s, name), d in sorted(table.items()):
            if s == snr:
                lines.append(f"| {name} | " + " | ".join(f"{d[c]:.2f}" if c in d else "-" for c in args.cpps) + " |")
        lines.append("")
    with open(os.path.join(args.out, "rates.md"), "w") as f:
        f.write("\n".join(lines))
    plot(table, args.cpps, args.snr, os.path.join(args.out, "psnr_vs_cpp.png"), len(images))
    print("\n".join(lines))


def plot(table, cpps, snrs, path, n_images):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    x = [float(Fraction(c)) for c in cpps]
    fig, axes = plt.subplots(1, len(snrs), figsize=(6.5 * len(snrs), 4.5), squeeze=False)
    for ax, snr in zip(axes[0], snrs):
        for (s, name), d in sorted(table.items()):
            if s != snr:
                continue
            style = dict(lw=2.5, color="k") if name == sweep.ENVELOPE else dict(marker="o")
            ax.plot([xi for xi, c in zip(x, cpps) if c in d], [d[c] for c in cpps if c in d], label=name, **style)
        ax.set_xscale("log", base=2)
        ax.set_xticks(x, cpps)
        ax.set(title=f"AWGN {snr:g} dB, {n_images} images", xlabel="channel uses per pixel", ylabel="PSNR (dB)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main()
