"""Live frame sources: sizes, centre crops, folders with a bad file, video files."""
import os

import numpy as np
import pytest

from plain import REPO, module

frames = module("frames")
errors = module("errors")
imageio = module("imageio")
SAMPLE = os.path.join(REPO, "examples", "images", "kodim23.png")


def test_size_is_width_by_height():
    assert frames.parse_size("320x240") == (240, 320)
    for bad in ("256", "0x10", "axb", "10x-1", "70000x10"):
        with pytest.raises(ValueError):
            frames.parse_size(bad)


def test_fit_crops_about_the_centre_then_resizes():
    image = np.zeros((100, 300, 3), np.uint8)
    image[:, 100:200] = 255  # the centre square is white, the sides black
    out = frames.fit(image, 50, 50)
    assert out.shape == (50, 50, 3) and out.min() == 255
    tall = frames.fit(np.arange(300 * 100 * 3, dtype=np.uint32).astype(np.uint8).reshape(300, 100, 3), 20, 40)
    assert tall.shape == (20, 40, 3)


def test_a_folder_yields_every_frame_and_an_error_for_a_bad_one(tmp_path):
    photo = imageio.load_image(SAMPLE)
    imageio.save_image(str(tmp_path / "a.png"), photo[:64, :64])
    (tmp_path / "b.png").write_bytes(b"garbage")
    imageio.save_image(str(tmp_path / "c.png"), photo[:80, :120])
    got = list(frames.open_frames(str(tmp_path), 32, 48, repeat=2))
    assert [os.path.basename(name) for name, _ in got] == ["a.png", "b.png", "c.png"] * 2
    assert isinstance(got[1][1], errors.SemcomError) and "cannot read image" in str(got[1][1])
    assert all(image.shape == (32, 48, 3) for _, image in got if not isinstance(image, Exception))


def test_a_video_written_is_read_back_frame_by_frame_at_the_size(tmp_path):
    pytest.importorskip("imageio_ffmpeg")
    path = str(tmp_path / "clip.mp4")
    writer = frames.VideoWriter(path, 10)
    for n in range(5):
        writer.add(np.full((48, 64, 3), 40 * n, np.uint8))
    writer.add(np.full((10, 10, 3), 200, np.uint8))  # another size: fitted to the first
    writer.close()
    got = list(frames.open_frames(path, 32, 32))
    assert writer.frames == 6 and len(got) == 6 and all(image.shape == (32, 32, 3) for _, image in got)
    assert [int(np.median(image)) // 10 for _, image in got] == [0, 4, 8, 12, 16, 20]
