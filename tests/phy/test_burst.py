"""Burst framing without GNU Radio: header CRC, segmentation and reassembly with erasures."""

import numpy as np
import pytest

try:
    from gnuradio.semcom.phy import burst
except ImportError:
    from semcom.phy import burst

SemcomError = burst.SemcomError
Header = burst.Header

N_MOD = len(burst.BURST_MODULATIONS)
N_FEC = len(burst.FEC_NAMES)


def _raw_header_bits(*values) -> np.ndarray:
    """Header bits with a valid CRC for any field values, bypassing Header.pack's checks."""
    body = burst.pack_fields(tuple(values) + (0, 0, 0)[:12 - len(values)])
    raw = body + burst.crc16(body).to_bytes(2, "big")
    return np.unpackbits(np.frombuffer(raw, dtype=np.uint8))


def _bursts(llrs, bits_per_burst, frame=3, codec_id=7, height=64, width=96, modulation=1, fec=3):
    align = Header(codec_id, height, width, frame, 0, 1, modulation, fec, 1).align
    chunks = burst.segment(llrs, bits_per_burst, align)
    return [(Header(codec_id, height, width, frame, i, len(chunks), modulation, fec, llrs.size), c)
            for i, c in enumerate(chunks)]


@pytest.fixture
def llrs():
    return np.random.default_rng(5).normal(0, 4, 150_001).astype(np.float32)


def test_crc_check_value():
    assert burst.crc16(b"123456789") == 0x29B1
    assert burst.crc16(np.frombuffer(b"123456789", dtype=np.uint8)) == 0x29B1
    assert burst.crc16(b"") == 0xFFFF


@pytest.mark.parametrize("header", [
    Header(0, 0, 0, 0, 0, 1, 0, 0, 0),
    Header(3, 512, 768, 41, 2, 5, 2, 1, 24354),
    Header(65535, 65535, 65535, 65535, 65534, 65535, N_MOD - 1, N_FEC - 1, 2**32 - 1),
])
def test_header_round_trip(header):
    bits = header.pack()
    assert bits.dtype == np.uint8 and bits.shape == (burst.HEADER_BITS,) and set(np.unique(bits)) <= {0, 1}
    assert Header.unpack(bits) == header
    assert Header.unpack(bits.astype(np.int64).tolist()) == header


def test_header_layout_is_msb_first():
    bits = Header(0x1234, 1, 2, 3, 0, 1, 1, 2, 0xDEADBEEF).pack()
    assert burst.HEADER_BITS == 272
    assert bits[:16].tolist() == [int(b) for b in f"{0x1234:016b}"]
    assert bits[112:144].tolist() == [int(b) for b in f"{0xDEADBEEF:032b}"]
    bits = Header(0x1234, 1, 2, 3, 0, 1, 1, 2, 9, 0xCAFEF00D, 0xABCDEF012345).pack()
    assert bits[144:176].tolist() == [int(b) for b in f"{0xCAFEF00D:032b}"]
    assert bits[176:224].tolist() == [int(b) for b in f"{0xABCDEF012345:048b}"]
    bits = Header(0x1234, 1, 2, 3, 0, 1, 1, 2, 9, 1, 2, 0xFEDCBA98).pack()
    assert bits[224:256].tolist() == [int(b) for b in f"{0xFEDCBA98:032b}"]


def test_authentication_tag_is_an_hmac_of_the_header_and_a_coded_payload():
    import hashlib
    import hmac
    header = Header(3, 512, 768, 41, 2, 5, 2, 1, 24354, 0xCAFE, 0x1234)
    payload = np.random.default_rng(0).integers(0, 2, 1000).astype(np.uint8)
    signed = header.signed(b"secret", payload)
    body = (3).to_bytes(2, "big") + (512).to_bytes(2, "big") + (768).to_bytes(2, "big") + (41).to_bytes(2, "big") \
        + (2).to_bytes(2, "big") + (5).to_bytes(2, "big") + bytes([2, 1]) + (24354).to_bytes(4, "big") \
        + (0xCAFE).to_bytes(4, "big") + (0x1234).to_bytes(6, "big") + bytes(4)
    mac = hmac.new(b"secret", body + (1000).to_bytes(4, "big") + np.packbits(payload).tobytes(), hashlib.sha256)
    assert signed.tag == int.from_bytes(mac.digest()[:4], "big") and signed.tag != 0
    assert Header.unpack(signed.pack()) == signed
    assert signed.authentic(b"secret", payload)
    assert not signed.authentic(b"other", payload) and not header.authentic(b"secret", payload)
    flipped = payload.copy()
    flipped[500] ^= 1
    assert not signed.authentic(b"secret", flipped)
    for field in ("frame", "session", "segment", "height"):  # any changed field breaks it
        from dataclasses import replace
        assert not replace(signed, **{field: getattr(signed, field) + 1}).authentic(b"secret", payload)
    assert header.signed(b"k").authentic(b"k") and not header.signed(b"k").authentic(b"k", payload)


def test_every_single_bit_flip_is_detected():
    bits = Header(3, 512, 768, 41, 2, 5, 2, 1, 24354).pack()
    for i in range(bits.size):
        bad = bits.copy()
        bad[i] ^= 1
        with pytest.raises(SemcomError, match="CRC"):
            Header.unpack(bad)


def test_wrong_header_length_or_values():
    bits = Header(3, 512, 768, 41, 2, 5, 2, 1, 24354).pack()
    for bad in (bits[:-1], np.concatenate([bits, [0]]), np.array([], np.uint8)):
        with pytest.raises(SemcomError, match="272 bits"):
            Header.unpack(bad)
    with pytest.raises(SemcomError, match="0 or 1"):
        Header.unpack(bits * 2)


@pytest.mark.parametrize("modulation, fec", [(N_MOD, 0), (255, 0), (0, N_FEC), (0, 255)])
def test_bad_modulation_or_fec_index(modulation, fec):
    bits = _raw_header_bits(3, 512, 768, 41, 2, 5, modulation, fec, 24354)
    with pytest.raises(SemcomError, match="modulation" if modulation else "fec") as err:
        Header.unpack(bits)
    assert "\n" not in str(err.value)
    with pytest.raises(ValueError):
        Header(3, 512, 768, 41, 2, 5, modulation, fec, 24354).pack()


def test_inconsistent_segment_fields_are_rejected():
    with pytest.raises(SemcomError, match="segment 5"):
        Header.unpack(_raw_header_bits(3, 512, 768, 41, 5, 5, 0, 0, 24354))
    with pytest.raises(SemcomError, match="segments"):
        Header.unpack(_raw_header_bits(3, 512, 768, 41, 0, 6, 0, 0, 10))  # 2+2+2+2+2+0
    with pytest.raises(ValueError, match="16 unsigned bits"):
        Header(3, 512, 768, 65536, 0, 1, 0, 0, 10).pack()


def test_segment_lengths_and_split():
    assert burst.segment_lengths(10, 4) == [3, 3, 3, 1]
    assert burst.segment_lengths(0, 1) == [0]
    with pytest.raises(ValueError):
        burst.segment_lengths(10, 6)
    bits = np.arange(10) % 2
    assert [c.size for c in burst.segment(bits, 6)] == [5, 5]
    assert [c.size for c in burst.segment(bits, 10)] == [10]
    assert [c.size for c in burst.segment(bits[:0], 4)] == [0]
    big = np.random.default_rng(0).integers(0, 2, 123_457, dtype=np.uint8)
    for per in (1000, 7000, 123_457, 200_000):
        chunks = burst.segment(big, per)
        assert len(chunks) == -(-big.size // per)
        assert [c.size for c in chunks] == burst.segment_lengths(big.size, len(chunks))
        assert max(c.size for c in chunks) <= per
        np.testing.assert_array_equal(np.concatenate(chunks), big)
    for per in (0, -3):
        with pytest.raises(ValueError):
            burst.segment(big, per)


@pytest.mark.parametrize("shuffle", [False, True])
def test_reassemble_in_any_order(llrs, shuffle):
    bursts = _bursts(llrs, 7000)
    order = np.random.default_rng(1).permutation(len(bursts)) if shuffle else range(len(bursts))
    rx = burst.Reassembler()
    out = []
    for i in order:
        assert not out, "frame completed before its last burst"
        out += rx.add(*bursts[i])
    assert len(out) == 1 and len(rx) == 0
    f = out[0]
    assert (f.codec_id, f.height, f.width, f.frame, f.segments, f.modulation, f.fec, f.payload_bits) == \
        (7, 64, 96, 3, len(bursts), 1, 3, llrs.size)
    assert f.llrs.dtype == np.float32 and f.complete and f.bursts_lost == 0 and f.received.all()
    np.testing.assert_array_equal(f.llrs, llrs)
    assert (f.modulation_name, f.fec_name) == (burst.BURST_MODULATIONS[1], burst.FEC_NAMES[3])


def _check_erased(f, llrs, lost, per_segment):
    lo, hi = lost * per_segment, min((lost + 1) * per_segment, llrs.size)
    assert f.bursts_lost == 1 and not f.complete
    assert f.received.tolist() == [i != lost for i in range(f.segments)]
    assert not f.llrs[lo:hi].any()
    np.testing.assert_array_equal(f.llrs[:lo], llrs[:lo])
    np.testing.assert_array_equal(f.llrs[hi:], llrs[hi:])


@pytest.mark.parametrize("lost", [0, 2, -1])
def test_missing_segment_erased_when_newer_frame_arrives(llrs, lost):
    bursts = _bursts(llrs, 7000, frame=10)
    lost %= len(bursts)
    rx = burst.Reassembler()
    for i, b in enumerate(bursts):
        if i != lost:
            assert rx.add(*b) == []
    newer = _bursts(llrs[:500], 100, frame=11)
    out = rx.add(*newer[0])
    assert len(out) == 1 and out[0].frame == 10 and len(rx) == 1
    _check_erased(out[0], llrs, lost, bursts[0][1].size)


def test_missing_segment_erased_by_flush_all(llrs):
    bursts = _bursts(llrs, 7000)
    rx = burst.Reassembler()
    for i, b in enumerate(bursts):
        if i != 4:
            rx.add(*b)
    out = rx.flush_all()
    assert len(out) == 1 and len(rx) == 0 and rx.flush_all() == []
    _check_erased(out[0], llrs, 4, bursts[0][1].size)


def test_frame_number_wraps():
    assert burst.is_newer(0, 65535) and not burst.is_newer(65535, 0)
    assert burst.is_newer(32767, 0) and not burst.is_newer(32768, 0) and not burst.is_newer(5, 5)
    data = np.ones(20, np.float32)
    rx = burst.Reassembler()
    old = _bursts(data, 10, frame=65535)
    rx.add(*old[0])
    assert rx.add(*_bursts(data, 10, frame=65534)[0]) == []  # older: finishes nothing
    out = rx.add(*_bursts(data, 10, frame=0)[0])
    assert [f.frame for f in out] == [65534, 65535]  # oldest first
    assert all(f.bursts_lost == 1 for f in out) and len(rx) == 1


def test_older_than_frames_tolerates_reordering():
    data = np.ones(20, np.float32)
    rx = burst.Reassembler(older_than_frames=2)
    rx.add(*_bursts(data, 10, frame=4)[0])
    assert rx.add(*_bursts(data, 10, frame=5)[0]) == []
    out = rx.add(*_bursts(data, 10, frame=6)[0])
    assert [f.frame for f in out] == [4] and len(rx) == 2


def test_duplicates_ignored(llrs):
    bursts = _bursts(llrs, 50_000)
    rx = burst.Reassembler()
    rx.add(*bursts[0])
    h, c = bursts[0]
    assert rx.add(h, -c) == []  # a second copy (even with other values) is ignored
    assert rx.duplicates == 1
    out = [f for b in bursts[1:] for f in rx.add(*b)]
    assert len(out) == 1 and out[0].complete
    np.testing.assert_array_equal(out[0].llrs, llrs)


def test_bad_bursts_rejected_without_damage(llrs):
    bursts = _bursts(llrs, 50_000)
    rx = burst.Reassembler()
    rx.add(*bursts[0])
    h, c = bursts[1]
    with pytest.raises(ValueError, match="LLRs") as err:
        rx.add(h, c[:-1])
    assert "\n" not in str(err.value)
    with pytest.raises(ValueError, match="LLRs"):
        rx.add(h, np.concatenate([c, [1.0]]))
    other = Header(h.codec_id, h.height, h.width + 1, h.frame, h.segment, h.segments, h.modulation, h.fec,
                   h.payload_bits)
    with pytest.raises(ValueError, match="width"):
        rx.add(other, c)
    newer = Header(h.codec_id, h.height, h.width, h.frame + 1, 0, 2, 0, 0, 10)
    with pytest.raises(ValueError, match="LLRs"):
        rx.add(newer, np.zeros(4))  # rejected, so it must not finish the older frame either
    assert len(rx) == 1
    out = [f for b in bursts[1:] for f in rx.add(*b)]
    assert len(out) == 1 and out[0].complete and rx.duplicates == 0
    np.testing.assert_array_equal(out[0].llrs, llrs)


def test_segments_align_to_ldpc_blocks():
    # 27 LDPC-1/2 blocks (k = 902) over 7 bursts: 4 blocks in each of 6, 3 in the last; no padded block
    k = 902
    assert burst.segment_lengths(24354, 7, k) == [4 * k] * 6 + [24354 - 24 * k]
    assert burst.segment_lengths(10, 4, 1) == [3, 3, 3, 1]
    # when aligning would empty the last segment, the unaligned rule applies
    assert burst.segment_lengths(2 * k, 3, k) == burst.segment_lengths(2 * k, 3)
    h = Header(3, 512, 768, 41, 0, 7, 1, burst.FEC_NAMES.index("ldpc-1/2"), 24354)
    assert h.align == k and sum(h.lengths) == 24354


def _forged(session, payload_bits, segments=64, frame=0, modulation=1, fec=0):
    """A header with a valid CRC announcing a big frame, and its first segment's LLRs."""
    h = Header(7, 512, 768, frame, 0, segments, modulation, fec, payload_bits, session)
    return h, np.ones(h.lengths[0], np.float32)


def test_a_header_above_the_frame_limit_is_refused_before_allocating():
    rx = burst.Reassembler(max_payload_bits=1 << 20)
    with pytest.raises(ValueError, match="max_payload_bits"):
        rx.add(*_forged(1, (1 << 20) + 1))
    assert len(rx) == 0 and rx.pending_bits == 0


@pytest.mark.parametrize("kind", ["many sessions", "many frames", "huge frames"])
def test_forged_headers_cost_bounded_memory_and_never_a_legitimate_frame(llrs, kind):
    """Floods of forged first bursts: pending frames and their LLR memory stay within the limits
    (the traced peak), the oldest are finished early, and a legitimate frame still arrives whole."""
    import tracemalloc
    limit_bits, limit_frames = 1 << 20, 8
    rx = burst.Reassembler(max_payload_bits=limit_bits, max_pending=limit_frames)
    tracemalloc.start()
    finished = 0
    for i in range(200):
        if kind == "many sessions":
            h = _forged(1000 + i, 1 << 19)
        elif kind == "many frames":
            h = _forged(5, 1 << 18, frame=i)
        else:
            h = _forged(2000 + i, limit_bits, segments=4096)
        finished += len(rx.add(*h))
        assert len(rx) <= limit_frames and rx.pending_bits <= rx.max_pending_bits
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 4 * rx.max_pending_bits + 8 * limit_bits  # float32 LLRs held, plus one frame in flight
    assert finished >= 200 - limit_frames and (rx.evicted > 0) == (kind != "many frames")  # newer frames flush
    out = []
    for b in _bursts(llrs, 7000, frame=9):
        out += [f for f in rx.add(*b) if f.codec_id == 7 and f.height == 64]
    assert len(out) == 1 and out[0].complete
    np.testing.assert_array_equal(out[0].llrs, llrs)
