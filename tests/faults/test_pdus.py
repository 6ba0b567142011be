"""PDUs whose metadata holds infinities, NaN or negative numbers, sent into every PDU block in a
running flowgraph: each is dropped with one logged line and counted, the block keeps working (a
good PDU after the bad ones still comes out) and the flowgraph stops promptly."""
import json
import os
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

pytest.importorskip("gnuradio.semcom.blocks.burst_rx")
import pmt  # noqa: E402
from gnuradio import blocks, gr  # noqa: E402

from gnuradio.semcom.blocks.pdu_io import make_pdu, split_pdu  # noqa: E402
from gnuradio.semcom.phy import framing  # noqa: E402

from test_fault_matrix import SAMPLE, pdu_blocks  # noqa: E402

HOSTILE = (float("inf"), float("-inf"), float("nan"), -2)
OUT = pmt.intern("out")


class feeder(gr.basic_block):
    """Publishes the PDUs a test hands it on 'out'."""

    def __init__(self):
        gr.basic_block.__init__(self, name="test_feeder", in_sig=None, out_sig=None)
        self.message_port_register_out(OUT)


def run_flowgraph(block, pdus, outputs: int, in_port="in", timeout: float = 30.0):
    """``pdus`` into ``block`` in a running flowgraph until ``outputs`` messages came out (or
    ``timeout``); returns (the messages out, seconds the PDUs took, seconds stop and wait took)."""
    tb = gr.top_block()
    src, sink = feeder(), blocks.message_debug()
    tb.msg_connect(src, "out", block, in_port)
    tb.msg_connect(block, "out", sink, "store")
    tb.start()
    start = time.monotonic()
    for pdu in pdus:
        src.message_port_pub(OUT, pdu)
    while sink.num_messages() < outputs and time.monotonic() - start < timeout:
        time.sleep(0.02)
    took = time.monotonic() - start
    stopping = time.monotonic()
    stopper = threading.Thread(target=lambda: (tb.stop(), tb.wait()), daemon=True)
    stopper.start()
    stopper.join(timeout=10)
    assert not stopper.is_alive(), "tb.stop() and tb.wait() did not return"
    return [sink.get_message(i) for i in range(sink.num_messages())], took, time.monotonic() - stopping


def hostile_variants(pdu, dtype):
    """The PDU with each metadata number it holds, and the frame number, replaced by each HOSTILE value."""
    meta, data = split_pdu(pdu, dtype)
    keys = sorted(k for k in framing.NUMBERS if k in meta) + [framing.FRAME] * (framing.FRAME not in meta)
    return [make_pdu({**meta, key: value}, data) for key in keys for value in HOSTILE]


BLOCKS = {name: (make, good) for name, make, good in pdu_blocks()}


@pytest.mark.parametrize("name", BLOCKS)
def test_bad_metadata_into_every_block_in_a_running_flowgraph(name):
    make, good = BLOCKS[name]
    block = make()
    dtype = block.in_dtype
    bad = hostile_variants(good, dtype)
    out, took, stopped = run_flowgraph(block, bad + [good], outputs=1)
    assert len(out) == 1 and block.drops == {"bad metadata": len(bad)}, (name, len(out), block.drops)
    meta = pmt.to_python(pmt.car(out[0]))
    assert all(np.isfinite(v) for k, v in meta.items() if k in framing.NUMBERS), meta
    assert took < 20 and stopped < 5, (name, took, stopped)


def test_phy_rx_drops_a_noise_variance_it_cannot_use_at_once():
    """-1 and NaN made the table build take 15 s per PDU and emit LLRs."""
    make, good = BLOCKS["phy_rx"]
    meta, symbols = split_pdu(good, np.complex64)
    bad = [make_pdu({**meta, framing.NOISE_VAR: v}, symbols) for v in (-1.0, float("nan"), 0.0, float("inf"))]
    block = make()
    out, took, stopped = run_flowgraph(block, bad + [good], outputs=1)
    assert len(out) == 1 and block.drops == {"bad metadata": 4} and took < 10 and stopped < 5, (block.drops, took)


def test_image_tx_given_a_fifo_drops_it_and_stops_promptly(tmp_path):
    make, good = BLOCKS["image_tx"]
    fifo = tmp_path / "image.png"
    os.mkfifo(fifo)
    block = make()
    out, took, stopped = run_flowgraph(block, [pmt.intern(str(fifo)), good], outputs=1)
    assert len(out) == 1 and block.drops == {"unreadable image file": 1}, block.drops
    assert took < 20 and stopped < 5


DISPLAY = r"""
import json, sys, time
import numpy as np, pmt
from PyQt5 import QtWidgets
from gnuradio import gr
app = QtWidgets.QApplication(sys.argv)
from gnuradio.semcom.blocks.display import image_display
from gnuradio.semcom.blocks.pdu_io import make_pdu
image = np.full((16, 24, 3), 7, np.uint8).reshape(-1)
good = {"height": 16, "width": 24, "frame": 3, "bursts": 2, "bursts_lost": 0}
tb = gr.top_block()
src, display = gr.basic_block("feeder", None, None), image_display("test")
src.message_port_register_out(pmt.intern("out"))
tb.msg_connect(src, "out", display, "in")
tb.start()
post = lambda meta: src.message_port_pub(pmt.intern("out"), make_pdu(meta, image))
for key, value in (("height", float("inf")), ("frame", float("inf")), ("bursts_lost", float("-inf")),
                   ("width", float("nan")), ("frame", -1)):
    post({**good, key: value})
post(good)
deadline = time.monotonic() + 20
while display.widget.images_shown < 1 and time.monotonic() < deadline:
    app.processEvents()
    time.sleep(0.02)
tb.stop(); tb.wait()
print(json.dumps({"shown": display.widget.images_shown, "dropped": display.dropped,
                  "caption": display.widget.caption_text, "size": display.widget.image_size}))
"""


def test_image_display_drops_bad_metadata_and_shows_the_next_image():
    """height=inf ended the block's thread; frame=inf or bursts_lost=-inf aborted the flowgraph (exit 134)
    from inside the Qt slot."""
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    r = subprocess.run([sys.executable, "-c", DISPLAY], capture_output=True, text=True, timeout=120, env=env)
    assert r.returncode == 0, r.stderr[-2000:]
    shown = json.loads(r.stdout.strip().splitlines()[-1])
    assert shown == {"shown": 1, "dropped": 5, "caption": "frame 3 \u00b7 bursts lost 0/2", "size": [24, 16]}, shown


def test_burst_modulator_drops_bad_metadata_and_modulates_the_next_burst():
    """The stream block's message handler, called as GNU Radio calls it."""
    from gnuradio.semcom.blocks.burst_modulator import burst_modulator
    from gnuradio.semcom.blocks.symbol_mapper import symbol_mapper
    _, segment = BLOCKS["symbol_mapper"]
    (symbols,) = symbol_mapper("qpsk").process(*split_pdu(segment, np.uint8))
    block = burst_modulator("sc")
    for pdu in hostile_variants(symbols, np.complex64):
        block.handle(pdu)
    assert block.bursts_in == 0 and block.dropped == len(hostile_variants(symbols, np.complex64)) > 0
    block.handle(symbols)
    assert block.bursts_in == 1 and len(block.queue) == 1
