#!/usr/bin/env python3
"""Before/after figures and pictures of two learned codecs' visible defects, on the photos of the
data cache's test split (``semcom-data fetch``), error-free. Run with the venv's Python after
`make install`:

  .venv/bin/python scripts/codec_defects.py mvqvae-seams   # docs/images/mvqvae_seams.jpg
  .venv/bin/python scripts/codec_defects.py ampsc-colour   # docs/images/ampsc_colour.jpg

mvqvae-seams: the masked VQ-VAE (16-QAM, LDPC 1/2, cpp 1/16) decoded on its tile grid alone
(before) and with the seams cross-faded to the half-tile-shifted grids (after): mean PSNR, the
seam ratio of kodim23 (``metrics.seam_ratio``) and its decode time (median of 3); the picture is
a crop of kodim23, original | before | after, enlarged 2x.
ampsc-colour: an AMP-SC model folder before (``--before``, default: the folder as committed at
``--before-rev`` in git) and after (the installed model): mean PSNR, and kodim23's hue error
(``metrics.hue_error``); the picture is kodim23, original | before | after.
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

from gnuradio.semcom import data, metrics
from gnuradio.semcom.codecs import masked_vq, neural
from gnuradio.semcom.codecs.base import Received
from gnuradio.semcom.codecs.onnx_model import OnnxModel
from gnuradio.semcom.imageio import load_image, save_image
from gnuradio.semcom.phy.link import LinkConfig

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
SAMPLE = "kodim23"  # the red/green parrots
MVQ_LINK, MVQ_CPP = LinkConfig("16qam", "ldpc-1/2"), 1 / 16
MVQ_CROP = (slice(64, 320), slice(256, 512))  # rows, cols of kodim23: four tiles around a seam crossing


def installed(name: str) -> str:
    folders = {os.path.basename(d): d for d in neural.model_dirs()}
    if name not in folders:
        sys.exit(f"model {name} is not installed (installed: {', '.join(sorted(folders))})")
    return folders[name]


def test_photos() -> dict:
    paths = data.split_paths("test")
    if not paths:
        sys.exit("no test photos in the data cache; run semcom-data fetch")
    return {os.path.splitext(os.path.basename(p))[0]: load_image(p) for p in paths}


def sample_name(photos: dict) -> str:
    names = [n for n in photos if SAMPLE in n]
    if not names:
        sys.exit(f"the test split has no {SAMPLE}")
    return names[0]


def side_by_side(images) -> np.ndarray:
    return np.concatenate(images, axis=1)


def mvqvae_seams(args) -> None:
    photos = test_photos()
    sample = sample_name(photos)
    model = masked_vq.MaskedVQModel(installed(args.model))
    codecs = {"before": masked_vq.MaskedVQCodec(model, blend=False), "after": masked_vq.MaskedVQCodec(model)}
    psnr, out, seconds = {k: [] for k in codecs}, {}, {}
    for name, image in photos.items():
        h, w = image.shape[:2]
        enc = codecs["after"].encode(image, MVQ_LINK, int(MVQ_CPP * h * w))
        rx = Received(enc.bits, np.where(enc.bits > 0, 20.0, -20.0).astype(np.float32), True,
                      {"height": h, "width": w, **enc.meta})
        for key, codec in codecs.items():
            decoded = codec.decode(rx).image
            psnr[key].append(metrics.psnr(image, decoded))
            if name == sample:
                out[key] = decoded
                times = []
                for _ in range(3):
                    t0 = time.perf_counter()
                    codec.decode(rx)
                    times.append(time.perf_counter() - t0)
                seconds[key] = statistics.median(times)
    for key in codecs:
        print(f"{key}: mean PSNR {np.mean(psnr[key]):.3f} dB over {len(photos)} test photos; {sample} "
              f"seam ratio {metrics.seam_ratio(out[key], model.tile):.3f}, decode {seconds[key]:.2f} s "
              f"(median of 3, {photos[sample].shape[1]}x{photos[sample].shape[0]})")
    print(f"original {sample} seam ratio {metrics.seam_ratio(photos[sample], model.tile):.3f}")
    crop = [im[MVQ_CROP].repeat(2, 0).repeat(2, 1) for im in (photos[sample], out["before"], out["after"])]
    save_image(args.out or os.path.join(ROOT, "docs", "images", "mvqvae_seams.jpg"), side_by_side(crop))


def committed_folder(rev: str, folder: str, dest: str) -> str:
    """The model folder ``folder`` (relative to the repository) as committed at ``rev``, in ``dest``."""
    out = os.path.join(dest, os.path.basename(folder))
    os.makedirs(out)
    for name in ("encoder.onnx", "decoder.onnx", "card.json"):
        blob = subprocess.run(["git", "-C", ROOT, "show", f"{rev}:{folder}/{name}"], capture_output=True, check=True)
        with open(os.path.join(out, name), "wb") as f:
            f.write(blob.stdout)
    return out


def error_free(model: OnnxModel, image: np.ndarray) -> np.ndarray:
    h, w = image.shape[:2]
    return model.decode(model.encode(image).astype(np.float32), h, w)


def ampsc_colour(args) -> None:
    photos = test_photos()
    sample = sample_name(photos)
    with tempfile.TemporaryDirectory() as tmp:
        before = args.before or committed_folder(args.before_rev, f"models/{args.model}", tmp)
        models = {"before": OnnxModel(before), "after": OnnxModel(installed(args.model))}
        psnr, out = {k: [] for k in models}, {}
        for name, image in photos.items():
            for key, model in models.items():
                decoded = error_free(model, image)
                psnr[key].append(metrics.psnr(image, decoded))
                if name == sample:
                    out[key] = decoded
    for key in models:
        print(f"{key}: mean PSNR {np.mean(psnr[key]):.3f} dB over {len(photos)} test photos; {sample} hue error "
              f"{metrics.hue_error(photos[sample], out[key]):.2f} degrees, PSNR {metrics.psnr(photos[sample], out[key]):.2f} dB")
    save_image(args.out or os.path.join(ROOT, "docs", "images", "ampsc_colour.jpg"),
               side_by_side([photos[sample], out["before"], out["after"]]))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("mvqvae-seams", help="the masked VQ-VAE's tile seams, before/after the cross-fade")
    s.add_argument("--model", default="mvqvae-p8-16qam")
    s.add_argument("--out", help="picture (default docs/images/mvqvae_seams.jpg)")
    s.set_defaults(run=mvqvae_seams)
    s = sub.add_parser("ampsc-colour", help="AMP-SC's colours, before/after the corrected model")
    s.add_argument("--model", default="ampsc-b4-16qam-cpp16")
    s.add_argument("--before", help="the model folder before (default: as committed at --before-rev)")
    s.add_argument("--before-rev", default="HEAD", help="git revision of the model before (default HEAD)")
    s.add_argument("--out", help="picture (default docs/images/ampsc_colour.jpg)")
    s.set_defaults(run=ampsc_colour)
    args = p.parse_args()
    args.run(args)


if __name__ == "__main__":
    main()
