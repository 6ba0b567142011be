"""The torch channel twins agree with the numpy PHY and with the GNU Radio chain."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")
from gnuradio.semcom.phy import channels, theory  # noqa: E402
from gnuradio.semcom.phy.link import LLR_CLIP  # noqa: E402
from gnuradio.semcom.phy.constellations import constellation  # noqa: E402
from gnuradio.semcom.training import channels as tch  # noqa: E402

MODS = ["bpsk", "qpsk", "16qam", "64qam"]


@pytest.mark.parametrize("mod", MODS)
def test_modulate_and_llr_match_numpy(mod):
    c, m = constellation(mod), tch.Modem(mod)
    rng = np.random.default_rng(0)
    bits = rng.integers(0, 2, (3, 120 * c.bits_per_symbol)).astype(np.uint8)
    s = m.modulate(torch.tensor(bits, dtype=torch.float32))
    ref = c.modulate(bits.ravel()).reshape(3, -1)
    assert np.allclose(s[..., 0].numpy() + 1j * s[..., 1].numpy(), ref, atol=1e-6)
    y = ref + 0.3 * (rng.standard_normal(ref.shape) + 1j * rng.standard_normal(ref.shape))
    yt = torch.tensor(np.stack([y.real, y.imag], -1), dtype=torch.float32)
    assert np.allclose(m.llr(yt, 0.2).numpy(), c.llr(y.ravel(), 0.2).reshape(3, -1), rtol=1e-4, atol=1e-4)


def test_modulate_passes_gradients():
    m = tch.Modem("16qam")
    bits = torch.tensor([[0.0, 1.0, 1.0, 0.0]], requires_grad=True)
    m.modulate(bits).sum().backward()
    assert bits.grad is not None and torch.any(bits.grad != 0)


@pytest.mark.parametrize("mod", MODS)
def test_awgn_ber_and_llr_distribution_match_gnuradio_chain(mod):
    """Same BER as the closed form (which the GNU Radio chain test also checks) and the same
    LLR distribution as the GNU Radio soft decoder fed with noise from noise_source_c."""
    from gnuradio.semcom.blocks.phy_rx import phy_rx
    from gnuradio.semcom.blocks.phy_tx import phy_tx
    from gnuradio.semcom.blocks.sim_channel import sim_channel
    torch.manual_seed(0)
    c, m = constellation(mod), tch.Modem(mod)
    n = 60_000
    bits_np = np.random.default_rng(1).integers(0, 2, n).astype(np.uint8)
    for snr in (3.0, 10.0):
        y, n0 = tch.awgn(m.modulate(torch.tensor(bits_np[None], dtype=torch.float32)), snr)
        llr_t = m.llr(y, n0)[0].numpy()
        meta = {}
        sym = phy_tx(mod, "none").modulate(bits_np, meta)
        y_gr = sim_channel("awgn", snr, seed=3).apply(sym, meta)
        llr_g = phy_rx(mod, "none", "lut").demodulate(y_gr, meta)
        p = theory.ber_awgn(mod, snr)
        tol = 5 * np.sqrt(p * (1 - p) / n) + 0.02 * p + 1e-5
        assert abs(np.mean((llr_t > 0) != bits_np) - p) <= tol
        assert abs(np.mean((llr_g > 0) != bits_np) - p) <= tol
        qs = [10, 25, 50, 75, 90]  # |LLR| quantiles agree (the receive chain clips at LLR_CLIP)
        a, b = np.percentile(np.minimum(np.abs(llr_t), LLR_CLIP), qs), np.percentile(np.abs(llr_g), qs)
        assert np.allclose(a, b, rtol=0.05, atol=0.05), (snr, a, b)


def test_rayleigh_ber_matches_closed_form():
    torch.manual_seed(1)
    m = tch.Modem("qpsk")
    bits = torch.randint(0, 2, (1, 200_000)).float()
    z, nv = tch.rayleigh_block(m.modulate(bits), 10.0, block_len=4)
    ber = torch.mean(((m.llr(z, nv) > 0).float() != bits).float()).item()
    p = theory.ber_rayleigh("qpsk", 10.0)
    assert abs(ber - p) <= 5 * np.sqrt(p * (1 - p) / 50_000) + 0.02 * p


def test_bsc_flip_rate_and_llr():
    torch.manual_seed(2)
    bits = torch.randint(0, 2, (4, 50_000)).float()
    llr = tch.bsc_llr(bits, 0.05)
    assert abs(torch.mean(((llr > 0).float() != bits).float()).item() - 0.05) < 0.004
    assert torch.allclose(llr.abs(), torch.tensor(float(np.log(0.95 / 0.05))))
    assert channels.bsc_llr(np.array([1]), 0.05)[0] == pytest.approx(float(np.log(19)), rel=1e-5)
