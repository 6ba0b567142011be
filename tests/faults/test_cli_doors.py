"""semcom-train, semcom-export and semcom-eval run as users run them, given what they must refuse:
each refusal is one line on stderr and exit status 2, never a traceback."""
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from plain import REPO, run_app

pytest.importorskip("torch")
pytest.importorskip("gnuradio.semcom.training.trainer")

SMOKE = os.path.join(REPO, "configs", "smoke_synthetic.json")


def refused(r: subprocess.CompletedProcess, *words: str) -> str:
    """The one line a refused run printed, which names every one of ``words``."""
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    assert len(lines) == 1 and lines[0].startswith("error: "), r.stderr
    assert all(w in lines[0] for w in words), lines[0]
    return lines[0]


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """A 10-step checkpoint of the smoke config."""
    run = tmp_path_factory.mktemp("trained") / "run"
    r = run_app("semcom-train", SMOKE, "--out", run, "--steps", 10, "--no-progress")
    assert r.returncode == 0, r.stderr
    return run / "ckpt_00000010.pt"


@pytest.fixture
def a_file(tmp_path):
    path = tmp_path / "a_file"
    path.write_text("not a folder")
    return path


def test_train_refuses_an_out_that_is_a_file_or_under_one(a_file, tmp_path):
    refused(run_app("semcom-train", SMOKE, "--out", a_file, "--steps", 1, "--no-progress"), "--out", "is a file")
    refused(run_app("semcom-train", SMOKE, "--out", a_file / "sub" / "run", "--steps", 1, "--no-progress"),
            "--out", f"{a_file} is a file")
    assert a_file.read_text() == "not a folder"


def test_export_and_eval_refuse_an_out_under_a_file(checkpoint, a_file):
    refused(run_app("semcom-export", checkpoint, "--out", a_file / "sub"), "--out", f"{a_file} is a file")
    refused(run_app("semcom-eval", "--out", a_file / "sub", "--codecs", "jpeg", "--snr", 10, "--max-images", 1,
                    "--images", os.path.join(REPO, "examples", "images")), "--out", f"{a_file} is a file")
    refused(run_app("semcom-eval", "--out", a_file, "--rebuild"), "--out", "is a file")


def test_an_out_folder_that_cannot_be_written_is_refused(tmp_path, monkeypatch):
    """A read-only mount (root ignores permissions, so the mount is stubbed)."""
    from gnuradio.semcom.cli import common
    from gnuradio.semcom.errors import SemcomError
    monkeypatch.setattr(common.os, "access", lambda path, mode: False)
    with pytest.raises(SemcomError, match="--out .*read-only"):
        common.output_folder(str(tmp_path / "new"))
    assert not (tmp_path / "new").exists()


@pytest.mark.parametrize("device, words", [("tpu9", ("--device tpu9", "not a device")),
                                           ("cuda", ("--device cuda", "no CUDA device")),
                                           ("cuda:7", ("--device cuda:7",))])
def test_train_refuses_a_device_it_does_not_have(device, words, tmp_path):
    import torch
    if device.startswith("cuda") and torch.cuda.device_count() > 7:
        pytest.skip("this machine has the CUDA device")
    refused(run_app("semcom-train", SMOKE, "--out", tmp_path / "run", "--steps", 1, "--device", device,
                    "--no-progress"), *words)
    assert not (tmp_path / "run" / "ckpt_00000001.pt").exists()


def test_train_refuses_steps_below_one_and_a_folder_without_images(tmp_path):
    for steps in (-1, 0):
        r = run_app("semcom-train", SMOKE, "--out", tmp_path / "run", "--steps", steps, "--no-progress")
        assert r.returncode == 2 and "argument --steps: must be a whole number >= 1" in r.stderr, r.stderr
    (tmp_path / "empty").mkdir()
    refused(run_app("semcom-train", SMOKE, "--out", tmp_path / "run", "--folder", tmp_path / "empty",
                    "--steps", 1, "--no-progress"), "no images", "empty")
    refused(run_app("semcom-train", SMOKE, "--out", tmp_path / "run", "--folder", "", "--steps", 1,
                    "--no-progress"), "does not exist")
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("key, value, words", [("stage1_steps", -5, ("stage1_steps", "out of range")),
                                               ("stage2_steps", 2.5, ("stage2_steps", "whole number")),
                                               ("lr", float("inf"), ("lr", "a number")),
                                               ("checkpoint_every", 0, ("checkpoint_every", "out of range"))])
def test_train_refuses_a_config_number_out_of_range(key, value, words, tmp_path):
    with open(SMOKE) as f:
        cfg = json.load(f)
    cfg[key] = value
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(cfg))
    refused(run_app("semcom-train", path, "--out", tmp_path / "run", "--steps", 1, "--no-progress"), *words)


def test_config_numbers_are_checked_in_one_place():
    from gnuradio.semcom.errors import SemcomError
    from gnuradio.semcom.training import config_file
    config_file.check_numbers({"stage1_steps": 0, "stage2_steps": 10, "lr": 1e-3, "val": {"snrs": [0, 6.5]}})
    for bad in ({"stage2_steps": -1}, {"seed": True}, {"data": {"batch": float("nan")}}, {"val": {"snrs": [1e999]}},
                {"threads": 1e400}):
        with pytest.raises(SemcomError, match="^config "):
            config_file.check_numbers(bad)


def test_export_refuses_a_damaged_continued_from_card(checkpoint, tmp_path):
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "card.json").write_text('{"cumulative_steps": ')
    refused(run_app("semcom-export", checkpoint, "--out", tmp_path / "a", "--continued-from", tmp_path / "model"),
            "--continued-from", "card.json", "not a readable model card")
    (tmp_path / "list.json").write_text("[1, 2]")
    refused(run_app("semcom-export", checkpoint, "--out", tmp_path / "b", "--continued-from", tmp_path / "list.json"),
            "list.json", "not an object")
    assert not (tmp_path / "a" / "encoder.onnx").exists()


@pytest.mark.parametrize("content", [b"image,codec\nkodim23.png,jpeg\n", b"\xf7\x00\xffnot text",
                                     b"image,codec,family,link,channel,snr_db,psnr_db,ms_ssim,lost,reason,"
                                     b"payload_bits,channel_uses\nkodim23.png,jpeg,c,qpsk,awgn,ten,30,0.9,False,,1,2\n"])
@pytest.mark.parametrize("mode", ["--rebuild", "--append"])
def test_eval_refuses_a_damaged_results_csv(content, mode, tmp_path):
    (tmp_path / "results.csv").write_bytes(content)
    r = run_app("semcom-eval", "--out", tmp_path, mode, "--codecs", "jpeg", "--links", "qpsk", "--snr", 10,
                "--max-images", 1, "--no-reference", "--images", os.path.join(REPO, "examples", "images"))
    refused(r, "results.csv")
    assert (tmp_path / "results.csv").read_bytes() == content


def test_eval_rebuild_refuses_a_results_csv_without_rows(tmp_path):
    (tmp_path / "results.csv").write_text("image,codec,family,link,channel,snr_db,psnr_db,ms_ssim,lost,reason,"
                                          "payload_bits,channel_uses\n")
    refused(run_app("semcom-eval", "--out", tmp_path, "--rebuild"), "results.csv", "no rows")


def test_resume_from_a_checkpoint_damaged_after_kill_9_names_the_file(tmp_path):
    run = tmp_path / "run"
    cmd = [sys.executable, os.path.join(REPO, "apps", "semcom-train"), SMOKE, "--out", str(run), "--no-progress"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while not list(run.glob("ckpt_*.pt")) and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.1)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    latest = sorted(run.glob("ckpt_*.pt"))[-1]
    latest.write_bytes(latest.read_bytes()[: latest.stat().st_size // 2])  # half written
    line = refused(run_app("semcom-train", SMOKE, "--out", run, "--resume", "--no-progress"),
                   "cannot resume", str(latest), "truncated or damaged")
    assert "miniz" not in line


# ---------------------------------------------------------------- signals

SAMPLE = os.path.join(REPO, "examples", "images", "kodim23.png")


class Started:
    """An app in a subprocess whose stdout lines are collected as they come."""

    def __init__(self, name: str, *args):
        import threading
        self.proc = subprocess.Popen([sys.executable, os.path.join(REPO, "apps", name), *map(str, args)],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.lines = []
        threading.Thread(target=lambda: self.lines.extend(self.proc.stdout), daemon=True).start()

    def wait_for(self, text: str, timeout: float = 120):
        deadline = time.monotonic() + timeout
        while not any(text in line for line in self.lines):
            assert self.proc.poll() is None and time.monotonic() < deadline, (text, self.lines)
            time.sleep(0.05)

    def stop(self, number: int) -> tuple[float, str]:
        """Sends signal ``number``; (seconds until the app exited, its stderr)."""
        assert self.proc.poll() is None, self.lines
        start = time.monotonic()
        self.proc.send_signal(number)
        try:
            self.proc.wait(timeout=20)
        finally:
            self.proc.kill()
        return time.monotonic() - start, self.proc.stderr.read()


def tx_sim(tmp_path):
    return "tx_image.py", "--rx-output", tmp_path / "rx.png", "--repeat", 100, SAMPLE


def tx_zmq_nobody_listening(tmp_path):
    from plain import free_port
    return ("tx_image.py", "--radio", "zmq", "--zmq-pattern", "pushpull", "--address",
            f"tcp://127.0.0.1:{free_port()}", "--repeat", 100, SAMPLE)


def rx_zmq(tmp_path):
    from plain import free_port
    return "rx_image.py", "--radio", "zmq", "--address", f"tcp://127.0.0.1:{free_port()}", "--output-dir", tmp_path


# (app, what to wait for: seconds after the start or a line on stdout); the state the signal finds
MOMENTS = {"tx loading modules": (tx_sim, 0.3), "tx loading the model": (tx_sim, 2.0),
           "tx encoding the next image": (tx_sim, "PSNR"), "tx sending, zmq": (tx_zmq_nobody_listening, "frame 0"),
           "rx loading modules": (rx_zmq, 0.3), "rx waiting for bursts, zmq": (rx_zmq, "listening on")}


@pytest.mark.parametrize("number, status, line", [(signal.SIGINT, 130, "interrupted"),
                                                  (signal.SIGTERM, 143, "terminated")])
@pytest.mark.parametrize("moment", MOMENTS)
def test_apps_exit_promptly_on_a_signal_in_every_state(moment, number, status, line, tmp_path):
    make, wait = MOMENTS[moment]
    app = Started(*make(tmp_path))
    if isinstance(wait, str):
        app.wait_for(wait)
    time.sleep(wait if isinstance(wait, float) else 0.3)
    seconds, stderr = app.stop(number)
    assert seconds < 3
    if wait == "listening on" and number == signal.SIGINT:  # Ctrl-C is how a listening receiver ends
        assert app.proc.returncode == 0 and not stderr and app.lines[-1].startswith("stopped after 0 images"), stderr
    else:
        assert app.proc.returncode == status and stderr.strip() == line, stderr


@pytest.mark.parametrize("number, status", [(signal.SIGINT, 0), (signal.SIGTERM, 143)])
def test_rx_keeps_what_it_wrote_when_stopped_by_a_signal(number, status, tmp_path):
    """Ctrl-C is how a receiver running without --count ends: its summary and status 0."""
    app = Started("rx_image.py", "--reference", SAMPLE, "--output-dir", tmp_path, "--codec", "webp")
    app.wait_for("image 1:")
    seconds, stderr = app.stop(number)
    assert app.proc.returncode == status and "Traceback" not in stderr and seconds < 3, stderr
    if number == signal.SIGINT:
        assert app.lines[-1].startswith("stopped after") and not stderr, stderr
    assert all((tmp_path / f"frame00000{i}.{ext}").stat().st_size for i in (0, 1) for ext in ("png", "json"))
    assert json.loads((tmp_path / "frame000001.json").read_text())["psnr_db"] > 20
    assert not list(tmp_path.glob("*.tmp"))


def worker_processes(pid: int) -> list[int]:
    """The pids of the multiprocessing workers that process ``pid`` spawned."""
    found = []
    for entry in os.listdir("/proc"):
        try:
            with open(f"/proc/{entry}/stat") as f:
                parent = int(f.read().rsplit(")", 1)[1].split()[1])
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                command = f.read()
        except (OSError, ValueError, IndexError):
            continue
        if parent == pid and b"spawn_main" in command:
            found.append(int(entry))
    return found


def test_a_terminated_sweep_takes_its_worker_processes_with_it(tmp_path):
    """SIGTERM to semcom-eval --jobs 2: exit 143 at once, and no worker goes on with the queue."""
    app = Started("semcom-eval", "--images", os.path.dirname(SAMPLE), "--codecs", "webp", "bitsemcom-qpsk-cpp16",
                  "--snr", *map(str, range(-6, 21)), "--no-reference", "--jobs", "2", "--out", tmp_path)
    deadline = time.monotonic() + 120
    while len(workers := worker_processes(app.proc.pid)) < 2:
        assert app.proc.poll() is None and time.monotonic() < deadline, app.lines
        time.sleep(0.1)
    time.sleep(1.0)
    seconds, stderr = app.stop(signal.SIGTERM)
    lines = [line for line in stderr.splitlines() if line.strip() and not line.startswith("semcom-eval:")]
    assert app.proc.returncode == 143 and lines == ["terminated"] and seconds < 10, stderr  # no leak warning
    time.sleep(0.5)
    assert not [pid for pid in workers if os.path.exists(f"/proc/{pid}")]
