#!/usr/bin/env python3
"""Can a colour correction after AMP-SC's decoder, fitted in closed form, fix its colours?

  python3 research/ampsc_colour_fit.py [models/ampsc-b4-16qam-cpp16] [--snrs 10 15]

The decoder's float output on the training photos (error-free, and through hard-decision 16-QAM
AWGN at ``--snrs`` Es/N0 dB) against the photos gives, by least squares, three corrections of
decoded RGB: a 3x3 matrix + offset (a 1x1 conv), per-channel gain + offset in YCbCr (BT.601), and
the matrix fitted on 16x16 block means and applied to the output's block means only (the detail
added back); and, beyond the decoded colours, the 16x16 block means of Cb and Cr predicted from the
received bits of each cell (a 1x1 conv on the decoder's input; the block-mean chroma replaced).
Each is fitted on the error-free outputs and on all of them, then applied to the
test photos decoded error-free: mean PSNR, and kodim23's hue error (``metrics.hue_error``); last,
the same with the original's block-mean Cb/Cr put in (the most a block-mean correction can do).
"""
import argparse
import os

import numpy as np

from gnuradio.semcom import data, metrics
from gnuradio.semcom.codecs.onnx_model import OnnxModel
from gnuradio.semcom.imageio import load_image
from gnuradio.semcom.phy import channels
from gnuradio.semcom.phy.constellations import constellation
from gnuradio.semcom.training import losses

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
YCBCR = np.array(losses.YCBCR)  # BT.601 RGB -> Y, Cb, Cr
BLOCK = 16


class Normal:
    """Normal equations of a least-squares fit of targets on [inputs, 1], summed over samples."""

    def __init__(self, n_in: int, n_out: int):
        self.a, self.b = np.zeros((n_in + 1, n_in + 1)), np.zeros((n_in + 1, n_out))

    def add(self, inputs: np.ndarray, targets: np.ndarray) -> None:
        design = np.c_[inputs, np.ones(len(inputs))]
        self.a += design.T @ design
        self.b += design.T @ targets

    def solve(self) -> np.ndarray:
        return np.linalg.lstsq(self.a, self.b, rcond=None)[0]


def block_means(image: np.ndarray) -> np.ndarray:
    h, w = image.shape[0] // BLOCK, image.shape[1] // BLOCK
    return image.reshape(h, BLOCK, w, BLOCK, 3).mean((1, 3))


def affine(coef: np.ndarray, rgb: np.ndarray) -> np.ndarray:
    return rgb @ coef[:3] + coef[3]


class Fits:
    """The three corrections' normal equations over the photos added."""

    def __init__(self, n_bits: int):
        self.rgb, self.low = Normal(3, 3), Normal(3, 3)
        self.ycc = [Normal(1, 1) for _ in range(3)]
        self.bits = Normal(n_bits, 2)

    def add(self, decoded: np.ndarray, bits: np.ndarray, original: np.ndarray) -> None:
        d, o = decoded.reshape(-1, 3), original.reshape(-1, 3)
        self.bits.add(bits.reshape(len(bits), -1).T, (block_means(original).reshape(-1, 3) @ YCBCR[1:].T))
        self.rgb.add(d, o)
        for ch, eq in enumerate(self.ycc):
            eq.add(d @ YCBCR[ch][:, None], o @ YCBCR[ch][:, None])
        self.low.add(block_means(decoded).reshape(-1, 3), block_means(original).reshape(-1, 3))

    def corrections(self) -> dict:
        rgb, low, from_bits = self.rgb.solve(), self.low.solve(), self.bits.solve()
        gain_offset = np.array([eq.solve()[:, 0] for eq in self.ycc])  # per channel: gain, offset
        back = np.linalg.inv(YCBCR)
        ycc = np.r_[(back @ np.diag(gain_offset[:, 0]) @ YCBCR).T, (back @ gain_offset[:, 1])[None]]

        def low_pass(y):
            means = block_means(y).repeat(BLOCK, 0).repeat(BLOCK, 1)
            return y - means + affine(low, means)

        def chroma_from_bits(y, bits):
            means = block_means(y)
            ycc_means = means @ YCBCR.T
            ycc_means[..., 1:] = (np.c_[bits.reshape(len(bits), -1).T, np.ones(means[..., 0].size)] @ from_bits
                                  ).reshape(*means.shape[:2], 2)
            return y + ((ycc_means @ back.T) - means).repeat(BLOCK, 0).repeat(BLOCK, 1)
        return {"3x3 matrix + offset": lambda y, _: affine(rgb, y), "YCbCr gains + offsets": lambda y, _: affine(ycc, y),
                "3x3 on 16x16 block means": lambda y, _: low_pass(y), "block-mean Cb/Cr from the bits": chroma_from_bits}


def with_original_chroma(y: np.ndarray, _, original: np.ndarray) -> np.ndarray:
    """``y`` with the Cb and Cr means of its 16x16 blocks set to the original's."""
    shift = (block_means(original.astype(np.float64)) - block_means(y)) @ YCBCR.T
    shift[..., 0] = 0
    return y + (shift @ np.linalg.inv(YCBCR).T).repeat(BLOCK, 0).repeat(BLOCK, 1)


def decoded(model: OnnxModel, image: np.ndarray, snr_db: float | None, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The decoder's float output (levels 0..255) for ``image`` (multiple of 16 px) and the bits it
    decoded, (C, H/16, W/16)."""
    bits = model.encode(image)
    if snr_db is not None:
        const = constellation("16qam")
        rx = channels.awgn(const.modulate(bits), snr_db, np.random.default_rng(seed))
        bits = const.hard_bits(rx)[:bits.size]
    c, gh, gw = model.latent_shape(*image.shape[:2])
    bits = bits.astype(np.float32).reshape(c, gh, gw)
    out, = model.session("decoder").run(["image"], {"p1": bits[None]})
    return out[0].transpose(1, 2, 0).astype(np.float64) * 255, bits


def photos(split: str):
    for path in data.split_paths(split):
        image = load_image(path)
        yield os.path.basename(path), image[:image.shape[0] // BLOCK * BLOCK, :image.shape[1] // BLOCK * BLOCK]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("folder", nargs="?", default=os.path.join(ROOT, "models", "ampsc-b4-16qam-cpp16"))
    p.add_argument("--snrs", type=float, nargs="*", default=[10.0, 15.0], help="Es/N0 dB of the noisy fits")
    args = p.parse_args()
    model = OnnxModel(args.folder)
    n_bits = model.latent_shape(BLOCK, BLOCK)[0]
    fits = {"error-free": Fits(n_bits), "error-free + " + " + ".join(f"{s:g}" for s in args.snrs) + " dB": Fits(n_bits)}
    for i, (_, image) in enumerate(photos("train")):
        original = image.astype(np.float64)
        for snr in [None, *args.snrs]:
            out, bits = decoded(model, image, snr, i)
            for name, fit in fits.items():
                if snr is None or name != "error-free":
                    fit.add(out, bits, original)
    test = [(name, image, *decoded(model, image, None, 0)) for name, image in photos("test")]

    def report(label, correct):
        psnr, hue = [], None
        for name, image, out, bits in test:
            out = np.clip(correct(out, bits, image) + 0.5, 0, 255).astype(np.uint8)
            psnr.append(metrics.psnr(image, out))
            if "kodim23" in name:
                hue = metrics.hue_error(image, out)
        print(f"| {label} | {np.mean(psnr):.3f} | {hue:.2f} |")
    print(f"{os.path.basename(args.folder)}, {len(test)} test photos error-free (cropped to multiples of {BLOCK} px)\n")
    print("| correction (fitted on the training photos) | mean PSNR dB | kodim23 hue error deg |\n|---|---|---|")
    report("none", lambda y, *_: y)
    for fit_name, fit in fits.items():
        for name, correct in fit.corrections().items():
            report(f"{name}, {fit_name}", lambda y, bits, _, correct=correct: correct(y, bits))
    report("the original's block-mean Cb/Cr (what a block-mean correction could reach)", with_original_chroma)


if __name__ == "__main__":
    main()
