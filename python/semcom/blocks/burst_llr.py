"""The ``burst_llr`` block of the burst waveform (see ``blocks/__init__.py`` for the whole chain)."""
from __future__ import annotations



from . import modem
from ..errors import SemcomError
from ..options import default as opt
from ..phy import burst
from ..phy.link import LLR_CLIP
from .compiled import semcom_python


def burst_llr(modulation=opt("modulation"), constellation=None):
    """The soft decoder's output (k values per symbol, from the noise-free max-log table) in,
    one LLR PDU per burst out: the values times the burst's 1/N0 per symbol, clipped, cut to the
    segment's coded bits (the burst tag's ``symbols`` and ``coded_bits``, from ``burst_sync``),
    with the burst's metadata. ``expire`` markers become expire PDUs. The block is C++
    (lib/burst_llr_impl.cc): as a Python block its per-burst cost and its contention for the
    interpreter lock took a quarter of the OFDM receiver's time. ``.bursts_out``, ``.dropped``.

    Args:
        modulation: the stream's modulation (bpsk, qpsk, 16qam, 64qam, 8psk): k bits per symbol.
        constellation: the soft decoder's ``digital.constellation``; given, its noise-free table
            is loaded into it here, and ``.input_scale`` is what its Multiply Const must be.
    """
    modulation = modem.burst_modulation(modulation)
    k = burst.constellation(modulation).bits_per_symbol
    block = semcom_python.burst_llr(k, LLR_CLIP)
    block.input_scale = None
    if constellation is not None:
        if modem.modulation_of(constellation) != modulation:
            raise SemcomError(f"constellation does not have the {modulation} number of points")
        block.input_scale = modem.install_stream_table(constellation)
    return block
