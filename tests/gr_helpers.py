"""Shared test helper: run PDUs through a chain of message blocks."""
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
