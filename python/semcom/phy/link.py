"""Link configuration and bit/channel-use accounting shared by TX, RX and codecs.

A payload of ``n`` information bits is padded to whole LDPC codewords, encoded,
padded to whole symbols and mapped; ``channel_uses`` counts the complex symbols.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import SemcomError
from . import ldpc
from .constellations import constellation

FEC_NONE = "none"
LLR_CLIP = 30.0  # |LLR| bound of the whole receive chain (demapper and FEC decoder outputs)


@dataclass(frozen=True)
class LinkConfig:
    modulation: str = "qpsk"
    fec: str = "ldpc-1/2"

    def __post_init__(self):
        constellation(self.modulation)  # validates
        object.__setattr__(self, "fec", ldpc.canonical(self.fec))  # 'PATH.alist' -> 'alist:PATH'
        if self.fec != FEC_NONE:
            ldpc.code(self.fec)

    @property
    def bits_per_symbol(self) -> int:
        return constellation(self.modulation).bits_per_symbol

    @property
    def code(self):
        return None if self.fec == FEC_NONE else ldpc.code(self.fec)

    @property
    def block(self) -> tuple[int, int]:
        """(information bits, coded bits) per FEC block; (1, 1) when uncoded."""
        c = self.code
        return (1, 1) if c is None else (c.k, c.n)

    @property
    def segment_align(self) -> int:
        """Information bits a burst carries a multiple of, so that no burst but a frame's last pads:
        whole FEC blocks, or whole symbols when uncoded."""
        return self.bits_per_symbol if self.code is None else self.block[0]

    @property
    def rate(self) -> float:
        k, n = self.block
        return k / n

    def coded_bits(self, payload_bits: int) -> int:
        k, n = self.block
        return -(-payload_bits // k) * n

    def channel_uses(self, payload_bits: int) -> int:
        return -(-self.coded_bits(payload_bits) // self.bits_per_symbol)

    def payload_bits(self, channel_uses: int) -> int:
        """Most information bits that fit in ``channel_uses`` symbols."""
        k, n = self.block
        return (int(channel_uses) * self.bits_per_symbol // n) * k

    def reference_symbols(self, info_bits: np.ndarray) -> np.ndarray:
        """Numpy reference of the transmit chain: whole-block LDPC encoding, zero padding to whole
        symbols, Gray mapping (the GNU Radio chain does this with gr-fec and gr-digital)."""
        bits = np.asarray(info_bits, np.uint8)
        code = self.code
        if code is not None:
            info = np.zeros(self.coded_bits(len(bits)) // code.n * code.k, np.uint8)
            info[:len(bits)] = bits
            bits = code.encode(info.reshape(-1, code.k)).ravel()
        k = self.bits_per_symbol
        padded = np.zeros(-(-len(bits) // k) * k, np.uint8)
        padded[:len(bits)] = bits
        return constellation(self.modulation).modulate(padded)

    def decode(self, llr: np.ndarray, payload_bits: int, max_iterations: int = 50) -> tuple[np.ndarray, int]:
        """Channel LLRs of whole codewords (at least ``coded_bits(payload_bits)``) -> the payload's
        LLRs (min-sum posteriors, clipped) and the number of codewords that failed."""
        llr = np.clip(np.asarray(llr, np.float32), -LLR_CLIP, LLR_CLIP)
        coded = self.coded_bits(payload_bits)
        if llr.size < coded:
            raise ValueError(f"{llr.size} LLRs for {payload_bits} payload bits, which need {coded}")
        code = self.code
        if code is None:
            return llr[:payload_bits], 0
        _, ok, post = code.decode(llr[:coded].reshape(-1, code.n), max_iterations)
        info = post[:, code.m:].ravel()[:payload_bits]
        return np.clip(info, -LLR_CLIP, LLR_CLIP).astype(np.float32), int((~ok).sum())

    def describe(self) -> str:
        return f"{self.modulation}/{self.fec}"

    @classmethod
    def parse(cls, text: str) -> "LinkConfig":
        """'qpsk/ldpc-1/2', 'qpsk/alist:PATH' or 'qpsk' (uncoded) -> LinkConfig."""
        mod, _, fec = text.partition("/")
        return cls(mod, fec or FEC_NONE)


def channel_use_budget(cpp: float, height: int, width: int) -> int:
    if not cpp > 0:
        raise SemcomError(f"channel uses per pixel must be positive, got {cpp}")
    return int(np.floor(cpp * height * width))
