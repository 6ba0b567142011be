import importlib
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "python"))
semcom = importlib.import_module("semcom")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PIL import Image  # noqa: E402

from semcom.errors import SemcomError  # noqa: E402
from semcom.imageio import list_images, load_image, save_image  # noqa: E402

PHOTO = os.path.join(os.path.dirname(__file__), "..", "examples", "images", "kodim23.png")


def one_line_error(func, *args):
    with pytest.raises(SemcomError) as err:
        func(*args)
    assert "\n" not in str(err.value)
    return str(err.value)


def test_load_photo():
    img = load_image(PHOTO)
    assert img.shape == (512, 768, 3) and img.dtype == np.uint8


def test_missing_directory_and_corrupt(tmp_path):
    missing = str(tmp_path / "nope.png")
    assert missing in one_line_error(load_image, missing)
    assert str(tmp_path) in one_line_error(load_image, str(tmp_path))
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n but not really")
    assert str(bad) in one_line_error(load_image, str(bad))
    truncated = tmp_path / "truncated.png"
    truncated.write_bytes(open(PHOTO, "rb").read()[:5000])
    one_line_error(load_image, str(truncated))


def make(mode):
    if mode == "I;16":
        return Image.fromarray(np.arange(1200, dtype=np.uint16).reshape(30, 40) * 50)
    return Image.open(PHOTO).resize((40, 30)).convert(mode)


@pytest.mark.parametrize("mode", ["L", "LA", "P", "RGBA", "CMYK", "I;16", "1"])
def test_any_mode_becomes_rgb(tmp_path, mode):
    path = str(tmp_path / ("x.tif" if mode == "CMYK" else "x.png"))
    make(mode).save(path)
    img = load_image(path)
    assert img.shape == (30, 40, 3) and img.dtype == np.uint8
    if mode in ("L", "I;16", "1"):
        assert (img[..., 0] == img[..., 1]).all() and (img[..., 1] == img[..., 2]).all()
    if mode == "I;16":
        assert img.max() > 200  # 16-bit values scaled, not clipped


def test_save_round_trip_and_atomic(tmp_path):
    img = load_image(PHOTO)[:64, :96]
    out = tmp_path / "new" / "dir" / "a.png"
    save_image(str(out), img)
    assert (load_image(str(out)) == img).all()
    assert os.listdir(out.parent) == ["a.png"]  # no temp file left behind
    save_image(str(tmp_path / "b.jpg"), img)
    assert open(tmp_path / "b.jpg", "rb").read(3) == b"\xff\xd8\xff"
    save_image(str(tmp_path / "c"), img)
    assert open(tmp_path / "c", "rb").read(4) == b"\x89PNG"


def test_save_failure_is_semcom_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    one_line_error(save_image, str(blocker / "a.png"), np.zeros((4, 4, 3), np.uint8))


def test_list_images(tmp_path):
    for name in ("b.PNG", "a.jpg", "c.webp", "notes.txt", ".hidden.png", "d.tiff"):
        (tmp_path / name).write_bytes(b"")
    (tmp_path / "sub.png").mkdir()
    names = [os.path.basename(p) for p in list_images(str(tmp_path))]
    assert names == ["a.jpg", "b.PNG", "c.webp", "d.tiff"]
    one_line_error(list_images, str(tmp_path / "missing"))
    (tmp_path / "empty").mkdir()
    one_line_error(list_images, str(tmp_path / "empty"))
