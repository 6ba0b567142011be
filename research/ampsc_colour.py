#!/usr/bin/env python3
"""Where AMP-SC's colour shift comes from: kodim23 error-free through a model folder's networks
(its ONNX weights loaded into the PyTorch model), each suspect taken out in turn.

  python3 research/ampsc_colour.py [models/ampsc-b4-16qam-cpp16] [--steps 150]

1. the shipped chain (ONNX): per-channel mean error, hue error (``metrics.hue_error``), PSNR;
2. the quantizer: the same with the unrounded latent x~ (soft bits whose expected level is x~);
3. input range and channel order: flat colours through the chain;
4. the decoder's reach: on the red parrot (256 px crop), the encoder's latent against the latent
   that gradient descent finds best for the decoder (what the decoder alone can do);
5. the output layer: the sigmoid's input on the red parrot against the input that would give the
   original colour, how often it saturates, and the last block's main path against its shortcut;
6. coarse colour: over the test photos (``--photos``), R^2 of the 16x16 cell means in Y, Cb, Cr,
   decoded against original, and of a linear probe from the rounded latent to the original's.
"""
import argparse
import glob
import os
import sys

import numpy as np
import torch

from gnuradio.semcom import metrics
from gnuradio.semcom.codecs.onnx_model import OnnxModel
from gnuradio.semcom.imageio import load_image
from gnuradio.semcom.training import ampsc, export, losses

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SAMPLE = os.path.join(ROOT, "examples", "images", "kodim23.png")
PARROT = (slice(0, 256), slice(384, 640))  # the red parrot's head
YCBCR = np.array(losses.YCBCR)


def to_uint8(t: torch.Tensor) -> np.ndarray:
    return (t[0].clamp(0, 1).permute(1, 2, 0).numpy() * 255 + 0.5).astype(np.uint8)


def to_tensor(image: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(image.astype(np.float32) / 255).permute(2, 0, 1)[None]


def line(label: str, ref: np.ndarray, out: np.ndarray) -> str:
    shift = out.reshape(-1, 3).mean(0) - ref.reshape(-1, 3).mean(0)
    return (f"{label}: mean R/G/B error {shift[0]:+.1f} {shift[1]:+.1f} {shift[2]:+.1f} levels, hue error "
            f"{metrics.hue_error(ref, out):.1f} degrees, PSNR {metrics.psnr(ref, out):.2f} dB")


def output_layer(model, image: np.ndarray) -> None:
    """Item 5: the sigmoid's input (logit) on the saturated red of the parrot."""
    last = model.decoder.synthesis.net[-1]
    seen = {}
    hooks = [last.body.register_forward_hook(lambda m, i, o: seen.__setitem__("main", o)),
             last.shortcut.register_forward_hook(lambda m, i, o: seen.__setitem__("shortcut", o))]
    with torch.no_grad():
        model(to_tensor(image))
    for h in hooks:
        h.remove()
    logit = (seen["main"] + seen["shortcut"])[0].permute(1, 2, 0).numpy()
    hue, sat = metrics.hue_saturation(image)
    red = (sat > 0.6) & ((hue < 20) | (hue > 340)) & (image[..., 0] > 120)
    target = np.clip(image[red] / 255.0, 1e-3, 1 - 1e-3)
    print(f"5. red parrot ({red.sum()} px): logit R/G/B {np.round(logit[red].mean(0), 2)}, the original's "
          f"{np.round(np.log(target / (1 - target)).mean(0), 2)}; |logit| > 4 in "
          f"{100 * (np.abs(logit) > 4).mean():.2f} % of the image's values; main path "
          f"{np.abs(seen['main'].numpy()).mean():.3f} against shortcut {np.abs(seen['shortcut'].numpy()).mean():.3f} (mean |.|)")


def coarse_colour(model, folder: str) -> None:
    """Item 6: how well the 16x16 cell means come back, per Y/Cb/Cr."""
    cells, decoded, latents = [], [], []
    with torch.no_grad():
        for path in sorted(glob.glob(os.path.join(folder, "*.png"))):
            image = load_image(path)
            h, w = image.shape[0] // 16 * 16, image.shape[1] // 16 * 16
            x = to_tensor(image[:h, :w])
            q = model.encoder.quantize(model.encoder.analog(x))
            latents.append(q[0].reshape(q.shape[1], -1).T.numpy())
            for out, t in ((cells, x), (decoded, model(x))):
                out.append(t[0].reshape(3, h // 16, 16, w // 16, 16).mean((2, 4)).reshape(3, -1).T.numpy() @ YCBCR.T)
    cells, decoded, latents = np.concatenate(cells), np.concatenate(decoded), np.concatenate(latents)
    design = np.c_[latents, np.ones(len(latents))]
    probe = design @ np.linalg.lstsq(design, cells, rcond=None)[0]
    r2 = lambda est: np.round(1 - (cells - est).var(0) / cells.var(0), 3)  # noqa: E731
    print(f"6. 16x16 cell means, {len(cells)} cells: R^2 Y/Cb/Cr decoded {r2(decoded)}, "
          f"linear probe from the latent {r2(probe)}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("folder", nargs="?", default=os.path.join(ROOT, "models", "ampsc-b4-16qam-cpp16"))
    p.add_argument("--steps", type=int, default=150, help="gradient steps of the best-latent search")
    p.add_argument("--photos", default=os.path.expanduser("~/.cache/gr-semcom/data/test"),
                   help="folder of test photos for item 6")
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
    output_layer(model, image)
    coarse_colour(model, args.photos)


if __name__ == "__main__":
    main()
