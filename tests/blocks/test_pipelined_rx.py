"""The receiver with image_rx's decode workers (as rx_image.py runs it): the same images as decoding
in the message handler, in order, back-pressure onto burst_sync, hostile frames dropped."""
import time

import numpy as np
import pytest

gr = pytest.importorskip("gnuradio.gr")
from gnuradio import blocks  # noqa: E402

from gnuradio.semcom.blocks.burst_rx import burst_rx  # noqa: E402
from gnuradio.semcom.blocks.image import DECODE_QUEUE, image_rx  # noqa: E402
from gnuradio.semcom.blocks.pdu_io import make_pdu, split_pdu  # noqa: E402
from gnuradio.semcom.cli import common as cli  # noqa: E402
from gnuradio.semcom.cli.ota_bench import record_stream  # noqa: E402
from gnuradio.semcom.imageio import load_image  # noqa: E402

FRAMES = 8
GAP = 60000  # noise samples after each image: a work call of burst_sync sees about one image


@pytest.fixture(scope="module")
def recording():
    image = load_image(cli.sample_image())
    images = [np.ascontiguousarray(image[48 * i:48 * i + 128]) for i in range(FRAMES)]  # 2 bursts each
    return images, record_stream(images, 15.0, "sc", GAP)


def receive(stream, workers, slow=0.0):
    """The packed recording through burst_rx -> image_rx; (frames out as (meta, image), burst_rx)."""
    tb = gr.top_block()
    rx = burst_rx("sc", frame_timeout=0.5)
    sink = image_rx("", "bitsemcom", workers=workers) if workers else image_rx("", "bitsemcom")
    sink.upstream_blocks = 1
    if workers:
        rx.hold_while(lambda: sink.congested)
    if slow:
        decode = sink.fixed.decode
        sink.fixed.decode = lambda received: (time.sleep(slow), decode(received))[1]
    tb.connect(blocks.vector_source_c(stream), rx)
    tb.msg_connect(rx, "out", sink, "in")
    tb.start()
    got = []
    while len(got) < FRAMES:
        got.append(sink.received.get(timeout=120))
    tb.wait()
    return got, rx, sink


def test_workers_give_the_images_decoding_in_the_handler_gives(recording):
    images, stream = recording
    plain, _, _ = receive(stream, 0)
    piped, _, sink = receive(stream, 2)
    assert [int(m["frame"]) for m, _ in piped] == list(range(FRAMES))
    for (m0, a), (m1, b), sent in zip(plain, piped, images):
        assert not m1["lost"] and np.array_equal(a, b) and a.shape == sent.shape
    assert sink.stage.backlog == 0 and sink.dropped == 0


def test_a_slow_decoder_holds_the_stream_back(recording):
    """Decoding slower than the recording comes: burst_sync waits (back-pressure) rather than
    queueing frames, longer than frame_timeout, and every image still comes out whole, in order."""
    _, stream = recording
    got, rx, sink = receive(stream, 1, slow=0.8)
    assert [int(m["frame"]) for m, _ in got] == list(range(FRAMES))
    assert not any(m["bursts_lost"] or m["lost"] for m, _ in got), [m["bursts_lost"] for m, _ in got]
    assert rx.sync.held > 0 and sink.stage.capacity == DECODE_QUEUE


def test_hostile_frames_are_dropped_by_the_workers_and_the_next_comes_out(recording):
    """A frame with LLRs missing and one for another model fail in a worker: each is one counted
    drop; the good frame after them is decoded."""
    from gr_helpers import run_pdus
    from gnuradio.semcom.blocks.image import image_tx
    images, _ = recording
    tx = image_tx("bitsemcom", "qpsk", "", 1 / 16)
    meta, bits = split_pdu(tx.encode(images[0]), np.uint8)
    llrs = np.where(bits > 0, 30.0, -30.0).astype(np.float32)
    sink = image_rx("", "bitsemcom", workers=2)
    frames = [make_pdu(meta, llrs[:-8]), make_pdu({**meta, "model_hash": "ffffffffffff"}, llrs), make_pdu(meta, llrs)]
    (out,) = run_pdus([sink], frames, 1, timeout=60)
    out_meta, pixels = split_pdu(out, np.uint8)
    assert sink.dropped == 2 and out_meta["lost"] is False and pixels.size == images[0].size
