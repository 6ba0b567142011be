"""Recorded transmissions played again into rx_image.py (tx_image.py --radio file recordings,
concatenated): every frame comes out once, with or without --key, and each replayed burst is
counted as a drop."""
import json
import os
import re

import numpy as np
import pytest

pytest.importorskip("gnuradio.semcom.blocks.burst_rx")
from gnuradio.semcom.imageio import load_image, save_image  # noqa: E402
from gnuradio.semcom.phy.burst import Replayed  # noqa: E402

from plain import REPO, run_app as app  # noqa: E402

SAMPLE = os.path.join(REPO, "examples", "images", "kodim23.png")
BURSTS = 3  # of the small image at --burst-symbols 256



@pytest.fixture(scope="module")
def recordings(tmp_path_factory):
    """Two transmitter sessions (two runs of tx_image.py), each one small image, with and without a
    key: {(key, name): complex64 samples}."""
    folder = tmp_path_factory.mktemp("replay")
    image = folder / "small.png"
    save_image(str(image), np.ascontiguousarray(load_image(SAMPLE)[:96, :128]))
    out = {}
    for key in ("", "shared secret"):
        for name in ("A", "B"):
            path = folder / f"{name}{'-key' if key else ''}.sigmf-data"
            r = app("tx_image.py", "--radio", "file", "--file", path, "--burst-symbols", 256,
                    *(["--key", key] if key else []), image)
            assert r.returncode == 0 and f"in {BURSTS} bursts" in r.stdout, (r.stdout, r.stderr)
            out[key, name] = np.fromfile(path, np.complex64)
    return out


def receive(folder, samples, key):
    """rx_image.py over ``samples`` (a SigMF recording of them): (images written, replayed bursts, summary)."""
    path = folder / "replayed.sigmf-data"
    samples.astype(np.complex64).tofile(path)
    with open(folder / "replayed.sigmf-meta", "w") as f:
        json.dump({"global": {"core:datatype": "cf32_le", "core:sample_rate": 1e6, "core:version": "1.0.0"},
                   "captures": [{"core:sample_start": 0}], "annotations": []}, f)
    out = folder / "rx"
    r = app("rx_image.py", "--radio", "file", "--file", path, "--output-dir", out, *(["--key", key] if key else []))
    assert r.returncode == 0, r.stderr
    summary = r.stdout.strip().splitlines()[-1]
    found = re.search(re.escape(Replayed.reason) + r" (\d+)", summary)
    images = [json.loads((out / n).read_text()) for n in sorted(os.listdir(out)) if n.endswith(".json")]
    return images, int(found.group(1)) if found else 0, summary


@pytest.mark.parametrize("key", ["", "shared secret"])
@pytest.mark.parametrize("sessions", ["A A A", "A B A"])
def test_a_replayed_recording_gives_each_frame_once(tmp_path, recordings, key, sessions, fault_matrix):
    order = sessions.split()
    images, replayed, summary = receive(tmp_path, np.concatenate([recordings[key, s] for s in order]), key)
    first = {s: i for i, s in reversed(list(enumerate(order)))}  # each session's first playing
    ok = (len(images) == len(first) and all(not m.get("lost") and m["bursts_lost"] == 0 for m in images)
          and replayed == BURSTS * (len(order) - len(first)))
    fault_matrix.record("replayed recordings", f"{sessions}, rx_image.py {'with' if key else 'without'} --key", ok)
    assert ok, (summary, [(m.get("session"), m.get("frame"), m.get("lost")) for m in images])
