"""Rate matching without GNU Radio or ONNX: puncturing, repetition, LLR combining and plans."""
import math

import numpy as np
import pytest

from plain import module

rm = module("codecs.rate_match")


def test_spread_order_is_a_permutation_whose_prefixes_spread_evenly():
    for n in (1, 2, 7, 100, 1536):
        order = rm.spread_order(n)
        assert sorted(order.tolist()) == list(range(n))
    order = rm.spread_order(1000)
    for k in (100, 250, 500):
        gaps = np.diff(np.sort(order[:k]))
        assert gaps.max() <= 3 * 1000 / k  # a prefix never leaves a large hole (a bottom half, say)


def test_bit_importance_order_takes_channels_in_order_and_every_bit_once():
    shape = (4, 3, 5)
    order = rm.bit_importance_order([2, 0, 3, 1], shape)
    assert sorted(order.tolist()) == list(range(60))
    assert set(order[:15].tolist()) == set(range(30, 45))  # channel 2 first, all its cells
    assert set(order[-15:].tolist()) == set(range(15, 30))  # channel 1 last
    with pytest.raises(ValueError, match="permutation"):
        rm.bit_importance_order([0, 1, 1, 3], shape)


def test_puncturing_sends_the_most_important_bits_in_latent_order():
    importance = rm.bit_importance_order([1, 0], (2, 2, 4))
    idx = rm.sent_indices(importance, 10)
    assert idx.tolist() == sorted(idx.tolist()) and len(idx) == 10
    assert set(idx.tolist()) == set(importance[:10].tolist()) and set(range(8, 16)) <= set(idx.tolist())
    assert rm.sent_indices(importance, 0).size == 0


def test_a_kept_share_below_the_budget_repeats_only_what_is_kept():
    importance = rm.bit_importance_order([1, 0], (2, 1, 3))
    idx = rm.sent_indices(importance, 6, kept=3)
    assert idx[:3].tolist() == [3, 4, 5] and idx[3:].tolist() == importance[:3].tolist()
    with pytest.raises(ValueError, match="cannot send"):
        rm.sent_indices(importance, 2, kept=3)


def test_repetition_sends_everything_once_then_the_most_important_again():
    importance = rm.bit_importance_order([1, 0], (2, 1, 3))
    idx = rm.sent_indices(importance, 6 + 8)  # 8 extra: 6 cyclic repeats + 2 more
    assert idx[:6].tolist() == list(range(6))
    assert idx[6:].tolist() == importance.tolist() + importance[:2].tolist()


def test_combine_sums_copies_and_erases_unsent_bits():
    idx = np.array([0, 2, 2, 5, 0])
    llrs = np.array([1.0, 2.0, 3.0, -4.0, 0.5])
    assert rm.combine(llrs, idx, 7).tolist() == [1.5, 0.0, 5.0, 0.0, 0.0, -4.0, 0.0]
    with pytest.raises(ValueError, match="LLRs for"):
        rm.combine(llrs[:3], idx, 7)


def q_function(x):
    return 0.5 * math.erfc(x / math.sqrt(2))


def test_repeated_bits_reach_the_closed_form_ber_of_combining():
    """BPSK over AWGN: LLR = 2y/sigma^2. Summing the LLRs of r copies gives BER Q(sqrt(r * 2Eb/N0)):
    the repeated half of the latent at Q(sqrt(4 Eb/N0)), the rest at Q(sqrt(2 Eb/N0))."""
    rng = np.random.default_rng(1)
    n, ebn0 = 20000, 10 ** (0 / 10)
    importance = rm.bit_importance_order([0, 1], (2, 1, n // 2))
    bits = rng.integers(0, 2, n)
    idx = rm.sent_indices(importance, n + n // 2)  # channel 0 sent twice
    sigma2 = 1 / (2 * ebn0)
    y = (2.0 * bits[idx] - 1) + rng.normal(0, math.sqrt(sigma2), idx.size)
    llr = rm.combine(2 * y / sigma2, idx, n)
    errors = (llr > 0) != bits.astype(bool)
    twice, once = errors[: n // 2].mean(), errors[n // 2:].mean()
    for measured, copies in ((twice, 2), (once, 1)):
        expected = q_function(math.sqrt(copies * 2 * ebn0))
        assert abs(measured - expected) < 4 * math.sqrt(expected / (n // 2)) + 1e-4


def test_predicted_psnr_interpolates_in_log_fraction_and_is_flat_outside():
    curve = [[1.0, 30.0], [0.25, 20.0], [0.5, 26.0]]
    assert rm.predicted_psnr(curve, 1.0) == 30.0 and rm.predicted_psnr(curve, 3.0) == 30.0
    assert rm.predicted_psnr(curve, 0.01) == 20.0
    assert rm.predicted_psnr(curve, math.sqrt(0.125)) == pytest.approx(23.0)  # half-way between 0.25 and 0.5


def latent(h, w):
    return 8, -(-h // 16), -(-w // 16)


def test_plan_downscales_only_where_the_curves_say_it_pays():
    profile = {"curves": {"1": [[1.0, 30.0], [0.5, 27.0], [0.25, 18.0], [0.0625, 10.0]],
                          "2": [[1.0, 26.0], [0.5, 23.0], [0.25, 16.0]]}}
    n = 8 * 32 * 48  # 512x768
    full = rm.plan(profile, latent, 512, 768, n)
    assert (full.scale, full.size, full.n, full.fraction) == (1, (512, 768), n, 1.0)
    assert rm.plan(profile, latent, 512, 768, n // 2).scale == 1  # 27 dB beats 26 (scale 2, everything sent)
    small = rm.plan(profile, latent, 512, 768, n // 4)  # 18 dB against 26
    assert (small.scale, small.size, small.shape, small.fraction) == (2, (256, 384), (8, 16, 24), 1.0)
    assert rm.plan({}, latent, 512, 768, 10).scale == 1  # no curves: never downscale
    assert rm.plan(profile, latent, 512, 768, n // 4) == small  # the receiver's recomputation agrees


def test_plan_keeps_the_best_share_when_the_curve_peaks_below_everything():
    profile = {"curves": {"1": [[1.0, 21.6], [0.75, 22.1], [0.5, 21.7], [0.25, 19.5]]}}
    n = 8 * 32 * 48
    p = rm.plan(profile, latent, 512, 768, n)
    assert (p.kept, p.sent) == (3 * n // 4, n)  # a quarter erased; its bits repeat the kept ones
    assert rm.plan(profile, latent, 512, 768, n // 2).kept == n // 2
    assert rm.plan(profile, latent, 512, 768, 3 * n).kept == 3 * n // 4
    assert rm.plan({}, latent, 512, 768, n // 2).kept == n // 2 and rm.plan({}, latent, 512, 768, 2 * n).kept == n


def test_plan_stops_where_the_latent_no_longer_shrinks():
    profile = {"curves": {str(s): [[1.0, 20.0 + s]] for s in rm.SCALES}}  # (as if) smaller is better
    assert rm.plan(profile, latent, 9, 17, 3).scale == 2  # 1x2 cells, then 1x1 at 2, 4 and 8: stop at 2
