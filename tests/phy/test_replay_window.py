"""Replay protection in reassembly: a frame a session already delivered never comes out again."""
from dataclasses import fields, replace

import numpy as np
import pytest

try:
    from gnuradio.semcom.phy import burst
except ImportError:
    from semcom.phy import burst

Header = burst.Header
KEY = b"shared secret"


def bursts(frame, session, segments=3, bits=120):
    """One frame's (header, LLRs) per burst, uncoded QPSK, signed with ``KEY``."""
    llrs = np.random.default_rng(frame).normal(0, 4, bits).astype(np.float32)
    chunks = burst.segment(llrs, -(-bits // segments))
    return [(Header(7, 16, 16, frame, i, len(chunks), 1, 0, bits, session).signed(KEY), c)
            for i, c in enumerate(chunks)]


def feed(rx, items):
    """Frames out, and how many bursts were refused as replayed."""
    out, refused = [], 0
    for h, c in items:
        try:
            out += rx.add(h, c)
        except burst.Replayed:
            refused += 1
    return out, refused


def test_a_frame_played_again_is_refused_and_counted():
    rx = burst.Reassembler()
    first, refused = feed(rx, bursts(0, 1))
    assert [f.frame for f in first] == [0] and first[0].complete and refused == 0
    again, refused = feed(rx, bursts(0, 1))
    assert again == [] and refused == 3 and rx.replayed == 3 and len(rx) == 0
    nxt, refused = feed(rx, bursts(1, 1))
    assert [f.frame for f in nxt] == [1] and nxt[0].complete and refused == 0


def test_one_replayed_burst_of_an_old_frame_makes_no_erased_frame():
    rx = burst.Reassembler()
    out, _ = feed(rx, [b for frame in range(4) for b in bursts(frame, 1)])
    assert [f.frame for f in out] == [0, 1, 2, 3]
    with pytest.raises(burst.Replayed):
        rx.add(*bursts(1, 1)[0])
    assert len(rx) == 0 and rx.flush_all() == []


def test_sessions_a_b_a_the_second_a_is_replay():
    rx = burst.Reassembler()
    a = [b for frame in range(3) for b in bursts(frame, 0xA)]
    b = [x for frame in range(3) for x in bursts(frame, 0xB)]
    out, refused = feed(rx, a + b + a)
    assert [(f.session, f.frame) for f in out] == [(0xA, 0), (0xA, 1), (0xA, 2), (0xB, 0), (0xB, 1), (0xB, 2)]
    assert refused == len(a) and all(f.complete for f in out)


def test_a_pending_frame_s_repeated_burst_is_a_duplicate_not_a_replay():
    rx = burst.Reassembler()
    items = bursts(5, 1)
    out, refused = feed(rx, [items[0], items[0], items[1], items[2]])
    assert [f.frame for f in out] == [5] and out[0].complete and refused == 0 and rx.duplicates == 1


def test_the_window_slides_and_wraps():
    window = burst.ReplayWindow(frames=8)
    for frame in (65533, 65535):  # 65534 is late
        window.deliver(1, frame)
    assert window.delivered(1, 65533) and window.delivered(1, 65535) and not window.delivered(1, 65534)
    window.deliver(1, 3)  # after the wrap: newer
    assert window.delivered(1, 3) and window.delivered(1, 65535) and not window.delivered(1, 0)
    assert not window.delivered(1, 65534)  # 5 frames behind: still inside the window, not delivered
    assert window.delivered(1, 65530)  # 9 behind: older than the window
    assert not window.delivered(1, 4) and not window.delivered(1, 3 + 32767)  # newer
    assert not window.delivered(2, 3)  # another session


def test_sessions_remembered_are_bounded_least_recently_active_forgotten_first():
    window = burst.ReplayWindow(frames=1024, max_sessions=64)
    window.deliver(0, 0)
    for session in range(1, 10_000):
        window.deliver(session, 0)
        window.delivered(0, 0)  # session 0 stays active
        assert len(window) <= 64
    assert window.delivered(0, 0) and window.delivered(9_999, 0) and not window.delivered(1, 0)


def test_the_tag_covers_session_and_frame_so_a_replay_cannot_take_a_new_session():
    header, _ = bursts(2, 0xA)[0]
    assert header.authentic(KEY)
    for field in fields(Header):
        if field.name == "tag":
            continue
        value = getattr(header, field.name)
        moved = replace(header, **{field.name: value + 1 if value < 255 else value - 1})
        assert not moved.authentic(KEY), field.name  # every field, session and frame included
