"""image_rx keep_up: with frames waiting, only the newest is decoded; the others are counted stale."""
import numpy as np
import pytest

from gnuradio.semcom.blocks import image as image_blocks
from gnuradio.semcom.blocks.pdu_block import IN
from gnuradio.semcom.blocks.pdu_io import make_pdu


@pytest.mark.parametrize("keep_up, decoded", [(True, [4]), (False, [0, 1, 2, 3, 4])])
def test_keep_up_decodes_the_newest_of_the_waiting_frames(keep_up, decoded):
    rx = image_blocks.image_rx("", "avif", keep_up=keep_up)
    for frame in range(5):
        rx.to_basic_block()._post(IN, make_pdu({"codec": "avif", "height": 8, "width": 8, "frame": frame},
                                               np.zeros(64, np.float32)))
    assert rx.drain() == 5
    got = [rx.received.get_nowait()[0]["frame"] for _ in range(rx.received.qsize())]
    assert got == decoded and rx.count == len(decoded)
    assert rx.drops == ({image_blocks.STALE: 4} if keep_up else {})
