"""The codec interface every image codec (conventional or semantic) implements."""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field

import numpy as np

from ..phy.link import LinkConfig


class AnotherModel(ValueError):
    """A frame encoded by another model or codec than the one decoding it (the PDU is dropped)."""
    reason = "frames of another model"


@dataclass
class Encoded:
    bits: np.ndarray  # uint8 0/1, the payload handed to the PHY
    meta: dict = field(default_factory=dict)  # side information carried in the frame header (json-able)


@dataclass
class Received:
    bits: np.ndarray  # uint8 0/1 hard decisions after FEC (len == payload bits)
    llrs: np.ndarray  # float32 LLRs of the same bits (positive = 1); 0 = erasure
    fec_ok: bool  # every FEC block passed its parity checks (True when uncoded)
    meta: dict = field(default_factory=dict)


@dataclass
class Decoded:
    image: np.ndarray  # uint8 HxWx3, always defined (a placeholder when lost)
    lost: bool = False
    reason: str = ""


class Codec(ABC):
    """An image codec. ``name`` is its registry key; ``codec_id`` travels in frames."""

    name: str = ""
    codec_id: int = 0
    default_fec: str = "ldpc-1/2"  # the FEC used when the user names none

    @abstractmethod
    def encode(self, image: np.ndarray, link: LinkConfig, channel_uses: int) -> Encoded:
        """Encode an RGB uint8 image into at most ``link.payload_bits(channel_uses)`` bits."""

    @abstractmethod
    def decode(self, rx: Received) -> Decoded:
        """Rebuild the image; never raises on corrupted input (returns lost=True)."""


def placeholder(height: int, width: int) -> np.ndarray:
    """What a lost image is replaced by: uniform mid-grey (128), so PSNR stays defined."""
    return np.full((int(height), int(width), 3), 128, dtype=np.uint8)
