"""Tests import the installed module (``make test`` installs it into .venv first);
plain-logic tests fall back to the source tree so they also run without GNU Radio."""
import os
import sys

try:
    import gnuradio.semcom  # noqa: F401
except ImportError:
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "python"))
