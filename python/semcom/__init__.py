"""gr-semcom: digital semantic image communication for GNU Radio.

    from gnuradio import semcom
    tx = semcom.phy_tx("qpsk", "ldpc-1/2")

Plain logic (PHY maths, codecs, metrics) lives in subpackages that import
neither GNU Radio nor torch; the blocks below are loaded on first use.
"""
__version__ = "0.1.0"

_BLOCKS = {
    "phy_tx": "phy_tx",
    "phy_rx": "phy_rx",
    "sim_channel": "sim_channel",
    "image_tx": "image_blocks",
    "image_rx": "image_blocks",
    "SimLink": "sim_link",
}


def __getattr__(name):
    if name in _BLOCKS:
        import importlib
        module = importlib.import_module(f".{_BLOCKS[name]}", __name__)
        return getattr(module, name)
    raise AttributeError(f"module 'semcom' has no attribute '{name}'")


def __dir__():
    return sorted(list(globals()) + list(_BLOCKS))
