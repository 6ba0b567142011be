"""semcom-eval --jobs and --scheduler: the same rows as one process, to the last digit."""
import csv
import os

import pytest

pytest.importorskip("gnuradio.semcom.flowgraphs.ideal")
from gnuradio.semcom.imageio import load_image, save_image  # noqa: E402
from test_apps import SAMPLE, app  # noqa: E402

SWEEP = ("--codecs", "webp", "bitsemcom-qpsk-cpp16", "--links", "qpsk/ldpc-1/2", "--snr", "0", "8", "--no-reference")


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    folder = tmp_path_factory.mktemp("imgs")
    photo = load_image(SAMPLE)
    save_image(str(folder / "a.png"), photo[:128, :192])
    save_image(str(folder / "b.png"), photo[128:256, 192:384])
    return folder


def rows(images, out, *options):
    r = app("semcom-eval", "--images", images, *SWEEP, "--out", out, *options, timeout=600)
    assert r.returncode == 0, r.stderr
    with open(os.path.join(out, "results.csv")) as f:
        return list(csv.DictReader(f))


@pytest.mark.slow
def test_worker_processes_and_a_dask_cluster_give_the_rows_of_one_process(images, tmp_path):
    one = rows(images, tmp_path / "one", "--jobs", "1")
    assert len(one) == 8 and {r["image"] for r in one} == {"a.png", "b.png"}
    two = rows(images, tmp_path / "two", "--jobs", "2", "--save-images", tmp_path / "rx")
    assert two == one
    assert len(os.listdir(tmp_path / "rx")) == 8  # the received images come back from the workers
    other_seed = rows(images, tmp_path / "seed", "--jobs", "2", "--seed", "1")
    assert [r["psnr_db"] for r in other_seed] != [r["psnr_db"] for r in one]  # the seed reaches the channel
    pytest.importorskip("dask.distributed")
    assert rows(images, tmp_path / "dask", "--scheduler", "local:2") == one
