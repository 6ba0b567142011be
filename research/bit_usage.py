#!/usr/bin/env python3
"""How much of a learned model's bit budget carries information about the image.

  python3 research/bit_usage.py models/bitsemcom-qpsk-cpp16 models/bitsemcom-16qam-cpp16 --md research/results/bit_usage.md

For every test photo (the data cache's Kodak-like split) the encoder gives each bit a logit; the
bit sent is drawn with P(b=1) = sigmoid(logit) (gumbel-sample models) or is [logit > 0]. Per
image, with b the bits and x the photo:
  - coin-flip share: H(b | x) / bits, the mean entropy of the draws (0 for a threshold model);
  - marginal entropy: sum over latent channels of positions x h(mean P(b=1) of the channel);
  - information bound: marginal entropy - H(b | x) >= I(x; b), in bits and in bits per pixel:
    an upper bound on what the bits can tell the decoder (spatial and cross-channel redundancy
    only lower the true value);
  - linear redundancy: over all positions of all photos, the mean R^2 of predicting each channel's
    P(b=1) from the other channels' at the same position (least squares; 0: independent channels,
    1: each channel a copy of the others).
"""
import argparse
import sys

import numpy as np

from gnuradio.semcom import data
from gnuradio.semcom.codecs.neural import OnnxModel, pad_to_multiple
from gnuradio.semcom.errors import SemcomError
from gnuradio.semcom.imageio import load_image


def binary_entropy(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-12, 1 - 1e-12)
    return -(p * np.log2(p) + (1 - p) * np.log2(1 - p))


def usage(p1: np.ndarray, stochastic: bool) -> dict:
    """Bit statistics of one image from P(b=1) of its bits, shaped (channels, h, w)."""
    n = p1.size
    draws = float(binary_entropy(p1).sum()) if stochastic else 0.0
    marginal = float((binary_entropy(p1.reshape(p1.shape[0], -1).mean(axis=1)) * (n // p1.shape[0])).sum())
    return {"bits": n, "coin_flip_share": draws / n, "marginal_bits": marginal,
            "information_bound_bits": max(marginal - draws, 0.0)}


def linear_redundancy(p: np.ndarray) -> float:
    """Mean R^2 of each column of ``p`` (positions x channels) from the other columns."""
    centred = p - p.mean(axis=0)
    scores = []
    for c in range(centred.shape[1]):
        others = np.delete(centred, c, axis=1)
        coef, *_ = np.linalg.lstsq(others, centred[:, c], rcond=None)
        var = centred[:, c].var()
        scores.append(1.0 - (centred[:, c] - others @ coef).var() / var if var > 0 else 1.0)
    return float(np.mean(scores))


def probabilities(model: OnnxModel, image: np.ndarray) -> np.ndarray:
    padded, _ = pad_to_multiple(image, model.stride)
    x = padded.astype(np.float32).transpose(2, 0, 1)[None] / 255.0
    _, logits = model.session("encoder").run(["bits", "logits"], {"image": np.ascontiguousarray(x)})
    logits = logits[0].astype(np.float64)
    if model.card.get("bit_decision", "threshold") == "gumbel-sample":
        return 0.5 * (1.0 + np.tanh(0.5 * logits))  # sigmoid without overflow
    return (logits > 0).astype(np.float64)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("models", nargs="+", help="model folders")
    p.add_argument("--images", default="", help="folder of photos (default: the data cache's test split)")
    p.add_argument("--md", help="also write the table to this Markdown file")
    args = p.parse_args()
    paths = data.split_paths("test", folder=args.images or None)
    if not paths:
        print("bit_usage: no test photos; run semcom-data fetch (or give --images)", file=sys.stderr)
        return 1
    images = [load_image(path) for path in paths]
    lines = ["| model | bits per image | coin-flip share | marginal entropy, bits | information bound, bits | "
             "bound, bits per pixel | linear redundancy (mean R²) |", "|---|---|---|---|---|---|---|"]
    for folder in args.models:
        try:
            model = OnnxModel(folder)
            stochastic = model.card.get("bit_decision", "threshold") == "gumbel-sample"
            probs = [probabilities(model, img) for img in images]
        except SemcomError as err:
            print(f"bit_usage: {err}", file=sys.stderr)
            return 1
        rows = [usage(p1, stochastic) for p1 in probs]
        redundancy = linear_redundancy(np.concatenate([p1.reshape(p1.shape[0], -1).T for p1 in probs]))
        pixels = float(np.mean([img.shape[0] * img.shape[1] for img in images]))
        mean = {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}
        lines.append(f"| {model.card.get('model_id', folder)} | {mean['bits']:.0f} | {mean['coin_flip_share']:.3f} | "
                     f"{mean['marginal_bits']:.0f} | {mean['information_bound_bits']:.0f} | "
                     f"{mean['information_bound_bits'] / pixels:.3f} | {redundancy:.2f} |")
        print(lines[-1], flush=True)
    if args.md:
        with open(args.md, "w") as f:
            f.write(f"Bits of the learned models on the {len(images)} Kodak-like test photos (means per image; "
                    "`research/bit_usage.py`: coin-flip share = H(b|x) / bits, information bound = marginal "
                    "entropy - H(b|x) >= I(x; b)).\n\n" + "\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
