#!/usr/bin/env python3
"""Give exported model folders the faster, exact decoder upsampling that semcom-export now writes.

  python3 research/fast_decoders.py models/*
  python3 research/fast_decoders.py --time --md research/results/fast_decoders.md models/*

Rewrites each folder's decoder.onnx and decoder.int8.onnx in place (training/onnx_rewrite.py:
DepthToSpace as a one-hot grouped ConvTranspose, activations moved before it), after checking in
onnxruntime that the output is bit-identical. The decoded image, the card and its scores stay as
they are; the model fingerprint (which hashes the files) changes, so transmitter and receiver
must both use the rewritten folder.

--time first times each decoder before and after the rewrite on one 768x512 image (ONNX Runtime,
default threads; medians of --runs after two warm-ups, the best of 3 rounds alternated between the two graphs) and
writes the table to --md.
"""
import argparse
import datetime
import os
import sys

import numpy as np
from arch_latency import ROUNDS, median_ms  # same folder

from gnuradio.semcom.training import onnx_rewrite

FILES = ("decoder.onnx", "decoder.int8.onnx")


def time_both(path: str, height: int, width: int, runs: int) -> tuple[float, float] | None:
    """(ms before, ms after) of decoding one height x width image; None when nothing to rewrite."""
    import onnx
    model = onnx.load(path)
    before = model.SerializeToString()
    if not onnx_rewrite.fast_upsampling(model):
        return None
    sessions = [onnx_rewrite.session(before), onnx_rewrite.session(model.SerializeToString())]
    name = sessions[0].get_inputs()[0].name
    probe = np.random.default_rng(0).random(next(iter(onnx_rewrite.random_feeds(model, 32).values())).shape,
                                            dtype=np.float32)
    stride = sessions[0].run(None, {name: probe})[0].shape[2] // probe.shape[2]
    x = np.random.default_rng(1).random((1, probe.shape[1], height // stride, width // stride), dtype=np.float32)
    best = [float("inf"), float("inf")]
    for _ in range(ROUNDS):  # alternated, so drift hits both alike
        for k, sess in enumerate(sessions):
            best[k] = min(best[k], median_ms(sess, name, x, runs))
    return best[0], best[1]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("folders", nargs="+", help="model folders (decoder.onnx, optionally decoder.int8.onnx)")
    p.add_argument("--time", action="store_true", help="time each decoder before and after (see above)")
    p.add_argument("--runs", type=int, default=7, help="timed decodes per round (default 7)")
    p.add_argument("--md", help="with --time: write the table to this Markdown file")
    args = p.parse_args()
    failed, rows = 0, []
    for folder in args.folders:
        paths = [os.path.join(folder, f) for f in FILES if os.path.isfile(os.path.join(folder, f))]
        if not paths:
            print(f"{folder}: no decoder.onnx, skipped", file=sys.stderr)
            failed += 1
        for path in paths:
            try:
                timed = time_both(path, 512, 768, args.runs) if args.time else None
                count = onnx_rewrite.rewrite_file(path)
            except Exception as err:  # noqa: BLE001 (onnx and onnxruntime raise their own types)
                print(f"{path}: {str(err).splitlines()[0][:200]}", file=sys.stderr)
                failed += 1
                continue
            print(f"{path}: {count} upsampling(s) rewritten" if count else f"{path}: nothing to rewrite", flush=True)
            if timed:
                rows.append(f"| {os.path.basename(os.path.normpath(folder))} | {os.path.basename(path)} | "
                            f"{timed[0]:.0f} | {timed[1]:.0f} | {timed[1] / timed[0]:.2f} |")
                print(rows[-1], flush=True)
    if args.md and rows:
        from gnuradio.semcom.machine import cpu_summary
        with open(args.md, "w") as f:
            f.write(f"Decode of one 768x512 image before and after `research/fast_decoders.py` (DepthToSpace as a "
                    f"one-hot grouped ConvTranspose, bit-identical output): ONNX Runtime, default threads, medians "
                    f"of {args.runs} runs, best of 3 rounds alternated between the two graphs; {cpu_summary()}; "
                    f"{datetime.date.today()}.\n\n| model | file | before ms | after ms | after / before |\n"
                    "|---|---|---|---|---|\n" + "\n".join(rows) + "\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
