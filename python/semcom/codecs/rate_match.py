"""Rate matching for learned codecs: any latent sent in exactly the bits the link gives (numpy only).

A model's latent has ``n`` bits (C channels x h x w cells, NCHW). A budget of ``sent`` bits is met by

* **puncturing** (``sent < n``): the ``sent`` most important bits are sent, in latent (NCHW) order;
  the receiver gives the others LLR 0 (an erasure, like a lost burst);
* **repetition** (``sent > n``): every bit once, then the most important ones again (cyclically);
  the receiver sums the LLRs of each bit's copies (the exact posterior of independent looks).

Where the card's curve says the decoder does better with its weakest channels erased than sent
(it can: a model trained on noisy channels over-trusts certain bits of near-random channels),
the plan keeps only the best share and spends the rest of the budget on repetition.

Importance is the model card's measured channel order (``rate_matching.channel_order``, most
important first; ``semcom-rate-profile`` measures it). Within one channel the cells are taken in a
spread order (``spread_order``), so a half-punctured channel loses every other cell all over the
image, not its bottom half. Very small budgets are better served by encoding a downscaled image:
``plan`` picks the downscale factor whose measured curve (``rate_matching.curves``) predicts the
highest PSNR for the budget. Everything here depends only on the card, the image size and the
sent count (the frame header's ``payload_bits``), so the receiver recomputes the transmitter's plan.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

SCALES = (1, 2, 4, 8)  # downscale factors a plan may choose (those the card has curves for)
CARD_KEY = "rate_matching"  # the card.json section
PLAN_KEYS = ("channel_order", "curves")  # what decides a plan (so it is in the model's fingerprint)


def spread_order(n: int) -> np.ndarray:
    """A permutation of range(n) whose every prefix is spread evenly over 0..n-1: the golden-ratio
    sequence i * phi mod 1, ranked (a low-discrepancy order; deterministic, no random state)."""
    if n <= 0:
        return np.zeros(0, dtype=np.int64)
    phi = (math.sqrt(5.0) - 1.0) / 2.0
    return np.argsort((np.arange(n) * phi) % 1.0, kind="stable")


def bit_importance_order(channel_order, shape: tuple[int, int, int]) -> np.ndarray:
    """Flat NCHW indices of a (C, h, w) latent, most important first: channels in ``channel_order``,
    each channel's cells in ``spread_order``."""
    c, h, w = (int(v) for v in shape)
    order = np.asarray(channel_order, dtype=np.int64)
    if sorted(order.tolist()) != list(range(c)):
        raise ValueError(f"channel order must be a permutation of 0..{c - 1}, got {len(order)} entries")
    cells = spread_order(h * w)
    return (order[:, None] * (h * w) + cells[None, :]).reshape(-1)


def sent_indices(importance: np.ndarray, sent: int, kept: int | None = None) -> np.ndarray:
    """Latent index of every bit on air, in air order: the ``kept`` most important bits (default:
    as many as fit) once, in latent order, then the budget's rest repeating them, most important
    first, cyclically."""
    n, sent = importance.size, int(sent)
    kept = min(n, sent) if kept is None else int(kept)
    if sent < 0 or not 0 <= kept <= min(n, sent):
        raise ValueError(f"cannot send {kept} of {n} latent bits in {sent}")
    once = np.sort(importance[:kept])
    if sent == kept:
        return once
    if kept == 0:
        raise ValueError(f"cannot repeat no bits into {sent}")
    return np.concatenate([once, np.resize(importance[:kept], sent - kept)])


def combine(llrs: np.ndarray, indices: np.ndarray, n: int) -> np.ndarray:
    """The latent's LLRs from the received ones: copies summed, unsent bits 0."""
    llrs = np.asarray(llrs, dtype=np.float64)
    if llrs.size != indices.size:
        raise ValueError(f"{llrs.size} LLRs for {indices.size} sent bits")
    return np.bincount(indices, weights=llrs, minlength=int(n)).astype(np.float32)


def predicted_psnr(curve, fraction: float) -> float:
    """A card curve [[fraction sent, PSNR], ...] at ``fraction`` (linear in log fraction between
    points; flat beyond the ends; repetition counts as 1)."""
    pts = sorted((float(f), float(p)) for f, p in curve)
    x = math.log(max(min(fraction, 1.0), 1e-9))
    xs = [math.log(f) for f, _ in pts]
    return float(np.interp(x, xs, [p for _, p in pts]))


def scaled_size(height: int, width: int, scale: int) -> tuple[int, int]:
    """The encoded image's size at a downscale factor (at least 1 px a side)."""
    return max(1, -(-int(height) // scale)), max(1, -(-int(width) // scale))


@dataclass(frozen=True)
class Plan:
    """How one image travels: downscaled by ``scale`` to ``size``, a (C, h, w) latent of ``n`` bits
    of which the ``kept`` most important go on air, repeated as the ``sent`` bits allow."""

    scale: int
    size: tuple[int, int]
    shape: tuple[int, int, int]
    sent: int
    kept: int

    @property
    def n(self) -> int:
        return int(np.prod(self.shape))

    @property
    def fraction(self) -> float:
        """Share of the latent on air (1: all of it)."""
        return self.kept / self.n


def _best_kept(curve, n: int, sent: int) -> tuple[float, int]:
    """(predicted PSNR, kept bits) at the curve's best share that fits: a decoder may do better
    with a weak channel erased than sent, and then the spare bits repeat the others instead."""
    fit = min(n, sent)
    if not curve:
        return -math.inf, fit
    shares = [f for f, _ in curve if 0 < f * n <= fit] + [fit / n]
    score, kept = max((predicted_psnr(curve, f), max(1, min(fit, int(round(f * n))))) for f in shares)
    return score, kept


def plan(profile: dict, latent_shape, height: int, width: int, sent: int) -> Plan:
    """The plan for an image of height x width in ``sent`` bits. ``profile`` is the card's
    ``rate_matching`` section ({} when unmeasured), ``latent_shape(h, w)`` the model's (C, h, w).
    The scale and the share of the latent kept are those the profile's curves predict best
    (full size, all that fits, without curves); ties go to the larger image and share."""
    curves = profile.get("curves") or {}
    best, previous = None, None
    for scale in SCALES:
        if scale != 1 and str(scale) not in curves:
            continue
        size = scaled_size(height, width, scale)
        shape = tuple(int(v) for v in latent_shape(*size))
        if shape == previous:
            break  # the latent no longer shrinks
        previous = shape
        score, kept = _best_kept(curves.get(str(scale)), int(np.prod(shape)), int(sent))
        if best is None or score > best[0] + 1e-9:
            best = (score, Plan(scale, size, shape, int(sent), kept))
    return best[1]
