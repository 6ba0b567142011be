"""--key @FILE naming something that is not a small regular file, through tx_image.py and
rx_image.py with every kind of radio: one line, exit code 2, before anything starts (never
blocking on a FIFO, never reading a device)."""
import os
import subprocess

import pytest

pytest.importorskip("gnuradio.semcom.blocks.burst_rx")
from gnuradio.semcom import options  # noqa: E402

from plain import REPO, run_app  # noqa: E402

SAMPLE = os.path.join(REPO, "examples", "images", "kodim23.png")


def app(name, *args, timeout=60):
    try:
        return run_app(name, *args, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None  # blocked (on a FIFO)


def bad_key_files(folder):
    """name -> the path a hostile or mistaken --key @FILE names."""
    empty = folder / "empty"
    empty.write_bytes(b"")
    huge = folder / "huge"
    huge.write_bytes(b"k" * (options.MAX_KEY_FILE_BYTES + 1))
    fifo = folder / "fifo"
    os.mkfifo(fifo)
    return {"missing file": folder / "nonexistent", "empty file": empty, "directory": folder,
            "/dev/zero": "/dev/zero", "FIFO": fifo, f"above {options.MAX_KEY_FILE_BYTES} bytes": huge}


# radio sim runs both ends in the app; radio file names a recording that the key check comes before
INVOCATIONS = {
    "tx_image.py --radio sim": lambda tmp: ("tx_image.py", "--rx-output", tmp / "rx.png", SAMPLE),
    "tx_image.py --radio file": lambda tmp: ("tx_image.py", "--radio", "file", "--file", tmp / "rec.sigmf-data",
                                             SAMPLE),
    "rx_image.py --radio sim": lambda tmp: ("rx_image.py", "--reference", SAMPLE, "--count", 1, "--output-dir",
                                            tmp / "rx"),
    "rx_image.py --radio file": lambda tmp: ("rx_image.py", "--radio", "file", "--file", tmp / "rec.sigmf-data",
                                             "--output-dir", tmp / "rx"),
}


@pytest.mark.parametrize("invocation", list(INVOCATIONS))
def test_a_key_file_that_is_not_a_small_regular_file_is_refused(tmp_path, invocation, fault_matrix):
    folder = tmp_path / "keys"
    folder.mkdir()
    failures = []
    for kind, path in bad_key_files(folder).items():
        name, *args = INVOCATIONS[invocation](tmp_path)
        r = app(name, "--key", f"@{path}", *args)
        ok = (r is not None and r.returncode == 2 and r.stderr.startswith(f"error: --key @{path}: ")
              and len(r.stderr.strip().splitlines()) == 1)
        fault_matrix.record("--key files", f"{kind}, {invocation}", ok)
        if not ok:
            failures.append((kind, r and (r.returncode, r.stderr[-300:])))
    assert not failures, failures


def test_a_key_file_keys_the_simulated_link(tmp_path, fault_matrix):
    key = tmp_path / "key"
    key.write_bytes(os.urandom(32))
    r = app("tx_image.py", "--key", f"@{key}", "--rx-output", tmp_path / "rx.png", SAMPLE, timeout=120)
    ok = r is not None and r.returncode == 0 and (tmp_path / "rx.png").exists()
    fault_matrix.record("--key files", "a 32-byte key file, tx_image.py --radio sim", ok)
    assert ok, r and r.stderr
