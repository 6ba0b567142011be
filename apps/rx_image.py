#!/usr/bin/env python3
"""Receive images with the gr-semcom burst waveform; write each with a JSON record.

The code lives in gnuradio.semcom.cli.rx_image (importable and testable in-process)."""
from gnuradio.semcom.cli import rx_image

rx_image.run()
