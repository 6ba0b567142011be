#!/usr/bin/env python3
"""Where a CNN decoder's multiply-accumulates are, stage by stage, for candidate decoder widths:

  python3 research/decoder_flops.py 32,64,128,192 16,48,128,192 16,32,128,192 --md research/results/decoder_flops.md

Each WIDTHS is the four stage widths in encoder order (the decoder runs them backwards), with the
shipped QPSK model's latent (32 channels), one residual block per stage and sub-pixel upsampling.
GFLOP: 2 x the multiply-accumulates of every Conv2d on one 768x512 image (torch forward hooks),
grouped by the resolution the conv reads (1/16 .. 1/2 of the image; the last upsampling conv reads
1/2). floor ms: GFLOP / (--cores x the per-core rate), at the rates research/decoder_speed.py
measured for the shipped decoder (--fp32-rate, --int8-rate, GFLOP/s per core). Needs torch.
"""
import argparse
import sys

HEIGHT, WIDTH, LATENT = 512, 768, 32


def stage_gflop(widths: list[int]) -> dict:
    """GFLOP per input resolution (its divisor of the image side) of the decoder built with ``widths``."""
    import torch

    from gnuradio.semcom.training import models
    decoder = models.build({"preset": "small", "latent_channels": LATENT, "channels": [32, 64, 128, 192],
                            "decoder_channels": widths, "blocks": 1}).decoder.eval()
    per_stage = {}

    def count(conv, inputs, output):
        side = WIDTH // inputs[0].shape[-1]
        macs = output.numel() * conv.in_channels // conv.groups * conv.kernel_size[0] * conv.kernel_size[1]
        per_stage[side] = per_stage.get(side, 0) + 2 * macs / 1e9

    for m in decoder.modules():
        if isinstance(m, torch.nn.Conv2d):
            m.register_forward_hook(count)
    with torch.no_grad():
        decoder(torch.rand(1, LATENT, HEIGHT // 16, WIDTH // 16))
    return per_stage


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("widths", nargs="+", help="four stage widths, e.g. 16,48,128,192")
    p.add_argument("--fp32-rate", type=float, default=96.0, help="float32 GFLOP/s per core (default 96)")
    p.add_argument("--int8-rate", type=float, default=274.0, help="int8 GOP/s per core (default 274)")
    p.add_argument("--cores", type=int, default=2)
    p.add_argument("--md", help="also write the table to this Markdown file")
    args = p.parse_args()
    try:
        candidates = [[int(w) for w in text.split(",")] for text in args.widths]
    except ValueError:
        candidates = [[]]
    if any(len(w) != 4 or min(w) < 1 for w in candidates) or args.cores < 1:
        sys.exit("decoder_flops: WIDTHS are four positive whole numbers separated by commas, e.g. 16,48,128,192; "
                 "--cores at least 1")
    sides = (16, 8, 4, 2)
    rows = []
    for widths in candidates:
        stages = stage_gflop(widths)
        total = sum(stages.values())
        fp32 = total / (args.cores * args.fp32_rate) * 1e3
        int8 = total / (args.cores * args.int8_rate) * 1e3
        rows.append(f"| {', '.join(map(str, widths))} | " + " | ".join(f"{stages.get(s, 0):.2f}" for s in sides)
                    + f" | {total:.1f} | {fp32:.0f} | {int8:.0f} |")
        print(rows[-1], flush=True)
    text = (f"Decoder GFLOP per stage on one {WIDTH}x{HEIGHT} image (`research/decoder_flops.py`): 2 x the "
            f"multiply-accumulates of every conv, by the resolution it reads; widths in encoder order (the "
            f"shipped QPSK model: 32, 64, 128, 192), latent {LATENT} channels, one residual block per stage. "
            f"floor ms: GFLOP / ({args.cores} cores x {args.fp32_rate:g} GFLOP/s float32 or {args.int8_rate:g} "
            "GOP/s int8 per core, the shipped decoder's measured rates in decoder_speed.md).\n\n"
            "| decoder widths | 1/16 | 1/8 | 1/4 | 1/2 | GFLOP | float32 floor ms | int8 floor ms |\n"
            + "|---" * 8 + "|\n" + "\n".join(rows) + "\n")
    if args.md:
        with open(args.md, "w") as f:
            f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
