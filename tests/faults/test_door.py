"""Inputs checked at the door, through tx_image.py and rx_image.py run as users run them: a bad
image file, option, environment variable, model card, output path or SigMF metadata file is
refused with one line and exit status 2 before anything starts (never a hang, a traceback or
an exit 0 that loses the image); a read-only HOME does not stop the apps."""
import json
import os
import shutil
import stat
import subprocess

import numpy as np
import pytest

pytest.importorskip("gnuradio.semcom.blocks.burst_rx")
from PIL import Image  # noqa: E402

from gnuradio.semcom import codecs, options  # noqa: E402
from gnuradio.semcom.codecs import neural  # noqa: E402

from plain import run_app  # noqa: E402

LEARNED = "deepjscc1bit-qpsk-cpp16"  # an installed model folder


def app(name, *args, timeout=60):
    """The app's CompletedProcess; None when it ran past ``timeout`` (blocked on a FIFO, decoding a bomb)."""
    try:
        return run_app(name, *args, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None


def refused(r, *phrases) -> bool:
    """Exit status 2 with one line on stderr holding every phrase."""
    return (r is not None and r.returncode == 2 and "Traceback" not in r.stderr
            and len(r.stderr.strip().splitlines()) == 1 and all(p in r.stderr for p in phrases))


def why(r):
    return None if r is None else (r.returncode, r.stdout[-300:], r.stderr[-600:])


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    path = tmp_path_factory.mktemp("img") / "small.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (128, 192, 3), dtype=np.uint8)).save(path)
    return path


def test_a_fifo_as_the_image_is_refused_for_every_codec(tmp_path, small, fault_matrix):
    fifo = tmp_path / "photo.png"
    os.mkfifo(fifo)
    failures = []
    names = [c for c in codecs.available() if not c.endswith("-hard")]
    for codec in names:
        r = app("tx_image.py", "--codec", codec, "--rx-output", tmp_path / "rx.png", fifo, timeout=30)
        ok = refused(r, f"image {fifo} must be a regular file")
        fault_matrix.record("images at the door", f"FIFO, tx_image.py --codec {codec}", ok)
        if not ok:
            failures.append((codec, why(r)))
    r = app("rx_image.py", "--reference", fifo, "--count", 1, "--output-dir", tmp_path / "rx", timeout=30)
    ok = refused(r, f"--reference {fifo} must be a regular file")
    fault_matrix.record("images at the door", "FIFO, rx_image.py --reference", ok)
    assert ok and not failures and len(names) >= 10, (why(r), failures)


@pytest.mark.parametrize("codec", ["avif", LEARNED])
def test_an_image_wider_than_the_header_carries_is_refused(tmp_path, codec, fault_matrix):
    wide = tmp_path / "wide.png"
    Image.new("RGB", (70000, 2)).save(wide)
    r = app("tx_image.py", "--codec", codec, "--rx-output", tmp_path / "rx.png", wide)
    ok = refused(r, f"image {wide} is 70000x2", f"1 to {options.MAX_SIDE} pixels a side")
    fault_matrix.record("images at the door", f"70000x2 image, --codec {codec}", ok)
    assert ok and not (tmp_path / "rx.png").exists(), why(r)


def test_a_decompression_bomb_is_refused_before_decoding(tmp_path, fault_matrix):
    bomb = tmp_path / "bomb.png"
    Image.new("1", (12000, 12000)).save(bomb)  # 144 Mpixel, a few hundred kB
    r = app("tx_image.py", "--codec", "avif", "--rx-output", tmp_path / "rx.png", bomb, timeout=30)
    ok = refused(r, f"image {bomb} ", f"images of more than {options.MAX_IMAGE_PIXELS} pixels are refused")
    fault_matrix.record("images at the door", "12000x12000 PNG (decompression bomb)", ok)
    assert ok, why(r)
    help_text = app("tx_image.py", "--help").stdout
    assert f"{options.MAX_IMAGE_PIXELS} pixels" in help_text


@pytest.mark.parametrize("flag, value", [("--taps", "nan"), ("--taps", "inf"), ("--taps", "1e400"),
                                         ("--taps", "1,nanj"), ("--taps", "0"), ("--snr", "nan"),
                                         ("--cfo", "inf"), ("--rate", "nan"), ("--freq", "inf"),
                                         ("--gain", "-inf"), ("--interval", "nan")])
def test_non_finite_options_are_refused_in_one_line(tmp_path, small, flag, value, fault_matrix):
    r = app("tx_image.py", "--codec", "avif", f"{flag}={value}", "--rx-output", tmp_path / "rx.png", small)
    ok = refused(r, f"argument {flag}: must be ", "got ", value)
    fault_matrix.record("invalid options through the apps", f"{flag} {value}", ok)
    assert ok and not (tmp_path / "rx.png").exists(), why(r)


@pytest.mark.parametrize("name, value, phrase", [
    ("SEMCOM_ORT_THREADS", str(4 * (os.cpu_count() or 1) + 1), f"in [0, {4 * (os.cpu_count() or 1)}]"),
    ("SEMCOM_ORT_THREADS", "nan", "a whole number"),
    ("SEMCOM_DECODER", "fp8", "choose one of float32, int8"),
    ("SEMCOM_MODEL_PATH", "/nonexistent/models", "existing folders")])
def test_bad_environment_variables_are_refused_in_one_line(tmp_path, small, name, value, phrase, fault_matrix,
                                                          monkeypatch):
    monkeypatch.setenv(name, value)
    r = app("tx_image.py", "--codec", "avif", "--rx-output", tmp_path / "rx.png", small)
    ok = refused(r, f"${name} must be", phrase)
    fault_matrix.record("environment at the door", f"{name}={value}", ok)
    assert ok, why(r)


def crafted_model(folder, edit_card):
    """A copy of the installed LEARNED model whose ONNX cards ``edit_card`` rewrote (dict -> JSON text)."""
    onnx = pytest.importorskip("onnx")
    src = next(d for d in neural.model_dirs() if os.path.basename(d) == LEARNED)
    shutil.copytree(src, folder)
    for role in ("encoder", "decoder"):
        path = str(folder / f"{role}.onnx")
        m = onnx.load(path)
        for prop in m.metadata_props:
            if prop.key == "semcom.card":
                prop.value = edit_card(json.loads(prop.value))
        onnx.save(m, path)
    return folder


CARDS = {"stride 0": (lambda c: json.dumps({**c, "stride": 0}), "'stride' must be a whole number"),
         "channels as text": (lambda c: json.dumps({**c, "latent_channels": "32"}),
                              "'latent_channels' must be a whole number"),
         "invalid JSON": (lambda c: json.dumps(c)[:-5], "is not valid JSON")}


@pytest.mark.parametrize("case", list(CARDS))
def test_a_bad_model_card_is_refused_in_one_line(tmp_path, small, case, fault_matrix):
    edit, phrase = CARDS[case]
    folder = crafted_model(tmp_path / "crafted", edit)
    r = app("tx_image.py", "--codec", folder, "--rx-output", tmp_path / "rx.png", small)
    ok = refused(r, "model crafted: the card of", phrase)
    fault_matrix.record("model cards at the door", case, ok)
    assert ok, why(r)


def test_a_bad_card_json_is_refused_in_one_line(tmp_path, small, fault_matrix):
    folder = crafted_model(tmp_path / "crafted", json.dumps)
    card = json.loads((folder / neural.CARD_FILE).read_text())
    (folder / neural.CARD_FILE).write_text(json.dumps({**card, "stride": "16"}))
    r = app("tx_image.py", "--codec", folder, "--rx-output", tmp_path / "rx.png", small)
    ok = refused(r, f"{neural.CARD_FILE}: 'stride' must be a whole number")
    fault_matrix.record("model cards at the door", "card.json with a text stride", ok)
    assert ok, why(r)


def test_a_frame_of_another_model_is_dropped_as_another_model(tmp_path, small, fault_matrix):
    rec = tmp_path / "rec.sigmf-data"
    r = app("tx_image.py", "--radio", "file", "--file", rec, "--codec", LEARNED, small)
    assert r.returncode == 0, why(r)
    r = app("rx_image.py", "--radio", "file", "--file", rec, "--codec", "bitsemcom-qpsk-cpp16",
            "--output-dir", tmp_path / "rx")
    summary = r.stdout.strip().splitlines()[-1]
    ok = (r.returncode == 0 and summary.startswith("stopped after 0 images")
          and "image_rx: frames of another model 1" in summary and "malformed" not in summary)
    fault_matrix.record("model cards at the door", "a frame of another model", ok)
    assert ok, why(r)


def unusable_home(tmp_path):
    """A HOME nothing can be created in: a read-only folder, or for root (who writes anywhere) a
    path below a regular file."""
    if os.getuid() != 0:
        home = tmp_path / "home"
        home.mkdir()
        home.chmod(0o555)
        return home
    (tmp_path / "file").write_text("")
    return tmp_path / "file" / "home"


def test_the_apps_run_with_a_read_only_home(tmp_path, small, fault_matrix, monkeypatch):
    monkeypatch.setenv("HOME", str(unusable_home(tmp_path)))
    tx = app("tx_image.py", "--codec", "avif", "--rx-output", tmp_path / "rx.png", small)
    rx = app("rx_image.py", "--codec", "avif", "--reference", small, "--count", 1, "--output-dir", tmp_path / "rx")
    ok = (tx.returncode == 0 and (tmp_path / "rx.png").exists() and rx.returncode == 0
          and (tmp_path / "rx" / "frame000000.png").exists())
    fault_matrix.record("environment at the door", "read-only HOME", ok)
    assert ok, (why(tx), why(rx))


def test_an_output_format_that_cannot_hold_the_image_is_refused(tmp_path, small, fault_matrix):
    out = tmp_path / "rx.ico"
    r = app("tx_image.py", "--codec", "avif", "--rx-output", out, small)
    ok = refused(r, f"--rx-output {out}: ", ".ico cannot hold") and not out.exists()
    fault_matrix.record("outputs at the door", "--rx-output x.ico", ok)
    assert ok, why(r)


def test_sigmf_metadata_is_written_0644_and_a_bad_one_is_refused(tmp_path, small, fault_matrix):
    rec = tmp_path / "rec.sigmf-data"
    old = os.umask(0o022)
    try:
        r = app("tx_image.py", "--radio", "file", "--file", rec, "--codec", "avif", small)
    finally:
        os.umask(old)
    meta = tmp_path / "rec.sigmf-meta"
    ok = r.returncode == 0 and stat.S_IMODE(meta.stat().st_mode) == 0o644
    fault_matrix.record("outputs at the door", "SigMF metadata written 0644", ok)
    assert ok, (why(r), oct(meta.stat().st_mode))
    failures = []
    for case in ("link to /dev/zero", "larger than 1 MiB"):
        meta.unlink()
        if case == "link to /dev/zero":
            meta.symlink_to("/dev/zero")
            phrase = "must be a regular file"
        else:
            meta.write_text(json.dumps({"global": {"core:datatype": "cf32_le", "pad": "x" * (1 << 20)}}))
            phrase = f"is larger than {options.MAX_METADATA_BYTES} bytes"
        r = app("rx_image.py", "--radio", "file", "--file", rec, "--output-dir", tmp_path / "rx", timeout=60)
        ok = refused(r, f"SigMF metadata {meta} ", phrase)
        fault_matrix.record("SigMF metadata at the door", case, ok)
        if not ok:
            failures.append((case, why(r)))
    assert not failures, failures
