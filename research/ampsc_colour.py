#!/usr/bin/env python3
"""Where AMP-SC's colour shift comes from: kodim23 error-free through a model folder's networks
(its ONNX weights loaded into the PyTorch model), each suspect taken out in turn.

  python3 research/ampsc_colour.py [models/ampsc-b4-16qam-cpp16] [--steps 150]

1. the shipped chain (ONNX): per-channel mean error, hue error (``metrics.hue_error``), PSNR;
2. the quantizer: the same with the unrounded latent x~ (soft bits whose expected level is x~);
3. input range and channel order: flat colours through the chain;
4. the decoder's reach: on the red parrot (256 px crop), the encoder's latent against the latent
   that gradient descent finds best for the decoder (what the decoder alone can do).
"""
import argparse
import os
import sys

import numpy as np
import torch

from gnuradio.semcom import metrics
from gnuradio.semcom.codecs.onnx_model import OnnxModel
from gnuradio.semcom.imageio import load_image
from gnuradio.semcom.training import ampsc, export

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SAMPLE = os.path.join(ROOT, "examples", "images", "kodim23.png")
PARROT = (slice(0, 256), slice(384, 640))  # the red parrot's head


def to_uint8(t: torch.Tensor) -> np.ndarray:
    return (t[0].clamp(0, 1).permute(1, 2, 0).numpy() * 255 + 0.5).astype(np.uint8)


def to_tensor(image: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(image.astype(np.float32) / 255).permute(2, 0, 1)[None]


def line(label: str, ref: np.ndarray, out: np.ndarray) -> str:
    shift = out.reshape(-1, 3).mean(0) - ref.reshape(-1, 3).mean(0)
    return (f"{label}: mean R/G/B error {shift[0]:+.1f} {shift[1]:+.1f} {shift[2]:+.1f} levels, hue error "
            f"{metrics.hue_error(ref, out):.1f} degrees, PSNR {metrics.psnr(ref, out):.2f} dB")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("folder", nargs="?", default=os.path.join(ROOT, "models", "ampsc-b4-16qam-cpp16"))
    p.add_argument("--steps", type=int, default=150, help="gradient steps of the best-latent search")
    args = p.parse_args()
    torch.manual_seed(0)
    onnx_model = OnnxModel(args.folder)
    card = onnx_model.card
    if card.get("codec") != "ampsc":
        sys.exit(f"{args.folder} is not an AMP-SC model")
    bits = int(card["quantizer_bits"])
    model = ampsc.build({"latent_channels": int(card["latent_channels"]), "bits": bits, "preset": card["preset"],
                         "irsnet": bool(card.get("backbone", {}).get("irsnet", True))})
    export.load_onnx_weights(model, args.folder)
    model.eval()
    image = load_image(SAMPLE)
    h, w = image.shape[:2]
    print(line("1. shipped chain (ONNX)", image, onnx_model.decode(onnx_model.encode(image).astype(np.float32), h, w)))
    x = to_tensor(image)
    with torch.no_grad():
        xt = model.encoder.analog(x)
        top = 2 ** (bits - 1)
        level = (xt + top - 1).clamp(0, 2 ** bits - 1) / (2 ** bits - 1)  # every bit's p: expected level = x~
        p1 = level.repeat_interleave(bits, dim=1)
        print(line("2. unrounded latent", image, to_uint8(model.decoder(p1))))
        for colour in ((204, 26, 26), (26, 179, 26), (26, 26, 204), (230, 128, 26)):
            flat = np.zeros((64, 64, 3), np.uint8) + np.array(colour, np.uint8)
            out = to_uint8(model(to_tensor(flat)))[16:48, 16:48].reshape(-1, 3).mean(0)
            print(f"3. flat {colour} -> {tuple(int(round(v)) for v in out)}")
        crop = image[PARROT]
        xc = to_tensor(crop)
        z = model.decoder.restore(model.encoder.quantize(model.encoder.analog(xc)))
        print(line("4. red parrot, encoder's latent", crop, to_uint8(model.decoder.synthesize(z))))
    z = z.clone().requires_grad_(True)
    opt = torch.optim.Adam([z], lr=0.05)
    for _ in range(args.steps):
        loss = torch.mean((model.decoder.synthesize(z) - xc) ** 2)
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        print(line(f"4. red parrot, best latent ({args.steps} steps)", crop, to_uint8(model.decoder.synthesize(z))))


if __name__ == "__main__":
    main()
