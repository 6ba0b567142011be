"""A learned model's rate-matching profile, measured (numpy + onnxruntime; ``semcom-rate-profile``).

* **Channel importance:** greedy backward elimination on the validation crops (error-free): erase
  (P(b=1) = 0.5) the channel whose loss costs the least PSNR given those already erased, and
  repeat; most important first is the reverse. Single-channel erasure is a poor guide (the
  decoders barely notice one lost channel, and the losses do not add up).
* **Curves:** error-free PSNR of the whole validation photos against the fraction of latent bits
  sent, punctured in that order, for the image encoded at full size and downscaled 2x and 4x (then
  upscaled). ``rate_match.plan`` picks the downscale factor from them. Whole photos, not crops: a
  256 px crop halved loses far more than a photo does, so crops misrank the downscaled latents.
* **Measured against random order:** PSNR of full test photos with 25 % and 50 % of the latent
  punctured, in the measured order, in channel-index order and in random channel orders.
"""
from __future__ import annotations

import numpy as np

from .. import metrics
from ..codecs import rate_match
from ..codecs.neural import OnnxModel
from ..imageio import load_image, resize

FRACTIONS = (1.0, 0.875, 0.75, 0.625, 0.5, 0.375, 0.25, 0.1875, 0.125, 0.09375, 0.0625, 0.046875, 0.03125, 0.015625)
PROFILE_SCALES = (1, 2, 4)
VAL_CROP = 256


def centre_crop(image: np.ndarray, size: int = VAL_CROP) -> np.ndarray:
    h, w = image.shape[:2]
    top, left = max(0, (h - size) // 2), max(0, (w - size) // 2)
    return image[top:top + size, left:left + size]


def _decode_sent(model: OnnxModel, bits: np.ndarray, kept: np.ndarray, size) -> np.ndarray:
    """Error-free decode with only the ``kept`` latent bits known (the rest P = 0.5)."""
    p1 = np.full(bits.size, 0.5, dtype=np.float32)
    p1[kept] = bits[kept]
    return model.decode(p1, *size)


def _erased_psnr(model: OnnxModel, crops, encoded, erased: list[int]) -> float:
    """Mean PSNR over the crops with the ``erased`` latent channels unknown (P = 0.5)."""
    c = int(model.card["latent_channels"])
    total = 0.0
    for crop, bits in zip(crops, encoded):
        cells = bits.size // c
        keep = np.ones((c, cells), dtype=bool)
        keep[erased] = False
        total += metrics.psnr(crop, _decode_sent(model, bits, np.flatnonzero(keep), crop.shape[:2]))
    return total / len(crops)


def channel_order(model: OnnxModel, crops: list[np.ndarray], progress=None) -> tuple[list[int], list[float]]:
    """Greedy backward elimination over ``crops``: repeatedly erase the channel whose loss (given
    those already erased) costs the least PSNR. Returns the channels most important first (the
    reverse of elimination) and the mean PSNR after each elimination: puncturing in this order
    follows that measured path."""
    c = int(model.card["latent_channels"])
    encoded = [model.encode(crop) for crop in crops]
    erased, path = [], []
    remaining = list(range(c))
    while len(remaining) > 1:
        scores = [_erased_psnr(model, crops, encoded, erased + [ch]) for ch in remaining]
        best = int(np.argmax(scores))
        erased.append(remaining.pop(best))
        path.append(round(float(scores[best]), 3))
        if progress:
            progress(len(erased), c - 1)
    return remaining + erased[::-1], path


def punctured_psnr(model: OnnxModel, image: np.ndarray, order, fraction: float, scale: int = 1,
                   bits: np.ndarray | None = None) -> float:
    """PSNR of ``image`` sent error-free with ``fraction`` of its latent (at ``scale``) in ``order``."""
    h, w = image.shape[:2]
    size = rate_match.scaled_size(h, w, scale)
    if bits is None:
        bits = model.encode(resize(image, *size))
    shape = model.latent_shape(*size)
    sent = max(1, int(round(fraction * bits.size)))
    kept = rate_match.sent_indices(rate_match.bit_importance_order(order, shape), min(sent, bits.size))
    return metrics.psnr(image, resize(_decode_sent(model, bits, kept, size), h, w))


def curves(model: OnnxModel, images: list[np.ndarray], order) -> dict:
    """{scale: [[fraction, mean PSNR], ...]} over the images."""
    out = {}
    for scale in PROFILE_SCALES:
        rows = []
        encoded = [model.encode(resize(x, *rate_match.scaled_size(*x.shape[:2], scale))) for x in images]
        for f in FRACTIONS:
            psnr = np.mean([punctured_psnr(model, x, order, f, scale, b) for x, b in zip(images, encoded)])
            rows.append([f, round(float(psnr), 3)])
        out[str(scale)] = rows
    return out


def order_against_random(model: OnnxModel, images: list[np.ndarray], order, punctured=(0.25, 0.5),
                         randoms: int = 5, seed: int = 0) -> dict:
    """Mean PSNR over ``images`` with each share of the latent punctured: measured order, channel
    index order, and ``randoms`` random channel orders (their mean and spread)."""
    c = int(model.card["latent_channels"])
    rng = np.random.default_rng(seed)
    random_orders = [rng.permutation(c).tolist() for _ in range(randoms)]
    encoded = [model.encode(im) for im in images]
    out = {}
    for share in punctured:
        f = 1.0 - share

        def mean(o):
            return float(np.mean([punctured_psnr(model, im, o, f, 1, b) for im, b in zip(images, encoded)]))
        rand = [mean(o) for o in random_orders]
        measured = mean(order)
        out[f"{int(share * 100)}%"] = {
            "measured_order_db": round(measured, 3), "channel_index_order_db": round(mean(list(range(c))), 3),
            "random_order_mean_db": round(float(np.mean(rand)), 3), "random_order_std_db": round(float(np.std(rand)), 3),
            "measured_minus_random_db": round(measured - float(np.mean(rand)), 3)}
    return out


def measure(model: OnnxModel, val_paths: list[str], test_paths: list[str], progress=None,
            keep_order: bool = False) -> dict:
    """The card's ``rate_matching`` section for a model; ``keep_order``: reuse the card's measured
    channel order (the slow part) and measure the rest again."""
    say = progress or (lambda text: None)
    photos = [load_image(p) for p in val_paths]
    crops = [centre_crop(x) for x in photos]
    old = model.rate_profile
    if keep_order and old.get("channel_order"):
        order, path = old["channel_order"], old.get("elimination_psnr_db", [])
    else:
        say(f"channel importance (greedy elimination) on {len(crops)} validation crops")
        order, path = channel_order(model, crops)
    say("PSNR against fraction sent, at scales " + ", ".join(map(str, PROFILE_SCALES)))
    profile = {"channel_order": order, "elimination_psnr_db": path, "curves": curves(model, photos, order),
               "measured_on": {"val_crops": f"{len(crops)} centre crops of {VAL_CROP}x{VAL_CROP}",
                               "curves": f"{len(photos)} whole validation photos",
                               "test_images": len(test_paths), "channel": "error-free",
                               "order": "greedy backward elimination: erase the channel that costs least, "
                                        "given those already erased"}}
    if test_paths:
        say(f"measured against random order on {len(test_paths)} test photos")
        profile["order_against_random"] = order_against_random(model, [load_image(p) for p in test_paths], order)
    return profile
