"""Bursts on air, in plain numpy (no GNU Radio, no torch).

* ``header``: the burst header's fields, CRC, authentication tag and FEC index;
* ``segments``: a frame's payload split over bursts, and its reassembly;
* ``framer``: the transmitter's bursts and their samples;
* ``sync``: the receiver's synchroniser and frame collector.

The names of all four are re-exported here: ``from gnuradio.semcom.phy import burst``, then
``burst.Header``, ``burst.BurstSynchroniser``.
"""
from .header import *  # noqa: F401,F403
from .header import FRAME_MODULO, HEADER_BITS, MAX_FRAME_BITS, MAX_PENDING_FRAMES, MAX_SIDE, USER_FEC  # noqa: F401
from .segments import *  # noqa: F401,F403
from .framer import *  # noqa: F401,F403
from .framer import DEFAULT_BURST_SYMBOLS, FRAME_GAP_BURSTS, MAX_BURST_DATA, MAX_PILOT_ERROR, MAX_SAMPLE  # noqa: F401
from .sync import *  # noqa: F401,F403
