"""The BCJR sequence detector: exact against brute force, the AWGN demapper without interference."""
import itertools

import numpy as np
import pytest
from scipy.special import erfc, logsumexp

from gnuradio.semcom.phy import trellis
from gnuradio.semcom.phy.constellations import constellation

QAM16 = constellation("16qam")


def _brute_force(y, taps, noise_var, alphabet, history, exact):
    """Bit LLRs by enumerating every symbol sequence."""
    n, m = alphabet.shape
    k = QAM16.bits_per_symbol
    metrics, labels = [], []
    for seq in itertools.product(range(m), repeat=n):
        x = np.concatenate([history, alphabet[np.arange(n), list(seq)]])
        expected = sum(t * x[len(history) - l:len(history) - l + n] for l, t in enumerate(taps))
        metrics.append(-np.sum(np.abs(y - expected) ** 2) / noise_var)
        labels.append(seq)
    metrics, bits = np.array(metrics), QAM16.label_bits[np.array(labels)]  # (S,), (S, n, k)
    reduce = (lambda v: logsumexp(v)) if exact else np.max
    return np.array([[reduce(metrics[bits[:, i, b] == 1]) - reduce(metrics[bits[:, i, b] == 0])
                      for b in range(k)] for i in range(n)])


@pytest.mark.parametrize("exact", [True, False])
def test_llrs_equal_brute_force_with_a_known_symbol_inside(exact):
    rng = np.random.default_rng(3)
    n, taps, noise_var = 4, np.array([1.0, 0.35 - 0.25j]), 0.2
    alphabet = np.tile(QAM16.points, (n, 1))
    alphabet[2] = (1 + 1j) / np.sqrt(2)  # a pilot: every candidate the known point
    history = np.array([QAM16.points[5]])
    sent = alphabet[np.arange(n), rng.integers(0, 16, n)]
    x = np.concatenate([history, sent])
    y = taps[0] * x[1:] + taps[1] * x[:-1] + np.sqrt(noise_var / 2) * (rng.standard_normal(n)
                                                                        + 1j * rng.standard_normal(n))
    got = trellis.detect_numpy(y, taps, noise_var, alphabet, history, QAM16.label_bits, exact)
    np.testing.assert_allclose(got, _brute_force(y, taps, noise_var, alphabet, history, exact), atol=1e-9)


def test_two_symbol_memory_equals_brute_force():
    rng = np.random.default_rng(4)
    n, taps, noise_var = 3, np.array([1.0, 0.3j, -0.2]), 0.15
    alphabet = np.tile(QAM16.points, (n, 1))
    history = QAM16.points[[1, 9]]
    x = np.concatenate([history, alphabet[np.arange(n), rng.integers(0, 16, n)]])
    y = taps[0] * x[2:] + taps[1] * x[1:-1] + taps[2] * x[:-2] + 0.3 * rng.standard_normal(n)
    got = trellis.detect_numpy(y, taps, noise_var, alphabet, history, QAM16.label_bits)
    np.testing.assert_allclose(got, _brute_force(y, taps, noise_var, alphabet, history, True), atol=1e-9)


def test_without_interference_it_is_the_awgn_demapper():
    rng = np.random.default_rng(5)
    n, snr_db = 40000, 10.0
    noise_var = 10 ** (-snr_db / 10)
    bits = rng.integers(0, 2, 4 * n).astype(np.uint8)
    y = QAM16.modulate(bits) + np.sqrt(noise_var / 2) * (rng.standard_normal(n) + 1j * rng.standard_normal(n))
    llr = trellis.detect(y, [1.0, 0.0], noise_var, np.tile(QAM16.points, (n, 1)), QAM16.points[:1],
                         QAM16.label_bits).ravel()
    np.testing.assert_allclose(llr, QAM16.llr(y, noise_var), atol=1e-3)  # the kernel's tabulated log-sum-exp
    # Gray 16-QAM: per dimension 4-PAM at +-1, +-3 (times 1/sqrt(10)), sign bit and amplitude bit
    q = lambda d: 0.5 * erfc(d / np.sqrt(10 * noise_var))  # Q(d / sqrt(10) / sigma), sigma^2 = N0 / 2
    sign, amplitude = (q(1) + q(3)) / 2, (2 * q(1) + q(3) - q(5)) / 2
    expected = (sign + amplitude) / 2
    ber = np.mean((llr > 0) != bits)
    assert abs(ber - expected) < 4 * np.sqrt(expected / bits.size)


def test_sequence_detection_beats_symbol_by_symbol_on_interference():
    """On y = s[n] + g s[n-1] + noise, knowing the interference as a trellis errs less than
    demapping as if the interference were noise."""
    rng = np.random.default_rng(6)
    n, g, noise_var = 20000, 0.3 + 0.3j, 0.05
    bits = rng.integers(0, 2, 4 * n).astype(np.uint8)
    s = QAM16.modulate(bits)
    x = np.concatenate([QAM16.points[:1], s])
    y = x[1:] + g * x[:-1] + np.sqrt(noise_var / 2) * (rng.standard_normal(n) + 1j * rng.standard_normal(n))
    sequence = trellis.detect(y, [1.0, g], noise_var, np.tile(QAM16.points, (n, 1)), QAM16.points[:1],
                              QAM16.label_bits).ravel()
    symbolwise = QAM16.llr(y, noise_var + abs(g) ** 2)
    assert np.mean((sequence > 0) != bits) < 0.02 < 0.05 < np.mean((symbolwise > 0) != bits)


@pytest.mark.skipif(trellis.kernels is None, reason="compiled kernels not installed")
@pytest.mark.parametrize("exact", [True, False])
def test_compiled_kernel_equals_numpy(exact):
    rng = np.random.default_rng(7)
    n, taps, noise_var = 300, np.array([1.0, 0.25 + 0.3j, -0.1j]), 0.1
    alphabet = np.tile(QAM16.points, (n, 1))
    alphabet[::20] = QAM16.points[3]  # known symbols
    history = QAM16.points[[2, 7]]
    x = np.concatenate([history, alphabet[np.arange(n), rng.integers(0, 16, n)]])
    y = taps[0] * x[2:] + taps[1] * x[1:-1] + taps[2] * x[:-2] + 0.3 * (rng.standard_normal(n)
                                                                        + 1j * rng.standard_normal(n))
    args = (y, taps, noise_var, alphabet, history, QAM16.label_bits, exact)
    # the kernel tabulates log(1 + exp(-x)) for the exact sums
    np.testing.assert_allclose(trellis.detect(*args), trellis.detect_numpy(*args), atol=1e-3 if exact else 1e-7)


def test_too_few_known_symbols_is_an_error():
    with pytest.raises(ValueError):
        trellis.detect(np.zeros(3), [1.0, 0.5, 0.2], 0.1, np.tile(QAM16.points, (3, 1)), QAM16.points[:1],
                       QAM16.label_bits)
