#!/usr/bin/env python3
"""What limits a BitSemCom model's use of its bits: the bits, the decoder, or the training.

  python3 research/bit_limits.py models/bitsemcom-qpsk-cpp16 models/bitsemcom-16qam-cpp16 \\
      --md research/results/bit_limits.md

For each model folder (weights loaded from its ONNX files into the PyTorch model):
  - size: latent channels, bits per pixel, encoder and decoder parameters, decoder MACs per pixel;
  - constant bits: latent positions whose P(b=1) stays within 0.02 of 0 or 1 on every test photo,
    and channels whose bits are constant (they carry nothing);
  - erasure: error-free PSNR on the test photos with all channels, and with only the card's most
    important half (the rest erased to P = 0.5), so a 64-channel model is compared with itself at
    the 32-channel model's budget;
  - overfit: the whole model (or the decoder alone, encoder frozen) fine-tuned error-free on the same
    few fixed crops from the training photos for --steps; the PSNR it reaches on them. A model whose
    bits carry more reaches more where the decoder can follow; equal PSNR with twice the bits says
    the decoder (capacity, or training that never asked for more) is what limits.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np
import torch

from gnuradio.semcom import data, metrics
from gnuradio.semcom.codecs.neural import pad_to_multiple
from gnuradio.semcom.imageio import load_image
from gnuradio.semcom.training.export import load_onnx_weights
from gnuradio.semcom.training.models import BitSemCom, count_params

CONSTANT = 0.02


def build(folder: str) -> tuple[BitSemCom, dict]:
    with open(os.path.join(folder, "card.json")) as f:
        card = json.load(f)
    backbone = {k: v for k, v in card["backbone"].items() if k != "arch"}
    model = BitSemCom(int(card["latent_channels"]), card.get("preset", "small"), card.get("variant", "bitsemcom"),
                      **backbone)
    load_onnx_weights(model, folder)
    return model.eval(), card


def decoder_macs_per_pixel(model: BitSemCom, size: int = 64) -> float:
    """Multiply-accumulates of the decoder's convolutions per output pixel (hooks on a 64x64 decode)."""
    total = [0]

    def hook(module, inputs, output):
        k = module.weight[0].numel()  # cin/groups x kh x kw
        total[0] += output.numel() * k

    handles = [m.register_forward_hook(hook) for m in model.decoder.modules() if isinstance(m, torch.nn.Conv2d)]
    with torch.no_grad():
        model.decoder(torch.full((1, model.latent_channels, size // 16, size // 16), 0.5))
    for h in handles:
        h.remove()
    return total[0] / (size * size)


def tensor(image: np.ndarray) -> tuple[torch.Tensor, tuple[int, int]]:
    padded, _ = pad_to_multiple(image, 16)
    return torch.from_numpy(padded.astype(np.float32).transpose(2, 0, 1)[None] / 255.0), image.shape[:2]


def decode_psnr(model: BitSemCom, images, keep: list[int] | None = None, draws: int = 2) -> float:
    """Mean error-free PSNR; ``keep``: channels sent, the others erased (P = 0.5)."""
    scores = []
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for image in images:
            x, (h, w) = tensor(image)
            p = torch.sigmoid(model.encoder.logits(x))
            for _ in range(draws):
                bits = (torch.rand(p.shape, generator=gen) < p).float()
                if keep is not None:
                    mask = torch.zeros(bits.shape[1], dtype=torch.bool)
                    mask[keep] = True
                    bits[:, ~mask] = 0.5
                out = model.decoder(bits)[0, :, :h, :w].permute(1, 2, 0).numpy()
                scores.append(metrics.psnr(image, np.clip(out * 255.0 + 0.5, 0, 255).astype(np.uint8)))
    return float(np.mean(scores))


def constant_bits(model: BitSemCom, images) -> tuple[float, int]:
    """Share of latent positions (of the top-left 288 px) constant on every image, and channels
    constant everywhere."""
    lo = hi = None
    with torch.no_grad():
        for image in images:
            x, _ = tensor(image[:288, :288])  # every test photo is at least 300 px
            p = torch.sigmoid(model.encoder.logits(x))[0].numpy()
            lo = p if lo is None else np.minimum(lo, p)
            hi = p if hi is None else np.maximum(hi, p)
    const = (hi < CONSTANT) | (lo > 1 - CONSTANT)
    return float(const.mean()), int(const.reshape(const.shape[0], -1).all(axis=1).sum())


def crops(count: int, size: int, seed: int = 0) -> torch.Tensor:
    rng = np.random.default_rng(seed)
    paths = data.split_paths("train")
    out = []
    for i in range(count):
        image = load_image(paths[int(rng.integers(len(paths)))])
        y = int(rng.integers(image.shape[0] - size + 1))
        x = int(rng.integers(image.shape[1] - size + 1))
        out.append(image[y:y + size, x:x + size])
    return torch.from_numpy(np.stack(out).astype(np.float32).transpose(0, 3, 1, 2) / 255.0)


def overfit(folder: str, batch: torch.Tensor, steps: int, decoder_only: bool, lr: float) -> list[tuple[int, float]]:
    """Fine-tunes a fresh copy on ``batch`` error-free; PSNR on it (bits drawn as deployed) along the way."""
    model, _ = build(folder)
    params = model.decoder.parameters() if decoder_only else model.parameters()
    opt = torch.optim.Adam(params, lr=lr)
    curve = []
    for step in range(steps + 1):
        if step % max(steps // 4, 1) == 0:
            model.eval()
            with torch.no_grad():
                mse = float(torch.mean((model(batch) - batch) ** 2))
            curve.append((step, 10 * np.log10(1.0 / mse)))
        if step == steps:
            break
        model.train()
        loss = torch.mean((model(batch) - batch) ** 2)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return curve


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("models", nargs="+", help="BitSemCom model folders")
    p.add_argument("--steps", type=int, default=300, help="overfitting steps (default 300)")
    p.add_argument("--crops", type=int, default=8, help="fixed training crops to overfit (default 8)")
    p.add_argument("--crop", type=int, default=128, help="crop size (default 128)")
    p.add_argument("--lr", type=float, default=3e-4, help="overfitting learning rate (default 3e-4)")
    p.add_argument("--md", help="also write the tables to this Markdown file")
    p.add_argument("--json", help="also write the figures to this JSON file")
    args = p.parse_args()
    torch.manual_seed(0)
    test = [load_image(path) for path in data.split_paths("test")]
    batch = crops(args.crops, args.crop)
    rows, fits = [], []
    for folder in args.models:
        name = os.path.basename(os.path.normpath(folder))
        model, card = build(folder)
        order = card["rate_matching"]["channel_order"]
        latent = model.latent_channels
        share, dead = constant_bits(model, test)
        row = {"model": name, "latent_channels": latent, "bpp": latent / 256,
               "encoder_params": count_params(model.encoder), "decoder_params": count_params(model.decoder),
               "decoder_macs_per_pixel": decoder_macs_per_pixel(model), "constant_positions": share,
               "constant_channels": dead, "psnr_all_db": decode_psnr(model, test)}
        if latent > 32:
            row["psnr_best_32_db"] = decode_psnr(model, test, keep=order[:32])
        rows.append(row)
        print(json.dumps(row), flush=True)
        for decoder_only in (False, True):
            t0 = time.perf_counter()
            curve = overfit(folder, batch, args.steps, decoder_only, args.lr)
            fit = {"model": name, "trained": "decoder" if decoder_only else "whole model", "curve": curve,
                   "seconds": time.perf_counter() - t0}
            fits.append(fit)
            print(json.dumps(fit), flush=True)
    lines = [f"What limits the BitSemCom models' use of their bits (`research/bit_limits.py`; {len(test)} Kodak-like "
             "test photos, error-free, bits drawn as deployed).", "",
             "| model | latent channels | bits per pixel | encoder / decoder parameters | decoder MACs per pixel | "
             "constant positions | constant channels | PSNR, all channels | PSNR, best 32 channels |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        best = f"{r['psnr_best_32_db']:.2f}" if "psnr_best_32_db" in r else "(all)"
        lines.append(f"| {r['model']} | {r['latent_channels']} | {r['bpp']:.3f} | {r['encoder_params']:,} / "
                     f"{r['decoder_params']:,} | {r['decoder_macs_per_pixel']:,.0f} | {r['constant_positions']:.3f} | "
                     f"{r['constant_channels']} | {r['psnr_all_db']:.2f} | {best} |")
    lines += ["", f"Overfitting {args.crops} fixed {args.crop}-px training crops, error-free, Adam lr {args.lr:g}, "
              f"{args.steps} steps from the shipped weights: PSNR on the crops along the way.", "",
              "| model | trained | " + " | ".join(f"step {s}" for s, _ in fits[0]["curve"]) + " | seconds |",
              "|---|---|" + "---|" * (len(fits[0]["curve"]) + 1)]
    for f in fits:
        lines.append(f"| {f['model']} | {f['trained']} | " + " | ".join(f"{v:.2f}" for _, v in f["curve"])
                     + f" | {f['seconds']:.0f} |")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.md:
        with open(args.md, "w") as f:
            f.write(text)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"models": rows, "overfit": fits}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
