"""The ``sample_limiter`` block of the burst waveform (see ``blocks/__init__.py`` for the whole chain)."""
from __future__ import annotations



from .burst_common import LIMIT_FACTOR, LIMIT_FLOOR, LIMIT_HOLD, STREAM_BUFFER
from .compiled import semcom_python


def sample_limiter(limit=LIMIT_FACTOR, floor=LIMIT_FLOOR, hold=LIMIT_HOLD):
    """Complex stream in and out: non-finite samples become 0, and magnitudes above ``limit``
    times a reference level are scaled down to it, so that one corrupted sample (a flipped float
    in a recording, up to 1e38) cannot raise ``corr_est_cc``'s dynamic threshold for a whole work
    call and hide real preambles. The reference is the 90th percentile of |x| of each call (every
    8th sample), held with a half-life of ``hold`` samples (so it stays at the signal's level
    between bursts), and at least ``floor``; sparse corruption does not move a 90th percentile.
    ``.limited`` counts the samples changed. The block is C++ (lib/sample_limiter_impl.cc): it runs
    on every raw sample."""
    block = semcom_python.sample_limiter(float(limit), float(floor), float(hold))
    block.set_min_output_buffer(STREAM_BUFFER)
    return block
