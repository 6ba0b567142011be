"""Conventional separate source/channel coding: a standard image codec fitted to the bit
budget; the PHY adds LDPC and QAM. Codecs: avif, jpeg2000, webp, jpeg, and sscc (best of all).

To be a strong baseline, each format searches downscaling factors and its quality knob for
the best PSNR that fits, sends no metadata, and shrinks its container headers losslessly
(raw DEFLATE with a preset dictionary of typical header bytes, used only when it helps).

Payload, MSB first, zero-padded to exactly ``link.payload_bits(channel_uses)`` bits:
    [format: codec id, +0x80 if deflated (1 B)][body length (3 B)][CRC32 of body (4 B)][body]
"""
from __future__ import annotations

import base64
import functools
import io
import zlib
from dataclasses import dataclass
from typing import Callable

import numpy as np
from PIL import Image

from ..errors import SemcomError
from ..imageio import to_rgb
from ..metrics import psnr
from ..phy.channels import capacity
from ..phy.framing import MODEL
from ..phy.link import LinkConfig
from . import registry
from .base import AnotherModel, Codec, Decoded, Encoded, Received, placeholder

HEADER_BYTES = 8
MAX_BODY_BYTES = 2**24 - 1  # the 3-byte length field
MIN_SIDE = 16  # smallest side a downscaled image may have
SCALES = (1, 0.85, 0.7, 0.6, 0.5, 0.42, 0.35, 0.3, 0.25, 0.2, 0.16, 0.125, 0.1, 0.08, 0.0625)
SSCC_ID = 1
FINAL_SPEED = 3  # AVIF speed of the final encode (the search uses 6): about +0.25 dB
_DEFLATED = 0x80
_LANCZOS = Image.Resampling.LANCZOS


def _dictionary(b64: str) -> bytes:
    return base64.b64decode("".join(b64.split()))


# Preset DEFLATE dictionaries: container headers of typical encodes (Pillow 12.1, 384x256).
# Any bytes are correct; both ends need the same, so they are constants, not generated.
_AVIF_DICT = _dictionary("""
AAAAIGZ0eXBhdmlmAAAAAGF2aWZtaWYxbWlhZk1BMUIAAADrbWV0YQAAAAAAAAAhaGRscgAAAAAAAAAAcGljdAAAAAAA
AAAAAAAAAAAAAAAOcGl0bQAAAAAAAQAAAB5pbG9jAAAAAEQAAAEAAQAAAAEAAAETAAAD2AAAAChpaW5mAAAAAAABAAAA
GmluZmUCAAAAAAEAAGF2MDFDb2xvcgAAAABqaXBycAAAAEtpcGNvAAAAFGlzcGUAAAAAAAABgAAAAQAAAAAQcGl4aQAA
AAADCAgIAAAADGF2MUOBAAwAAAAAE2NvbHJuY2x4AAEADQAGgAAAABdpcG1hAAAAAAAAAAEAAQQBAoMEAAAD4G1kYXQ=""")
_J2K_DICT = _dictionary("""
/0//UQAvAAAAAAGAAAABAAAAAAAAAAAAAAABgAAAAQAAAAAAAAAAAAADBwEBBwEBBwEB/1IADAAAAAEBBQQEAAD/XAAj
QncgdvB28HbAbwBvAG7gZ1BnUGdoUAVQBVBHV9NX01di/2QAJQABQ3JlYXRlZCBieSBPcGVuSlBFRyB2ZXJzaW9uIDIu
NS40/5AACgAAAAALAAAB/5M=""")
_JPEG_DICT = _dictionary("""
/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAFA3PEY8MlBGQUZaVVBfeMiCeG5uePWvuZHI////////////////////////
////////////////////////////2wBDAVVaWnhpeOuCguv/////////////////////////////////////////////
////////////////////////////wAARCAEAAYADASIAAhEBAxEB/8QAGQABAQEBAQEAAAAAAAAAAAAAAQACAwQF/8QA
LhABAQACAgEDBAIABAcAAAAAAAECESExQQMSUSIyYXEEgZGhsdETIzNiksHh/8QAGAEBAQEBAQAAAAAAAAAAAAAAAAEC
AwT/xAAbEQEBAQEBAQEBAAAAAAAAAAAAARECMQMSIf/aAAwDAQACEQMRAD8A""")


@dataclass(frozen=True)
class Format:
    """One image format. ``knob`` is a quality (``qmin..qmax``) or, with ``rate_control``,
    a target size in bytes; ``options(im, knob, final)`` gives the Pillow save options,
    ``final`` asking for the slower, better preset used once the scale is chosen."""

    name: str
    codec_id: int
    pil: str
    options: Callable[[Image.Image, int, bool], dict]
    qmin: int = 0
    qmax: int = 100
    rate_control: bool = False
    polish: bool = False  # whether ``final`` differs from the search preset
    zdict: bytes = b""

    def save(self, im: Image.Image, knob: int, final: bool = False) -> bytes:
        im.info.clear()  # no ICC profile, EXIF, comments or other metadata
        buf = io.BytesIO()
        im.save(buf, format=self.pil, **self.options(im, knob, final))
        return buf.getvalue()


FORMATS = {
    f.name: f
    for f in (
        Format("avif", 2, "AVIF", lambda im, q, final: dict(
            quality=q, speed=FINAL_SPEED if final else 6, subsampling="4:2:0", icc_profile=None, exif=b""),
            polish=True, zdict=_AVIF_DICT),
        Format("jpeg2000", 3, "JPEG2000", lambda im, target, final: dict(
            quality_mode="rates", quality_layers=[max(1.0, 3 * im.width * im.height / target)],
            irreversible=True, mct=1, no_jp2=True),  # mct: RGB->YCbCr, worth ~2 dB
            rate_control=True, zdict=_J2K_DICT),
        Format("webp", 4, "WEBP", lambda im, q, final: dict(
            quality=q, method=6, icc_profile=None, exif=b"")),
        Format("jpeg", 5, "JPEG", lambda im, q, final: dict(
            quality=q, optimize=True, icc_profile=None, exif=b""),
            qmin=1, qmax=95, zdict=_JPEG_DICT),
    )
}
_BY_ID = {f.codec_id: f for f in FORMATS.values()}


# --- lossless header compression and payload framing ---------------------------------------

def _compact(fmt: Format, data: bytes) -> tuple[int, bytes]:
    """(flag, body): the file DEFLATEd with the format's dictionary when that is shorter."""
    if fmt.zdict:
        z = zlib.compressobj(9, zlib.DEFLATED, -15, 9, zlib.Z_DEFAULT_STRATEGY, fmt.zdict)
        packed = z.compress(data) + z.flush()
        if len(packed) < len(data):
            return _DEFLATED, packed
    return 0, data


def _expand(fmt: Format, flag: int, body: bytes) -> bytes:
    if not flag:
        return body
    z = zlib.decompressobj(-15, zdict=fmt.zdict)
    return z.decompress(body, 16 * MAX_BODY_BYTES)


def _sent_len(fmt: Format, data: bytes) -> int:
    return len(_compact(fmt, data)[1])


def _pack(fmt: Format, data: bytes, budget_bits: int) -> np.ndarray:
    flag, body = _compact(fmt, data)
    head = bytes([fmt.codec_id | flag]) + len(body).to_bytes(3, "big") + zlib.crc32(body).to_bytes(4, "big")
    payload = np.unpackbits(np.frombuffer(head + body, dtype=np.uint8))
    bits = np.zeros(budget_bits, dtype=np.uint8)
    bits[: len(payload)] = payload
    return bits


class _Lost(Exception):
    pass


def _unpack(bits: np.ndarray) -> tuple[Format, bytes]:
    bits = np.asarray(bits).ravel() != 0
    raw = np.packbits(bits[: len(bits) // 8 * 8]).tobytes()
    if len(raw) < HEADER_BYTES:
        raise _Lost("crc")
    fmt = _BY_ID.get(raw[0] & 0x7F)
    size = int.from_bytes(raw[1:4], "big")
    body = raw[HEADER_BYTES : HEADER_BYTES + size]
    if fmt is None or len(body) != size or zlib.crc32(body) != int.from_bytes(raw[4:8], "big"):
        raise _Lost("crc")
    try:
        return fmt, _expand(fmt, raw[0] & _DEFLATED, body)
    except zlib.error:
        raise _Lost("codec") from None


def _decode_file(data: bytes, height: int, width: int) -> np.ndarray:
    """Decode an image file and upscale it to ``height`` x ``width``."""
    with Image.open(io.BytesIO(data)) as im:
        if im.width * im.height > height * width:  # only downscaled images are ever sent
            raise ValueError("decoded image larger than the original")
        im.load()
        if im.size != (width, height):
            im = im.convert("RGB").resize((width, height), _LANCZOS)
        return to_rgb(im)


# --- fitting a format to a byte budget ------------------------------------------------------

@dataclass
class _Fit:
    fmt: Format
    data: bytes  # the image file (before header compression)
    image: np.ndarray  # decoded and upscaled to full size
    psnr: float
    size: tuple[int, int]  # (width, height) that was encoded
    knob: int


def _fit_quality(fmt: Format, im: Image.Image, budget: int, final: bool, lo: int, hi: int):
    """(data, quality): the largest quality in [lo, hi] that fits (size ~monotone in quality)."""
    found = None
    while lo <= hi:
        q = (lo + hi + 1) // 2 if found else lo  # first make sure the lowest quality fits
        data = fmt.save(im, q, final)
        if _sent_len(fmt, data) <= budget:
            found, lo = (data, q), q + 1
        elif found is None:
            return None
        else:
            hi = q - 1
    return found


def _fit_rate(fmt: Format, im: Image.Image, budget: int):
    """(data, target): steer the encoder's own rate control until the output just fits."""
    found, best_sent, target, ceiling = None, -1, budget, 3 * im.width * im.height
    for _ in range(6):
        data = fmt.save(im, target)
        sent = _sent_len(fmt, data)
        if sent <= budget:
            if sent > best_sent:
                found, best_sent = (data, target), sent
            if budget - sent <= budget // 100 + 8 or target >= ceiling:
                break
            target += budget - sent
        else:
            target -= sent - budget + target // 100 + 1
            if target < 1:
                break
    return found


def _fit_at(fmt: Format, im: Image.Image, budget: int, final: bool = False, near: int | None = None):
    if fmt.rate_control:
        return _fit_rate(fmt, im, budget)
    lo, hi = (fmt.qmin, fmt.qmax) if near is None else (max(fmt.qmin, near - 1), min(fmt.qmax, near + 5))
    return _fit_quality(fmt, im, budget, final, lo, hi)


def _sizes(height: int, width: int) -> list[tuple[int, int]]:
    """Distinct (width, height) for SCALES, the shorter side kept at least MIN_SIDE."""
    floor = min(1.0, MIN_SIDE / min(height, width))
    sizes = []
    for s in SCALES:
        size = (max(1, round(width * max(s, floor))), max(1, round(height * max(s, floor))))
        if size not in sizes:
            sizes.append(size)
    return sizes


def _fit_format(fmt: Format, image: np.ndarray, budget: int) -> _Fit | None:
    """Best-PSNR (scale, knob) for one format: scales from large to small, stopping once
    PSNR has fallen twice in a row, then the chosen scale re-encoded with the final preset."""
    height, width = image.shape[:2]
    src = Image.fromarray(image)

    def scaled(size):
        return src.copy() if size == (width, height) else src.resize(size, _LANCZOS)

    def evaluate(found, size):
        data, knob = found
        out = _decode_file(data, height, width)
        return _Fit(fmt, data, out, psnr(image, out), size, knob)

    best, worse = None, 0
    for size in _sizes(height, width):
        found = _fit_at(fmt, scaled(size), budget)
        if found is None:
            continue
        fit = evaluate(found, size)
        if best is None or fit.psnr > best.psnr:
            best, worse = fit, 0
        else:
            worse += 1
            if worse == 2:
                break
        if not fmt.rate_control and fit.knob == fmt.qmax:
            break  # top quality fits: smaller scales can only lose detail
    if best is not None and fmt.polish:
        found = _fit_at(fmt, scaled(best.size), budget, final=True, near=best.knob)
        if found is not None:
            best = max(best, evaluate(found, best.size), key=lambda f: f.psnr)
    return best


def _best_fit(image: np.ndarray, budget: int, formats) -> _Fit | None:
    if budget <= 0:
        return None
    fits = [f for f in (_fit_format(fmt, image, min(budget, MAX_BODY_BYTES)) for fmt in formats) if f]
    return max(fits, key=lambda f: f.psnr) if fits else None


def _formats(fmt: str) -> list[Format]:
    if fmt == "sscc":
        return list(FORMATS.values())
    if fmt not in FORMATS:
        raise SemcomError(f"unknown image format '{fmt}'; use one of sscc, {', '.join(FORMATS)}")
    return [FORMATS[fmt]]


def _as_image(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=2)
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] not in (3, 4) or min(image.shape[:2]) < 1:
        raise SemcomError(f"expected an HxWx3 uint8 image, got {image.dtype} array of shape {image.shape}")
    return np.ascontiguousarray(image[..., :3])


def fit_to_budget(image: np.ndarray, budget_bytes: int, fmt: str = "avif") -> tuple[bytes, np.ndarray]:
    """(image file, its decoding at full size) with the best PSNR whose bytes as sent (after the
    lossless header compression, without the 8-byte frame header) fit ``budget_bytes``.
    ``fmt`` is a format name or 'sscc' for the best of all. SemcomError if nothing fits."""
    image = _as_image(image)
    fit = _best_fit(image, int(budget_bytes), _formats(fmt))
    if fit is None:
        raise SemcomError(f"budget of {budget_bytes} bytes is too small for {fmt} even at {MIN_SIDE} px and the lowest quality")
    return fit.data, fit.image


def capacity_reference(image: np.ndarray, snr_db: float, channel_uses: int, fmt: str = "avif",
                       channel: str = "awgn") -> np.ndarray:
    """'Codec + capacity' ideal: the image coded into floor(channel_uses * C) bits, delivered
    error-free, with C the channel's capacity per use (see ``phy.channels.capacity``);
    a mid-grey placeholder if even the smallest encoding does not fit."""
    image = _as_image(image)
    bits = int(np.floor(channel_uses * capacity(channel, snr_db)))
    try:
        return fit_to_budget(image, bits // 8, fmt)[1]
    except SemcomError:
        return placeholder(*image.shape[:2])


class SsccCodec(Codec):
    """A conventional codec: one format, or 'sscc' for the best of all formats per image."""

    def __init__(self, fmt: str = "sscc"):
        self._formats = _formats(fmt)
        self.name = fmt
        self.codec_id = SSCC_ID if fmt == "sscc" else FORMATS[fmt].codec_id

    def encode(self, image: np.ndarray, link: LinkConfig, channel_uses: int) -> Encoded:
        image = _as_image(image)
        budget_bits = link.payload_bits(channel_uses)
        fit = _best_fit(image, budget_bits // 8 - HEADER_BYTES, self._formats)
        if fit is None:
            raise SemcomError(
                f"bit budget of {budget_bits} bits is too small for {self.name} even at {MIN_SIDE} px and "
                f"the lowest quality; raise --cpp or use a denser modulation")
        meta = {"codec": self.name, "height": int(image.shape[0]), "width": int(image.shape[1])}
        return Encoded(_pack(fit.fmt, fit.data, budget_bits), meta)

    def decode(self, rx: Received) -> Decoded:
        if MODEL in rx.meta:
            raise AnotherModel(f"frame was encoded with model {rx.meta[MODEL]}, not codec {self.name}")
        try:
            height, width = int(rx.meta["height"]), int(rx.meta["width"])
            if not (0 < height <= 65535 and 0 < width <= 65535):
                raise ValueError
        except Exception:
            height = width = MIN_SIDE  # no usable size: the frame header was not this codec's
        if not rx.fec_ok:
            return Decoded(placeholder(height, width), True, "fec")
        try:
            _, data = _unpack(rx.bits)
            return Decoded(_decode_file(data, height, width))
        except _Lost as lost:
            return Decoded(placeholder(height, width), True, str(lost))
        except Exception:  # anything the image decoder raises on a damaged file
            return Decoded(placeholder(height, width), True, "codec")


for _name in ("sscc", *FORMATS):
    registry.register(_name, functools.partial(SsccCodec, _name), SSCC_ID if _name == "sscc" else FORMATS[_name].codec_id)
