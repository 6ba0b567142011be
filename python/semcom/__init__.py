"""gr-semcom: digital semantic image communication for GNU Radio.

    from gnuradio import semcom
    tx = semcom.phy_tx("qpsk", "ldpc-1/2")

Plain logic (PHY maths, codecs, metrics) lives in subpackages that import
neither GNU Radio nor torch; the blocks below are thin adapters over it.
"""
__version__ = "0.1.0"

try:
    from gnuradio import gr as _gr  # noqa: F401
except ImportError:  # plain modules stay usable without GNU Radio (tests, training)
    pass
else:
    from ._requirements import require_runtime
    require_runtime()
    from .blocks.air_channel import air_channel  # noqa: F401
    from .blocks.burst_llr import burst_llr  # noqa: F401
    from .blocks.burst_modulator import burst_modulator  # noqa: F401
    from .blocks.burst_reassembler import burst_reassembler  # noqa: F401
    from .blocks.burst_rx import burst_rx  # noqa: F401
    from .blocks.burst_segmenter import burst_segmenter  # noqa: F401
    from .blocks.burst_sync import burst_sync  # noqa: F401
    from .blocks.burst_tx import burst_tx  # noqa: F401
    from .blocks.fec_decoder import fec_decoder  # noqa: F401
    from .blocks.burst_common import preamble_period  # noqa: F401
    from .blocks.sample_limiter import sample_limiter  # noqa: F401
    from .blocks.symbol_mapper import symbol_mapper  # noqa: F401
    from .blocks.modem import install_stream_table, project_constellation  # noqa: F401
    from .blocks.image import image_rx, image_source, image_tx, semantic_decoder, semantic_encoder  # noqa: F401
    from .blocks.phy_rx import phy_rx  # noqa: F401
    from .blocks.phy_tx import phy_tx  # noqa: F401
    from .blocks.sim_channel import sim_channel  # noqa: F401
    from .blocks.zmq_source import zmq_source  # noqa: F401
    from .flowgraphs.ideal import IdealLink  # noqa: F401
