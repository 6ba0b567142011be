"""A whole simulated image link as one GNU Radio flowgraph.

image_tx -> phy_tx -> sim_channel -> phy_rx -> image_rx, all PDU blocks; used
by tx_image/rx_image (--radio sim) and by semcom-eval.
"""
from __future__ import annotations

import queue
from dataclasses import dataclass

import numpy as np
from gnuradio import gr

from ..errors import SemcomError
from ..options import default as opt
from ..blocks.image import image_rx, image_tx
from ..phy import framing
from ..blocks.phy_rx import phy_rx
from ..blocks.phy_tx import phy_tx
from ..blocks.sim_channel import sim_channel


@dataclass
class LinkResult:
    image: np.ndarray
    lost: bool
    reason: str
    payload_bits: int
    channel_uses: int
    fec_blocks_failed: int
    meta: dict  # the received frame's metadata (model name for learned codecs, ...)


class FlowgraphOwner:
    """Owns ``self.tb``; stops it on ``close`` or at the end of a ``with`` block."""

    tb: gr.top_block

    def start(self):
        self.tb.start()
        return self

    def close(self):
        self.tb.stop()
        self.tb.wait()

    def receiver_stages(self) -> list:
        """(name, block) of the receiving blocks whose drops the owner reports."""
        return []

    def drops(self) -> dict[str, dict[str, int]]:
        """Units the receiver dropped so far, by stage and reason (non-zero counts only): what
        the apps print in their summary and JSON records."""
        out = {}
        for name, block in self.receiver_stages():
            counts = block.drops() if callable(getattr(block, "drops", None)) else {name: dict(getattr(block, "drops", {}))}
            out.update({k: v for k, v in counts.items() if v})
        return out

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class IdealLink(FlowgraphOwner):
    """Owns a running flowgraph; ``transmit`` sends one image and waits for it."""

    def __init__(self, codec=opt("codec"), modulation=opt("modulation"), fec_code=opt("fec"), cpp=opt("cpp"),
                 channel=opt("channel"), snr_db=opt("snr"), demapper=None, ldpc_backend=opt("ldpc_backend"),
                 seed=opt("seed"), output_dir=""):
        self.tb = gr.top_block("semcom_sim_link")
        self.tx = image_tx(codec, modulation, fec_code, cpp)
        fec_code = self.tx.link.fec  # the codec's default when none was given
        self.phy_tx = phy_tx(modulation, fec_code)
        self.channel = sim_channel(channel, snr_db, seed=seed)
        self.phy_rx = phy_rx(modulation, fec_code, demapper or ("lut" if channel == "awgn" else "exact"),
                             ldpc_backend)
        self.rx = image_rx(output_dir, self.tx.codec)  # one codec (and one set of ONNX sessions) for both ends
        chain = [self.tx, self.phy_tx, self.channel, self.phy_rx, self.rx]
        for a, b in zip(chain, chain[1:]):
            self.tb.msg_connect(a, "out", b, "in")
        self.tb.start()

    def receiver_stages(self):
        return [("phy_rx", self.phy_rx), ("image_rx", self.rx)]

    def transmit(self, image: np.ndarray, timeout: float = 120.0) -> LinkResult:
        self.tx.send(image)
        try:
            meta, rx_image = self.rx.received.get(timeout=timeout)
        except queue.Empty:
            raise SemcomError(f"no image came out of the receiver within {timeout:.0f} s") from None
        coded = int(meta[framing.CODED_BITS])
        return LinkResult(rx_image, bool(meta["lost"]), str(meta["reason"]), int(meta[framing.PAYLOAD_BITS]),
                          -(-coded // self.phy_tx.link.bits_per_symbol), int(meta.get(framing.FEC_BLOCKS_FAILED, 0)), meta)

    def set_snr(self, snr_db: float):
        self.channel.set_snr(snr_db)

    def reseed(self, seed: int):
        """Restart the channel's noise and fading from ``seed``."""
        self.channel.reseed(seed)

