"""Any M-point constellation with a labelling: unit energy, its labels, exact LLRs."""

import itertools
import math

import numpy as np
import pytest

from gnuradio.semcom.errors import SemcomError
from gnuradio.semcom.phy.constellations import constellation, labelled


def brute_force_llrs(points, labels, y, noise_var):
    """log P(b=1|y) - log P(b=0|y) for every bit of every sample, one term at a time."""
    k = int(math.log2(len(points)))
    out = []
    for sample in y:
        for bit in range(k):
            p = [0.0, 0.0]
            for point, label in zip(points, labels):
                p[(label >> (k - 1 - bit)) & 1] += math.exp(-abs(sample - point) ** 2 / noise_var)
            out.append(math.log(p[1]) - math.log(p[0]))
    return np.array(out)


@pytest.mark.parametrize("m", [2, 8, 16])
def test_exact_llrs_of_an_arbitrary_labelled_constellation(m):
    rng = np.random.default_rng(m)
    points = rng.normal(size=m) + 1j * rng.normal(size=m)
    labels = rng.permutation(m)
    const = labelled(points, labels)
    scale = np.sqrt(np.mean(np.abs(points) ** 2))
    assert np.mean(np.abs(const.points) ** 2) == pytest.approx(1.0)
    np.testing.assert_allclose(const.points[labels], points / scale)
    noise_var = 0.3
    y = const.points[rng.integers(0, m, 40)] + np.sqrt(noise_var / 2) * (rng.normal(size=40) + 1j * rng.normal(size=40))
    np.testing.assert_allclose(const.llr(y, noise_var), brute_force_llrs(points / scale, labels, y, noise_var),
                               rtol=1e-9, atol=1e-9)


def test_a_size_no_modulation_has_is_registered_by_name():
    points = np.exp(2j * np.pi * np.arange(8) / 8)
    const = labelled(points, [0, 1, 3, 2, 6, 7, 5, 4])
    assert const.bits_per_symbol == 3 and const.name.startswith("8-point")
    # the name is the points' hash after rounding: an earlier float32 copy of 8-PSK may hold it
    np.testing.assert_allclose(constellation(const.name).points, const.points, atol=1e-6)
    assert labelled(points * 3, [0, 1, 3, 2, 6, 7, 5, 4]).name == const.name  # the scale does not matter
    assert labelled([1, -1]).name == "bpsk" and labelled(np.arange(4) + 1j).name == "qpsk"


def test_8psk_is_gray_labelled_around_the_circle_at_unit_energy():
    const = constellation("8psk")
    np.testing.assert_allclose(np.abs(const.points), 1.0)
    by_angle = np.argsort(np.angle(const.points) % (2 * np.pi))  # labels in order around the circle
    np.testing.assert_allclose(np.diff(np.sort(np.angle(const.points) % (2 * np.pi))), np.pi / 4)
    assert all(bin(int(a) ^ int(b)).count("1") == 1 for a, b in zip(by_angle, np.roll(by_angle, 1)))


@pytest.mark.parametrize("points, labels, message", [
    ([1, -1, 1j], None, "2, 4, 8"),
    ([1, -1, 1j, -1j], [0, 1, 1, 2], "each once"),
    ([1, 1, 1j, -1j], None, "distinct"),
    (list(itertools.repeat(0, 128)), None, "up to 64"),
])
def test_malformed_constellations_give_one_line(points, labels, message):
    with pytest.raises(SemcomError, match=message) as err:
        labelled(points, labels)
    assert "\n" not in str(err.value)
