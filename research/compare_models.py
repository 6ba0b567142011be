#!/usr/bin/env python3
"""Exported models on the same photos: mean PSNR error-free and over a BPSK-equivalent AWGN
channel (LLR = 2y/sigma^2), every latent bit sent once. With two models (old, new) it applies the
replacement rule of the models' README: a new model ships only if it beats the old on the
validation crops (its card) and here, on the Kodak-like test set, at every SNR. Cards of different
data sets (``dataset_hash``) scored different validation crops, so then both models are measured
error-free on the same centre crops of the validation photos instead.

  python3 research/compare_models.py models/bitsemcom-qpsk-cpp16 runs/new/model --snr 0 3
  python3 research/compare_models.py runs/ablation/*/onnx --snr -3 0 3      # any number of models
"""
import argparse
import json

import numpy as np

from gnuradio.semcom import data, metrics
from gnuradio.semcom.codecs.neural import OnnxModel, posterior
from gnuradio.semcom.evaluation.rate_profile import centre_crop
from gnuradio.semcom.imageio import load_image


def scores(model, images, snrs, seed=0):
    rng = np.random.default_rng(seed)
    out = {"error_free": [], **{f"{s:g}": [] for s in snrs}}
    for img in images:
        h, w = img.shape[:2]
        bits = model.encode(img)
        out["error_free"].append(metrics.psnr(img, model.decode(bits.astype(np.float32), h, w)))
        for s in snrs:
            sigma2 = 1 / (2 * 10 ** (s / 10))  # Es/N0 per real dimension of QPSK = Eb/N0
            y = (2.0 * bits - 1) + rng.normal(0, np.sqrt(sigma2), bits.size)
            out[f"{s:g}"].append(metrics.psnr(img, model.decode(posterior(2 * y / sigma2), h, w)))
    return {k: round(float(np.mean(v)), 3) for k, v in out.items()}


def better(old_test: dict, new_test: dict, val_better: bool) -> bool:
    """The ship rule: better on the validation crops and on every test score."""
    return val_better and all(new_test[k] > old_test[k] for k in old_test)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("models", nargs="+", help="model folders; with two: old, then new")
    p.add_argument("--snr", nargs="+", type=float, default=[0.0, 3.0])
    p.add_argument("--images", default="", help="folder (default: the data cache's test split)")
    p.add_argument("--markdown", metavar="MD", help="also write the scores as a markdown table")
    args = p.parse_args()
    images = [load_image(path) for path in data.split_paths("test", folder=args.images or None)]
    rows, loaded = [], [OnnxModel(folder) for folder in args.models]
    for folder, m in zip(args.models, loaded):
        rows.append({"folder": folder, "test": scores(m, images, args.snr), "val_card": m.card.get("val_psnr_db", {}),
                     "steps": m.card.get("cumulative_steps", m.card.get("train_steps"))})
    report = {"images": len(images), "models": rows}
    if len(rows) == 2:
        old, new = rows
        val_better = new["val_card"].get("error_free", 0) > old["val_card"].get("error_free", 0)
        if len({m.card.get("dataset_hash") for m in loaded}) > 1:
            crops = [centre_crop(load_image(p)) for p in data.split_paths("val", folder=args.images or None)]
            for r, m in zip(rows, loaded):
                r["val_same_crops"] = scores(m, crops, [])["error_free"]
            report["val_rule"] = (f"cards of different data sets: both error-free on the same {len(crops)} "
                                  "centre crops of the validation photos")
            val_better = new["val_same_crops"] > old["val_same_crops"]
        report["new_better"] = better(old["test"], new["test"], val_better)
    print(json.dumps(report, indent=1))
    if args.markdown:
        keys = list(rows[0]["test"])
        head = " | ".join("test error-free" if k == "error_free" else f"test {k} dB" for k in keys)
        lines = [f"| model | variant | steps | val crops error-free | {head} |", "|---" * (4 + len(keys)) + "|"]
        for r in rows:
            card = OnnxModel(r["folder"]).card
            lines.append(f"| {card.get('model_id', r['folder'])} | {card.get('variant', '')} | {r['steps']} | "
                         f"{r['val_card'].get('error_free', float('nan')):.2f} | "
                         + " | ".join(f"{r['test'][k]:.2f}" for k in keys) + " |")
        with open(args.markdown, "w") as f:
            f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
