"""The masked VQ-VAE at run time: kept positions, payload layout, side information, bad frames."""
import os

import numpy as np
import pytest

from gnuradio.semcom.codecs import masked_vq, neural, registry
from gnuradio.semcom.codecs.base import Received
from gnuradio.semcom.imageio import load_image
from gnuradio.semcom.phy.link import LinkConfig

from plain import REPO  # noqa: E402
SAMPLE = os.path.join(REPO, "examples", "images", "kodim23.png")
LINK = LinkConfig("16qam", "ldpc-1/2")


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """A tiny untrained model, exported (the runtime's behaviour does not depend on training)."""
    torch = pytest.importorskip("torch")
    from gnuradio.semcom.training import export, mvqvae
    torch.manual_seed(0)
    model = mvqvae.MaskedVQVAE(patch=8, tile=32, codebook=16, code_dim=8, preset="tiny")
    model.mask_logits[:4] = 3.0  # the first positions are kept far more often
    out = str(tmp_path_factory.mktemp("vq") / "mvqvae-test")
    saved = {"config": {"name": "test", "model": {"method": "mvqvae", "latent_channels": 4, "preset": "tiny"},
                        "modulation": "16qam", "cpp": "1/32", "recipe": [{"name": "a", "steps": 1,
                                                                           "channel": {"kind": "error-free"}}],
                        "data": {"crop": 32, "batch": 1}, "lr": 1e-4, "seed": 0}}
    export.export(model, saved, out)
    return out


@pytest.fixture(scope="module")
def codec(folder):
    return registry.get(folder)


@pytest.fixture(scope="module")
def image():
    return load_image(SAMPLE)[::4, ::4]  # 192 x 128


def certain(bits):
    return np.where(bits > 0, 20.0, -20.0).astype(np.float32)


def rx(codec, bits, llrs, h, w, meta):
    return Received(bits, llrs, True, {"height": h, "width": w, **meta})


def test_kept_positions_are_reproducible_and_follow_the_mask_logits():
    flat = masked_vq.keep_positions(np.zeros(64), 200, 16)
    assert np.array_equal(flat, masked_vq.keep_positions(np.zeros(64), 200, 16))
    assert all(np.all(np.diff(row) > 0) for row in flat)  # ascending, no repeats
    counts = np.bincount(flat.ravel(), minlength=64)
    assert counts.min() > 20 and counts.max() < 90  # uniform: 50 each on average
    biased = masked_vq.keep_positions(np.r_[np.full(8, 4.0), np.zeros(56)], 200, 16)
    assert np.mean(biased < 8) > 0.4  # 8 of 64 positions, favoured by e^4: far above 1/8


def test_the_card_routes_the_folder_to_the_masked_vq_codec(codec, folder):
    assert isinstance(codec, masked_vq.MaskedVQCodec) and codec.default_fec == "ldpc-1/2"
    assert neural.card_codec(folder) == "mvqvae"


@pytest.mark.parametrize("size", [(128, 192), (17, 9), (300, 451)])
@pytest.mark.parametrize("cpp", [1 / 8, 1 / 32, 1 / 128])
def test_every_image_fills_exactly_its_budget_and_decodes(codec, image, size, cpp):
    from gnuradio.semcom.imageio import resize
    img = resize(image, *size)
    h, w = size
    cu = max(LINK.channel_uses(1), int(cpp * h * w))  # at least one LDPC codeword
    enc = codec.encode(img, LINK, cu)
    assert len(enc.bits) == LINK.payload_bits(cu)
    out = codec.decode(rx(codec, enc.bits, certain(enc.bits), h, w, enc.meta))
    assert out.image.shape == (h, w, 3)


def direct_reconstruction(m, plan, index, bits_of_kept):
    """The decoder on planes holding ``bits_of_kept`` (T, K, b) at the kept positions, 0.5 elsewhere."""
    keep = masked_vq.keep_positions(m.mask_logits, plan.tiles, plan.keep)
    g = m.tile // m.patch
    per_pos = np.full((plan.tiles, m.positions, m.index_bits), 0.5, np.float32)
    per_pos[np.arange(plan.tiles)[:, None], keep] = bits_of_kept
    planes = per_pos.reshape(plan.rows, plan.cols, g, g, -1).transpose(4, 0, 2, 1, 3).reshape(
        m.index_bits, plan.rows * g, plan.cols * g)
    return m.run_decoder(planes)


def index_bits(index, b):
    return ((index[..., None] >> np.arange(b - 1, -1, -1)) & 1).astype(np.float32)


def test_error_free_payload_gives_the_networks_own_reconstruction(folder, image):
    """Without the similarity rule the decoder sees exactly the sent indices at their positions, 0.5
    elsewhere (FIM drops)."""
    codec = masked_vq.MaskedVQCodec(masked_vq.MaskedVQModel(folder), delta=2.0)
    h, w = image.shape[:2]
    enc = codec.encode(image, LINK, h * w // 32)
    llrs = certain(enc.bits)
    plan, flags, copy, _ = codec._side(llrs, h, w)
    index, send, copied = codec._encode_plan(image, plan)
    assert np.array_equal(send, flags) and not copy.any() and not copied.any()
    m = codec.model
    bits = np.where(send[..., None], index_bits(index, m.index_bits), 0.5)
    direct = direct_reconstruction(m, plan, index, bits)[:h, :w]
    assert np.array_equal(codec.decode(rx(codec, enc.bits, llrs, h, w, enc.meta)).image, direct)


def test_a_copy_takes_the_previous_kept_token(folder, image):
    """delta = -1: every token after the first of a tile (both passing the FIM) is a copy; one
    index per run is sent and the receiver repeats it, and the saved bits buy more kept positions."""
    m = masked_vq.MaskedVQModel(folder)
    h, w = image.shape[:2]
    plain = masked_vq.MaskedVQCodec(m, delta=2.0, fim_threshold=0.0)
    runs = masked_vq.MaskedVQCodec(m, delta=-1.0, fim_threshold=0.0)
    cu = 2 * LINK.channel_uses(1)  # two LDPC codewords: too few for every kept index
    llrs = certain(runs.encode(image, LINK, cu).bits)
    plan, flags, copy, _ = runs._side(llrs, h, w)
    assert flags[:, 0].all() and not flags[:, 1:].any() and copy[:, 1:].all()
    assert plan.keep > plain._side(certain(plain.encode(image, LINK, cu).bits), h, w)[0].keep
    index, _, _ = runs._encode_plan(image, plan)
    first = np.repeat(index_bits(index[:, :1], m.index_bits), plan.keep, axis=1)
    direct = direct_reconstruction(m, plan, index, first)[:h, :w]
    enc = runs.encode(image, LINK, cu)
    assert np.array_equal(runs.decode(rx(runs, enc.bits, llrs, h, w, enc.meta)).image, direct)


def test_one_corrupt_side_copy_is_survived_two_drop_the_frame(codec, image):
    h, w = image.shape[:2]
    enc = codec.encode(image, LINK, h * w // 32)
    llrs = certain(enc.bits)
    clean = codec.decode(rx(codec, enc.bits, llrs, h, w, enc.meta)).image
    side = codec._side(llrs, h, w)[3]
    one = llrs.copy()
    one[:side] *= -1  # side A wrong in every bit
    assert np.array_equal(codec.decode(rx(codec, enc.bits, one, h, w, enc.meta)).image, clean)
    both = one.copy()
    both[-side:] *= -1
    lost = codec.decode(rx(codec, enc.bits, both, h, w, enc.meta))
    assert lost.lost and "corrupt side information" in lost.reason and lost.image.shape == (h, w, 3)


def test_lost_indices_and_garbage_never_crash(codec, image):
    h, w = image.shape[:2]
    enc = codec.encode(image, LINK, h * w // 32)
    llrs = certain(enc.bits)
    side = codec._side(llrs, h, w)[3]
    erased = llrs.copy()
    erased[side:-side] = 0.0  # every index lost (a failed LDPC codeword each)
    assert codec.decode(rx(codec, enc.bits, erased, h, w, enc.meta)).image.shape == (h, w, 3)
    nan = llrs.copy()
    nan[side:side + 50] = np.nan
    assert codec.decode(rx(codec, enc.bits, nan, h, w, enc.meta)).image.shape == (h, w, 3)
    assert codec.decode(rx(codec, enc.bits, np.zeros_like(llrs), h, w, enc.meta)).lost  # every burst lost
    for bad in (llrs[:len(llrs) // 2], llrs[:10]):  # not the announced length, too short: refused
        with pytest.raises(ValueError):
            codec.decode(rx(codec, enc.bits, bad, h, w, {**enc.meta, "payload_bits": len(llrs)}))


def test_a_frame_for_another_codebook_is_refused(codec, image):
    h, w = image.shape[:2]
    enc = codec.encode(image, LINK, h * w // 32)
    with pytest.raises(ValueError, match="another codebook"):
        codec.decode(rx(codec, enc.bits, certain(enc.bits), h, w, {**enc.meta, "model_hash": "0123456789ab"}))
    with pytest.raises(ValueError, match="not mvqvae-test"):
        codec.decode(rx(codec, enc.bits, certain(enc.bits), h, w, {**enc.meta, "model": "other"}))


def test_a_budget_below_the_side_information_names_the_fix(codec, image):
    from gnuradio.semcom.errors import SemcomError
    with pytest.raises(SemcomError, match="--cpp"):
        codec.encode(image, LINK, 20)


def test_semantic_blocks_drop_bad_index_frames_and_decode_the_next(folder, image):
    """Through GNU Radio: a wrong-length index PDU and a frame for another codebook are each logged
    and dropped; a corrupt side-information field is a lost image (placeholder, logged); the good
    frame after them decodes."""
    pytest.importorskip("gnuradio.gr")
    import pmt
    from gr_helpers import run_pdus
    from gnuradio.semcom import semantic_decoder, semantic_encoder
    from gnuradio.semcom.blocks.pdu_io import make_pdu, split_pdu
    enc = semantic_encoder(folder, "16qam", 1 / 32)
    (out,) = run_pdus([enc], [pmt.intern(SAMPLE)], 1, timeout=60)
    meta, bits = split_pdu(out, np.uint8)
    assert meta["codec"] == "mvqvae-test" and len(bits) == LINK.payload_bits(512 * 768 // 32)  # under LDPC 1/2
    llrs = certain(bits)
    corrupt = llrs.copy()
    corrupt[:40] *= -1
    corrupt[-40:] *= -1
    dec = semantic_decoder(folder)
    frames = [make_pdu(meta, llrs[:-100]), make_pdu(meta, corrupt),
              make_pdu({**meta, "model_hash": "ffffffffffff"}, llrs), make_pdu(meta, llrs)]
    lost_pdu, img_pdu = run_pdus([dec], frames, 2, timeout=60)
    lost_meta, _ = split_pdu(lost_pdu, np.uint8)
    img_meta, pixels = split_pdu(img_pdu, np.uint8)
    assert dec.dropped == 2 and lost_meta["lost"] is True and "side information" in lost_meta["reason"]
    assert img_meta["lost"] is False and pixels.size == 512 * 768 * 3


def test_the_seams_fade_into_the_half_tile_shifted_grids(folder):
    """Farther than BLEND_PX from every seam the decoder's tile grid alone; next to a seam crossing
    mostly the grid shifted by half a tile both ways, whose tile is centred there."""
    m = masked_vq.MaskedVQModel(folder)
    t, g = m.tile, m.tile // m.patch
    planes = np.random.default_rng(3).random((m.index_bits, 2 * g, 3 * g)).astype(np.float32)
    grid, blended = m.run_decoder(planes, blend=False), m.run_decoder(planes)
    fade = masked_vq.seam_fade(2, t)[:, None] * masked_vq.seam_fade(3, t)[None, :]
    assert fade.shape == grid.shape[:2] and fade.max() == 1
    assert np.array_equal(blended[fade == 1], grid[fade == 1])
    assert not np.array_equal(blended, grid)
    a = 0.5 / masked_vq.BLEND_PX  # the unshifted grid's weight along an axis half a pixel from a seam
    assert fade[t, t] == a * a
    down, right = planes[:, g // 2:g // 2 + g], planes[:, :, g // 2:g // 2 + 2 * g]
    mix = (a * a * m.decode_grid(planes)[t, t] + (1 - a) * a * m.decode_grid(down)[t // 2, t]
           + a * (1 - a) * m.decode_grid(right)[t, t // 2]
           + (1 - a) ** 2 * m.decode_grid(down[:, :, g // 2:g // 2 + 2 * g])[t // 2, t // 2])
    assert np.abs(blended[t, t].astype(int) - np.round(np.clip(mix, 0, 1) * 255)).max() <= 1
    assert masked_vq.seam_fade(1, t).min() == 1  # one tile: no seam


def test_the_shipped_model_decodes_kodim23_without_visible_tile_seams():
    """The shipped model, a 384x256 crop of kodim23 (3x2 tiles) error-free at cpp 1/16: the steps
    across tile borders are within 2x those inside the tiles (the tile grid alone: 5.2x), and the
    PSNR is no lower than the tile grid's."""
    from gnuradio.semcom import metrics
    folders = {os.path.basename(d): d for d in neural.model_dirs()}
    model = masked_vq.MaskedVQModel(folders["mvqvae-p8-16qam"])
    image = load_image(SAMPLE)[:256, 256:640]
    h, w = image.shape[:2]
    out = {}
    for blend in (False, True):
        codec = masked_vq.MaskedVQCodec(model, blend=blend)
        enc = codec.encode(image, LINK, h * w // 16)
        out[blend] = codec.decode(rx(codec, enc.bits, certain(enc.bits), h, w, enc.meta)).image
    assert metrics.seam_ratio(out[False], model.tile) > 4
    assert metrics.seam_ratio(out[True], model.tile) < 2
    assert metrics.psnr(image, out[True]) >= max(24.8, metrics.psnr(image, out[False]))
