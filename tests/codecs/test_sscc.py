import importlib
import io
import os
import sys
import zlib

semcom = importlib.import_module("semcom")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PIL import Image  # noqa: E402

from semcom.codecs import registry, sscc  # noqa: E402
from semcom.codecs.base import Received  # noqa: E402
from semcom.errors import SemcomError  # noqa: E402
from semcom.imageio import load_image  # noqa: E402
from semcom.metrics import psnr  # noqa: E402
from semcom.phy.link import LinkConfig, channel_use_budget  # noqa: E402

from plain import REPO  # noqa: E402
PHOTO = os.path.join(REPO, "examples", "images", "kodim23.png")
LINK = LinkConfig("qpsk", "ldpc-1/2")
FORMATS = ["avif", "jpeg2000", "webp", "jpeg"]


@pytest.fixture(scope="module")
def photo():
    """kodim23 at half size (384x256) to keep the tests fast."""
    return np.asarray(Image.fromarray(load_image(PHOTO)).resize((384, 256), Image.Resampling.LANCZOS))


def received(enc, fec_ok=True, bits=None):
    bits = enc.bits if bits is None else bits
    return Received(bits, np.zeros(len(bits), np.float32), fec_ok, dict(enc.meta))


def cu(image, cpp):
    return channel_use_budget(cpp, *image.shape[:2])


@pytest.fixture(scope="module")
def encoded(photo):
    return registry.get("avif").encode(photo, LINK, cu(photo, 1 / 16))


def test_registry_names_and_ids():
    assert {"sscc", *FORMATS} <= set(registry.available())
    ids = {name: registry.get(name).codec_id for name in ["sscc", *FORMATS]}
    assert ids == {"sscc": 1, "avif": 2, "jpeg2000": 3, "webp": 4, "jpeg": 5}
    assert registry.by_id(2).name == "avif"


def test_round_trip_generous_budget(photo):
    channel_uses = cu(photo, 1 / 4)
    enc = registry.get("avif").encode(photo, LINK, channel_uses)
    assert len(enc.bits) == LINK.payload_bits(channel_uses) and enc.bits.dtype == np.uint8
    assert enc.meta == {"codec": "avif", "height": 256, "width": 384}
    dec = registry.get("avif").decode(received(enc))
    assert not dec.lost and dec.image.shape == photo.shape
    assert psnr(photo, dec.image) > 28


@pytest.mark.parametrize("name", FORMATS)
def test_each_format_fits_cpp_1_16(photo, name):
    channel_uses = cu(photo, 1 / 16)
    enc = registry.get(name).encode(photo, LINK, channel_uses)
    assert len(enc.bits) == LINK.payload_bits(channel_uses)
    dec = registry.get("sscc").decode(received(enc))  # any sscc codec decodes any format
    assert not dec.lost and dec.image.shape == photo.shape
    assert psnr(photo, dec.image) > 21


def test_sscc_is_best_of_formats(photo):
    small = photo[::2, ::2].copy()
    channel_uses = cu(small, 1 / 8)
    scores = {}
    for name in ["sscc", *FORMATS]:
        codec = registry.get(name)
        scores[name] = psnr(small, codec.decode(received(codec.encode(small, LINK, channel_uses))).image)
    assert scores["sscc"] == pytest.approx(max(scores[f] for f in FORMATS))


def test_flipped_bits_lose_the_image(encoded):
    rng = np.random.default_rng(0)
    bits = encoded.bits.copy()
    bits[rng.choice(np.arange(64, 2000), 5, replace=False)] ^= 1
    dec = registry.get("avif").decode(received(encoded, bits=bits))
    assert dec.lost and dec.reason == "crc"
    assert dec.image.shape == (256, 384, 3) and (dec.image == 128).all()


def test_fec_failure_loses_the_image(encoded):
    dec = registry.get("avif").decode(received(encoded, fec_ok=False))
    assert dec.lost and dec.reason == "fec" and (dec.image == 128).all()


def _framed(body: bytes, fmt_byte: int) -> np.ndarray:
    head = bytes([fmt_byte]) + len(body).to_bytes(3, "big") + zlib.crc32(body).to_bytes(4, "big")
    return np.unpackbits(np.frombuffer(head + body, np.uint8))


@pytest.mark.parametrize("bits", [
    np.zeros(0, np.uint8),
    np.ones(13, np.uint8),
    np.random.default_rng(1).integers(0, 2, 6000).astype(np.uint8),
    _framed(b"\x00\x00\x00\x1cftypavif garbage", 2),  # valid CRC, undecodable file
    _framed(b"garbage that does not inflate", 2 | 0x80),
    _framed(b"x" * 10, 9),  # unknown format
])
def test_garbage_never_raises(encoded, bits):
    dec = registry.get("sscc").decode(received(encoded, bits=bits))
    assert dec.lost and dec.reason in ("crc", "codec")
    assert dec.image.shape == (256, 384, 3) and (dec.image == 128).all()


def test_missing_meta_never_raises():
    dec = registry.get("sscc").decode(Received(np.zeros(100, np.uint8), np.zeros(100, np.float32), True, {}))
    assert dec.lost and dec.image.ndim == 3


def test_tiny_budget_is_one_line_error(photo):
    with pytest.raises(SemcomError) as err:
        registry.get("webp").encode(photo, LINK, 300)
    assert "bit budget of" in str(err.value) and "\n" not in str(err.value)


def test_no_metadata_is_sent(photo):
    """Encoded files carry no ICC profile or EXIF, even when the source image had them."""
    im = Image.fromarray(photo[:64, :64])
    for name, fmt in sscc.FORMATS.items():
        im.info.update(icc_profile=b"\x00" * 3000, exif=b"Exif\x00\x00" + b"\x00" * 100, comment=b"hi")
        data = fmt.save(im, 50 if not fmt.rate_control else 2000)
        with Image.open(io.BytesIO(data)) as out:
            assert not out.info.get("icc_profile") and not out.info.get("exif"), name
        assert len(data) < 2000, name


def test_sent_file_has_no_icc(encoded):
    fmt, data = sscc._unpack(encoded.bits)
    with Image.open(io.BytesIO(data)) as out:
        assert out.format == "AVIF" and not out.info.get("icc_profile")


def test_fit_to_budget_and_capacity_reference(photo):
    small = photo[::2, ::2].copy()
    data, out = sscc.fit_to_budget(small, 400, "webp")
    assert len(data) <= 400 and out.shape == small.shape
    channel_uses = cu(small, 1 / 16)
    low = sscc.capacity_reference(small, 0.0, channel_uses)
    high = sscc.capacity_reference(small, 10.0, channel_uses)
    assert psnr(small, high) > psnr(small, low) > 15
    assert (sscc.capacity_reference(small, -20.0, channel_uses) == 128).all()
    with pytest.raises(SemcomError):
        sscc.fit_to_budget(small, 10, "avif")
