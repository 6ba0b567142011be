#!/usr/bin/env python3
"""Transmit images with the gr-semcom burst waveform.

The code lives in gnuradio.semcom.cli.tx_image (importable and testable in-process)."""
import sys

try:
    from gnuradio.semcom.cli import tx_image
except ImportError as err:  # a Python package missing, or an install this Python cannot see
    sys.exit(f"error: {err}")

tx_image.run()
