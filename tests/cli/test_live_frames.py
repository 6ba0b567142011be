"""Live frames through the real apps: tx_image.py --frames sends a folder over ZeroMQ loopback to
rx_image.py, which decodes every frame in order and reports frames/s and latency."""
import glob
import importlib.util
import os
import re
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("zmq")
from gnuradio.semcom import metrics  # noqa: E402
from gnuradio.semcom.frames import fit, open_frames  # noqa: E402
from gnuradio.semcom.imageio import load_image, save_image  # noqa: E402

from plain import REPO, free_port, run_app  # noqa: E402

SAMPLE = os.path.join(REPO, "examples", "images", "kodim23.png")
SIZE = 96


@pytest.fixture(scope="module")
def frame_folder(tmp_path_factory):
    """Six 128x128 crops panning across the sample photo, and a garbage file among them."""
    folder = tmp_path_factory.mktemp("frames")
    photo = load_image(SAMPLE)
    for n in range(6):
        save_image(str(folder / f"f{n}.png"), np.ascontiguousarray(photo[60 * n:60 * n + 128, 120 * n:120 * n + 128]))
    (folder / "f2b.png").write_bytes(b"not a PNG" + bytes(range(256)) * 4)
    return folder


def test_frames_arrive_in_order_with_frames_per_s_and_latency(frame_folder, tmp_path):
    address, stamps = f"tcp://127.0.0.1:{free_port()}", f"tcp://127.0.0.1:{free_port()}"
    out = tmp_path / "rx"
    video = str(tmp_path / "rx.mp4") if importlib.util.find_spec("imageio_ffmpeg") else ""
    rx = subprocess.Popen([sys.executable, os.path.join(REPO, "apps", "rx_image.py"), "--radio", "zmq",
                           "--address", address, "--timestamps", stamps, "--count", "12", "--idle-exit", "60",
                           "--status", "0.2", "--output-dir", str(out)]
                          + (["--video", video] if video else []),
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        ready = rx.stdout.readline()
        assert ready.startswith("listening on"), ready + rx.stderr.read()
        tx = run_app("tx_image.py", "--radio", "zmq", "--address", address,
                     "--timestamps", stamps,
                     "--frames", frame_folder, "--repeat", "2", "--size", f"{SIZE}x{SIZE}", "--fps", "5", timeout=300)
        stdout, stderr = rx.communicate(timeout=120)
    finally:
        if rx.poll() is None:
            rx.kill()
    assert tx.returncode == 0, tx.stdout + tx.stderr
    assert f"sent 12 frames of {SIZE}x{SIZE}" in tx.stdout and "skipped 2 unreadable" in tx.stdout, tx.stdout
    skipped = [line for line in tx.stderr.splitlines() if "f2b.png" in line]
    assert len(skipped) == 2 and all(line.startswith("skipped ") for line in skipped), tx.stderr
    assert "Traceback" not in tx.stderr, tx.stderr
    assert rx.returncode == 0, stdout + stderr
    sources = [fit(load_image(str(frame_folder / f"f{n}.png")), SIZE, SIZE) for n in range(6)]
    received = [load_image(p) for p in sorted(glob.glob(str(out / "frame*.png")))]
    assert len(received) == 12
    for n, image in enumerate(received):
        scores = [metrics.psnr(source, image) for source in sources]
        assert scores[n % 6] > 20 and int(np.argmax(scores)) == n % 6, (n, scores)
    if video:  # the same frames, in order, in the video file
        frames = [image for _, image in open_frames(video, SIZE, SIZE)]
        assert len(frames) == 12 and all(metrics.psnr(a, b) > 30 for a, b in zip(received, frames))
    summary = stdout.strip().splitlines()[-1]
    m = re.search(r"stopped after 12 images.*; ([\d.]+) frames/s, median latency (\d+) ms", summary)
    assert m and float(m[1]) > 0 and int(m[2]) > 0, summary


def test_keep_up_decodes_every_frame_the_receiver_has_time_for(frame_folder, tmp_path):
    """Small frames at 5 frames/s: a receiver with --keep-up has the time to decode each one, so it
    drops none (stale frames are only those it cannot decode before newer ones fill its queue)."""
    address = f"tcp://127.0.0.1:{free_port()}"
    out = tmp_path / "rx"
    rx = subprocess.Popen([sys.executable, os.path.join(REPO, "apps", "rx_image.py"), "--radio", "zmq",
                           "--address", address, "--keep-up", "--count", "12", "--idle-exit", "30",
                           "--output-dir", str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        ready = rx.stdout.readline()
        assert ready.startswith("listening on"), ready + rx.stderr.read()
        tx = run_app("tx_image.py", "--radio", "zmq", "--address", address, "--frames", frame_folder,
                     "--repeat", "2", "--size", "64x64", "--fps", "5", timeout=300)
        stdout, stderr = rx.communicate(timeout=120)
    finally:
        if rx.poll() is None:
            rx.kill()
    assert tx.returncode == 0 and "sent 12 frames of 64x64" in tx.stdout, tx.stdout + tx.stderr
    summary = stdout.strip().splitlines()[-1]
    assert rx.returncode == 0 and summary.startswith("stopped after 12 images"), stdout + stderr
    assert "nothing dropped" in summary and "stale" not in stderr, summary + stderr
    assert len(glob.glob(str(out / "frame*.png"))) == 12


def test_fps_pacing_does_not_send_the_frames_after_a_late_one_early(frame_folder):
    """--fps 10 and a first frame that takes 0.5 s to encode (the encoder opening): the next frame
    goes at once, and the ones after it a frame interval apart, not back to back to catch up."""
    import argparse
    import time
    from types import SimpleNamespace
    from gnuradio.semcom.cli import live
    sent = []

    def send(image, meta):
        if not sent:
            time.sleep(0.5)
        sent.append(time.monotonic())
        return {"frame": len(sent) - 1}, np.zeros(8, np.uint8)
    bursts = SimpleNamespace(segmenter=SimpleNamespace(framer=SimpleNamespace(session=1)), frames_sent=0,
                             bursts_sent=0)
    tx = SimpleNamespace(send=send, bursts=bursts, wait_sent=lambda timeout: None)
    args = argparse.Namespace(frames=str(frame_folder), size=(32, 32), repeat=1, count=5, fps=10.0, json=False,
                              timestamps="")
    assert live.send_frames(args, tx)[0] == 5
    gaps = np.diff(sent)
    assert gaps[0] < 0.05 and gaps[1:].min() > 0.08, gaps


def test_the_status_line_shows_frames_per_s_and_median_latency():
    from gnuradio.semcom.cli import live, rx_image
    timing = live.LiveStats()
    for n in range(5):  # a frame every 100 ms, taken 50 ms and sent 20 + n ms before it is decoded
        timing.add(10.0 + 0.1 * n, (9.95 + 0.1 * n, 9.98 + 0.1 * n - 0.001 * n))
    assert rx_image.status_line(5, {}, 12.0, 0, timing.text()) == \
        "status: 5 images; dropped: nothing; last SNR estimate 12.0 dB; 10.0 frames/s, median latency 22 ms " \
        "(50 ms from taken)"
    assert rx_image.status_line(1, {}, None, 0, live.LiveStats().text()) == "status: 1 images; dropped: nothing"


def clip(path: str, frames: int) -> None:
    """A small video file: ``frames`` crops of the sample photo."""
    imageio_ffmpeg = pytest.importorskip("imageio_ffmpeg")
    photo = load_image(SAMPLE)
    writer = imageio_ffmpeg.write_frames(path, (160, 120), fps=10, macro_block_size=1)
    writer.send(None)
    for n in range(frames):
        writer.send(np.ascontiguousarray(photo[20 * n:20 * n + 120, 30 * n:30 * n + 160]).tobytes())
    writer.close()


def test_a_video_file_is_sent_frame_by_frame(tmp_path):
    video = str(tmp_path / "clip.mp4")
    clip(video, 4)
    r = run_app("tx_image.py", "--radio", "file", "--file", tmp_path / "cap.sigmf-data", "--frames", video,
                "--size", "64x48", timeout=300)
    assert r.returncode == 0 and "sent 4 frames of 64x48 in 4 bursts" in r.stdout, r.stdout + r.stderr


def test_without_imageio_ffmpeg_a_video_is_one_line_naming_it(tmp_path):
    video = str(tmp_path / "clip.mp4")
    clip(video, 1)
    (tmp_path / "imageio_ffmpeg.py").write_text("raise ImportError('not installed')\n")
    r = subprocess.run([sys.executable, os.path.join(REPO, "apps", "tx_image.py"), "--radio", "file", "--file",
                        str(tmp_path / "cap.sigmf-data"), "--frames", video], capture_output=True, text=True,
                       timeout=300, env={**os.environ, "PYTHONPATH": f"{tmp_path}{os.pathsep}"
                                         f"{os.environ.get('PYTHONPATH', '')}"})
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "pip install imageio-ffmpeg" in r.stderr, r.stderr


def test_a_camera_that_is_not_there_is_one_line(tmp_path):
    r = run_app("tx_image.py", "--radio", "zmq", "--address", f"tcp://127.0.0.1:{free_port()}",
                "--frames", "/dev/video97", timeout=120)
    assert r.returncode == 2 and r.stdout == "", r.stdout + r.stderr
    assert r.stderr.strip() == "error: camera /dev/video97 is not there (no such device); connect one or give a " \
                               "folder or a video file", r.stderr


@pytest.mark.parametrize("args, message", [
    ([], "give image files or --frames SOURCE"),
    (["--radio", "sim", "--frames", "."], "--frames sends to a radio"),
    (["--radio", "zmq", "--frames", ".", "--size", "256"], "is not WIDTHxHEIGHT"),
    (["--radio", "zmq", "--frames", "no/such/clip.mp4"], "no such folder, video file or camera"),
])
def test_bad_live_options_are_one_line(args, message):
    r = run_app("tx_image.py", *args, timeout=120)
    assert r.returncode == 2 and message in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
