"""The module's plain (GNU Radio-free) submodules: from the installed package, else the source tree."""
import importlib
import os
import socket

try:
    PACKAGE = importlib.import_module("gnuradio.semcom").__name__
except ImportError:
    PACKAGE = importlib.import_module("semcom").__name__


def module(name: str):
    """``module("phy.ldpc")`` is gnuradio.semcom.phy.ldpc (or semcom.phy.ldpc without GNU Radio)."""
    return importlib.import_module(f"{PACKAGE}.{name}")

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))  # the source tree


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
