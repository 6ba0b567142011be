#!/usr/bin/env python3
"""ONNX Runtime latency of candidate CNN backbones before training them (random weights: the time
does not depend on them), to choose one that meets the 150 ms encode / decode target on this CPU:

  python3 research/arch_latency.py 32,64,128,192 16,32,128,192 --md research/results/arch_latency.md

Each STAGES is the four stage widths (encoder order; the decoder mirrors them) of the ``small``
preset with one residual block per stage and sub-pixel upsampling, as the shipped QPSK model.
Encoder as exported (image (1, 3, H, W) -> bits, logits); decoder: P(b=1) -> image; one 768x512 image by default,
ONNX Runtime with its default threads; medians of --runs after two warm-up runs, the best of three
rounds alternated between the candidates. Needs the training side's torch.
"""
import argparse
import os
import tempfile
import time
import warnings

import numpy as np


ROUNDS = 3


def median_ms(session, name: str, x: np.ndarray, runs: int) -> float:
    """Median wall time (ms) of ``runs`` session runs on input ``name`` = ``x``, after two warm-ups."""
    for _ in range(2):
        session.run(None, {name: x})
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        session.run(None, {name: x})
        times.append(time.perf_counter() - t0)
    return 1000 * float(np.median(times))


def build(stages: list[int], latent: int, height: int, width: int) -> dict:
    """ONNX Runtime sessions of an untrained model's encoder (as exported: image -> bits, logits) and
    decoder, and their inputs."""
    import onnxruntime as ort
    import torch

    from gnuradio.semcom.training import models
    from gnuradio.semcom.training.export import _encoder_wrapper, fast_upsampling_file

    model = models.build({"preset": "small", "latent_channels": latent, "channels": stages, "blocks": 1}).eval()
    folder = tempfile.mkdtemp()
    paths = {"encoder": os.path.join(folder, "encoder.onnx"), "decoder": os.path.join(folder, "decoder.onnx")}
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(_encoder_wrapper(model.encoder), (torch.rand(1, 3, 64, 64),), paths["encoder"],
                          dynamo=False, input_names=["image"], output_names=["bits", "logits"],
                          dynamic_axes={"image": {2: "h", 3: "w"}})
        torch.onnx.export(model.decoder, (torch.rand(1, latent, 4, 4),), paths["decoder"], dynamo=False,
                          input_names=["p1"], output_names=["image"], dynamic_axes={"p1": {2: "h", 3: "w"}})
    fast_upsampling_file(paths["decoder"])  # as semcom-export writes it
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    rng = np.random.default_rng(0)
    return {"params_m": sum(p.numel() for p in model.parameters()) / 1e6,
            "encoder": (ort.InferenceSession(paths["encoder"], opts, providers=["CPUExecutionProvider"]), "image",
                        rng.random((1, 3, height, width), dtype=np.float32)),
            "decoder": (ort.InferenceSession(paths["decoder"], opts, providers=["CPUExecutionProvider"]), "p1",
                        rng.random((1, latent, height // models.STRIDE, width // models.STRIDE), dtype=np.float32))}


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("stages", nargs="+", metavar="STAGES", help="four stage widths, e.g. 32,64,128,192")
    p.add_argument("--latent", type=int, default=32, help="latent channels (bits per 16x16 block)")
    p.add_argument("--size", default="768x512", help="WxH of the image, multiples of 16")
    p.add_argument("--runs", type=int, default=7)
    p.add_argument("--md", help="also write the table to this markdown file")
    args = p.parse_args(argv)
    try:
        stages = [[int(v) for v in s.split(",")] for s in args.stages]
        width, height = (int(v) for v in args.size.lower().split("x"))
    except ValueError:
        raise SystemExit("STAGES are four comma-separated widths (32,64,128,192); --size is WxH (768x512)") from None
    if any(len(s) != 4 or min(s) < 1 for s in stages) or width % 16 or height % 16 or min(width, height) < 16 \
            or args.runs < 1:
        raise SystemExit("each STAGES needs four positive widths, --size multiples of 16, --runs >= 1")
    from gnuradio.semcom.machine import cpu_summary
    built = [build(s, args.latent, height, width) for s in stages]
    best = [{"encoder": float("inf"), "decoder": float("inf")} for _ in stages]
    for _ in range(ROUNDS):  # rounds alternate between the candidates, so drift hits them alike
        for b, got in zip(built, best):
            for role in got:
                got[role] = min(got[role], median_ms(*b[role], args.runs))
    lines = [f"Untrained backbones, one {width}x{height} image, ONNX Runtime (medians of {args.runs} runs, best of "
             f"{ROUNDS} rounds alternated between them; ratio = this one / the first; {cpu_summary()}).", "",
             "| stages | parameters | encode ms | decode ms | encode ratio | decode ratio |", "|---|---|---|---|---|---|"]
    for s, b, got in zip(stages, built, best):
        lines.append(f"| {', '.join(map(str, s))} | {b['params_m']:.2f} M | {got['encoder']:.0f} | {got['decoder']:.0f} | "
                     f"{got['encoder'] / best[0]['encoder']:.2f} | {got['decoder'] / best[0]['decoder']:.2f} |")
    print("\n".join(lines))
    if args.md:
        with open(args.md, "w") as f:
            f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
