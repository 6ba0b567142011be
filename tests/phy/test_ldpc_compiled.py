"""The compiled layered LDPC decoder against the numpy reference (BPSK, AWGN, rate 1/2)."""
import numpy as np
import pytest
from plain import PACKAGE, module

ldpc = module("phy.ldpc")
channels = module("phy.channels")
constellations = module("phy.constellations")


def _received(code, snr_db, count, seed):
    """(information bits, channel LLRs) of ``count`` random codewords over BPSK at Es/N0 ``snr_db``."""
    rng = np.random.default_rng(seed)
    bpsk = constellations.constellation("bpsk")
    info = rng.integers(0, 2, (count, code.k)).astype(np.uint8)
    y = channels.awgn(bpsk.modulate(code.encode(info).ravel()), snr_db, rng)
    return info, bpsk.llr(y, channels.noise_var(snr_db)).astype(np.float32).reshape(count, code.n)


def test_installed_module_decodes_with_the_compiled_kernel():
    assert ldpc.COMPILED or PACKAGE == "semcom"  # only the source tree (no build) falls back to numpy


@pytest.mark.parametrize("snr_db,count", [(-2.0, 160), (-1.5, 160), (0.0, 100), (1.0, 100), (2.0, 100)])
def test_ber_no_worse_than_numpy(snr_db, count):
    code = ldpc.code("ldpc-1/2")
    info, llr = _received(code, snr_db, count, seed=int(10 * snr_db) + 100)
    bits, ok, post = code.decode(llr)
    reference, reference_ok, _ = code.decode_numpy(llr)
    ber = np.mean(bits[:, code.m:] != info)
    reference_ber = np.mean(reference[:, code.m:] != info)
    assert ber <= reference_ber * 1.02 + 1e-5, (ber, reference_ber)
    assert ok.sum() >= reference_ok.sum() - 2
    assert np.array_equal(ok, code.syndrome_ok(bits))  # ok means every check holds
    assert np.array_equal(bits, (post > 0).astype(np.uint8))


def test_high_snr_decodes_the_encoders_input():
    code = ldpc.code("ldpc-1/2")
    info, llr = _received(code, 3.0, 64, seed=7)
    bits, ok, _ = code.decode(llr)
    assert ok.all() and np.array_equal(bits[:, code.m:], info)
    assert np.array_equal(bits, code.encode(info))


def test_decisions_agree_with_numpy_above_the_waterfall():
    code = ldpc.code("ldpc-1/2")
    _, llr = _received(code, -1.0, 100, seed=3)
    bits, _, _ = code.decode(llr)
    reference, _, _ = code.decode_numpy(llr)
    assert np.mean((bits == reference).all(axis=1)) >= 0.95


def test_stops_early_and_reports_failure_below_threshold():
    code = ldpc.code("ldpc-1/2")
    _, llr = _received(code, -4.0, 20, seed=11)
    _, ok, _ = code.decode(llr, max_iter=10)
    assert not ok.any()
    clean = np.where(code.encode(np.zeros((3, code.k), np.uint8)) > 0, 5.0, -5.0).astype(np.float32)
    bits, ok, post = code.decode(clean)  # already a codeword: returned as received
    assert ok.all() and not bits.any() and np.array_equal(post, clean)
