"""GNU Radio's stock constellation objects, as GRC users make them, drive the ideal-link PHY."""

import os

import numpy as np
import pytest

pytest.importorskip("gnuradio.gr")

from gnuradio import digital  # noqa: E402
from gnuradio.semcom import phy_rx, phy_tx  # noqa: E402
from gnuradio.semcom.blocks import modem  # noqa: E402
from gnuradio.semcom.errors import SemcomError  # noqa: E402
from gnuradio.semcom.flowgraphs.ideal import IdealLink  # noqa: E402
from gnuradio.semcom.imageio import load_image  # noqa: E402
from gnuradio.semcom.metrics import psnr  # noqa: E402
from gnuradio.semcom.phy import channels, framing  # noqa: E402
from gnuradio.semcom.phy.link import LLR_CLIP  # noqa: E402

IMAGE = os.path.join(os.path.dirname(__file__), "..", "..", "examples", "images", "kodim23.png")


@pytest.mark.parametrize("make, bits", [(digital.constellation_qpsk, 2), (digital.constellation_8psk, 3)])
def test_stock_constellation_carries_an_image(make, bits):
    """The object goes in the one ``modulation`` argument that image_tx, phy_tx and phy_rx all read."""
    image = load_image(IMAGE)[::4, ::4]
    with IdealLink("sscc", make(), "ldpc-1/2", 1 / 4, "awgn", 14.0, seed=1) as link:
        assert link.phy_tx.link.bits_per_symbol == bits
        got = link.transmit(image)
    assert not got.lost and got.fec_blocks_failed == 0
    assert got.channel_uses <= image.shape[0] * image.shape[1] / 4
    assert psnr(image, got.image) > 24


def test_stock_objects_keep_their_labels_at_unit_energy():
    qpsk = digital.constellation_qpsk()  # points at +-1.41: Es = 4
    symbols = phy_tx(qpsk, "none").modulate(np.array([0, 0, 0, 1, 1, 0, 1, 1], np.uint8), {})
    np.testing.assert_allclose(symbols, np.array(qpsk.points()) / 2, atol=1e-6)
    gray = digital.constellation_calcdist(np.exp(1j * np.pi * np.arange(8) / 4), [0, 1, 3, 2, 7, 6, 4, 5], 8, 1,
                                          digital.constellation.POWER_NORMALIZATION)  # label s on point code[s]
    assert gray.apply_pre_diff_code()
    by_label = modem.plain(modem.normalised(gray)).points
    np.testing.assert_allclose(by_label, np.exp(1j * np.pi * np.array([0, 1, 3, 2, 7, 6, 4, 5]) / 4), atol=1e-6)


@pytest.mark.parametrize("demapper", ["lut", "exact"])
def test_8psk_llrs_follow_the_stock_labels(demapper):
    obj = digital.constellation_8psk()
    rng = np.random.default_rng(4)
    bits = rng.integers(0, 2, 3 * 2000).astype(np.uint8)
    meta = {}
    y = channels.awgn(phy_tx(obj, "none").modulate(bits, meta), 9.0, rng)
    meta[framing.NOISE_VAR] = channels.noise_var(9.0)
    llr = phy_rx(obj, "none", demapper).demodulate(y, meta)
    stock = np.array([complex(p) for p in obj.points()])
    stock /= np.sqrt(np.mean(np.abs(stock) ** 2))
    like = np.exp(-np.abs(y[:, None] - stock[None, :]) ** 2 / meta[framing.NOISE_VAR])  # point i carries label i
    ones = (np.arange(8)[:, None] >> np.arange(2, -1, -1)) & 1
    reference = np.clip(np.log(like @ ones / (like @ (1 - ones))).ravel(), -LLR_CLIP, LLR_CLIP)
    if demapper == "exact":
        np.testing.assert_allclose(llr, reference, rtol=1e-4, atol=1e-3)
    else:
        assert np.mean(np.sign(llr) == np.sign(reference)) > 0.995
        assert np.median(np.abs(llr - reference)) < 0.05 * np.median(np.abs(reference))


def test_named_modulation_and_another_sized_object_are_refused_in_one_line():
    with pytest.raises(SemcomError, match="8 points; qpsk has 4"):
        phy_tx("qpsk", "none", constellation=digital.constellation_8psk())
