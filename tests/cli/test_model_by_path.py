"""A model folder given by path (--codec PATH) is a codec at both ends, through the real apps."""
import json
import os
import shutil

import pytest

from plain import REPO, run_app

pytest.importorskip("gnuradio.semcom.flowgraphs.air")
SAMPLE = os.path.join(REPO, "examples", "images", "kodim23.png")


@pytest.fixture
def my_model(tmp_path):
    """A model folder under a name this installation does not know (as semcom-export --out writes)."""
    folder = tmp_path / "my-model"
    shutil.copytree(os.path.join(REPO, "models", "bitsemcom-qpsk-cpp16"), folder)
    return folder


def test_a_model_by_path_goes_through_the_simulated_radio(my_model, tmp_path):
    out = tmp_path / "rx.png"
    r = run_app("tx_image.py", "--radio", "sim", "--snr", "10", "--codec", my_model, "--rx-output", out, "--json",
                SAMPLE)
    assert r.returncode == 0, r.stderr[-1500:]
    rec = json.loads(r.stdout.strip().splitlines()[-1])
    assert not rec["lost"] and rec["model"] == "my-model" and rec["psnr_db"] > 24.0, rec


def test_a_model_by_path_at_both_ends_of_a_recording(my_model, tmp_path):
    capture = tmp_path / "cap.sigmf-data"
    r = run_app("tx_image.py", "--radio", "file", "--file", capture, "--codec", my_model, SAMPLE)
    assert r.returncode == 0, r.stderr[-1500:]
    r = run_app("rx_image.py", "--radio", "file", "--file", capture, "--codec", my_model, "--reference", SAMPLE,
                "--output-dir", tmp_path / "rx")
    assert r.returncode == 0, r.stderr[-1500:]
    recs = [json.load(open(tmp_path / "rx" / f)) for f in sorted(os.listdir(tmp_path / "rx")) if f.endswith(".json")]
    assert len(recs) == 1 and recs[0]["model"] == "my-model" and not recs[0]["lost"] and recs[0]["psnr_db"] > 24.0


def test_a_frame_for_a_model_the_receiver_lacks_is_counted_and_named(my_model, tmp_path):
    capture = tmp_path / "cap.sigmf-data"
    assert run_app("tx_image.py", "--radio", "file", "--file", capture, "--codec", my_model, SAMPLE).returncode == 0
    r = run_app("rx_image.py", "--radio", "file", "--file", capture, "--output-dir", tmp_path / "rx")
    assert r.returncode == 0, r.stderr[-1500:]
    assert "stopped after 0 images" in r.stdout
    codec_id = 0x100 + __import__("zlib").crc32(b"my-model") % 0xFF00  # onnx_model.codec_id_for
    assert f"frame for unknown codec id {codec_id:#06x}" in r.stdout and r.stdout.rstrip().endswith(") 1"), r.stdout


def test_the_receivers_status_line_names_drops_by_stage_and_the_last_snr():
    from gnuradio.semcom.cli.rx_image import status_line
    drops = {"radio": {"multipart message": 2, "message too large": 1}, "burst_reassembler": {"replayed": 4}}
    assert status_line(7, drops, 9.84) == ("status: 7 images; dropped: radio 3, burst_reassembler 4; "
                                           "last SNR estimate 9.8 dB")
    assert status_line(0, {}, None) == "status: 0 images; dropped: nothing"


def test_a_model_goes_over_its_cards_modulation_unless_told_otherwise(tmp_path):
    small = tmp_path / "small.png"
    from gnuradio.semcom.imageio import load_image, save_image
    save_image(str(small), load_image(SAMPLE)[:128, :192])
    common = ("--radio", "sim", "--snr", "20", "--codec", "bitsemcom-16qam-cpp16", "--json", "--rx-output",
              tmp_path / "rx.png", small)
    r = run_app("tx_image.py", *common)
    assert r.returncode == 0 and r.stderr == "", r.stderr[-1500:]
    assert json.loads(r.stdout.splitlines()[-1])["link"].startswith("16qam")
    r = run_app("tx_image.py", "--modulation", "qpsk", *common)
    assert r.returncode == 0
    assert json.loads(r.stdout.splitlines()[-1])["link"].startswith("qpsk")
    warning, = r.stderr.strip().splitlines()
    assert warning == ("warning: bitsemcom-16qam-cpp16 was trained for 16qam; over qpsk it sends 50% of its latent "
                       "(punctured by its rate profile): expect a lower PSNR than over 16qam (leave out --modulation "
                       "to use 16qam)")
