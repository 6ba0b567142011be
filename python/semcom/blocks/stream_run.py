"""Runs one PDU through a short chain of GNU Radio stream blocks.

Each call builds a fresh ``top_block``: vector source -> blocks -> vector sink,
and runs it to completion. This keeps the stock blocks (gr-fec, gr-digital,
gr-analog) on the PDU path without the stalls of 3.10's
pdu_to_tagged_stream/tagged_stream_to_pdu pair, and without their
8191-item packet limit.
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
from gnuradio import blocks, gr

_SOURCES = {
    np.dtype(np.uint8): blocks.vector_source_b,
    np.dtype(np.float32): blocks.vector_source_f,
    np.dtype(np.complex64): blocks.vector_source_c,
}
_SINKS = {
    np.dtype(np.uint8): blocks.vector_sink_b,
    np.dtype(np.float32): blocks.vector_sink_f,
    np.dtype(np.complex64): blocks.vector_sink_c,
}


TAIL = 256  # zeros appended so that aligned (VOLK) blocks emit every real item


def run_chain(data: np.ndarray, chain: Sequence[Callable[[], gr.basic_block]], out_dtype,
              out_per_in: float = 1.0, side_inputs: Sequence[tuple[int, Callable[[], gr.basic_block]]] = (),
              tail: int = TAIL) -> np.ndarray:
    """Feeds ``data`` through blocks made by ``chain`` factories; returns the sink's items.

    The input gets ``tail`` zeros so that no trailing item is held back, and the
    output is cut to ``len(data) * out_per_in`` items. ``side_inputs`` are
    (index, factory) pairs: a source connected to input 1 of chain block
    ``index`` (for example a noise source into an adder).
    """
    want = int(round(len(data) * out_per_in))
    data = np.ascontiguousarray(np.concatenate([data, np.zeros(tail, data.dtype)]))
    tb = gr.top_block()
    made = [factory() for factory in chain]
    source = _SOURCES[data.dtype](data)
    sink = _SINKS[np.dtype(out_dtype)]()
    tb.connect(source, *made, sink) if made else tb.connect(source, sink)
    keep = [(index, factory()) for index, factory in side_inputs]
    for index, side in keep:
        tb.connect(side, (made[index], 1))
    tb.run()
    out = np.asarray(sink.data(), dtype=out_dtype)
    if len(out) < want:
        raise RuntimeError(f"stream chain returned {len(out)} items, expected {want}")
    return out[:want]


def fill_from(queue, out) -> int:
    """Moves arrays from the front of ``queue`` (a deque) into the output buffer ``out``, splitting
    the last one; returns the items written."""
    n = 0
    while queue and n < len(out):
        chunk = queue[0]
        k = min(len(chunk), len(out) - n)
        out[n:n + k] = chunk[:k]
        n += k
        if k == len(chunk):
            queue.popleft()
        else:
            queue[0] = chunk[k:]
    return n
