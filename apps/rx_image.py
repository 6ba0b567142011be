#!/usr/bin/env python3
"""Receive images with the gr-semcom burst waveform; write each with a JSON record.

The code lives in gnuradio.semcom.cli.rx_image (importable and testable in-process)."""
import os
import signal
import sys

# Ctrl-C or SIGTERM while the modules load (before the app's own handlers): one line, exit at once
for _signal, _line in ((signal.SIGINT, b"interrupted\n"), (signal.SIGTERM, b"terminated\n")):
    signal.signal(_signal, lambda number, _frame, line=_line: (os.write(2, line), os._exit(128 + number)))

try:
    from gnuradio.semcom.cli import rx_image
except ImportError as err:  # a Python package missing, or an install this Python cannot see
    sys.exit(f"error: {err}")

rx_image.run()
