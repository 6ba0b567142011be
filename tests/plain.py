"""The module's plain (GNU Radio-free) submodules: from the installed package, else the source tree."""
import importlib
import json
import os
import socket
import subprocess
import sys

try:
    PACKAGE = importlib.import_module("gnuradio.semcom").__name__
except ImportError:
    PACKAGE = importlib.import_module("semcom").__name__


def module(name: str):
    """``module("phy.ldpc")`` is gnuradio.semcom.phy.ldpc (or semcom.phy.ldpc without GNU Radio)."""
    return importlib.import_module(f"{PACKAGE}.{name}")

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))  # the source tree


def run_app(name: str, *args, timeout: float = 300) -> subprocess.CompletedProcess:
    """apps/``name`` run as a user runs it, with this Python; its output as text."""
    return subprocess.run([sys.executable, os.path.join(REPO, "apps", name), *map(str, args)],
                          capture_output=True, text=True, timeout=timeout)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


BITSEMCOM_MODELS = ("bitsemcom-qpsk-cpp16", "bitsemcom-16qam-cpp16")
# measured curves crossing between 3 and 10 dB: QPSK 22 + (snr - 3) / 7, 16-QAM 21 + 6 (snr - 3) / 7, equal at 4.4 dB
CROSSING = {BITSEMCOM_MODELS[0]: {"qpsk": {"-3": 20.0, "3": 22.0, "10": 23.0}},
            BITSEMCOM_MODELS[1]: {"16qam": {"-3": 14.0, "3": 21.0, "10": 27.0}}}


def measured_model_copies(dest, curves: dict, cpp: float = 1 / 16):
    """Copies of the installed BitSemCom models in folder ``dest`` (ONNX files linked, card.json
    copied) whose cards hold ``curves`` = {model: {modulation: {snr_db: PSNR}}} measured at ``cpp``;
    on $SEMCOM_MODEL_PATH they take the installed models' place. Returns ``dest``."""
    import shutil
    neural = module("codecs.neural")
    installed = {os.path.basename(d): d for d in neural.model_dirs()}
    for name in BITSEMCOM_MODELS:
        src, dst = installed[name], os.path.join(str(dest), name)
        os.makedirs(dst)
        for f in os.listdir(src):
            (os.symlink if f.endswith(".onnx") else shutil.copy)(os.path.join(src, f), os.path.join(dst, f))
        if name in curves:
            neural.update_card(dst, neural.MEASURED_KEY, {"channel": "awgn", "cpp": cpp, "images": 1,
                                                          "psnr_db": curves[name]})
        else:  # no curves, whatever the installed card holds
            path = os.path.join(dst, neural.CARD_FILE)
            with open(path) as f:
                card = json.load(f)
            card.pop(neural.MEASURED_KEY, None)
            with open(path, "w") as f:
                json.dump(card, f, indent=1)
    return dest
