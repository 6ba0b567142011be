"""The burst waveform through GNU Radio: channel_model calibration, impaired links for learned and
conventional codecs, and the apps over ZeroMQ (two processes), SigMF files and absent radios."""
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

pytest.importorskip("gnuradio.semcom.flowgraphs.air")
from gnuradio import blocks, filter as gr_filter, gr  # noqa: E402
from gnuradio.semcom import metrics  # noqa: E402
from gnuradio.semcom.flowgraphs.air import ACCEPTANCE, AirLink, AirOptions, Impairments  # noqa: E402
from gnuradio.semcom.flowgraphs.ideal import IdealLink  # noqa: E402
from gnuradio.semcom.blocks.air_channel import air_channel  # noqa: E402
from gnuradio.semcom.imageio import load_image, save_image  # noqa: E402
from gnuradio.semcom.phy import waveform  # noqa: E402

from plain import REPO, free_port  # noqa: E402
ROOT = REPO
SAMPLE = os.path.join(ROOT, "examples", "images", "kodim23.png")
IDEAL_BITSEMCOM_DB = 22.91  # kodim23, error-free (tests/test_neural_codec.py measures the same model)


def app(name, *args, timeout=180, **kw):
    return subprocess.run([sys.executable, os.path.join(ROOT, "apps", name), *map(str, args)],
                          capture_output=True, text=True, timeout=timeout, **kw)


@pytest.fixture(scope="module")
def image():
    return load_image(SAMPLE)


def test_rrc_matches_gnuradio_firdes():
    ours = waveform.rrc_taps(2, 0.35, 11)
    theirs = np.array(gr_filter.firdes.root_raised_cosine(1.0, 2.0, 1.0, 0.35, len(ours)))
    assert np.allclose(ours, theirs / np.sqrt(np.sum(theirs ** 2)), atol=1e-4)


@pytest.mark.parametrize("snr_db", [0.0, 10.0])
def test_air_channel_noise_is_es_over_n0(snr_db):
    """channel_model's noise_voltage gives noise variance 10^(-snr/10) per sample."""
    tb = gr.top_block()
    src = blocks.vector_source_c(np.zeros(200_000, np.complex64).tolist())
    ch = air_channel(snr_db, seed=3)
    sink = blocks.vector_sink_c()
    tb.connect(src, ch, sink)
    tb.run()
    noise = np.array(sink.data())
    assert np.mean(np.abs(noise) ** 2) == pytest.approx(10 ** (-snr_db / 10), rel=0.03)


def test_air_channel_rejects_bad_settings():
    from gnuradio.semcom.errors import SemcomError
    with pytest.raises(SemcomError, match="timing offset"):
        air_channel(10, delay=1.5)
    with pytest.raises(SemcomError, match="non-zero"):
        air_channel(10, taps=(0,))


@pytest.mark.parametrize("wave", ["sc", "ofdm"])
def test_impaired_link_matches_the_ideal_one_for_bitsemcom(wave, image):
    """Acceptance channel (CFO 1% of the SC symbol rate, timing 0.37, 10 ppm, 3 taps) at 10 dB."""
    with AirLink("bitsemcom", impairments=Impairments(10.0, seed=1, **ACCEPTANCE), options=AirOptions(wave)) as link:
        for _ in range(2):
            r = link.transmit(image)
            assert not r.lost and r.meta["bursts_lost"] == 0
            assert metrics.psnr(image, r.image) > IDEAL_BITSEMCOM_DB - 0.3
            assert r.meta["snr_est_db"] == pytest.approx(10.0, abs=1.5)
            assert r.meta["cfo_est"] == pytest.approx(0.005, abs=3e-4)
            assert r.channel_uses == image.shape[0] * image.shape[1] // 16


def test_impaired_link_keeps_16qam_close_to_the_ideal_one(image):
    """AMP-SC b = 4, the 16-QAM model whose PSNR follows the SNR most closely, at 10 dB through the
    acceptance channel: within 1 dB of the ideal link (whose SNR the multipath alone cuts by
    0.86 dB for a linear equaliser)."""
    model = "ampsc-b4-16qam-cpp16"
    with IdealLink(model, "16qam", "none", 1 / 16, "awgn", 10.0, seed=0) as link:
        ideal = metrics.psnr(image, link.transmit(image).image)
    with AirLink(model, "16qam", "none", 1 / 16, Impairments(10.0, seed=0, **ACCEPTANCE)) as link:
        r = link.transmit(image)
    assert not r.lost and r.meta["bursts_lost"] == 0
    assert metrics.psnr(image, r.image) > ideal - 1.0


@pytest.mark.parametrize("on", [True, False])
def test_16qam_bursts_through_multipath_take_the_sequence_detector_when_asked(image, on):
    """With sequence_detector, burst_rx connects burst_sync's llr port: every 16-QAM burst through
    the acceptance channel is demodulated by the sequence detector; by default none is. The image
    arrives whole either way."""
    with AirLink("ampsc-b2-16qam-cpp16", "16qam", "none", 1 / 16, Impairments(10.0, seed=3, **ACCEPTANCE),
                 AirOptions(sequence_detector=on)) as link:
        r = link.transmit(image)
        sync = link.bursts_rx.sync
    assert not r.lost and r.meta["bursts_lost"] == 0
    assert sync.receiver.bursts > 0
    assert sync.sequence_bursts == (sync.receiver.bursts if on else 0)


def test_impaired_link_carries_sscc_exactly(image):
    small = image[::2, ::2]
    with AirLink("avif", impairments=Impairments(10.0, seed=2, **ACCEPTANCE), options=AirOptions("ofdm")) as link:
        r = link.transmit(small)
    assert not r.lost and r.meta["fec_ok"] and r.meta["bursts_fec_failed"] == 0
    assert metrics.psnr(small, r.image) > 24
    assert r.channel_uses <= small.shape[0] * small.shape[1] // 16  # LDPC blocks never straddle bursts


@pytest.mark.slow
def test_nothing_detected_is_a_lost_image_not_a_hang(image):
    small = image[::4, ::4]
    with AirLink("bitsemcom", cpp=1 / 4, impairments=Impairments(-25.0), options=AirOptions(frame_timeout=0.5)) as link:
        t = time.monotonic()
        r = link.transmit(small)
    assert r.lost and r.reason == "no burst detected" and time.monotonic() - t < 15


@pytest.mark.parametrize("radio", ["uhd", "soapy"])
@pytest.mark.parametrize("side", ["tx_image.py", "rx_image.py"])
def test_missing_radio_is_one_line(radio, side, tmp_path):
    args = ["--radio", radio, "--args", "serial=NOPE123"]
    r = app(side, *args, *([SAMPLE] if side == "tx_image.py" else ["--output-dir", tmp_path]))
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "NOPE123" in lines[0], r.stderr
    assert "Traceback" not in r.stderr


def test_ideal_waveform_needs_sim(tmp_path):
    r = app("rx_image.py", "--radio", "zmq", "--waveform", "ideal", "--output-dir", tmp_path)
    assert r.returncode == 2 and "--waveform ideal" in r.stderr


def records(folder):
    return [json.load(open(os.path.join(folder, f))) for f in sorted(os.listdir(folder)) if f.endswith(".json")]


@pytest.fixture
def small_image(tmp_path):
    path = tmp_path / "small.png"
    save_image(str(path), load_image(SAMPLE)[::2, ::2])
    return str(path)


def test_two_processes_over_zeromq_survive_a_transmitter_restart(small_image, tmp_path):
    out = tmp_path / "rx"
    address = f"tcp://127.0.0.1:{free_port()}"
    rx = subprocess.Popen([sys.executable, os.path.join(ROOT, "apps", "rx_image.py"), "--radio", "zmq",
                           "--address", address, "--reference", small_image, "--count", "3", "--output-dir", out,
                           "--frame-timeout", "1"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        ready = rx.stdout.readline()  # "listening on zmq ..." once the flowgraph runs (slow CI: wait for it)
        assert ready.startswith("listening on"), ready + rx.stderr.read()
        time.sleep(0.5)
        first = app("tx_image.py", "--radio", "zmq", "--address", address, "--repeat", 2, "--interval", 0.3,
                    small_image)
        assert first.returncode == 0, first.stderr
        import zmq
        context = zmq.Context()  # its own: term() below releases the port before the next transmitter binds
        garbage = context.socket(zmq.PUB)  # a hostile sender between the two transmitters
        garbage.bind(address)
        time.sleep(1.0)  # the receiver reconnects within 20 ms; give the subscription time to arrive
        for _ in range(3):
            garbage.send(b"\x01" * 13)  # not whole complex64 samples
            time.sleep(0.2)
        garbage.close(linger=0)
        context.term()
        second = app("tx_image.py", "--radio", "zmq", "--address", address, "--waveform", "sc", "--codec",
                     "bitsemcom", small_image)  # a restarted transmitter: frame numbers start again at 0
        assert second.returncode == 0, second.stderr
        stdout, stderr = rx.communicate(timeout=60)
    finally:
        if rx.poll() is None:
            rx.send_signal(signal.SIGINT)
            rx.wait(timeout=10)
    assert rx.returncode == 0, stderr
    recs = records(out)
    assert len(recs) == 3 and "stopped after 3 images" in stdout
    for rec in recs:
        assert not rec["lost"] and rec["bursts_lost"] == 0 and rec["psnr_db"] > 20.5
        assert rec["codec"].startswith("bitsemcom") and rec["snr_est_db"] > 30
    assert [r["frame"] for r in recs] == [0, 1, 0]
    odd = recs[-1]["receiver_drops"].get("radio", {}).get("length not a multiple of 8 bytes", 0)
    assert "dropped: radio:" in stdout and 1 <= odd <= 3, stdout  # a PUB drops what it sends before the subscription
    assert not [f for f in os.listdir(out) if f.endswith(".tmp")]


def test_file_radio_records_and_replays_with_sigmf(small_image, tmp_path):
    capture = tmp_path / "cap.sigmf-data"
    r = app("tx_image.py", "--radio", "file", "--file", capture, "--waveform", "ofdm", "--rate", 2e6, small_image)
    assert r.returncode == 0, r.stderr
    meta = json.load(open(tmp_path / "cap.sigmf-meta"))
    assert meta["global"]["core:sample_rate"] == 2e6
    r = app("rx_image.py", "--radio", "file", "--file", capture, "--waveform", "ofdm", "--reference", small_image,
            "--output-dir", tmp_path / "rx")
    assert r.returncode == 0, r.stderr
    (rec,) = records(tmp_path / "rx")
    assert rec["psnr_db"] > 20.5 and rec["bursts"] == rec["bursts"] - rec["bursts_lost"]


ARENA_PROBE = r"""
import ctypes, re, sys, tempfile, threading
import numpy as np
from gnuradio.semcom.blocks.burst_sync import burst_sync
if sys.argv[1] == "capped":
    burst_sync()
def churn():
    for _ in range(50):
        np.ones(1 << 17).sum()  # 1 MB, malloc'd and freed on this thread
threads = [threading.Thread(target=churn) for _ in range(8)]
[t.start() for t in threads]
[t.join() for t in threads]
libc = ctypes.CDLL("libc.so.6")
libc.fopen.restype = ctypes.c_void_p
with tempfile.NamedTemporaryFile("r") as f:
    stream = libc.fopen(f.name.encode(), b"w")
    libc.malloc_info(0, ctypes.c_void_p(stream))
    libc.fclose(ctypes.c_void_p(stream))
    print(len(re.findall(r'<heap nr="', f.read())))
"""


def test_receiver_caps_malloc_arenas():
    """Threads of a receiver share 2 glibc arenas (the soak's receiver memory grew without the cap)."""
    def arenas(mode):
        out = subprocess.run([sys.executable, "-c", ARENA_PROBE, mode], capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr[-500:]
        return int(out.stdout.split()[-1])
    assert arenas("capped") <= 2 < arenas("default")
