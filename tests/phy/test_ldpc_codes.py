"""The module's own high-rate LDPC codes (phy/alist): shape, girth, and decoding above their waterfall."""
import numpy as np
import pytest
from plain import module

ldpc = module("phy.ldpc")
channels = module("phy.channels")
constellations = module("phy.constellations")

# rate, Es/N0 (dB, BPSK) above the code's waterfall, and one below it
HIGH_RATE = {"ldpc-2/3": (2 / 3, 2.0, -0.5), "ldpc-3/4": (3 / 4, 3.0, 0.5), "ldpc-5/6": (5 / 6, 4.0, 1.5)}


def _llrs(code, snr_db, count, rng):
    bpsk = constellations.constellation("bpsk")
    info = rng.integers(0, 2, (count, code.k)).astype(np.uint8)
    y = channels.awgn(bpsk.modulate(code.encode(info).ravel()), snr_db, rng)
    return info, bpsk.llr(y, channels.noise_var(snr_db)).astype(np.float32).reshape(count, code.n)


@pytest.mark.parametrize("name", HIGH_RATE)
def test_shape_girth_and_gap(name):
    code = ldpc.code(name)
    assert (code.n, code.k) == (1800, round(1800 * HIGH_RATE[name][0]))
    h = code.dense_h().astype(np.float32)
    overlap = h.T @ h
    np.fill_diagonal(overlap, 0)
    assert overlap.max() <= 1  # no two columns share two checks: no 4-cycles
    assert code.encoder_gap() == 1
    codewords = code.encode(np.random.default_rng(0).integers(0, 2, (4, code.k)))
    assert code.syndrome_ok(codewords).all()


@pytest.mark.parametrize("name", HIGH_RATE)
def test_decodes_above_its_waterfall_and_fails_below(name):
    code, (_, above, below) = ldpc.code(name), HIGH_RATE[name]
    rng = np.random.default_rng(5)
    info, llr = _llrs(code, above, 60, rng)
    bits, ok, _ = code.decode(llr)
    assert ok.all() and np.array_equal(bits[:, code.m:], info)
    _, llr = _llrs(code, below, 20, rng)
    _, ok, _ = code.decode(llr, max_iter=20)
    assert not ok.any()
