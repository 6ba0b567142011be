"""The pyzmq IQ source: bad messages are dropped and counted, reception goes on."""
import time

import numpy as np
import pytest

pytest.importorskip("gnuradio.semcom.blocks.zmq_source")
zmq = pytest.importorskip("zmq")
from gnuradio import blocks, gr  # noqa: E402

from gnuradio.semcom.blocks.zmq_source import CONNECTION_DROPPED, zmq_source  # noqa: E402


@pytest.mark.parametrize("pattern, kind", [("pubsub", zmq.PUB), ("pushpull", zmq.PUSH)])
def test_garbage_messages_are_dropped_and_the_samples_around_them_arrive(pattern, kind):
    ctx = zmq.Context()
    peer = ctx.socket(kind)
    peer.setsockopt(zmq.SNDTIMEO, 10000)  # a PUSH with no connected peer blocks: fail, never hang
    peer.setsockopt(zmq.LINGER, 0)
    port = peer.bind_to_random_port("tcp://127.0.0.1")
    rng = np.random.default_rng(0)
    good = [(rng.standard_normal(n) + 1j * rng.standard_normal(n)).astype(np.complex64) for n in (1000, 333, 4096)]
    src = zmq_source(f"tcp://127.0.0.1:{port}", pattern)
    total = sum(len(g) for g in good)
    sink = blocks.vector_sink_c()
    tb = gr.top_block()
    tb.connect(src, blocks.head(gr.sizeof_gr_complex, total), sink)
    tb.start()
    try:
        time.sleep(0.5)  # the subscription reaches the publisher
        peer.send(good[0].tobytes())
        peer.send(b"\x01\x02\x03")  # odd length: GNU Radio's source would die here
        peer.send_multipart([good[1].tobytes(), b"tail"])  # multipart
        peer.send(good[1].tobytes())
        peer.send(b"")  # empty: nothing to add
        peer.send(good[2].tobytes())
        deadline = time.monotonic() + 20
        while len(sink.data()) < total and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        tb.stop()
        tb.wait()
        peer.close()
        ctx.term()
    assert np.array_equal(np.asarray(sink.data(), np.complex64), np.concatenate(good))
    assert src.drops == {"length not a multiple of 8 bytes": 1, "multipart message": 1}


def test_a_message_above_the_limit_is_dropped():
    src = zmq_source("tcp://127.0.0.1:1", "pushpull", max_message_bytes=64)
    assert src.accept([np.zeros(8, np.complex64).tobytes()]).size == 8
    assert src.accept([np.zeros(9, np.complex64).tobytes()]) is None
    assert src.drops == {"message too large": 1}


def test_messages_queued_before_a_dropped_connection_still_arrive():
    """Two good messages, then one ZeroMQ refuses (it drops the connection), all queued before
    the reader looks (a starved receiver): the socket is opened again, and the good ones arrive."""
    ctx = zmq.Context()
    peer = ctx.socket(zmq.PUB)
    peer.setsockopt(zmq.LINGER, 0)
    port = peer.bind_to_random_port("tcp://127.0.0.1")
    src = zmq_source(f"tcp://127.0.0.1:{port}", "pubsub", max_message_bytes=1024)
    good = [np.arange(n, dtype=np.complex64) for n in (100, 28)]
    try:
        src._open()  # connected, its reader not started yet
        time.sleep(0.5)  # the subscription reaches the publisher
        for g in good:
            peer.send(g.tobytes())
        peer.send(bytes(8 * 1024))  # above 4 x max_message_bytes: ZeroMQ drops the connection
        time.sleep(0.5)
        src.start()
        deadline = time.monotonic() + 10
        while not src.drops and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        src.stop()
        peer.close()
        ctx.term()
    assert src.drops == {CONNECTION_DROPPED: 1}
    got = np.concatenate([np.zeros(0, np.complex64), *src.pending])
    assert np.array_equal(got, np.concatenate(good)), f"{got.size} of {sum(g.size for g in good)} samples arrived"
