"""rx_image.py --gui as a user runs it: a Qt window (drawn off-screen here) over the ZeroMQ
receiver; the image from tx_image.py arrives and is written, Ctrl-C ends it cleanly, and without
a display it says so in one line."""
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

pytest.importorskip("zmq")
pytest.importorskip("gnuradio.qtgui")
from gnuradio.semcom.imageio import load_image, save_image  # noqa: E402
from gnuradio.semcom.metrics import psnr  # noqa: E402

from plain import REPO, free_port, run_app  # noqa: E402

SAMPLE = os.path.join(REPO, "examples", "images", "kodim23.png")


def rx_command(address, out):
    return [sys.executable, os.path.join(REPO, "apps", "rx_image.py"), "--radio", "zmq", "--address", address,
            "--gui", "--output-dir", str(out), "--frame-timeout", "1"]


def test_gui_receives_an_image_over_zeromq_and_stops_on_ctrl_c(tmp_path):
    image = tmp_path / "small.png"
    save_image(str(image), np.ascontiguousarray(load_image(SAMPLE)[:64, :96]))
    address, out = f"tcp://127.0.0.1:{free_port()}", tmp_path / "rx"
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    rx = subprocess.Popen(rx_command(address, out), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          env=env)
    try:
        ready = rx.stdout.readline()
        assert ready.startswith("listening on zmq"), ready + rx.stderr.read()
        tx = run_app("tx_image.py", "--radio", "zmq", "--address", address, image, timeout=120)
        assert tx.returncode == 0 and "sent 1 images" in tx.stdout, tx.stdout + tx.stderr
        deadline = time.monotonic() + 60
        while not (out / "frame000000.json").exists() and time.monotonic() < deadline and rx.poll() is None:
            time.sleep(0.2)
        rx.send_signal(signal.SIGINT)
        stdout, stderr = rx.communicate(timeout=30)
    finally:
        if rx.poll() is None:
            rx.kill()
            rx.wait()
    assert rx.returncode == 0, stdout + stderr
    assert stdout.strip().splitlines()[-1].startswith("stopped after 1 images"), stdout
    assert "Traceback" not in stderr, stderr
    record = json.loads((out / "frame000000.json").read_text())
    assert record["lost"] is False and record["bursts_lost"] == 0, record
    assert psnr(load_image(str(image)), load_image(str(out / "frame000000.png"))) > 20


def test_gui_without_a_display_says_so_in_one_line(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    r = subprocess.run(rx_command(f"tcp://127.0.0.1:{free_port()}", tmp_path / "rx"), capture_output=True,
                       text=True, env=env, timeout=120)
    assert r.returncode == 2, r.stdout + r.stderr
    assert r.stderr.strip().splitlines() == ["error: --gui needs a display: DISPLAY is not set (run it in a desktop "
                                             "session or with ssh -X, or draw off-screen with "
                                             "QT_QPA_PLATFORM=offscreen)"], r.stderr
    assert "listening" not in r.stdout
