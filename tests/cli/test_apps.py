"""The command-line apps and the example flowgraph, run as users run them."""
import glob
import json
import os
import re
import subprocess
import sys
import time

import numpy as np
import pytest

pytest.importorskip("gnuradio.semcom.flowgraphs.ideal")
from gnuradio.semcom.imageio import load_image, save_image  # noqa: E402

from plain import CROSSING, REPO, measured_model_copies  # noqa: E402
ROOT = REPO
SAMPLE = os.path.join(ROOT, "examples", "images", "kodim23.png")


def app(name, *args, timeout=300, env=None):
    return subprocess.run([sys.executable, os.path.join(ROOT, "apps", name), *map(str, args)],
                          capture_output=True, text=True, timeout=timeout, env=env)


@pytest.fixture(scope="module")
def small_image(tmp_path_factory):
    path = tmp_path_factory.mktemp("img") / "small.png"
    save_image(str(path), load_image(SAMPLE)[::2, ::2])  # 384x256 keeps the tests quick
    return str(path)


def test_tx_image_sim_reports_psnr_and_budget(small_image, tmp_path):
    out = tmp_path / "rx.png"
    r = app("tx_image.py", "--snr", 10, "--codec", "avif", "--rx-output", out, "--json", small_image)
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout.strip().splitlines()[-1])
    h, w = 256, 384
    assert not report["lost"] and report["psnr_db"] > 24
    assert report["channel_uses"] <= h * w / 16 and report["payload_bits"] > 0
    assert load_image(str(out)).shape == (h, w, 3)


def test_tx_image_below_threshold_is_lost_not_crashed(small_image, tmp_path):
    out = tmp_path / "rx.png"
    r = app("tx_image.py", "--snr", -5, "--waveform", "ideal", "--codec", "avif", "--rx-output", out, "--json",
            small_image)
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout.strip().splitlines()[-1])
    assert report["lost"] and report["reason"] == "fec"
    assert np.all(load_image(str(out)) == 128)  # the documented mid-grey placeholder


@pytest.mark.slow
@pytest.mark.parametrize("width, height", [(500, 375), (640, 480), (1000, 750), (1920, 1080), (4032, 3024),
                                           (17, 9), (8, 4096)])
def test_every_photo_size_is_sent_with_the_defaults(width, height, tmp_path):
    """Rate matching: the default codec and options send any size in exactly its budget."""
    from gnuradio.semcom.imageio import resize
    photo, out = tmp_path / f"photo_{width}x{height}.png", tmp_path / "rx.png"
    save_image(str(photo), resize(load_image(SAMPLE), height, width))
    r = app("tx_image.py", "--json", "--rx-output", out, photo, timeout=600)
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout.strip().splitlines()[-1])
    assert not report["lost"] and report["bursts_lost"] == 0, report
    assert report["channel_uses"] == height * width // 16 and report["payload_bits"] == 2 * report["channel_uses"]
    assert load_image(str(out)).shape == (height, width, 3)
    if width * height >= 500 * 375:
        assert report["psnr_db"] > 20.0, report  # measured 22.3-28.9 dB at the default 10 dB


@pytest.mark.parametrize("args, message", [
    (["missing.png"], "does not exist"),
    (["--snr", "abc", "x.png"], "--snr: must be a number"),
    (["--codec", "nope", SAMPLE], "unknown codec 'nope'"),
    (["--codec", "sscc", "--cpp", "1/100000", "SMALL"], "too small"),
    (["--cpp", "1/1000000", "SMALL"], "needs at least 1 (--cpp 1.02e-05 or more)"),
])
def test_bad_input_gives_one_line_error(args, message, small_image):
    args = [small_image if a == "SMALL" else a for a in args]
    r = app("tx_image.py", *args)
    assert r.returncode == 2
    assert "Traceback" not in r.stderr and message in r.stderr
    assert len([ln for ln in r.stderr.splitlines() if "error" in ln]) == 1


@pytest.mark.parametrize("app_name, args, message", [
    ("tx_image.py", ["--clock-ppm", "nan", "SMALL"], "--clock-ppm: must be a finite number"),
    ("tx_image.py", ["--clock-ppm=-1e6", "SMALL"], "--clock-ppm: must be in [-1000, 1000]"),
    ("tx_image.py", ["--interval=-1", "SMALL"], "--interval: must be in [0, 86400]"),
    ("tx_image.py", ["--repeat", "0", "SMALL"], "--repeat: must be in [1, 1000000000]"),
    ("tx_image.py", ["--modulation", "auto", "--target-snr", "nan", "SMALL"], "--target-snr: must be a finite number"),
    ("tx_image.py", ["--modulation", "auto", "--codec", "avif", "SMALL"], "use --codec bitsemcom or bitsemcom-hard"),
    ("tx_image.py", ["--modulation", "auto", "--radio", "zmq", "SMALL"], "needs --target-snr"),
    ("rx_image.py", ["--frame-timeout=-1", "--reference", "SMALL"], "--frame-timeout: must be in (0, 3600]"),
    ("rx_image.py", ["--count=-2", "--reference", "SMALL"], "--count: must be in [0, 1000000000000]"),
    ("rx_image.py", ["--max-pending-frames", "0", "--reference", "SMALL"], "--max-pending-frames: must be in [1, 4096]"),
    ("rx_image.py", ["--max-pixels", "nan", "--reference", "SMALL"], "--max-pixels: must be a whole number"),
    ("rx_image.py", ["--reference", "SMALL", "--output-dir", "SMALL"], "is a file, not a folder"),
])
def test_invalid_options_give_one_line(app_name, args, message, small_image):
    r = app(app_name, *[small_image if a == "SMALL" else a for a in args])
    assert r.returncode == 2, r.stderr
    assert "Traceback" not in r.stderr and message in r.stderr, r.stderr


def test_tx_image_auto_picks_model_and_modulation_for_the_snr(small_image, tmp_path):
    """--modulation auto at 8 dB: the cards' curves pick the 16-QAM model over 16-QAM (4 bits per
    channel use); the receiver follows the frame header."""
    env = {**os.environ, "SEMCOM_MODEL_PATH": str(measured_model_copies(tmp_path / "models", CROSSING))}
    out = tmp_path / "rx.png"
    r = app("tx_image.py", "--modulation", "auto", "--snr", 8, "--waveform", "ideal", "--json", "--rx-output", out,
            small_image, env=env)
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout.strip().splitlines()[-1])
    assert report["model"] == "bitsemcom-16qam-cpp16" and report["auto"].startswith("bitsemcom-16qam-cpp16@16qam")
    assert report["payload_bits"] == 4 * report["channel_uses"] == 4 * (256 * 384 // 16)
    assert not report["lost"] and report["psnr_db"] > 20.0
    bare = measured_model_copies(tmp_path / "bare", {})  # cards without curves: say what to run
    r = app("tx_image.py", "--modulation", "auto", small_image, env={**env, "SEMCOM_MODEL_PATH": str(bare)})
    assert r.returncode == 2 and "Traceback" not in r.stderr and "scripts/model_cards.py --measured" in r.stderr


def test_bad_onnxruntime_thread_count_is_one_line(small_image):
    env = {**os.environ, "SEMCOM_ORT_THREADS": "abc"}
    r = subprocess.run([sys.executable, os.path.join(ROOT, "apps", "tx_image.py"), small_image], capture_output=True,
                       text=True, env=env, timeout=120)
    assert r.returncode == 2 and "Traceback" not in r.stderr and "$SEMCOM_ORT_THREADS must be a whole number" in r.stderr


def test_corrupt_image_file(tmp_path):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    r = app("tx_image.py", bad)
    assert r.returncode == 2 and "Traceback" not in r.stderr and str(bad) in r.stderr


def test_help_and_version():
    for name in ("tx_image.py", "rx_image.py", "semcom-eval", "semcom-bench"):
        assert app(name, "--help").returncode == 0
        v = app(name, "--version")
        assert v.returncode == 0 and "gr-semcom" in v.stdout


def test_rx_image_writes_every_frame_atomically(small_image, tmp_path):
    out = tmp_path / "rx"
    r = app("rx_image.py", "--reference", small_image, "--count", 2, "--snr", 8, "--codec", "webp",
            "--output-dir", out)
    assert r.returncode == 0, r.stderr
    assert sorted(os.listdir(out)) == ["frame000000.json", "frame000000.png", "frame000001.json", "frame000001.png"]
    record = json.load(open(out / "frame000001.json"))
    assert record["codec"] == "webp" and record["psnr_db"] > 20 and record["frame"] == 1


def test_rx_image_sigint_keeps_what_was_received(small_image, tmp_path):
    out = tmp_path / "rx"
    proc = subprocess.Popen([sys.executable, os.path.join(ROOT, "apps", "rx_image.py"), "--reference", small_image,
                             "--count", "0", "--codec", "webp", "--output-dir", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while not glob.glob(str(out / "frame000001.json")) and time.time() < deadline:
        time.sleep(0.2)
    proc.send_signal(2)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0 and "Traceback" not in stderr
    assert "stopped after" in stdout
    assert not glob.glob(str(out / "*.tmp"))
    assert len(glob.glob(str(out / "*.png"))) >= 2


def test_sigterm_while_a_flowgraph_runs_ends_the_app(tmp_path):
    """SIGTERM in the middle of a replay: exit 143 at once. It used to hang for good, the interpreter's
    shutdown waiting on GNU Radio threads that were inside Python."""
    proc = subprocess.Popen([sys.executable, os.path.join(ROOT, "apps", "semcom-ota-bench"), "--only", "throughput",
                             "--frames", "4", "--runs", "50", "--out", str(tmp_path)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    progress = ""
    while "Msps" not in progress and time.time() < deadline:  # a replay is running
        progress += proc.stderr.readline()
    proc.send_signal(15)
    try:
        proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 143 and "Traceback" not in progress


def test_ota_bench_measures_the_codec_it_is_given(tmp_path):
    r = app("semcom-ota-bench", "--only", "throughput", "--waveforms", "sc", "--frames", "2", "--runs", "1",
            "--image-interval", "0.5", "--codec", "bitsemcom-qpsk-cpp16-fast", "--out", tmp_path, timeout=300)
    assert r.returncode == 0, r.stderr
    row = json.loads((tmp_path / "ota_bench.json").read_text())["throughput"][0]
    assert row["codec"] == "bitsemcom-qpsk-cpp16-fast"
    assert row["full_packed"]["images_out"] == row["full_packed_int8"]["images_out"] == 2
    assert "decoding `bitsemcom-qpsk-cpp16-fast`" in (tmp_path / "ota_bench.md").read_text()


@pytest.mark.slow
def test_semcom_eval_writes_table_plot_and_capacity_and_appends(small_image, tmp_path):
    images = tmp_path / "imgs"
    images.mkdir()
    save_image(str(images / "a.png"), load_image(small_image))
    for snrs in (["8"], ["0", "--append"]):  # the second run adds a point to the first one's results
        r = app("semcom-eval", "--images", images, "--codecs", "webp", "--links", "qpsk/ldpc-1/2",
                "--snr", *snrs, "--out", tmp_path / "res", timeout=600)
        assert r.returncode == 0, r.stderr
    for f in ("results.csv", "results.json", "summary.md", "psnr_vs_snr.png", "ms_ssim_vs_snr.png"):
        assert (tmp_path / "res" / f).stat().st_size > 0
    again = app("semcom-eval", "--images", images, "--codecs", "webp", "--snr", "8", "--out", tmp_path / "res")
    assert again.returncode == 2 and "holds the results of an earlier run" in again.stderr  # nothing overwritten
    summary = json.load(open(tmp_path / "res" / "results.json"))["summary"]
    env = summary["awgn/sscc-envelope"]
    assert env["8.0"]["psnr_db"] > env["0.0"]["psnr_db"]  # lost at 0 dB, received at 8 dB
    assert summary["awgn/avif+capacity"]["8.0"]["psnr_db"] >= env["8.0"]["psnr_db"] - 0.5


@pytest.mark.slow
def test_semcom_eval_saves_every_received_image_and_draws_the_grid(small_image, tmp_path):
    import csv
    from gnuradio.semcom import metrics
    images = tmp_path / "imgs"
    images.mkdir()
    save_image(str(images / "a.png"), load_image(small_image))
    r = app("semcom-eval", "--images", images, "--codecs", "webp", "bitsemcom-qpsk-cpp16", "--links", "qpsk/ldpc-1/2",
            "--snr", -3, 10, "--no-reference", "--grid", tmp_path / "grid.png", "--save-images", tmp_path / "rx",
            "--out", tmp_path / "res", timeout=600)
    assert r.returncode == 0, r.stderr
    rows = list(csv.DictReader(open(tmp_path / "res" / "results.csv")))
    assert len(rows) == 4 and len(os.listdir(tmp_path / "rx")) == 4
    sent = load_image(small_image)
    for row in rows:
        name = f"a_{row['codec']}_{row['link'].replace('/', '-')}_awgn_{float(row['snr_db']):g}dB.png"
        received = load_image(str(tmp_path / "rx" / name))
        assert abs(metrics.psnr(sent, received) - float(row["psnr_db"])) < 1e-6
    lost = load_image(str(tmp_path / "rx" / "a_webp_qpsk-ldpc-1-2_awgn_-3dB.png"))
    assert np.all(lost == 128)  # below the LDPC threshold: the placeholder
    grid = load_image(str(tmp_path / "grid.png"))
    # 2 codecs x (sent + 2 SNRs) cells, 2.4 in (240 px at 100 dpi) wide, 1.25 times the photo's height
    assert abs(grid.shape[1] - 720) <= 1 and abs(grid.shape[0] - 400) <= 1


@pytest.mark.slow
@pytest.mark.parametrize("example, codec", [("sim_loopback", "avif"), ("semantic_loopback", "bitsemcom")])
def test_loopback_examples_compile_and_run(example, codec, tmp_path):
    grc = os.path.join(ROOT, "examples", f"{example}.grc")
    r = subprocess.run(["grcc", grc, "-o", str(tmp_path)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    sys.path.insert(0, str(tmp_path))
    try:
        module = __import__(example)
        tb = getattr(module, example)(image=SAMPLE, output_dir=str(tmp_path / "rx"), snr_db=10)
        tb.start()
        deadline = time.time() + 120
        while not os.path.exists(tmp_path / "rx" / "frame000000.json") and time.time() < deadline:
            time.sleep(0.2)
        tb.stop()
        tb.wait()
    finally:
        sys.path.remove(str(tmp_path))
    record = json.load(open(tmp_path / "rx" / "frame000000.json"))
    assert record["lost"] is False and record["codec"] == codec


def test_image_rx_queue_is_bounded():
    """A flowgraph whose images nobody takes from image_rx.received keeps flat memory."""
    from gnuradio.semcom.blocks import image as image_blocks
    rx = image_blocks.image_rx("", "avif")
    meta = {"codec": "avif", "height": 8, "width": 8}
    for i in range(image_blocks.RECEIVED_KEPT + 10):
        rx.process({**meta, "frame": i}, np.zeros(64, np.float32))
    assert rx.received.qsize() == image_blocks.RECEIVED_KEPT
    assert rx.received.get_nowait()[0]["frame"] == 10  # the oldest were dropped


@pytest.mark.parametrize("height, width", [(0, 0), (65535, 65535), (11584, 11584)])
def test_forged_image_sizes_are_dropped_before_decoding(height, width):
    """No placeholder of 65535x65535 is allocated: the frame is dropped with one line."""
    import resource
    from gnuradio.semcom.blocks import image as image_blocks
    rx = image_blocks.image_rx("", "sscc")
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(ValueError, match="this receiver takes 1 to"):
        rx.process({"codec": "sscc", "height": height, "width": width, "frame": 0}, np.zeros(64, np.float32))
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 50_000  # kB


def test_unwritable_output_is_reported_and_the_receiver_goes_on(tmp_path, small_image, monkeypatch):
    """A full disk (a stub: this runs as root, for whom read-only folders are writable): the image
    is still decoded and handed on, the failure counted, no temp file left; once space returns,
    images are written again."""
    import errno
    from gnuradio.semcom import imageio
    from gnuradio.semcom.blocks import image as image_blocks
    from gnuradio.semcom.codecs import registry
    from gnuradio.semcom.phy.link import LinkConfig
    out = tmp_path / "rx"
    codec = registry.get("avif")
    image = load_image(small_image)[:64, :96]
    enc = codec.encode(image, LinkConfig("qpsk", "ldpc-1/2"), 64 * 96)
    llrs = np.where(enc.bits > 0, 20.0, -20.0).astype(np.float32)
    meta = {"codec": "avif", "height": 64, "width": 96, **enc.meta}
    rx = image_blocks.image_rx(str(out), "avif")
    real = imageio.save_image

    def full_disk(path, arr):
        real(path, arr)  # the PNG lands, then the disk is full
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(imageio, "save_image", full_disk)
    rx.process({**meta, "frame": 0}, llrs)
    assert rx.write_failures == 1 and rx.received.qsize() == 1 and os.listdir(out) == []
    monkeypatch.setattr(imageio, "save_image", real)
    rx.process({**meta, "frame": 1}, llrs)
    assert sorted(os.listdir(out)) == ["frame000001.json", "frame000001.png"]


def test_a_recording_onto_a_full_disk_is_an_error_not_sent(small_image, tmp_path):
    """The transmitter tells the truth: a short recording exits 2 with one line."""
    import subprocess as sp
    mnt = tmp_path / "full"
    mnt.mkdir()
    if sp.run(["mount", "-t", "tmpfs", "-o", "size=128k", "tmpfs", str(mnt)], capture_output=True).returncode:
        pytest.skip("cannot mount a small tmpfs here")
    try:
        r = app("tx_image.py", "--radio", "file", "--file", mnt / "cap.sigmf-data", small_image)
    finally:
        sp.run(["umount", str(mnt)], capture_output=True)
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    assert "the disk is full or the file was cut" in r.stderr and "sent 1 images" not in r.stdout


def test_user_ldpc_code_over_a_recording(small_image, tmp_path):
    """tx_image --fec alist:FILE records; rx_image given the same file decodes the image, one given
    none or another alist drops every burst with the counted reason (and exits 0)."""
    shipped = "/usr/share/gnuradio/fec/ldpc/n_0300_k_0152_gap_03.alist"
    if not os.path.isfile(shipped):
        pytest.skip("GNU Radio's alist files are not installed")
    alist, recording = tmp_path / "code.alist", tmp_path / "cap.sigmf-data"
    alist.write_bytes(open(shipped, "rb").read())
    r = app("tx_image.py", "--radio", "file", "--file", recording, "--codec", "sscc", "--fec", f"alist:{alist}",
            small_image)
    assert r.returncode == 0 and f"qpsk/alist:{alist}" in r.stdout, r.stderr
    sent_bursts = int(r.stdout.split(" bursts")[0].rsplit(" ", 1)[1])
    for fec, images in [(f"alist:{alist}", 1), ("", 0), ("/usr/share/gnuradio/fec/ldpc/n_0300_k_0122_gap_06.alist", 0)]:
        r = app("rx_image.py", "--radio", "file", "--file", recording, "--reference", small_image, "--output-dir",
                tmp_path / f"rx{images}{len(fec)}", *(["--fec", fec] if fec else []))
        assert r.returncode == 0, r.stderr
        assert r.stdout.count(": ok") == images and f"stopped after {images} images" in r.stdout, r.stdout
        if not images:
            assert f"bursts of a user LDPC code (alist) this receiver was not given {sent_bursts}" in r.stdout
    r = app("rx_image.py", "--radio", "file", "--file", recording, "--fec", f"alist:{tmp_path}/missing.alist")
    assert r.returncode == 2 and "Traceback" not in r.stderr and "missing.alist': cannot read it" in r.stderr


def test_alist_gnu_radios_encoder_cannot_take_is_refused_in_one_line(small_image, tmp_path):
    """Parity part singular: no gap makes gr-fec's encoder work, nor does a systematic form exist."""
    alist = tmp_path / "singular.alist"
    alist.write_text("4 2\n2 4\n2 2 2 2\n4 4\n1 2\n1 2\n1 2\n1 2\n1 2 3 4\n1 2 3 4\n")
    r = app("tx_image.py", "--radio", "file", "--file", tmp_path / "cap.sigmf-data", "--codec", "sscc", "--fec",
            f"alist:{alist}", small_image)
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and "parity part is singular" in r.stderr, r.stderr


def test_bench_latency_runs_each_model_over_its_own_modulation_unless_told(tmp_path):
    r = app("semcom-bench", "--latency", "bitsemcom-qpsk-cpp16", "bitsemcom-16qam-cpp16", "--runs", 1,
            "--out", tmp_path / "own")
    assert r.returncode == 0, r.stderr
    rows = [line.split(" | ") for line in (tmp_path / "own" / "latency.md").read_text().splitlines()
            if line.startswith("| bitsemcom")]
    assert {(row[0][2:], row[1]) for row in rows} == {("bitsemcom-qpsk-cpp16", "qpsk/none"),
                                                      ("bitsemcom-16qam-cpp16", "16qam/none")}
    assert all(float(row[3]) > 0 and float(row[4]) > 0 for row in rows)
    r = app("semcom-bench", "--latency", "bitsemcom-qpsk-cpp16", "--runs", 1, "--modulation", "16qam",
            "--out", tmp_path / "all")
    assert r.returncode == 0 and "| bitsemcom-qpsk-cpp16 | 16qam/none |" in (tmp_path / "all" / "latency.md").read_text()


def test_list_codecs_says_what_each_is_its_rate_and_where_it_leads():
    r = app("semcom-eval", "--list-codecs")
    assert r.returncode == 0, r.stderr
    lines = {line.split()[0]: line for line in r.stdout.splitlines()}
    assert "bitsemcom-qpsk-cpp16" in lines and "avif" in lines and len(lines) == len(r.stdout.splitlines())
    assert "learned bitsemcom model for qpsk; 0.125 bpp; leads at -6 to" in lines["bitsemcom-qpsk-cpp16"]
    high = re.search(r"leads at (-?[\d.]+) to 25 dB", lines["avif"])  # the conventional codec above the cliff
    assert high and float(high.group(1)) < 5, lines["avif"]
    assert "hard-decision receiver" in lines["bitsemcom-qpsk-cpp16-hard"]
