"""Shared test helpers: run PDUs through a chain of message blocks; an image over the burst chain."""
import time

import pmt
from gnuradio import blocks, gr


def run_pdus(chain, pdus, n_out, timeout=30):
    """Posts PDUs into the first block of a message chain; returns what comes out."""
    tb = gr.top_block()
    sink = blocks.message_debug()
    for a, b in zip(chain, chain[1:]):
        tb.msg_connect(a, "out", b, "in")
    tb.msg_connect(chain[-1], "out", sink, "store")
    tb.start()
    for p in pdus:
        chain[0].to_basic_block()._post(pmt.intern("in"), p)
    deadline = time.time() + timeout
    while sink.num_messages() < n_out and time.time() < deadline:
        time.sleep(0.005)
    tb.stop()
    tb.wait()
    return [sink.get_message(i) for i in range(sink.num_messages())]


def air_flowgraph(tx_codec, rx_codec, modulation="qpsk", fec="none", constellation_obj=None, snr_db=15.0,
                  output_dir="", burst_symbols=None, **rx_options):
    """image_tx -> burst_tx -> air_channel -> burst_rx (``rx_options``) -> image_rx, not started."""
    from gnuradio.semcom.blocks.air_channel import air_channel
    from gnuradio.semcom.blocks.burst_rx import burst_rx
    from gnuradio.semcom.blocks.burst_tx import burst_tx
    from gnuradio.semcom.blocks.image import image_rx, image_tx
    tb = gr.top_block()
    tx = image_tx(tx_codec, modulation, fec, 1 / 16)
    sizes = {} if burst_symbols is None else {"burst_symbols": burst_symbols}
    btx = burst_tx(modulation, tx.link.fec, "sc", constellation=constellation_obj, **sizes)
    chan = air_channel(snr_db, cfo=0.002, delay=0.3)
    brx = burst_rx("sc", constellation=constellation_obj, **rx_options)
    rx = image_rx(output_dir, rx_codec)
    tb.connect(btx, chan, brx)
    tb.msg_connect(tx, "out", btx, "in")
    tb.msg_connect(brx, "out", rx, "in")
    return tb, tx, btx, brx, rx


def receive(tb, tx, rx, image, timeout=60.0):
    """Runs an ``air_flowgraph`` for one image: (metadata, image) as image_rx published them."""
    tb.start()
    try:
        tx.send(image)
        return rx.received.get(timeout=timeout)
    finally:
        tb.stop()
        tb.wait()
