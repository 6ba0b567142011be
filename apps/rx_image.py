#!/usr/bin/env python3
"""Receive images with the gr-semcom burst waveform; write each with a JSON record.

The code lives in gnuradio.semcom.cli.rx_image (importable and testable in-process)."""
import sys

try:
    from gnuradio.semcom.cli import rx_image
except ImportError as err:  # a Python package missing, or an install this Python cannot see
    sys.exit(f"error: {err}")

rx_image.run()
