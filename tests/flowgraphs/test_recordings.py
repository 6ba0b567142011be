"""SigMF recordings through the apps: the formats SDRs record replay to the same image, a
recording at another rate is resampled to --rate (or refused), and rx_image --record keeps
a replayable, annotated recording. Everything written passes the sigmf library's validator."""
import json
import os
import re
import stat
import tarfile

import numpy as np
import pytest

pytest.importorskip("gnuradio.semcom.flowgraphs.radios")
sigmf = pytest.importorskip("sigmf")
from sigmf.validate import validate  # noqa: E402

from gnuradio.semcom.errors import SemcomError  # noqa: E402
from gnuradio.semcom.flowgraphs import radios  # noqa: E402
from gnuradio.semcom.imageio import load_image, save_image  # noqa: E402
from plain import REPO, run_app  # noqa: E402

RATE = 1e6
SENT = ("--waveform", "sc", "--codec", "sscc", "--cpp", "0.5")


@pytest.fixture(scope="module")
def recording(tmp_path_factory):
    """(folder, image, cf32 recording of the image sent at RATE, PSNR of its replay)."""
    folder = tmp_path_factory.mktemp("rec")
    image = folder / "small.png"
    save_image(str(image), load_image(os.path.join(REPO, "examples", "images", "kodim23.png"))[::4, ::4][:64, :96])
    data = folder / "sent.sigmf-data"
    r = run_app("tx_image.py", "--radio", "file", "--file", data, "--rate", RATE, "--freq", 433.92e6, *SENT, image)
    assert r.returncode == 0, r.stderr
    return folder, image, data, replay(folder / "out-cf32", image, data)


def replay(out, image, data, *extra) -> float:
    r = run_app("rx_image.py", "--radio", "file", "--file", data, "--reference", image, "--output-dir", out,
                "--waveform", "sc", *extra)
    assert r.returncode == 0 and "stopped after 1 images" in r.stdout, r.stdout + r.stderr
    return float(re.search(r"PSNR (\d+\.\d+) dB", r.stdout).group(1))


def meta_of(data) -> dict:
    with open(str(data)[:-len(".sigmf-data")] + ".sigmf-meta") as f:
        return json.load(f)


def samples(data) -> np.ndarray:
    return np.fromfile(data, np.complex64)


def write_recording(path, values: np.ndarray, datatype: str, rate: float = RATE, hw: str = "") -> None:
    """``values`` and their metadata, written by the sigmf library."""
    values.tofile(path)
    meta = sigmf.SigMFFile(data_file=str(path), global_info={
        sigmf.DATATYPE_KEY: datatype, sigmf.SAMPLE_RATE_KEY: rate, sigmf.HW_KEY: hw or "test recorder"})
    meta.add_capture(0, metadata={sigmf.FREQUENCY_KEY: 433.92e6})
    meta.tofile(str(path)[:-len(".sigmf-data")] + ".sigmf-meta")


def interleaved(x: np.ndarray, scale: float, dtype, offset: float = 0.0) -> np.ndarray:
    iq = np.stack([x.real, x.imag], axis=1).ravel() * scale + offset
    return np.round(iq).astype(dtype)


def test_transmitter_writes_validated_metadata_and_0644_files(recording):
    folder, _, data, psnr = recording
    meta = meta_of(data)
    validate(meta)
    glob, capture = meta["global"], meta["captures"][0]
    assert glob["core:datatype"] == "cf32_le" and glob["core:sample_rate"] == RATE
    assert glob["core:recorder"].startswith("gr-semcom") and glob["core:hw"]
    assert capture["core:frequency"] == 433.92e6 and re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ",
                                                                   capture["core:datetime"])
    for name in ("sent.sigmf-data", "sent.sigmf-meta"):
        assert stat.S_IMODE(os.stat(folder / name).st_mode) == 0o666 & ~current_umask()
    assert psnr > 20


def current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@pytest.mark.parametrize("datatype", ["ci16_le", "ci8", "cu8"])
def test_integer_recordings_replay_to_the_same_image(recording, datatype):
    folder, image, data, psnr = recording
    x = samples(data) / np.abs(samples(data)).max()
    values = {"ci16_le": lambda: interleaved(x, 32767, "<i2"), "ci8": lambda: interleaved(x, 127, np.int8),
              "cu8": lambda: interleaved(x, 127, np.uint8, offset=127.5)}[datatype]()
    path = folder / f"{datatype}.sigmf-data"
    write_recording(path, values, datatype, hw="USRP B210 (UHD)" if datatype == "ci16_le" else "RTL-SDR")
    assert abs(replay(folder / f"out-{datatype}", image, path) - psnr) <= 0.1


def test_sigmf_archive_replays_to_the_same_image(recording):
    folder, image, data, psnr = recording
    write_recording(folder / "arch.sigmf-data", samples(data), "cf32_le")
    archive = folder / "arch.sigmf"
    sigmf.sigmffile.fromfile(str(folder / "arch.sigmf-meta")).tofile(str(archive), toarchive=True)
    assert abs(replay(folder / "out-archive", image, archive) - psnr) <= 0.1


def test_recording_at_twice_the_rate_is_resampled_to_rate_or_refused(recording):
    folder, image, data, psnr = recording
    x = samples(data)
    spectrum = np.fft.fft(x)
    half = len(x) // 2
    wide = np.concatenate([spectrum[:half], np.zeros(len(x), np.complex128), spectrum[half:]])
    path = folder / "twice.sigmf-data"
    write_recording(path, (2 * np.fft.ifft(wide)).astype(np.complex64), "cf32_le", rate=2 * RATE)
    assert abs(replay(folder / "out-twice", image, path, "--rate", RATE) - psnr) <= 0.1
    r = run_app("rx_image.py", "--radio", "file", "--file", path, "--output-dir", folder / "as-is", "--waveform", "sc")
    assert r.returncode == 0 and "stopped after 0 images" in r.stdout, r.stdout + r.stderr
    assert "the recording is at 2e+06 samples/s: if the transmitter ran at another rate, give that rate with --rate" \
        in r.stdout
    odd = folder / "odd.sigmf-data"
    write_recording(odd, samples(path), "cf32_le", rate=2 * RATE + 1)
    r = run_app("rx_image.py", "--radio", "file", "--file", odd, "--rate", RATE, "--output-dir", folder / "no")
    assert r.returncode == 2 and "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert "2e+06 samples/s and --rate is 1e+06: their ratio 1000000/2000001" in r.stderr


def test_receiver_record_keeps_an_annotated_recording_that_replays(recording):
    folder, image, data, psnr = recording
    kept = folder / "kept.sigmf-data"
    assert abs(replay(folder / "out-rec", image, data, "--record", kept) - psnr) <= 0.1
    meta = meta_of(kept)
    validate(meta)
    assert meta["global"]["core:hw"] == f"gr-semcom file radio {data}"
    bursts = meta["annotations"]
    assert bursts and all(b["semcom:frame"] == 0 and b["core:sample_count"] > 0 and b["semcom:snr_db"] > 20
                          for b in bursts)
    assert [b["semcom:segment"] for b in bursts] == list(range(len(bursts)))
    assert bursts[-1]["core:sample_start"] + bursts[-1]["core:sample_count"] <= len(samples(kept))
    assert abs(replay(folder / "out-kept", image, kept) - psnr) <= 0.1


def test_bad_archives_and_undeclared_extensions_are_refused_in_one_line(recording):
    folder, _, data, _ = recording
    cases = {"not a tar": "cannot read SigMF archive", "compressed": "cannot read SigMF archive",
             "two recordings": "holds 2 recordings; one is supported"}
    for case, words in cases.items():
        path = folder / f"{case.replace(' ', '-')}.sigmf"
        if case == "not a tar":
            path.write_bytes(b"not a tar archive " * 100)
        else:
            with tarfile.open(path, "w:gz" if case == "compressed" else "w") as tar:
                for name in (["a", "b"] if case == "two recordings" else ["a"]):
                    tar.add(str(data), f"rec/{name}.sigmf-data")
                    tar.add(str(data)[:-len("data")] + "meta", f"rec/{name}.sigmf-meta")
        r = run_app("rx_image.py", "--radio", "file", "--file", path, "--output-dir", folder / "bad")
        assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and words in r.stderr, (case, r.stderr)
    with pytest.raises(SemcomError) as err:
        radios.write_sigmf(str(folder / "x.sigmf-data"), RATE, 1e9, annotations=[{"core:sample_start": 0,
                                                                                  "other:snr": 1.0}])
    assert "fails validation: Found undeclared extensions in use: other" in str(err.value)
