#!/usr/bin/env python3
"""Runs gr-semcom's training code from the source tree, without GNU Radio and without installing:
``python3 scripts/run_from_source.py MODULE [ARGS]`` calls ``semcom.training.MODULE.main(ARGS)``
(for example run). The package's __init__ (GNU Radio blocks) is skipped."""
import importlib
import os
import sys
import types

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch loads: idle OpenMP threads sleep
PKG = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python", "semcom")
if "semcom" not in sys.modules:
    pkg = types.ModuleType("semcom")
    pkg.__path__ = [os.path.abspath(PKG)]
    sys.modules["semcom"] = pkg

if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    importlib.import_module(f"semcom.training.{sys.argv[1]}").main(sys.argv[2:])
