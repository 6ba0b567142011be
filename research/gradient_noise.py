#!/usr/bin/env python3
"""Gradient noise of a training config at a model's weights: how much a step's gradient is signal.

  python3 research/gradient_noise.py configs/bitsemcom_qpsk_cpp16_wide.json models/bitsemcom-qpsk-cpp16 \
      --md research/results/training/gradient_noise.md

For K minibatches of the config's batch B (its first stage through a channel, or CONFIG@STAGE), with g_i the
gradient of batch i over the trainable parameters and g the mean of the K:
  - per-batch noise tr(C_B) = K/(K-1) mean |g_i - g|^2, and signal |G|^2 = |g|^2 - tr(C_B)/K;
  - the simple noise scale B_noise = B tr(C_B) / |G|^2 (McCandlish et al. 2018, "An empirical model
    of large-batch training"): batches far below it are noise-dominated (a step's progress grows
    about linearly with the batch up to B_noise, so steps of batch B need about 1 + B_noise/B
    times the steps of a noise-free run);
  - the share of the noise from the model's own draws: K more gradients over F fixed batches of
    crops (K/F draws each), where only the bit draws (Gumbel) and the channel (SNR, noise, fading)
    change; their pooled within-batch noise over tr(C_B). Both are estimates from K samples: rows
    near or above 100 % say the draws dominate, not more.
"""
import argparse
import contextlib
import os
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "python"))  # the training code runs from the source tree

from semcom.errors import SemcomError  # noqa: E402


def flat_gradient(trainer, x, index):
    """The gradient of one training step's loss (``Trainer.loss``), over the trainable parameters."""
    import torch
    trainer.model.zero_grad(set_to_none=True)
    trainer.loss(x, x, index).backward()
    grads = [p.grad.detach().flatten() for p in trainer.model.parameters() if p.grad is not None]
    return torch.cat(grads).double()


def noise_scale(grads, batch):
    import torch
    g = torch.stack(grads)
    k = g.shape[0]
    mean = g.mean(0)
    noise = float(((g - mean) ** 2).sum(1).mean()) * k / (k - 1)
    signal = float((mean ** 2).sum()) - noise / k
    return {"noise": noise, "signal": signal, "b_noise": batch * noise / signal if signal > 0 else float("inf")}


def measure(config, folder, batches, stage, train, fixed_batches=4, progress=True):
    from semcom.training.export import load_onnx_weights
    from semcom.training.recipe import set_trainable
    from semcom.training.trainer import Trainer, load_config

    cfg = load_config(config)
    cfg["precision"] = "fp32"
    with tempfile.TemporaryDirectory() as tmp, contextlib.redirect_stdout(sys.stderr):
        t = Trainer(cfg, tmp, progress=False)
        if folder:
            load_onnx_weights(t.model, folder)
        index = stage if stage is not None else next(
            (i for i, s in enumerate(t.stages) if s["channel"]["kind"] != "error-free"), 0)
        if index >= len(t.stages):
            raise SemcomError(f"{config} has {len(t.stages)} recipe stage(s); there is no stage {index}")
        trains = train or t.stages[index].get("train")
        set_trainable(t.model, trains)
        t.model.train()
        sampler = t._sampler()
        batch = int(cfg["data"]["batch"])
        fixed = [next(sampler) for _ in range(fixed_batches)]
        full, draws = [], [[] for _ in fixed]
        t0 = time.time()
        for i in range(batches):
            full.append(flat_gradient(t, next(sampler), index))
            draws[i % fixed_batches].append(flat_gradient(t, fixed[i % fixed_batches], index))
            if progress:
                print(f"\r{cfg['name']}: {i + 1}/{batches} batch pairs, {time.time() - t0:.0f} s", end="",
                      file=sys.stderr, flush=True)
        if progress:
            print(file=sys.stderr)
    a = noise_scale(full, batch)
    draw_noise = float(np.mean([noise_scale(group, batch)["noise"] for group in draws]))
    return {"config": cfg["name"], "model": folder or "(initial weights)", "stage": t.stages[index]["name"],
            "channel": t.stages[index]["channel"]["kind"], "batch": batch, "crop": int(cfg["data"]["crop"]),
            "batches": batches, "fixed": fixed_batches, "trains": ", ".join(trains) if trains else "whole model",
            "params": int(sum(p.numel() for p in t.model.parameters() if p.requires_grad)),
            "b_noise": a["b_noise"], "steps_factor": 1 + a["b_noise"] / batch,
            "draw_share": draw_noise / a["noise"]}


def markdown(rows):
    lines = ["Gradient noise at the shipped weights (`research/gradient_noise.py`; fp32; K batch pairs each; "
             "B_noise = B tr(C_B)/|G|^2; draw share: the noise left when the crops are fixed and only the "
             "bit draws and the channel change, pooled over fixed batches).", "",
             "| model | config (stage, channel) | trains | crop x batch | K / F | B_noise, images | steps vs noise-free at this batch | draw share of the noise |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {os.path.basename(r['model'].rstrip('/'))} | {r['config']} ({r['stage']}, {r['channel']}) | "
                     f"{r['trains']} ({r['params'] / 1e6:.2f} M) | {r['crop']} x {r['batch']} | {r['batches']} / {r['fixed']} | "
                     f"{r['b_noise']:.0f} | {r['steps_factor']:.1f}x | {100 * r['draw_share']:.0f} % |")
    return "\n".join(lines) + "\n"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    p.add_argument("pairs", nargs="+", metavar="CONFIG[@STAGE] MODEL",
                   help="config and model folder pairs (the model's weights are loaded into the config's "
                        "model); CONFIG@STAGE measures the 0-based recipe stage STAGE")
    p.add_argument("--batches", type=int, default=24, help="K, minibatches per estimate (default 24)")
    p.add_argument("--fixed", type=int, default=4, help="F, fixed crop batches for the draw share (default 4)")
    p.add_argument("--train", action="append", help="module that trains (repeat; default: the stage's)")
    p.add_argument("--md", help="write the table here too")
    args = p.parse_args(argv)
    if len(args.pairs) % 2 or args.fixed < 1 or args.batches < 2 * args.fixed:
        p.error("give CONFIG MODEL pairs, and --batches of at least twice --fixed")
    try:
        rows = []
        for spec, folder in zip(args.pairs[::2], args.pairs[1::2]):
            config, _, stage = spec.partition("@")
            if stage and not stage.isdigit():
                p.error(f"{spec}: the stage after @ is a 0-based number")
            rows.append(measure(config, folder, args.batches, int(stage) if stage else None, args.train, args.fixed))
    except SemcomError as err:
        print(f"gradient_noise: {err}", file=sys.stderr)
        return 1
    text = markdown(rows)
    print(text, end="")
    if args.md:
        with open(args.md, "w") as f:
            f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
