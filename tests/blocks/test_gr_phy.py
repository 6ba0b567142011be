"""The PHY as GNU Radio blocks: stock blocks produce the values the numpy model predicts."""

import numpy as np
import pmt
import pytest

gr_mod = pytest.importorskip("gnuradio.gr")

from gnuradio.semcom import phy_rx, phy_tx, sim_channel  # noqa: E402
from gr_helpers import run_pdus  # noqa: E402
from gnuradio.semcom.blocks.pdu_io import make_pdu, make_vector, split_pdu, vector_elements  # noqa: E402
from gnuradio.semcom.phy import channels, framing, ldpc, theory  # noqa: E402
from gnuradio.semcom.phy.constellations import constellation  # noqa: E402


def test_noise_source_calibrated_to_es_n0():
    ch = sim_channel("awgn", 7.0, seed=3)
    out = run_pdus([ch], [make_pdu({}, np.zeros(200_000, np.complex64))], 1)
    meta, y = split_pdu(out[0], np.complex64)
    n0 = channels.noise_var(7.0)
    assert np.var(y) == pytest.approx(n0, rel=0.02)
    assert meta[framing.NOISE_VAR] == pytest.approx(n0)


@pytest.mark.parametrize("mod", ["bpsk", "qpsk", "16qam", "64qam"])
def test_gnuradio_chain_uncoded_ber_matches_closed_form(mod):
    rng = np.random.default_rng(0)
    n = 120_000
    bits = rng.integers(0, 2, n).astype(np.uint8)
    for snr in (4.0, 8.0, 12.0):
        chain = [phy_tx(mod, "none"), sim_channel("awgn", snr, seed=int(snr)), phy_rx(mod, "none", "lut")]
        meta, llr = split_pdu(run_pdus(chain, [make_pdu({"frame": 0}, bits)], 1)[0], np.float32)
        ber, p = np.mean((llr > 0) != bits), theory.ber_awgn(mod, snr)
        assert abs(ber - p) <= 5 * np.sqrt(p * (1 - p) / n) + 0.02 * p + 1e-5, (snr, ber, p)


@pytest.mark.parametrize("mod", ["qpsk", "16qam", "64qam"])
def test_soft_decoder_lut_gives_exact_llrs(mod):
    """constellation_soft_decoder_cf with our table against log-sum-exp at the true N0."""
    rng = np.random.default_rng(1)
    c = constellation(mod)
    snr = 8.0
    n0 = channels.noise_var(snr)
    y = channels.awgn(c.modulate(rng.integers(0, 2, 600 * c.bits_per_symbol).astype(np.uint8)), snr, rng)
    rx = phy_rx(mod, "none", "lut")
    got = rx._lut_demap(y, n0)
    exact = c.llr(y, n0)
    assert got.shape == exact.shape
    assert np.mean(np.sign(got) == np.sign(exact)) > 0.995
    scale = np.polyfit(exact, got, 1)[0]  # a scale error (e.g. a missing 1/N0) shows here
    assert scale == pytest.approx(1.0, abs=0.03)
    assert np.median(np.abs(got - exact)) < 0.05 * np.median(np.abs(exact))


@pytest.mark.parametrize("name", list(ldpc.CODES))
def test_gr_ldpc_encoder_matches_numpy(name):
    code = ldpc.code(name)
    bits = np.random.default_rng(2).integers(0, 2, 3 * code.k).astype(np.uint8)
    meta = {}
    symbols = phy_tx("bpsk", name).modulate(bits, meta)
    assert meta[framing.CODED_BITS] == 3 * code.n
    assert np.array_equal((symbols.real > 0).astype(np.uint8), code.encode(bits.reshape(3, -1)).ravel())


def test_minsum_at_least_as_good_as_gnuradio_decoder():
    """Same frames through both decoders (BPSK, rate 1/2): min-sum BER <= gr-fec BER."""
    rng = np.random.default_rng(3)
    code = ldpc.code("ldpc-1/2")
    for snr in (0.5, 2.0):
        bits = rng.integers(0, 2, 20 * code.k).astype(np.uint8)
        y = channels.awgn(phy_tx("bpsk", "ldpc-1/2").modulate(bits, {}), snr, rng)
        ber = {}
        for backend in ("minsum", "gnuradio"):
            meta = {framing.NOISE_VAR: channels.noise_var(snr), framing.CODED_BITS: 20 * code.n,
                    framing.PAYLOAD_BITS: len(bits)}
            llr = phy_rx("bpsk", "ldpc-1/2", "exact", backend).demodulate(y, meta)
            ber[backend] = np.mean((llr > 0) != bits)
        assert ber["minsum"] <= ber["gnuradio"] + 1e-4, (snr, ber)
    assert ber["minsum"] < 1e-4 and ber["gnuradio"] < 1e-3


def test_rayleigh_chain_with_csi_decodes():
    rng = np.random.default_rng(4)
    bits = rng.integers(0, 2, 20_000).astype(np.uint8)
    chain = [phy_tx("qpsk", "ldpc-1/2"), sim_channel("rayleigh", 12.0, block_len=16, seed=1),
             phy_rx("qpsk", "ldpc-1/2", "exact")]
    meta, llr = split_pdu(run_pdus(chain, [make_pdu({"frame": 0}, bits)], 1)[0], np.float32)
    assert meta[framing.FEC_OK] and np.mean((llr > 0) != bits) == 0


@pytest.mark.parametrize("dtype,kind", [(np.uint8, "u8"), (np.int8, "s8"), (np.int16, "s16"), (np.uint32, "u32"),
                                        (np.int64, "s64"), (np.float32, "f32"), (np.float64, "f64"),
                                        (np.complex64, "c32"), (np.complex128, "c64")])
def test_pdu_vectors_match_pmt_accessors(dtype, kind):
    """numpy <-> pmt through the serialised form gives the vector pmt's own accessors see, and back."""
    values = np.random.default_rng(1).normal(0, 100, 2 * 999).view(np.complex128)
    data = (values if np.iscomplexobj(np.zeros(1, dtype)) else values.real).astype(dtype)
    vec = make_vector(data)
    assert getattr(pmt, f"is_{kind}vector")(vec)
    assert np.array_equal(np.array(getattr(pmt, f"{kind}vector_elements")(vec)), data)
    back = vector_elements(vec)
    assert back.dtype == np.dtype(dtype) and np.array_equal(back, data)
    assert vector_elements(make_vector(np.zeros(0, dtype))).size == 0
    meta, out = split_pdu(make_pdu({"snr": np.arange(3.0)}, data), dtype)
    assert np.array_equal(out, data) and list(meta["snr"]) == [0, 1, 2]


def test_garbled_pdus_are_dropped_and_flowgraph_keeps_running():
    rx = phy_rx("qpsk", "ldpc-1/2", "lut")
    ch = sim_channel("awgn", 10.0)
    tx = phy_tx("qpsk", "ldpc-1/2")
    good = make_pdu({"frame": 1}, np.ones(902, np.uint8))
    garbage = [pmt.intern("nonsense"), pmt.cons(pmt.make_dict(), pmt.init_f32vector(3, [1, 2, 3])),
               make_pdu({}, np.arange(5, dtype=np.uint8))]
    out = run_pdus([tx, ch, rx], garbage + [good], 1)
    assert len(out) == 1 and tx.dropped == 3
    meta, llr = split_pdu(out[0], np.float32)
    assert meta["frame"] == 1 and np.all(llr > 0)
    # a symbols PDU whose header promises more bits than it carries
    bad = make_pdu({framing.NOISE_VAR: 0.1, framing.CODED_BITS: 1800, framing.PAYLOAD_BITS: 902},
                   np.ones(10, np.complex64))
    assert run_pdus([rx], [bad], 1, timeout=1) == [] and rx.dropped == 1


@pytest.mark.parametrize("mod", ["qpsk", "16qam"])
def test_gnuradio_chain_rayleigh_ber_matches_closed_form(mod):
    rng = np.random.default_rng(5)
    n = 160_000
    bits = rng.integers(0, 2, n).astype(np.uint8)
    for snr in (6.0, 15.0):
        chain = [phy_tx(mod, "none"), sim_channel("rayleigh", snr, block_len=4, seed=int(snr)),
                 phy_rx(mod, "none", "exact")]
        _, llr = split_pdu(run_pdus(chain, [make_pdu({"frame": 0}, bits)], 1)[0], np.float32)
        ber, p = np.mean((llr > 0) != bits), theory.ber_rayleigh(mod, snr)
        n_eff = n / 4  # fades are shared by 4 symbols
        assert abs(ber - p) <= 5 * np.sqrt(p * (1 - p) / n_eff) + 0.02 * p, (snr, ber, p)


def test_the_8x4_mimo_channel_carries_an_image_at_high_snr_and_loses_it_cleanly_at_low():
    from gnuradio.semcom.imageio import load_image
    from gnuradio.semcom.flowgraphs.ideal import IdealLink
    import os
    img = load_image(os.path.join(os.path.dirname(__file__), "..", "..", "examples", "images", "kodim23.png"))[::4, ::4]
    with IdealLink("webp", "16qam", "ldpc-1/2", 1 / 16, "mimo8x4", 25.0) as link:
        assert not link.transmit(img).lost
        link.set_snr(0.0)
        low = link.transmit(img)
        assert low.lost and low.image.shape == img.shape
