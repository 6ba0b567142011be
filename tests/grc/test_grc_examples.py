"""The example flowgraphs (examples/*.grc) compiled with grcc and run headless, and the Qt image display.

Every example compiles; the simulated air loopbacks (single carrier and OFDM), the Qt GUI loopback
(offscreen) and the ZeroMQ transmitter/receiver pair run until an image arrives; a file recording is
replayed by the GRC example and by rx_image.py. The USRP and SoapySDR examples only compile (no radio
here).
"""
import gc
import glob
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

pytest.importorskip("gnuradio.semcom.blocks.burst_rx")
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # before any QApplication exists

from gnuradio.semcom.imageio import load_image  # noqa: E402
from gnuradio.semcom.metrics import psnr  # noqa: E402

from plain import REPO, free_port  # noqa: E402
ROOT = REPO
EXAMPLES = os.path.join(ROOT, "examples")
SAMPLE = os.path.join(EXAMPLES, "images", "kodim23.png")
GRC_FILES = sorted(glob.glob(os.path.join(EXAMPLES, "*.grc")))
IMPAIRED = dict(snr_db=10, cfo=0.005, delay=0.37)  # the channel the loopbacks must get through
RUN_TIMEOUT = 120.0  # seconds for an image to arrive (gr-fec's LDPC decoder takes 20-40 s on a loaded 2-core machine)
STOP_TIMEOUT = 20.0  # seconds for a flowgraph to stop


def grc_env() -> dict:
    """The environment grcc needs to find the installed module's blocks (as the Makefile sets it)."""
    env = dict(os.environ)
    env["PATH"] = os.path.join(sys.prefix, "bin") + os.pathsep + env.get("PATH", "")
    env.setdefault("GRC_BLOCKS_PATH", os.path.join(sys.prefix, "share", "gnuradio", "grc", "blocks"))
    env.setdefault("QT_QPA_PLATFORM", "offscreen")
    return env


def grcc(grc: str, out_dir) -> str:
    """Compiles ``grc`` into ``out_dir``; returns the generated program's path."""
    exe = shutil.which("grcc", path=grc_env()["PATH"])
    if exe is None:
        pytest.skip("grcc (GNU Radio Companion compiler) is not installed")
    r = subprocess.run([exe, grc, "-o", str(out_dir)], capture_output=True, text=True, env=grc_env(), timeout=120)
    assert r.returncode == 0, f"grcc {os.path.basename(grc)} failed:\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
    assert "Error" not in r.stderr, r.stderr
    name = os.path.splitext(os.path.basename(grc))[0]
    path = os.path.join(str(out_dir), name + ".py")
    assert os.path.isfile(path), f"grcc wrote no {name}.py:\n{r.stdout[-2000:]}"
    return path


@pytest.fixture(scope="module")
def build_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("grcc")


@pytest.fixture(scope="module")
def example(build_dir):
    """example(name) -> the top block class grcc generated from examples/<name>.grc (compiled once)."""
    classes = {}

    def load(name):
        if name not in classes:
            path = os.path.join(str(build_dir), name + ".py")
            if not os.path.isfile(path):
                path = grcc(os.path.join(EXAMPLES, name + ".grc"), build_dir)
            classes[name] = top_block_class(path, name)
        return classes[name]

    return load


def top_block_class(path: str, name: str):
    """The top block class ``name`` of a Python file grcc wrote."""
    spec = importlib.util.spec_from_file_location(f"semcom_example_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, name)


QT_APPLICATION = []  # held until the process ends: a widget destroyed after its QApplication crashes


@pytest.fixture(scope="module")
def qapp():
    QtWidgets = pytest.importorskip("PyQt5.QtWidgets")
    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication([])
    QT_APPLICATION.append(app)
    yield app
    # the widgets of blocks in GNU Radio's reference cycles go now, while the application exists,
    # not in a garbage collection of some later test (the CI once crashed there, importing torch)
    gc.collect()
    app.processEvents()


def wait_for(predicate, timeout: float, poll=None) -> bool:
    """Polls ``predicate`` (calling ``poll``, e.g. the Qt event loop, in between) until true or timeout."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        if poll is not None:
            poll()
        time.sleep(0.05)
    return True


def stop(*tbs):
    """Stops flowgraphs; fails (rather than hangs) when one does not finish."""
    for tb in tbs:
        tb.stop()
    for tb in tbs:
        waiter = threading.Thread(target=tb.wait, daemon=True)
        waiter.start()
        waiter.join(STOP_TIMEOUT)
        assert not waiter.is_alive(), f"{tb.name()} did not stop within {STOP_TIMEOUT:.0f} s"



def first_image(folder) -> tuple[dict, np.ndarray]:
    record = json.load(open(os.path.join(str(folder), "frame000000.json")))
    return record, load_image(os.path.join(str(folder), "frame000000.png"))


def arrived(folder):
    return lambda: os.path.exists(os.path.join(str(folder), "frame000000.json"))


def run_until_first_image(tb, folder, name: str) -> tuple[dict, np.ndarray]:
    """Runs ``tb`` until it writes its first image to ``folder`` (fails after RUN_TIMEOUT)."""
    tb.start()
    try:
        ok = wait_for(arrived(folder), RUN_TIMEOUT)
    finally:
        stop(tb)
    assert ok, f"no image from {name} within {RUN_TIMEOUT:.0f} s"
    return first_image(folder)


# ---------------------------------------------------------------- compile

def test_examples_found():
    names = {os.path.basename(f) for f in GRC_FILES}
    for name in ("air_loopback", "air_loopback_ofdm", "air_loopback_gui", "air_chain", "air_chain_gui", "air_chain_alist",
                 "zmq_tx", "zmq_rx",
                 "usrp_tx", "usrp_rx", "usrp_tx_ofdm", "usrp_rx_ofdm", "file_record", "file_replay",
                 "soapy_tx", "soapy_rx"):
        assert name + ".grc" in names


@pytest.mark.parametrize("grc", GRC_FILES, ids=[os.path.basename(f) for f in GRC_FILES])
def test_example_compiles(grc, build_dir):
    path = grcc(grc, build_dir)
    compile(open(path).read(), path, "exec")  # valid Python


# ---------------------------------------------------------------- run

@pytest.mark.parametrize("name, waveform", [("air_loopback", "sc"), ("air_loopback_ofdm", "ofdm"),
                                            ("air_chain", "sc"), ("air_chain", "ofdm"), ("air_chain_alist", "sc")])
def test_air_loopback_decodes_through_impaired_channel(example, tmp_path, name, waveform):
    """air_chain: every stage its own block (gr-fec encoder, GNU Radio's 16-QAM object, corr_est_cc,
    the stock soft decoder), SSCC over LDPC 1/2, at 15 dB: GNU Radio's 16-QAM is not Gray labelled
    (uncoded BER 12.8 % at 10 dB against 5.9 % for Gray, measured). air_chain_alist: the same with
    a user code from an alist file at both ends (gr-fec's encoder and decoder definitions)."""
    out = tmp_path / "rx"
    channel = {**IMPAIRED, "snr_db": 15} if name.startswith("air_chain") else IMPAIRED
    tb = example(name)(image=SAMPLE, output_dir=str(out), waveform=waveform, **channel)
    record, image = run_until_first_image(tb, out, name)
    assert record["lost"] is False and record["bursts_lost"] == 0, record
    assert abs(record["snr_est_db"] - channel["snr_db"]) < 2, record
    assert abs(record["cfo_est"] - IMPAIRED["cfo"]) < 5e-4, record
    assert image.shape == (512, 768, 3)
    assert psnr(load_image(SAMPLE), image) > 20
    if name == "air_chain_alist":
        assert record["fec"] == "alist:/usr/share/gnuradio/fec/ldpc/n_0300_k_0152_gap_03.alist", record


def test_air_chain_takes_its_modulation_from_one_variable(tmp_path):
    """air_chain with its Constellation Object turned into a Gray QPSK (the points and symbol map
    it lists): every block follows that one variable."""
    text = open(os.path.join(EXAMPLES, "air_chain.grc")).read()
    assert text.count("type: 16qam}") == 1
    grc = tmp_path / "air_chain.grc"
    grc.write_text(text.replace("type: 16qam}", "type: calcdist}"))
    out = tmp_path / "rx"
    tb = top_block_class(grcc(str(grc), tmp_path), "air_chain")(image=SAMPLE, output_dir=str(out), waveform="sc",
                                                                  **{**IMPAIRED, "snr_db": 15})
    record, image = run_until_first_image(tb, out, "air_chain with QPSK")
    assert record["modulation"] == "qpsk" and record["lost"] is False and record["bursts_lost"] == 0, record
    assert psnr(load_image(SAMPLE), image) > 20


def test_air_loopback_gui_shows_image_offscreen(example, qapp, tmp_path):
    out = tmp_path / "rx"
    tb = example("air_loopback_gui")(image=SAMPLE, output_dir=str(out), **IMPAIRED)
    tb.show()
    tb.start()
    try:
        widget = tb.display.widget
        ok = wait_for(lambda: widget.images_shown > 0, RUN_TIMEOUT, qapp.processEvents)
    finally:
        stop(tb)
        tb.hide()
    assert ok, f"the GUI loopback showed no image within {RUN_TIMEOUT:.0f} s"
    assert widget.image_size == (768, 512)
    assert "frame 0" in widget.caption_text and "SNR est" in widget.caption_text
    assert tb.snr_plot.received >= 1 and tb.snr_plot.widget.title_text.endswith(" dB")  # the bursts' SNR estimates
    assert not widget.label.pixmap().isNull()
    record, image = first_image(out)
    assert record["lost"] is False and psnr(load_image(SAMPLE), image) > 20
    tb.deleteLater()
    qapp.processEvents()


def test_zmq_tx_rx_pair(example, tmp_path):
    out = tmp_path / "rx"
    address = f"tcp://127.0.0.1:{free_port()}"
    rx = example("zmq_rx")(address=address, output_dir=str(out), waveform="sc")
    tx = example("zmq_tx")(address=address, image=SAMPLE, waveform="sc")
    rx.start()
    tx.start()
    try:
        ok = wait_for(arrived(out), RUN_TIMEOUT)
    finally:
        stop(tx, rx)
    assert ok, f"no image over ZeroMQ ({address}) within {RUN_TIMEOUT:.0f} s"
    record, image = first_image(out)
    assert record["lost"] is False and record["bursts_lost"] == 0, record
    assert psnr(load_image(SAMPLE), image) > 20


def test_file_record_then_replay_in_grc_and_in_rx_image(example, tmp_path):
    recording = tmp_path / "capture.cf32"
    tb = example("file_record")(image=SAMPLE, count=2, interval=0.3, recording=str(recording))
    tb.start()
    try:
        sent = wait_for(lambda: tb.burst_tx.frames_sent == 2 and tb.burst_tx.idle, RUN_TIMEOUT)
        time.sleep(0.3)  # the channel and the file sink drain
    finally:
        stop(tb)
    assert sent, "file_record did not send its 2 images"
    out = tmp_path / "rx"
    replay = example("file_replay")(recording=str(recording), output_dir=str(out))
    replay.start()
    waiter = threading.Thread(target=replay.wait, daemon=True)
    waiter.start()
    waiter.join(RUN_TIMEOUT)
    assert not waiter.is_alive(), "file_replay did not stop at the end of the recording"
    records = sorted(f for f in os.listdir(out) if f.endswith(".json"))
    assert records == ["frame000000.json", "frame000001.json"], records
    record, image = first_image(out)
    assert record["lost"] is False and record["bursts_lost"] == 0, record
    assert psnr(load_image(SAMPLE), image) > 20
    # the apps read the same recording (no SigMF metadata: the default rate)
    app = subprocess.run([sys.executable, os.path.join(ROOT, "apps", "rx_image.py"), "--radio", "file", "--file",
                          str(recording), "--reference", SAMPLE, "--output-dir", str(tmp_path / "app")],
                         capture_output=True, text=True, timeout=180, env=grc_env())
    assert app.returncode == 0, app.stderr[-2000:]
    assert app.stdout.count(": ok") == 2 and "stopped after 2 images" in app.stdout, app.stdout


# ---------------------------------------------------------------- image display

def _pdu(h=32, w=48, **meta):
    from gnuradio.semcom.blocks.image import image_pdu
    image = np.random.default_rng(1).integers(0, 256, (h, w, 3), dtype=np.uint8)
    return image, image_pdu(image, meta)


def test_image_display_shows_pdu_from_another_thread(qapp):
    import pmt
    from gnuradio.semcom.blocks.display import image_display

    block = image_display("Received")
    widget = block.widget
    widget.resize(400, 300)
    widget.show()
    image, pdu = _pdu(frame=3, codec="bitsemcom", model="bitsemcom-qpsk-cpp16", snr_est_db=9.87,
                      bursts_lost=1, bursts=6, lost=False)
    sender = threading.Thread(target=block.handle, args=(pdu,))  # as GNU Radio's message thread would
    sender.start()
    sender.join(5)
    assert block.received == 1 and widget.images_shown == 0  # queued to the GUI thread
    assert wait_for(lambda: widget.images_shown == 1, 10, qapp.processEvents)
    assert widget.image_size == (48, 32)
    shown = widget.label.pixmap()
    assert not shown.isNull()
    room = widget.label.contentsRect().size()
    assert shown.width() <= room.width() and shown.height() <= room.height()
    assert max(shown.width(), shown.height()) > 48  # scaled up to fit
    assert abs(shown.width() / shown.height() - 48 / 32) < 0.05  # aspect ratio kept
    # the pixels are the image's (at the unscaled size)
    qimg = widget.label.source.toImage()
    assert (qimg.pixelColor(5, 7).red(), qimg.pixelColor(5, 7).green(), qimg.pixelColor(5, 7).blue()) == \
        tuple(int(v) for v in image[7, 5])
    caption = widget.caption_text
    for part in ("frame 3", "bitsemcom (bitsemcom-qpsk-cpp16)", "SNR est 9.9 dB", "bursts lost 1/6", "ok"):
        assert part in caption, caption

    # a lost image says so; a message that is not an image PDU is dropped
    _, pdu = _pdu(16, 16, frame=4, codec="avif", lost=True, reason="LDPC failure")
    block.handle(pdu)
    block.handle(pmt.intern("not a pdu"))
    assert wait_for(lambda: widget.images_shown == 2, 10, qapp.processEvents)
    assert widget.image_size == (16, 16) and "LOST (LDPC failure)" in widget.caption_text
    assert block.dropped == 1
    widget.hide()
    widget.deleteLater()


def test_snr_display_shows_the_last_bursts_estimates(qapp):
    """Burst PDUs from GNU Radio's message thread: the widget keeps the last ``history`` estimates
    and says the last; a PDU without a finite snr_db is dropped and counted."""
    import pmt
    from gnuradio.semcom.blocks.snr_display import snr_display
    from gnuradio.semcom.blocks.pdu_io import make_pdu

    block = snr_display(history=4)
    block.widget.show()
    pdus = [make_pdu({"snr_db": v}, np.zeros(8, np.float32)) for v in (3.0, 7.5, 12.25, 20.0, 15.5)]
    pdus += [make_pdu({"cfo": 0.1}, np.zeros(8, np.float32)), make_pdu({"snr_db": float("nan")},
                                                                           np.zeros(8, np.float32)), pmt.PMT_NIL]
    sender = threading.Thread(target=lambda: [block.handle(p) for p in pdus])
    sender.start()
    sender.join(5)
    assert block.received == 5 and block.dropped == 3
    assert wait_for(lambda: len(block.widget.values) == 4, 10, qapp.processEvents)
    assert list(block.widget.values) == [7.5, 12.25, 20.0, 15.5]
    assert block.widget.title_text.endswith("last 15.5 dB")
    assert not block.widget.grab().isNull()
    block.widget.hide()


def test_image_display_in_a_flowgraph(qapp):
    from gnuradio import blocks, gr
    from gnuradio.semcom.blocks.display import image_display

    _, pdu = _pdu(24, 40, frame=0)
    tb = gr.top_block()
    strobe = blocks.message_strobe(pdu, 50)
    display = image_display()
    tb.msg_connect(strobe, "strobe", display, "in")
    tb.start()
    try:
        ok = wait_for(lambda: display.widget.images_shown > 0, 10, qapp.processEvents)
    finally:
        stop(tb)
    assert ok and display.widget.image_size == (40, 24)
    assert display.widget.caption_text == "frame 0"


def known_block_ids() -> set[str]:
    """Every block id GRC can load here: GNU Radio's block library and this module's grc/."""
    ids = set()
    for folder in ("/usr/share/gnuradio/grc/blocks", os.path.join(ROOT, "grc")):
        for path in glob.glob(os.path.join(folder, "*.block.yml")):
            with open(path) as f:
                for line in f:
                    if line.startswith("id:"):
                        ids.add(line.split(":", 1)[1].strip())
                        break
    return ids


def unknown_blocks(grc_path: str, known: set[str]) -> list[str]:
    """Block ids of a flowgraph that GRC cannot find (grcc would drop them silently)."""
    import yaml
    with open(grc_path) as f:
        graph = yaml.safe_load(f)
    return sorted({b["id"] for b in graph.get("blocks", []) if b["id"] not in known})


def test_examples_name_only_blocks_grc_can_find(tmp_path):
    known = known_block_ids()
    assert {"semcom_burst_sync", "digital_constellation_soft_decoder_cf", "fec_async_encoder"} <= known
    for grc in glob.glob(os.path.join(EXAMPLES, "*.grc")):
        assert unknown_blocks(grc, known) == [], os.path.basename(grc)
    broken = tmp_path / "broken.grc"
    with open(os.path.join(EXAMPLES, "air_loopback.grc")) as f:
        broken.write_text(f.read().replace("id: semcom_burst_rx", "id: semcom_burst_rx_renamed"))
    assert unknown_blocks(str(broken), known) == ["semcom_burst_rx_renamed"]


def test_headless_example_runs_to_completion_without_a_terminal(build_dir, tmp_path):
    """run_options 'run': the compiled script ends by itself after its images, stdin closed."""
    script = grcc(os.path.join(EXAMPLES, "air_loopback.grc"), build_dir)
    out = tmp_path / "rx"
    r = subprocess.run([sys.executable, script, "--image", SAMPLE, "--output-dir", str(out)],
                       stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=RUN_TIMEOUT, env=grc_env())
    assert r.returncode == 0, r.stderr[-2000:]
    assert sorted(f for f in os.listdir(out) if f.endswith(".json")) == ["frame000000.json"]


@pytest.mark.parametrize("grc", sorted(glob.glob(os.path.join(EXAMPLES, "*.grc"))), ids=os.path.basename)
def test_every_example_compiles_with_no_block_missing(grc, tmp_path):
    """grcc drops a block it cannot find and still exits 0: every enabled block of the example
    must be in the generated program."""
    import yaml
    with open(grc) as f:
        blocks = yaml.safe_load(f)["blocks"]
    path = grcc(grc, tmp_path)
    with open(path) as f:
        program = f.read()
    missing = [f"{b['id']} ({b['name']})" for b in blocks
               if b.get("states", {}).get("state", "enabled") == "enabled" and b["id"] not in ("import", "note")
               and not re.search(rf"\bself\.{re.escape(b['name'])}\b", program)]
    assert not missing, f"grcc dropped {', '.join(missing)} from {os.path.basename(grc)}"
