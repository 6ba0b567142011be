"""tx_image.py --codec auto, open loop through --radio sim and closed loop over ZeroMQ with
rx_image.py --feedback, run as users run them."""
import json
import os
import subprocess
import sys

import pytest

pytest.importorskip("gnuradio.semcom.flowgraphs.air")
from gnuradio.semcom.imageio import load_image, resize, save_image  # noqa: E402

from plain import REPO, free_port, run_app  # noqa: E402

SAMPLE = os.path.join(REPO, "examples", "images", "kodim23.png")


def records(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]


def test_auto_follows_the_simulated_channel(tmp_path):
    small = tmp_path / "small.png"
    save_image(str(small), resize(load_image(SAMPLE), 128, 192))  # 1536 channel uses: 64-QAM 1/2 fits 5 codewords
    r = run_app("tx_image.py", "--codec", "auto", "--waveform", "ideal", "--snr-steps", "20,-6", "--json",
                "--rx-output", tmp_path / "rx.png", small, small)
    assert r.returncode == 0, r.stderr
    high, low = records(r.stdout)
    assert (high["channel_snr_db"], high["auto"]["family"]) == (20, "conventional")
    assert high["auto"]["link"].startswith(("16qam", "64qam"))
    assert not high["lost"] and high["psnr_db"] > 24
    assert (low["channel_snr_db"], low["auto"]["family"], low["auto"]["link"]) == (-6, "learned", "qpsk")
    assert not low["lost"] and low["psnr_db"] > 17
    for rec in (high, low):
        assert rec["auto"]["for_snr_db"] == rec["channel_snr_db"] and "predicts" in rec["auto"]["why"]


def test_auto_on_a_radio_needs_an_snr():
    r = run_app("tx_image.py", "--codec", "auto", "--radio", "zmq", SAMPLE)
    assert r.returncode == 2 and r.stderr.strip().splitlines() == [
        "error: --codec auto with --radio zmq needs --target-snr (the Es/N0 the receiver sees) or --feedback ADDR "
        "(rx_image.py --feedback ADDR reports it)"]


@pytest.mark.slow
def test_closed_loop_over_zeromq_follows_snr_steps(tmp_path):
    """15 -> 0 -> -3 -> 15 dB, two images each: every image arrives and the second of each step is
    picked for that step's SNR from the receiver's estimate of the first, and delivered."""
    image = tmp_path / "photo.png"
    save_image(str(image), resize(load_image(SAMPLE), 384, 512))  # about 6 bursts of 2048 symbols a frame
    samples, feedback = f"tcp://127.0.0.1:{free_port()}", f"tcp://127.0.0.1:{free_port()}"
    out = tmp_path / "rx"
    rx = subprocess.Popen([sys.executable, os.path.join(REPO, "apps", "rx_image.py"), "--radio", "zmq",
                           "--address", samples, "--feedback", feedback, "--count", "8", "--idle-exit", "60",
                           "--output-dir", str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        tx = run_app("tx_image.py", "--radio", "zmq", "--address", samples, "--codec", "auto", "--feedback", feedback,
                     "--add-channel", "--snr-steps", "15,0,-3,15", "--step-images", 2, "--burst-symbols", 2048,
                     "--auto-margin", 1.5,  # the sc waveform's receiver loses about 1 dB against the ideal channel
                     "--interval", 0.5, "--json", *[image] * 8, timeout=400)
        stdout, stderr = rx.communicate(timeout=120)
    finally:
        rx.kill()
    assert tx.returncode == 0, tx.stderr
    assert rx.returncode == 0, stderr
    sent = records(tx.stdout)
    assert [r["channel_snr_db"] for r in sent] == [15, 15, 0, 0, -3, -3, 15, 15]
    received = [json.load(open(out / f"frame{i:06d}.json")) for i in range(8)]
    assert sorted(r["frame"] for r in received) == [r["frame"] for r in sent]  # every image arrived
    picks = [(r["auto"]["family"], r["auto"]["link"]) for r in sent]
    assert picks[1] == picks[7] and picks[1][0] == "conventional" and picks[1][1].startswith(("16qam", "64qam"))
    assert picks[3] != picks[1]  # 0 dB: BPSK 1/2 (cliff -1 dB) only with an estimate 0.5 dB above the step
    assert picks[5][0] == "learned"
    assert "estimate of frame" in sent[3]["auto"]["why"]
    by_frame = {r["frame"]: r for r in received}
    for i in (1, 3, 5, 7):  # picked for the step's SNR: delivered
        got = by_frame[sent[i]["frame"]]
        assert not got["lost"], (picks, {k: (r["lost"], r.get("snr_est_db")) for k, r in by_frame.items()})


def test_feedback_takes_the_latest_valid_estimate_and_drops_malformed_ones(tmp_path):
    import threading
    import time

    import zmq
    small = tmp_path / "small.png"
    save_image(str(small), resize(load_image(SAMPLE), 128, 192))
    address = f"tcp://127.0.0.1:{free_port()}"
    sock = zmq.Context.instance().socket(zmq.PUB)
    sock.bind(address)
    stop = threading.Event()

    def publish():  # a receiver's estimate among forged messages, again and again
        while not stop.is_set():
            for message in (b'{"frame": 0, "snr_est_db": 20.0}', b"\xff\xfe", b'{"snr_est_db": "high"}'):
                sock.send(message)
            time.sleep(0.05)
    thread = threading.Thread(target=publish, daemon=True)
    thread.start()
    try:
        r = run_app("tx_image.py", "--codec", "auto", "--waveform", "ideal", "--snr", 20, "--feedback", address,
                    "--json", "--rx-output", tmp_path / "rx.png", small, small)
    finally:
        stop.set()
        thread.join()
        sock.close()
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr and "warning: ignored a feedback message" in r.stderr
    second = records(r.stdout)[1]["auto"]
    assert (second["for_snr_db"], second["family"]) == (20, "conventional")
    assert "receiver's estimate of frame 0" in second["why"]


def test_rx_feedback_needs_a_radio():
    r = run_app("rx_image.py", "--reference", SAMPLE, "--feedback", "tcp://127.0.0.1:1")
    assert r.returncode == 2 and r.stderr.strip().splitlines() == [
        "error: --feedback reports to a transmitter in another process: use it with --radio zmq, file, uhd or soapy"]
