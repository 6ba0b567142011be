#!/usr/bin/env python3
"""Transmit images with the gr-semcom burst waveform.

The code lives in gnuradio.semcom.cli.tx_image (importable and testable in-process)."""
from gnuradio.semcom.cli import tx_image

tx_image.run()
