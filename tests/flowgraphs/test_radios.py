"""Radio back-ends: config checks, one-line errors without hardware, file (SigMF) and ZeroMQ loopbacks."""

import json
import os
import subprocess
import sys
import time

import numpy as np
import pytest

gr = pytest.importorskip("gnuradio.gr")

from gnuradio import blocks  # noqa: E402
from gnuradio.semcom.errors import SemcomError  # noqa: E402
from gnuradio.semcom.flowgraphs.radios import RadioConfig, read_sigmf, rx_source, sigmf_paths, tx_sink  # noqa: E402
from plain import free_port  # noqa: E402


def one_line(err):
    text = str(err.value)
    assert "\n" not in text and "Traceback" not in text, text
    return text


@pytest.mark.parametrize("kwargs, words", [
    (dict(kind="usb"), "unknown radio 'usb'; choose one of zmq, file, uhd, soapy"),
    (dict(kind="sim"), "in-process simulated channel"),
    (dict(kind="uhd", rate=0), "sample rate must be a positive number"),
    (dict(kind="uhd", rate="fast"), "sample rate must be a number in samples/s, got 'fast'"),
    (dict(kind="uhd", freq=-1e6), "frequency must be a positive number"),
    (dict(kind="soapy", freq=float("nan")), "frequency must be a positive number"),
    (dict(kind="uhd", gain="loud"), "gain must be a number in dB"),
    (dict(kind="file"), "radio 'file' needs a path"),
    (dict(kind="zmq", address="localhost:5555"), "ZeroMQ address 'localhost:5555' is not like tcp://"),
    (dict(kind="zmq", zmq_pattern="dealer"), "unknown ZeroMQ pattern 'dealer'"),
    (dict(kind="zmq", timeout_ms=0), "ZeroMQ timeout must be a positive"),
    (dict(kind="uhd", args="type=b200\nserial=1"), "radio args must be one line"),
])
def test_bad_config_is_one_line_semcom_error(kwargs, words):
    with pytest.raises(SemcomError) as err:
        RadioConfig(**kwargs)
    assert words in one_line(err)


def test_good_config_defaults_and_numbers():
    cfg = RadioConfig("uhd", rate="2e6", freq=2.4e9, gain=-3)
    assert (cfg.rate, cfg.freq, cfg.gain, cfg.address) == (2e6, 2.4e9, -3.0, "tcp://127.0.0.1:5555")
    assert RadioConfig("zmq").zmq_pattern == "pubsub"


@pytest.mark.parametrize("build", [tx_sink, rx_source])
def test_uhd_without_device_names_the_args(build):
    args = "type=b200,serial=semcom-no-such-usrp"
    with pytest.raises(SemcomError) as err:
        build(RadioConfig("uhd", args=args))
    text = one_line(err)
    assert text.startswith(f"no USRP found for device args '{args}'") and "uhd_find_devices" in text


@pytest.mark.parametrize("build", [tx_sink, rx_source])
def test_soapy_without_device_names_the_args(build):
    with pytest.raises(SemcomError) as err:
        build(RadioConfig("soapy", args="driver=nonexistent"))
    assert one_line(err).startswith("no SoapySDR device found for 'driver=nonexistent'")


def test_missing_usrp_prints_nothing_else_and_import_is_lazy():
    """A fresh process: importing radios loads no radio bindings, and UHD adds no banner to the one line."""
    code = ("import sys\nfrom gnuradio.semcom.flowgraphs import radios\n"
            "assert not {'gnuradio.uhd', 'gnuradio.soapy', 'gnuradio.zeromq'} & set(sys.modules), sys.modules\n"
            "try:\n    radios.rx_source(radios.RadioConfig('uhd', args='type=b200,serial=x'))\n"
            "except radios.SemcomError as e:\n    print(e)\n")
    env = {k: v for k, v in os.environ.items() if k != "UHD_LOG_CONSOLE_LEVEL"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stderr == "" and done.stdout.count("\n") == 1 and "no USRP found" in done.stdout


def run_file_tx(cfg, samples):
    tb = gr.top_block()
    sink = tx_sink(cfg)
    tb.connect(blocks.vector_source_c(samples.tolist()), sink)
    tb.run()
    return sink


def run_file_rx(cfg):
    tb = gr.top_block()
    src, sink = rx_source(cfg), blocks.vector_sink_c()
    tb.connect(src, sink)
    tb.run()
    return src, np.asarray(sink.data(), np.complex64)


def test_file_round_trip_with_sigmf(tmp_path):
    rng = np.random.default_rng(0)
    x = (rng.standard_normal(5000) + 1j * rng.standard_normal(5000)).astype(np.complex64)
    data = str(tmp_path / "rec" / "burst.sigmf-data")
    run_file_tx(RadioConfig("file", path=data, rate=2e6, freq=433.92e6, description="unit test"), x)
    assert os.path.getsize(data) == 8 * len(x)
    assert sorted(os.listdir(tmp_path / "rec")) == ["burst.sigmf-data", "burst.sigmf-meta"]  # no temp file left
    with open(tmp_path / "rec" / "burst.sigmf-meta") as f:
        meta = json.load(f)
    g = meta["global"]
    assert (g["core:datatype"], g["core:sample_rate"], g["core:version"], g["core:description"]) == \
        ("cf32_le", 2e6, "1.0.0", "unit test")
    assert "core:dataset" not in g
    assert meta["captures"][0].pop("core:datetime").endswith("Z")  # UTC, ISO 8601
    assert meta["captures"] == [{"core:sample_start": 0, "core:frequency": 433.92e6}]
    assert meta["annotations"] == []
    info = read_sigmf(data)
    assert (info["rate"], info["freq"], info["datatype"]) == (2e6, 433.92e6, "cf32_le")
    # the receiver takes rate and frequency from the metadata, not from its defaults
    src, y = run_file_rx(RadioConfig("file", path=str(tmp_path / "rec" / "burst.sigmf-meta")))
    assert np.array_equal(y, x)
    assert (src.cfg.rate, src.cfg.freq, src.cfg.path) == (2e6, 433.92e6, data)


def test_file_with_other_name_gets_meta_added_and_dataset_named(tmp_path):
    data = str(tmp_path / "cap.cf32")
    assert sigmf_paths(data) == (data, data + ".sigmf-meta")
    x = np.arange(16, dtype=np.float32).view(np.complex64)
    run_file_tx(RadioConfig("file", path=data, rate=48e3), x)
    assert read_sigmf(data)["sigmf"]["global"]["core:dataset"] == "cap.cf32"
    os.remove(data + ".sigmf-meta")  # without metadata the config's own rate stands
    src, y = run_file_rx(RadioConfig("file", path=data, rate=1e5))
    assert np.array_equal(y, x) and src.cfg.rate == 1e5


def test_file_missing_truncated_or_bad_meta(tmp_path):
    missing = str(tmp_path / "none.sigmf-data")
    with pytest.raises(SemcomError) as err:
        rx_source(RadioConfig("file", path=missing))
    assert one_line(err).startswith(f"no recording {missing}")
    bad = tmp_path / "cut.sigmf-data"
    bad.write_bytes(b"\0" * 12)
    with pytest.raises(SemcomError) as err:
        rx_source(RadioConfig("file", path=str(bad)))
    assert "has 12 bytes, not a whole positive number of complex64 samples" in one_line(err)
    bad.write_bytes(b"\0" * 16)
    (tmp_path / "cut.sigmf-meta").write_text("{not json")
    with pytest.raises(SemcomError) as err:
        rx_source(RadioConfig("file", path=str(bad)))
    assert "cut.sigmf-meta is not valid SigMF metadata" in one_line(err)
    (tmp_path / "cut.sigmf-meta").write_text(json.dumps({"global": {"core:datatype": "ri16_le"}}))
    with pytest.raises(SemcomError) as err:
        rx_source(RadioConfig("file", path=str(bad)))
    assert "holds 'ri16_le' samples; only cf32_le" in one_line(err)



@pytest.mark.parametrize("pattern", ["pubsub", "pushpull"])
def test_zmq_loopback_carries_the_burst(pattern):
    rng = np.random.default_rng(1)
    burst = (rng.standard_normal(1000) + 1j * rng.standard_normal(1000)).astype(np.complex64)
    cfg = RadioConfig("zmq", address=f"tcp://127.0.0.1:{free_port()}", zmq_pattern=pattern)
    tb = gr.top_block()
    sink = blocks.vector_sink_c()
    tb.connect(blocks.vector_source_c(burst.tolist(), True), blocks.throttle(gr.sizeof_gr_complex, 200e3),
               tx_sink(cfg))
    rx = rx_source(cfg)  # held: a Python block (the pyzmq source) must outlive the flowgraph's use of it
    tb.connect(rx, sink)
    tb.start()
    deadline = time.time() + 10
    while len(sink.data()) < 4 * len(burst) and time.time() < deadline:
        time.sleep(0.02)
    tb.stop()
    tb.wait()
    y = np.asarray(sink.data(), np.complex64)
    assert len(y) >= 4 * len(burst)
    start = int(np.flatnonzero(y[:len(burst)] == burst[0])[0])  # PUB/SUB may have dropped a prefix
    assert np.array_equal(y[start:start + len(burst)], burst)
    assert np.array_equal(y[start + len(burst):start + 2 * len(burst)], burst)


def test_zmq_address_in_use_is_one_line():
    cfg = RadioConfig("zmq", address=f"tcp://127.0.0.1:{free_port()}")
    first = tx_sink(cfg)  # noqa: F841 (holds the port)
    with pytest.raises(SemcomError) as err:
        tx_sink(cfg)
    assert one_line(err) == f"cannot bind ZeroMQ address '{cfg.address}': Address already in use"


def test_a_push_transmitter_with_no_receiver_says_so():
    """A ZeroMQ PUSH waits for a receiver to connect: the transmitter reports that in one line once
    its radio took no samples for the stall time, instead of hanging."""
    from gnuradio.semcom.imageio import load_image
    from gnuradio.semcom.flowgraphs.air import AirTransmitter
    from plain import REPO
    radio = RadioConfig("zmq", address=f"tcp://127.0.0.1:{free_port()}", zmq_pattern="pushpull")
    tx = AirTransmitter(radio, "sscc", "qpsk", "ldpc-1/2", throttle=True).start()
    try:
        tx.send(load_image(os.path.join(REPO, "examples", "images", "kodim23.png")))  # more than the buffers hold
        t = time.monotonic()
        with pytest.raises(SemcomError, match="no receiver took samples"):
            tx.wait_sent(timeout=60, stall=1.0)
        assert time.monotonic() - t < 10
    finally:
        tx.close()
