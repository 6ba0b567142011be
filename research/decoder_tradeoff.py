#!/usr/bin/env python3
"""PSNR against decode cost of decoders that read the same encoder's bits (a shipped decoder and
narrower ones distilled from it):

  python3 research/decoder_tradeoff.py models/bitsemcom-qpsk-cpp16 runs/fast/export --md research/results/decoder_tradeoff.md

For every model folder, float32 (decoder.onnx) and, where there is one, int8 (decoder.int8.onnx):
  PSNR       mean over the test photos (the data cache's test split, or --images), error-free and over
             AWGN at --snr (research/compare_models.py's scores: the same noise for every model);
  GFLOP      of the decoder on one 768x512 image (research/decoder_speed.py's count);
  core ms    thread CPU time of a one-thread 768x512 decode, medians of --runs alternated between all
             the decoders (research/decoder_speed.py); floor ms = core ms / the CPU's cores.
The first folder is the reference of the difference columns.
"""
import argparse
import datetime
import os
import sys

import numpy as np

from compare_models import scores  # same folder
from decoder_speed import HEIGHT, WIDTH, core_ms, flops


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("folders", nargs="+", help="model folders; the first is the reference")
    p.add_argument("--snr", nargs="+", type=float, default=[0.0, 3.0, 10.0], help="AWGN Es/N0 of QPSK, dB")
    p.add_argument("--images", default="", help="folder of photos (default: the data cache's test split)")
    p.add_argument("--runs", type=int, default=9, help="timed decodes per decoder (default 9)")
    p.add_argument("--md", help="also write the table to this Markdown file")
    args = p.parse_args()
    if args.runs < 1:
        sys.exit("decoder_tradeoff: --runs must be at least 1")
    from gnuradio.semcom.errors import SemcomError
    try:
        return measure(args)
    except SemcomError as err:
        sys.exit(f"decoder_tradeoff: {err}")


def measure(args) -> int:
    from gnuradio.semcom import data
    from gnuradio.semcom.codecs.onnx_model import DECODER_FILES, OnnxModel
    from gnuradio.semcom.imageio import load_image
    for folder in args.folders:  # a missing model fails before any measurement
        OnnxModel(folder, "float32")
    images = [load_image(path) for path in data.split_paths("test", folder=args.images or None)]
    entries = []
    for folder in args.folders:
        for precision, file in DECODER_FILES.items():
            path = os.path.join(folder, file)
            if not os.path.isfile(path):
                continue
            model = OnnxModel(folder, precision)
            c, gh, gw = model.latent_shape(HEIGHT, WIDTH)
            feeds = {"p1": (np.random.default_rng(1).random((1, c, gh, gw)) > 0.5).astype(np.float32)}
            card = model.card
            widths = card.get("backbone", {}).get("decoder_channels") or card.get("backbone", {}).get("channels")
            entries.append({"model": card.get("model_id", folder), "precision": precision, "path": path,
                            "feeds": feeds, "widths": widths, "gflop": flops(path, feeds) / 1e9,
                            "psnr": scores(model, images, args.snr)})
            print(f"{entries[-1]['model']} {precision}: {entries[-1]['psnr']}", file=sys.stderr, flush=True)
    for entry, work in zip(entries, core_ms([(e["path"], e["feeds"]) for e in entries], args.runs)):
        entry["core_ms"] = work
    reference = {e["precision"]: e for e in entries if e["model"] == entries[0]["model"]}
    keys = list(entries[0]["psnr"])
    rows = []
    for e in entries:
        ref = reference.get(e["precision"], e)
        rows.append(f"| {e['model']} | {', '.join(map(str, e['widths'] or []))} | {e['precision']} | {e['gflop']:.1f} | "
                    f"{e['core_ms']:.0f} | {e['core_ms'] / os.cpu_count():.0f} | {e['core_ms'] / ref['core_ms']:.2f} | "
                    + " | ".join(f"{e['psnr'][k]:.2f}" for k in keys) + " | "
                    + " | ".join(f"{e['psnr'][k] - ref['psnr'][k]:+.2f}" for k in keys) + " |")
        print(rows[-1], flush=True)
    names = ["error-free" if k == "error_free" else f"{k} dB" for k in keys]
    text = (f"Decoders of one encoder's bits (`research/decoder_tradeoff.py`), {datetime.date.today()}, load average "
            f"{os.getloadavg()[0]:.1f} at the end. PSNR: mean over {len(images)} test photos, error-free and QPSK "
            f"over AWGN (the same noise for every decoder); GFLOP, core ms (thread CPU time of a one-thread "
            f"{WIDTH}x{HEIGHT} decode, medians of {args.runs} runs alternated between all the decoders) and floor "
            f"ms (core ms / {os.cpu_count()} cores); ratio and differences against {entries[0]['model']} at the same "
            "precision.\n\n"
            "| model | decoder widths | precision | GFLOP | core ms | floor ms | core ratio | "
            + " | ".join(f"PSNR {n}" for n in names) + " | " + " | ".join(f"diff {n}" for n in names) + " |\n"
            + "|---" * (7 + 2 * len(keys)) + "|\n" + "\n".join(rows) + "\n")
    if args.md:
        with open(args.md, "w") as f:
            f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
