"""Where each sent bit sits in the link's symbols: unequal error protection (numpy only).

The bits of Gray QAM are not equally reliable (16-QAM: positions 0 and 2, the quadrant bits, flip
about half as often as 1 and 3). A learned codec whose latent values are written as b-bit numbers
(AMP-SC: ``quantizer_bits``; plane c*b + i of the NCHW latent holds bit i, MSB first, of value c)
gains by sending its most significant bits on the most reliable positions.

The card key ``symbol_layout`` names the layout; without it the bits go on air in rate matching's
order (the paper's mapping). ``uep-<modulation>`` (e.g. ``uep-16qam``): after rate matching, the
sent bits are sorted by significance (bit i of its value, MSB first; stable) and the air slots by
the reliability of their position in the modulation's symbols (``phy.theory.bit_error_rates``,
lowest first; stable), and the k-th bit goes to the k-th slot. The receiver puts the LLRs back
before rate matching combines them, so puncturing, repetition and burst erasures work as before.
Like the rate plan, the layout depends only on the card and the plan.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from ..errors import SemcomError
from ..phy.constellations import MODULATIONS, constellation
from ..phy.theory import bit_error_rates

CARD_KEY = "symbol_layout"
KIND = "uep"
REFERENCE_SNR_DB = 10.0  # where positions are ranked (Gray QAM's order is the same at every SNR)


@lru_cache(maxsize=None)
def reliability_order(modulation: str) -> tuple[int, ...]:
    """Label positions of ``modulation``, most reliable first (ties in position order)."""
    rates = np.round(bit_error_rates(modulation, REFERENCE_SNR_DB), 12)
    return tuple(int(j) for j in np.argsort(rates, kind="stable"))


@dataclass(frozen=True)
class Layout:
    """MSB-first bit planes of ``value_bits``-bit values on the most reliable positions of ``modulation``."""

    modulation: str
    value_bits: int

    @property
    def name(self) -> str:
        return f"{KIND}-{self.modulation}"

    def air_slots(self, indices: np.ndarray, shape) -> np.ndarray:
        """Air slot of every sent bit: ``indices`` are the sent bits' NCHW latent indices (air order
        before the layout, as rate matching gives them) in a latent of ``shape`` (C, h, w)."""
        indices = np.asarray(indices, dtype=np.int64)
        cells = int(shape[1]) * int(shape[2])
        significance = (indices // cells) % self.value_bits  # 0: the MSB
        k = constellation(self.modulation).bits_per_symbol
        rank = np.empty(k, dtype=np.int64)
        rank[list(reliability_order(self.modulation))] = np.arange(k)
        slot_rank = rank[np.arange(indices.size) % k]
        slots = np.empty(indices.size, dtype=np.int64)
        slots[np.argsort(significance, kind="stable")] = np.argsort(slot_rank, kind="stable")
        return slots

    def place(self, bits: np.ndarray, slots: np.ndarray) -> np.ndarray:
        """The sent bits in air order: bit j goes to slot ``slots[j]``."""
        out = np.empty_like(bits)
        out[slots] = bits
        return out

    def gather(self, llrs: np.ndarray, slots: np.ndarray) -> np.ndarray:
        """The inverse of ``place``: the LLR of every sent bit from the air's."""
        return np.asarray(llrs)[slots]


def parse(value, card: dict) -> Layout | None:
    """The layout a card's ``symbol_layout`` names (None when absent); SemcomError (one line) on a
    name it cannot be, or a card without ``quantizer_bits``."""
    if value in (None, "", "none"):
        return None
    kind, _, modulation = str(value).partition("-")
    if kind != KIND or modulation not in MODULATIONS:
        raise SemcomError(f"model card symbol_layout '{value}' is not one of "
                          + ", ".join(f"{KIND}-{m}" for m in MODULATIONS) + " (or none)")
    bits = card.get("quantizer_bits")
    if isinstance(bits, bool) or not isinstance(bits, int) or bits < 1:
        raise SemcomError(f"model card symbol_layout '{value}' needs the card's quantizer_bits (a whole number "
                          f">= 1), got {bits!r}")
    if int(card.get("latent_channels", 0)) % bits:
        raise SemcomError(f"model card symbol_layout '{value}': latent_channels {card.get('latent_channels')} is "
                          f"not a multiple of quantizer_bits {bits}")
    return Layout(modulation, bits)
