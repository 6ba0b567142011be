"""PHY maths without GNU Radio: BER against closed forms, exact LLRs, LDPC coding gain."""
import numpy as np
import pytest
from plain import module

constellations = module("phy.constellations")
channels = module("phy.channels")
theory = module("phy.theory")
ldpc = module("phy.ldpc")
soft_lut = module("phy.soft_lut")
link = module("phy.link")

MODS = ["bpsk", "qpsk", "16qam", "64qam"]


def _ber_tolerance(p, n):
    """5 standard deviations of a binomial estimate plus 2% relative (model) slack."""
    return 5 * np.sqrt(p * (1 - p) / n) + 0.02 * p


@pytest.mark.parametrize("mod", MODS)
def test_unit_energy_gray(mod):
    c = constellations.constellation(mod)
    assert np.mean(np.abs(c.points) ** 2) == pytest.approx(1.0)
    if c.bits_per_symbol > 1:  # nearest neighbours differ in exactly one bit
        d = np.abs(c.points[:, None] - c.points[None, :])
        dmin = d[d > 1e-9].min()
        for i, j in zip(*np.nonzero(np.isclose(d, dmin))):
            assert bin(i ^ j).count("1") == 1


@pytest.mark.parametrize("mod", MODS)
def test_awgn_ber_matches_closed_form(mod):
    rng = np.random.default_rng(1)
    c = constellations.constellation(mod)
    n = 240_000
    bits = rng.integers(0, 2, n).astype(np.uint8)
    s = c.modulate(bits)
    for snr in (2.0, 6.0, 10.0):
        ber = np.mean(c.hard_bits(channels.awgn(s, snr, rng)) != bits)
        p = theory.ber_awgn(mod, snr)
        assert abs(ber - p) <= _ber_tolerance(p, n), (snr, ber, p)


@pytest.mark.parametrize("mod", ["bpsk", "qpsk", "16qam"])
def test_rayleigh_ber_matches_closed_form(mod):
    rng = np.random.default_rng(2)
    c = constellations.constellation(mod)
    n = 240_000
    bits = rng.integers(0, 2, n).astype(np.uint8)
    s = c.modulate(bits)
    for snr in (5.0, 10.0, 20.0):
        h = channels.rayleigh_block_gains(len(s), 4, rng)
        z, _ = channels.equalise(channels.awgn(s * h, snr, rng), h, channels.noise_var(snr))
        ber = np.mean(c.hard_bits(z) != bits)
        p = theory.ber_rayleigh(mod, snr)
        # block fading: 4 symbols share a fade, so effective samples are fewer
        assert abs(ber - p) <= _ber_tolerance(p, n / 4), (snr, ber, p)


def test_exact_llr_against_definition():
    """LLR = log sum_{s:b=1} exp(-|y-s|^2/N0) - log sum_{s:b=0} ..., computed naively."""
    rng = np.random.default_rng(3)
    for mod in MODS:
        c = constellations.constellation(mod)
        y = rng.standard_normal(50) + 1j * rng.standard_normal(50)
        n0 = 0.3
        got = c.llr(y, n0).reshape(50, -1)
        for i in range(50):
            lik = np.exp(-np.abs(y[i] - c.points) ** 2 / n0)
            for b in range(c.bits_per_symbol):
                ones = c.label_bits[:, b] == 1
                assert got[i, b] == pytest.approx(np.log(lik[ones].sum() / lik[~ones].sum()), rel=1e-6, abs=1e-9)


def test_llr_sign_means_bit_one():
    c = constellations.constellation("16qam")
    llr = c.llr(c.points, 0.01).reshape(16, 4)
    assert np.array_equal(llr > 0, c.label_bits.astype(bool))


@pytest.mark.parametrize("mod", MODS)
def test_lut_model_close_to_exact(mod):
    """The table GNU Radio's soft decoder reads is within half a cell of the exact LLR."""
    c = constellations.constellation(mod)
    rng = np.random.default_rng(4)
    n0 = channels.noise_var(10)
    y = c.modulate(rng.integers(0, 2, 6000 - 6000 % c.bits_per_symbol).astype(np.uint8))
    y = channels.awgn(y, 10, rng)
    table = soft_lut.build_table(c, n0)
    got, exact = soft_lut.lookup(c, table, y, n0), c.llr(y, n0)
    limit = soft_lut.axis_limit(c, n0)
    inside = np.repeat(np.maximum(np.abs(y.real), np.abs(y.imag)) < limit, c.bits_per_symbol)
    assert inside.mean() > 0.999
    cell = 2 * limit / (1 << soft_lut.DEFAULT_PRECISION)
    slope = 2 * 2 * limit / n0  # |d LLR / dy| <= 2 * max distance / N0
    assert np.all(np.abs(got - exact)[inside] <= slope * cell * np.sqrt(2) / 2 + 1e-3)
    assert np.mean(np.sign(got) == np.sign(exact)) > 0.995
    assert np.median(np.abs(got - exact) / (np.abs(exact) + 1)) < 0.05


def test_ldpc_encoder_codewords_satisfy_parity():
    code = ldpc.code("ldpc-1/2")
    info = np.random.default_rng(5).integers(0, 2, (8, code.k)).astype(np.uint8)
    cw = code.encode(info)
    assert code.syndrome_ok(cw).all()
    assert np.array_equal(cw[:, code.m:], info)


def test_ldpc_coding_gain():
    """BER < 1e-4 after LDPC where uncoded BER > 1e-2 (QPSK, Es/N0 3 dB, rate 1/2)."""
    rng = np.random.default_rng(6)
    code, c, snr = ldpc.code("ldpc-1/2"), constellations.constellation("qpsk"), 3.0
    info = rng.integers(0, 2, (60, code.k)).astype(np.uint8)
    cw = code.encode(info)
    y = channels.awgn(c.modulate(cw.ravel()), snr, rng)
    llr = c.llr(y, channels.noise_var(snr)).reshape(cw.shape)
    uncoded = np.mean((llr > 0) != cw)
    decoded, ok = code.decode_info(llr)
    assert uncoded > 1e-2
    assert np.mean(decoded != info) < 1e-4 and ok.all()


def test_ldpc_reports_failure_below_threshold():
    rng = np.random.default_rng(7)
    code, c, snr = ldpc.code("ldpc-1/2"), constellations.constellation("qpsk"), -2.0
    cw = code.encode(rng.integers(0, 2, (10, code.k)).astype(np.uint8))
    llr = c.llr(channels.awgn(c.modulate(cw.ravel()), snr, rng), channels.noise_var(snr)).reshape(cw.shape)
    _, ok = code.decode_info(llr, max_iter=20)
    assert not ok.any()


def test_link_accounting():
    cfg = link.LinkConfig("16qam", "ldpc-1/2")
    cu = 24576
    bits = cfg.payload_bits(cu)
    assert bits % 902 == 0 and cfg.channel_uses(bits) <= cu < cfg.channel_uses(bits + 1)
    assert link.LinkConfig.parse("qpsk").rate == 1.0


def test_capacity():
    assert channels.capacity("awgn", 0.0) == pytest.approx(1.0)
    rng = np.random.default_rng(8)
    g = rng.exponential(size=400_000)
    mc = np.mean(np.log2(1 + g * 10.0))
    assert channels.capacity("rayleigh", 10.0) == pytest.approx(mc, rel=0.01)
    assert channels.capacity("rayleigh", 10.0) < channels.capacity("awgn", 10.0)


def test_lmmse_gain_and_variance_match_a_monte_carlo_of_the_detector():
    """Per stream, the unbiased LMMSE estimate's error variance is what lmmse reports (equivalent
    CSI h: N0 / |h|^2), and with a single antenna pair it is zero forcing (|h| = |channel gain|)."""
    from gnuradio.semcom.phy import channels as ch
    rng = np.random.default_rng(5)
    n0 = ch.noise_var(10.0)
    g = np.repeat(((rng.standard_normal((1, 4, 4)) + 1j * rng.standard_normal((1, 4, 4))) / 4).astype(np.complex64),
                  20000, axis=0)
    x = ((rng.integers(0, 2, (20000, 4)) * 2 - 1) + 1j * (rng.integers(0, 2, (20000, 4)) * 2 - 1)) / np.sqrt(2)
    noise = (rng.standard_normal((20000, 4)) + 1j * rng.standard_normal((20000, 4))) * np.sqrt(n0 / 2)
    r = np.einsum("urs,us->ur", g, x) + noise
    est, h = ch.lmmse(r.astype(np.complex64), g, n0, x.size)
    err = (est - x.reshape(-1)).reshape(-1, 4)
    predicted = n0 / np.abs(h.reshape(-1, 4)[0]) ** 2
    assert np.allclose(np.mean(np.abs(err) ** 2, axis=0), predicted, rtol=0.05)
    assert abs(np.mean(err)) < 0.02  # unbiased
    one = np.full((1000, 1, 1), 0.6 - 0.3j, np.complex64)
    _, h1 = ch.lmmse(one[:, :, 0] * 1.0, one, n0, 1000)
    assert np.allclose(np.abs(h1), np.abs(0.6 - 0.3j), rtol=1e-4)


def test_received_reports_the_noise_variance_each_symbol_has_after_equalisation():
    """channels.received, the numpy twin of the sim_channel block: for AWGN, Rayleigh and 8x4 MIMO,
    the normalised error |y - x|^2 / nv averages 1 (so exact LLRs on (y, nv) are calibrated)."""
    from gnuradio.semcom.phy import channels as ch
    rng = np.random.default_rng(3)
    x = ((rng.integers(0, 2, 40000) * 2 - 1) + 1j * (rng.integers(0, 2, 40000) * 2 - 1)).astype(np.complex64) / np.sqrt(2)
    for name in ("awgn", "rayleigh", ch.MIMO):
        y, nv = ch.received(name, x, 10.0, np.random.default_rng(4), block_len=16)
        assert y.shape == x.shape and nv.shape == x.shape and np.all(nv > 0)
        assert np.mean(np.abs(y - x) ** 2 / nv) == pytest.approx(1.0, abs=0.05), name
    assert np.allclose(ch.received("awgn", x, 10.0, rng)[1], ch.noise_var(10.0))
    with pytest.raises(ValueError, match="unknown channel"):
        ch.received("rician", x, 10.0, rng)


def test_mimo_transmit_shapes_power_and_names():
    from gnuradio.semcom.phy import channels as ch
    assert ch.mimo_shape("mimo8x4") == (8, 4) and ch.mimo_shape("awgn") is None and ch.mimo_shape("mimox") is None
    q = ch.mimo_precoder(8, 4)
    assert np.allclose(q.conj().T @ q, np.eye(4), atol=1e-6)
    rng = np.random.default_rng(0)
    sym = ((rng.integers(0, 2, 40001) * 2 - 1) + 0j).astype(np.complex64)
    received, g = ch.mimo_transmit(sym, 8, 4, 16, rng)
    assert received.shape == (10001, 4) and g.shape == (10001, 4, 4)
    assert abs(np.mean(np.abs(received) ** 2) - 1.0) < 0.05  # unit power at every receive antenna
    assert np.array_equal(g[0], g[15]) and not np.array_equal(g[15], g[16])  # block fading
