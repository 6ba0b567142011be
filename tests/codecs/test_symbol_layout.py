"""Unequal error protection: the quantizer's MSB planes on the reliable QAM positions, and back."""
import json
import os
import shutil

import numpy as np
import pytest

from plain import REPO, module

sl = module("codecs.symbol_layout")
rm = module("codecs.rate_match")
constellations = module("phy.constellations")
theory = module("phy.theory")
errors = module("errors")


def quadrant_positions(name):
    """Label positions that alone decide the sign of I or Q: the quadrant bits, from the labels."""
    const = constellations.constellation(name)
    bits = const.label_bits
    sign = [(const.points.real > 0), (const.points.imag > 0)]
    return sorted(j for j in range(bits.shape[1]) for s in sign
                  if np.array_equal(bits[:, j], s) or np.array_equal(bits[:, j], ~s))


def test_the_reliable_positions_of_16qam_are_its_quadrant_bits():
    assert quadrant_positions("16qam") == [0, 2]
    assert sorted(sl.reliability_order("16qam")[:2]) == [0, 2]
    assert sorted(sl.reliability_order("64qam")[:2]) == quadrant_positions("64qam") == [0, 3]
    assert sl.reliability_order("64qam")[2:4] == (1, 4) and sl.reliability_order("64qam")[4:] == (2, 5)


@pytest.mark.parametrize("snr", [0.0, 6.0, 12.0])
def test_per_position_error_rates_are_exact(snr):
    rates = theory.bit_error_rates("16qam", snr)
    assert rates.mean() == pytest.approx(theory.ber_awgn("16qam", snr), rel=1e-12)  # Cho & Yoon
    assert rates[0] == rates[2] < rates[1] == rates[3]
    const, rng, n = constellations.constellation("16qam"), np.random.default_rng(1), 200_000
    bits = rng.integers(0, 2, 4 * n).astype(np.uint8)
    sigma = np.sqrt(10 ** (-snr / 10) / 2)
    y = const.modulate(bits) + sigma * (rng.standard_normal(n) + 1j * rng.standard_normal(n))
    measured = (const.hard_bits(y).reshape(-1, 4) != bits.reshape(-1, 4)).mean(axis=0)
    assert np.all(np.abs(measured - rates) <= 5 * np.sqrt(rates * (1 - rates) / n) + 1e-6)


def test_bpsk_and_64qam_rates_match_the_closed_form():
    assert theory.bit_error_rates("bpsk", 3.0)[0] == pytest.approx(theory.ber_awgn("bpsk", 3.0), rel=1e-12)
    assert theory.bit_error_rates("64qam", 9.0).mean() == pytest.approx(theory.ber_awgn("64qam", 9.0), rel=1e-12)


def plan_indices(shape, sent):
    importance = rm.bit_importance_order(list(range(shape[0])), shape)
    kept = min(sent, int(np.prod(shape)))
    return rm.sent_indices(importance, sent, kept)


@pytest.mark.parametrize("sent", [64 * 12, 64 * 12 - 37, 64 * 12 + 101, 5])  # native, punctured, repeated, tiny
def test_the_layout_is_a_permutation_and_gather_inverts_place(sent):
    shape, layout = (64, 3, 4), sl.Layout("16qam", 4)
    idx = plan_indices(shape, sent)
    slots = layout.air_slots(idx, shape)
    assert sorted(slots.tolist()) == list(range(sent))
    llrs = np.random.default_rng(0).normal(0, 5, sent).astype(np.float32)
    assert np.array_equal(layout.gather(layout.place(llrs, slots), slots), llrs)
    bits = (llrs > 0).astype(np.uint8)
    assert np.array_equal(np.sort(layout.place(bits, slots)), np.sort(bits))


@pytest.mark.parametrize("b", [4, 2])
def test_msb_planes_land_on_the_quadrant_positions(b):
    shape = (64, 3, 4)  # C*b bit planes of 3 x 4 cells: AMP-SC's at cpp 1/16 with 16-QAM
    layout, n = sl.Layout("16qam", b), 64 * 12
    slots = layout.air_slots(np.arange(n), shape)
    significance = (np.arange(n) // 12) % b  # 0: the MSB of its value
    reliable = np.isin(slots % 4, quadrant_positions("16qam"))
    assert reliable.sum() == n // 2
    assert np.all(reliable[significance < b // 2]) and not np.any(reliable[significance >= b // 2])
    if b == 4:  # bit i of a value sits on no less reliable a position than bit i + 1
        rates = theory.bit_error_rates("16qam", 6.0)[slots % 4]
        assert all(rates[significance == i].max() <= rates[significance == i + 1].min() for i in range(b - 1))


def test_bad_layout_names_and_cards_are_one_line_errors():
    card = {"quantizer_bits": 4, "latent_channels": 64}
    assert sl.parse(None, card) is None and sl.parse("none", card) is None
    assert sl.parse("uep-16qam", card) == sl.Layout("16qam", 4)
    for bad in ("uep", "uep-8psk", "msb-16qam", 7):
        with pytest.raises(errors.SemcomError, match="is not one of uep-bpsk"):
            sl.parse(bad, card)
    with pytest.raises(errors.SemcomError, match="needs the card's quantizer_bits"):
        sl.parse("uep-16qam", {"latent_channels": 64})
    with pytest.raises(errors.SemcomError, match="not a multiple of quantizer_bits"):
        sl.parse("uep-16qam", {"quantizer_bits": 3, "latent_channels": 64})


# ---------------------------------------------------------------- through the learned-codec path

AMPSC = "ampsc-b4-16qam-cpp16"


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    neural = pytest.importorskip("gnuradio.semcom.codecs.neural")
    root = tmp_path_factory.mktemp("uep")
    plain, uep = root / AMPSC, root / (AMPSC + "-uep")
    shutil.copytree(os.path.join(REPO, "models", AMPSC), plain)
    shutil.copytree(plain, uep)
    neural.update_card(str(uep), sl.CARD_KEY, "uep-16qam")
    return neural, neural.ModelCodec(neural.OnnxModel(str(plain)), hard=True), \
        neural.ModelCodec(neural.OnnxModel(str(uep)), hard=True)


@pytest.fixture(scope="module")
def image():
    from gnuradio.semcom.imageio import load_image
    return load_image(os.path.join(REPO, "examples", "images", "kodim23.png"))[:128, :192]


def test_a_model_without_the_key_sends_the_same_bits_as_before(models, image):
    neural, plain, uep = models
    from gnuradio.semcom.phy.link import LinkConfig
    h, w = image.shape[:2]
    link = LinkConfig("16qam", "none")
    sent = plain.encode(image, link, h * w // 16)
    assert plain.model.layout is None and plain.model.air_slots(plain.model.plan(h, w, len(sent.bits))) is None
    assert np.array_equal(sent.bits, plain.model.encode(image))  # the whole latent, NCHW, at its own budget
    with open(os.path.join(REPO, "models", AMPSC, "encoder.onnx"), "rb") as f:
        import hashlib
        digest = hashlib.sha256(f.read())
    with open(os.path.join(REPO, "models", AMPSC, "decoder.onnx"), "rb") as f:
        digest.update(f.read())
    assert plain.model.fingerprint == digest.hexdigest()[:12]  # the key is absent, so it hashes nothing more
    on_air = uep.encode(image, link, h * w // 16)
    assert uep.model.fingerprint != plain.model.fingerprint
    slots = uep.model.air_slots(uep.model.plan(h, w, len(on_air.bits)))
    assert np.array_equal(on_air.bits[slots], sent.bits)  # the same bits, only reordered
    assert not np.array_equal(on_air.bits, sent.bits)


def test_the_layout_round_trips_an_image_error_free_identically(models, image):
    neural, plain, uep = models
    from gnuradio.semcom.codecs.base import Received
    from gnuradio.semcom.phy.link import LinkConfig
    h, w = image.shape[:2]
    out = []
    for codec in (plain, uep):
        for budget in (h * w // 16, h * w // 40):  # native, and punctured by rate matching
            enc = codec.encode(image, LinkConfig("16qam", "none"), budget)
            llrs = np.where(enc.bits > 0, 30.0, -30.0).astype(np.float32)
            meta = {"height": h, "width": w, **enc.meta}
            out.append(codec.decode(Received(enc.bits, llrs, True, meta)).image)
    assert np.array_equal(out[0], out[2]) and np.array_equal(out[1], out[3])
    assert not np.array_equal(out[0], out[1])  # puncturing did change the image
    enc = uep.encode(image, LinkConfig("16qam", "none"), h * w // 16)
    with pytest.raises(ValueError, match="fingerprint"):  # a receiver without the layout refuses the frame
        plain.decode(Received(enc.bits, np.zeros(len(enc.bits), np.float32), True,
                              {"height": h, "width": w, **enc.meta, neural.MODEL: plain.model.name}))


def test_a_bad_layout_in_card_json_fails_at_load(models, tmp_path):
    neural = models[0]
    folder = tmp_path / AMPSC
    shutil.copytree(os.path.join(REPO, "models", AMPSC), folder)
    card = json.loads((folder / "card.json").read_text())
    card[sl.CARD_KEY] = "uep-32qam"
    (folder / "card.json").write_text(json.dumps(card))
    with pytest.raises(errors.SemcomError, match="symbol_layout 'uep-32qam' is not one of"):
        neural.ModelCodec(neural.OnnxModel(str(folder)))
