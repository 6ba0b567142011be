"""The burst header: its fields on air, CRC, authentication tag and FEC index.

Header on air (``HEADER_BITS`` = 272 bits, every field unsigned, MSB first)::

    bits   0- 15  codec_id       bits  96-103  modulation (index into BURST_MODULATIONS)
    bits  16- 31  height         bits 104-111  fec (see below)
    bits  32- 47  width          bits 112-143  payload_bits (whole frame)
    bits  48- 63  frame (wraps)  bits 144-175  session (random per transmitter start)
    bits  64- 79  segment        bits 176-223  fingerprint (the model's; 0: none)
    bits  80- 95  segments       bits 224-255  tag (authentication; 0: none)
                                 bits 256-271  CRC-16/CCITT-FALSE of bits 0-255

``modulation``: 0..4 = bpsk, qpsk, 16qam, 64qam, 8psk (``BURST_MODULATIONS``, only ever appended
to: a receiver older than an index drops those bursts as invalid and keeps the others).
``fec``: 0 = none, then the ``ldpc.CODES`` keys in order (1..6); 128 + the code's 7-bit
``signature`` for a user code (an alist file both ends were given); 7..127 are invalid. A
receiver not given that alist cannot even tell the burst's length: it drops the burst,
counted as a foreign code. Two different alists share a signature with probability 1/128:
one process refuses to load both, and across radios the FEC (and the ``key`` tag) reject
what the wrong code decodes.

``session`` keeps frames of two transmitters apart even when their frame numbers
collide; ``fingerprint`` lets a receiver refuse a frame encoded by another model
of the same name. ``tag`` (``auth_tag``): with a pre-shared key, the first 32 bits of
HMAC-SHA256 over the other header fields and, for FEC-coded bursts, the segment's
information bits; a receiver given the key drops every burst whose tag does not match
(forged, foreign, or FEC-coded and decoded wrongly). It cannot protect an uncoded
payload: the receiver never holds its exact bits (learned codecs read soft LLRs). 32 bits
(as LoRaWAN's MIC) keep the header short enough to decode at Es/N0 -3 dB; a forger's
chance per burst is 2^-32. The tag covers ``session`` and ``frame``, so an authentic burst
recorded and played again cannot take a new session: the receiver's ``ReplayWindow``
(``segments``) drops it as a frame its session already delivered.
"""
from __future__ import annotations

import hashlib
import hmac
from dataclasses import astuple, dataclass, fields, replace

import numpy as np

from ...errors import SemcomError
from ..constellations import BURST_MODULATIONS
from .. import ldpc
from ..ldpc import CODES
from ..link import FEC_NONE, LinkConfig

FEC_NAMES = (FEC_NONE, *CODES)  # index carried in Header.fec
USER_FEC = 128  # Header.fec of a user code: USER_FEC + its signature


def fec_index(fec: str) -> int:
    """The header's fec value for a code name ('none', a named code, or 'alist:PATH')."""
    if ldpc.is_user_code(fec):
        return USER_FEC + ldpc.code(fec).signature
    return FEC_NAMES.index(fec)


def fec_problem(index: int) -> str | None:
    """Why a header's fec value names no code this process knows (one line), or None."""
    if len(FEC_NAMES) <= index < USER_FEC:
        return f"header fec index {index} is not one of 0..{len(FEC_NAMES) - 1} or a user code ({USER_FEC}..255)"
    if index >= USER_FEC and ldpc.user_code(index - USER_FEC) is None:
        return foreign_code(index)
    return None


def foreign_code(index: int) -> str:
    return (f"burst of user LDPC code {index - USER_FEC} (header fec {index}), an alist this receiver was "
            "not given")


class ForeignCode(SemcomError, ValueError):
    """A burst of a user LDPC code (an alist) the receiver was not given."""
    reason = "bursts of a user LDPC code (alist) this receiver was not given"


def accepted_fecs(codes) -> frozenset[int]:
    """The header fec values of user codes a receiver was given (``ldpc.LdpcCode`` objects or None)."""
    return frozenset(USER_FEC + c.signature for c in codes if c is not None)


def check_code(header, accepted: frozenset[int]):
    """ForeignCode unless the header names no user code, or one in ``accepted`` (``accepted_fecs``)."""
    if header.fec >= USER_FEC and header.fec not in accepted:
        raise ForeignCode(foreign_code(header.fec))
    return header


FRAME_MODULO = 1 << 16
MAX_FRAME_BITS = 1 << 24  # default receiver limit on a frame's payload (16.7 Mbit: 4032x3024 at cpp 1/16, 64-QAM)
MAX_PENDING_FRAMES = 16  # default receiver limit on frames reassembled at once
_NEWER_MAX = FRAME_MODULO // 2 - 1  # (new - old) % 65536 in 1..32767 means new is newer

# codec_id height width frame segment segments modulation fec payload_bits session fingerprint tag
_WIDTHS = (16, 16, 16, 16, 16, 16, 8, 8, 32, 32, 48, 32)
_FIELD_BYTES = sum(_WIDTHS) // 8
MAX_SIDE = (1 << _WIDTHS[1]) - 1  # the largest height and width the header carries
HEADER_BITS = 8 * (_FIELD_BYTES + 2)  # fields + CRC-16 = 272


def pack_fields(values) -> bytes:
    """Field values, each in its ``_WIDTHS`` bits, MSB first (no range checks: ``Header.pack`` makes them)."""
    n = 0
    for value, width in zip(values, _WIDTHS):
        n = (n << width) | (int(value) & ((1 << width) - 1))
    return n.to_bytes(_FIELD_BYTES, "big")


def unpack_fields(body: bytes) -> tuple[int, ...]:
    n, out = int.from_bytes(body, "big"), []
    for width in reversed(_WIDTHS):
        out.append(n & ((1 << width) - 1))
        n >>= width
    return tuple(reversed(out))


def _crc16_table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else (crc << 1)
        table.append(crc & 0xFFFF)
    return tuple(table)


_CRC16_TABLE = _crc16_table()


def crc16(data: bytes | bytearray | memoryview | np.ndarray) -> int:
    """CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF, no reflection, xorout 0) of bytes.

    ``crc16(b"123456789") == 0x29B1``. An ndarray is taken as its raw bytes.
    """
    if isinstance(data, np.ndarray):
        data = data.tobytes()
    crc = 0xFFFF
    for byte in bytes(data):
        crc = ((crc << 8) & 0xFFFF) ^ _CRC16_TABLE[(crc >> 8) ^ byte]
    return crc


def auth_tag(key: bytes, header, payload: np.ndarray | None = None) -> int:
    """First 32 bits of HMAC-SHA256(key, header fields without the tag [+ payload bits, packed])."""
    body = pack_fields(astuple(replace(header, tag=0)))
    mac = hmac.new(bytes(key), body, hashlib.sha256)
    if payload is not None:
        bits = np.asarray(payload).ravel().astype(np.uint8)
        mac.update(len(bits).to_bytes(4, "big") + np.packbits(bits).tobytes())
    return int.from_bytes(mac.digest()[:4], "big")



def segment_lengths(payload_bits: int, segments: int, align: int = 1) -> list[int]:
    """Bits carried by each segment: ceil(payload_bits / segments), the last the rest.

    With ``align`` > 1 (the LDPC block size, so no burst pads a partial block) the
    common length is rounded up to a multiple of ``align`` when that still leaves
    the last segment at least 1 bit; otherwise the unaligned rule applies.
    Raises ValueError when even that leaves the last segment empty (too many
    segments for the payload); a 0-bit payload is one empty segment.
    """
    payload_bits, segments, align = int(payload_bits), int(segments), int(align)
    if payload_bits < 0 or segments < 1 or align < 1:
        raise ValueError(f"need payload_bits >= 0, segments >= 1 and align >= 1, got {payload_bits}, "
                         f"{segments} and {align}")
    if payload_bits == 0:
        if segments != 1:
            raise ValueError(f"a 0-bit payload is 1 segment, not {segments}")
        return [0]
    chunk = -(-payload_bits // segments)
    aligned = -(-chunk // align) * align
    if payload_bits - aligned * (segments - 1) >= 1:
        chunk = aligned
    last = payload_bits - chunk * (segments - 1)
    if last < 1:
        raise ValueError(f"{payload_bits} bits cannot fill {segments} segments of {chunk} bits")
    return [chunk] * (segments - 1) + [last]


def frame_key(h) -> tuple[int, int, int]:
    """What identifies one frame on air: (session, codec_id, frame) of a Header or Frame."""
    return (h.session, h.codec_id, h.frame)


def is_newer(new: int, old: int) -> bool:
    """Frame-number order with 16-bit wrap-around: (new - old) % 65536 in 1..32767."""
    return 1 <= (int(new) - int(old)) % FRAME_MODULO <= _NEWER_MAX


class _LinkNames:
    """Names of the ``modulation`` and ``fec`` indices a header or frame carries."""

    modulation: int
    fec: int

    @property
    def modulation_name(self) -> str:
        return BURST_MODULATIONS[self.modulation]

    @property
    def fec_name(self) -> str:
        if self.fec >= USER_FEC:
            code = ldpc.user_code(self.fec - USER_FEC)
            if code is None:
                raise SemcomError(foreign_code(self.fec))
            return code.name
        return FEC_NAMES[self.fec]

    @property
    def link(self) -> LinkConfig:
        return LinkConfig(self.modulation_name, self.fec_name)

    @property
    def align(self) -> int:
        """Segment alignment (LinkConfig.segment_align): whole FEC blocks filling whole symbols."""
        return self.link.segment_align

    @property
    def lengths(self) -> list[int]:
        """Bits of every segment of this frame."""
        return segment_lengths(self.payload_bits, self.segments, self.align)


@dataclass(frozen=True)
class Header(_LinkNames):
    codec_id: int
    height: int
    width: int
    frame: int
    segment: int
    segments: int
    modulation: int  # index into BURST_MODULATIONS
    fec: int  # index into FEC_NAMES, or USER_FEC + a user code's signature
    payload_bits: int
    session: int = 0
    fingerprint: int = 0
    tag: int = 0

    def signed(self, key: bytes, payload: np.ndarray | None = None) -> Header:
        """This header with its ``tag`` for ``key`` (``auth_tag``)."""
        return replace(self, tag=auth_tag(key, self, payload))

    def authentic(self, key: bytes, payload: np.ndarray | None = None) -> bool:
        return hmac.compare_digest(self.tag.to_bytes(4, "big"), auth_tag(key, self, payload).to_bytes(4, "big"))

    def problem(self) -> str | None:
        """Why this header cannot describe a burst (one line), or None when it can."""
        for field, value, width in zip(fields(self), astuple(self), _WIDTHS):
            if not 0 <= value < (1 << width):
                return f"header field {field.name}={value} does not fit in {width} unsigned bits"
        if self.modulation >= len(BURST_MODULATIONS):
            return f"header modulation index {self.modulation} is not one of 0..{len(BURST_MODULATIONS) - 1}"
        why = fec_problem(self.fec)
        if why:
            return why
        if not 0 <= self.segment < self.segments:
            return f"header segment {self.segment} is outside 0..{self.segments - 1}"
        try:
            self.lengths  # noqa: B018 (validates)
        except ValueError as err:
            return f"header is inconsistent: {err}"
        return None

    def check(self, error=SemcomError) -> Header:
        """This header; ``error`` (one line) when it cannot describe a burst, ForeignCode when it
        names a user code this process was never given."""
        why = self.problem()
        if why:
            raise (ForeignCode if why == fec_problem(self.fec) and self.fec >= USER_FEC else error)(why)
        return self

    def pack(self) -> np.ndarray:
        """HEADER_BITS bits (uint8 0/1, MSB first), CRC last. ValueError if a field is invalid."""
        why = self.problem()
        if why:
            raise ValueError(why)
        body = pack_fields(astuple(self))
        raw = body + crc16(body).to_bytes(2, "big")
        return np.unpackbits(np.frombuffer(raw, dtype=np.uint8))

    @classmethod
    def unpack(cls, bits: np.ndarray) -> Header:
        """Inverse of ``pack``; SemcomError on wrong length, CRC failure or invalid fields."""
        bits = np.asarray(bits).ravel()
        if bits.size != HEADER_BITS:
            raise SemcomError(f"burst header must be {HEADER_BITS} bits, got {bits.size}")
        if not np.isin(bits, (0, 1)).all():
            raise SemcomError("burst header bits must be 0 or 1")
        raw = np.packbits(bits.astype(np.uint8)).tobytes()
        body, crc = raw[:_FIELD_BYTES], int.from_bytes(raw[_FIELD_BYTES:], "big")
        if crc16(body) != crc:
            raise SemcomError("burst header CRC mismatch; header dropped")
        return cls(*unpack_fields(body)).check()


