"""semcom-data without network: manifest, splits, .edj extraction, verify, list."""
import io
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from gnuradio.semcom import data
from gnuradio.semcom.errors import SemcomError
from gnuradio.semcom.imageio import save_image

APP = os.path.join(os.path.dirname(__file__), "..", "apps", "semcom-data")


def app(*args):
    return subprocess.run([sys.executable, APP, *map(str, args)], capture_output=True, text=True, timeout=120)


def fake_cache(root, n_train=24, n_test=3):
    """A cache with random images and its manifest, as fetch would leave it."""
    rng = np.random.default_rng(0)
    rels = [f"train/synthetic_{i:02d}.png" for i in range(n_train)] + [f"test/synthetic_{i}.png" for i in range(n_test)]
    for rel in rels:
        save_image(os.path.join(root, rel), rng.integers(0, 256, (12, 16, 3), dtype=np.uint8))
    entries = [data.make_entry(str(root), rel, source="synthetic", licence="CC0") for rel in rels]
    data.write_manifest(str(root), data.make_manifest(entries))
    return entries


def test_manifest_entries_and_split_determinism(tmp_path):
    entries = fake_cache(tmp_path)
    manifest = data.load_manifest(str(tmp_path))
    assert manifest["images"] == sorted(entries, key=lambda e: e["path"])
    assert all(e["split"] == "test" for e in entries if e["path"].startswith("test/"))
    train = [e["split"] for e in entries if e["path"].startswith("train/")]
    assert set(train) == {"train", "val"}
    assert (entries[0]["width"], entries[0]["height"]) == (16, 12) and len(entries[0]["sha256"]) == 64
    # the hash ignores order, follows content and split; a photo's split ignores the other photos
    assert data.make_manifest(entries[::-1])["hash"] == manifest["hash"]
    assert data.make_manifest(entries[1:])["hash"] != manifest["hash"]
    assert [data.split_of(e["path"]) for e in entries] == [e["split"] for e in entries]
    names = [f"train/photo_{i}.png" for i in range(2000)]
    val = sum(data.split_of(n) == "val" for n in names) / len(names)
    assert abs(val - 1 / data.VAL_EVERY) < 0.03
    assert data.split_of("test/photo_0.png") == "test"


def test_split_paths_from_cache_and_folder(tmp_path):
    fake_cache(tmp_path)
    cache = str(tmp_path)
    test = data.split_paths("test", cache)
    assert len(test) == 3 and all(p.startswith(os.path.join(cache, "test")) for p in test)
    assert len(data.split_paths(None, cache)) == 27
    assert data.split_paths("val", folder=os.path.join(cache, "test")) == test
    with pytest.raises(SemcomError, match="semcom-data fetch"):
        data.split_paths("train", cache=str(tmp_path / "empty"))


def jpeg(size, colour):
    buf = io.BytesIO()
    Image.new("RGB", size, colour).save(buf, format="JPEG", quality=95)
    return buf.getvalue()


def test_largest_jpeg_from_edj_like_blob():
    blob = b"EET junk" + jpeg((40, 30), (0, 0, 255)) + b"\xff\xd8\xff not a jpeg" \
        + jpeg((200, 120), (255, 0, 0)) + os.urandom(100) + jpeg((80, 60), (0, 255, 0))
    im = data.largest_jpeg(blob)
    assert im.size == (200, 120)
    r, g, b = np.asarray(im.convert("RGB"), dtype=int).mean(axis=(0, 1))
    assert r > 240 and g < 15 and b < 15
    with pytest.raises(SemcomError):
        data.largest_jpeg(b"no image here \xff\xd8\xff")


def test_downscale_and_skip_rules():
    assert data.downscale_factor(3840, 2160) == 3 and data.downscale_factor(2560, 1600) == 2
    assert data.downscale_factor(1365, 1074) == 2 and data.downscale_factor(6028, 3391) == 4
    edj = next(s for s in data.SOURCES if s.name == "enlightenment-data")
    names = [f"usr/share/enlightenment/data/backgrounds/{n}.edj" for n in ("Bamboo", "Dunes", "Squiggle-Dark")]
    assert [label for _, label, _ in data._matching(edj, names)] == ["Bamboo"]


def test_deb_licence(tmp_path):
    path = tmp_path / "copyright"
    path.write_text("Format: x\n\nFiles: *\nCopyright: me\nLicense: GPL-2+\n text\n\n"
                    "Files: 16.04/a_by_b.jpg\n 16.04/c_by_d.jpg\nLicense: CC0-1.0\n\nFiles: debian/*\nLicense: MIT\n")
    assert data.deb_licence(str(path), "usr/share/backgrounds/c_by_d.jpg") == "CC0-1.0"
    assert data.deb_licence(str(path), "usr/share/backgrounds/e_by_f.jpg") == "GPL-2+"
    assert data.deb_licence(str(tmp_path / "none"), "x.jpg") is None


def test_verify_detects_tampered_and_missing_files(tmp_path):
    entries = fake_cache(tmp_path)
    assert data.verify(str(tmp_path))["hash"] == data.dataset_hash(entries)
    r = app("verify", "--cache", tmp_path)
    assert r.returncode == 0 and r.stdout.startswith("ok: 27 images")
    with open(tmp_path / entries[0]["path"], "ab") as f:
        f.write(b"\0")
    os.remove(tmp_path / entries[1]["path"])
    with pytest.raises(SemcomError, match="checksum mismatch.*missing"):
        data.verify(str(tmp_path))
    r = app("verify", "--cache", tmp_path)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "2 problem(s)" in r.stderr


def test_list_cli(tmp_path):
    fake_cache(tmp_path / "cache")
    r = app("list", "--cache", tmp_path / "cache", "--split", "test")
    assert r.returncode == 0 and len(r.stdout.split()) == 3
    r = app("list", "--folder", tmp_path / "cache" / "train")
    assert r.returncode == 0 and len(r.stdout.split()) == 24
    r = app("list", "--cache", tmp_path / "nothing")
    assert r.returncode == 2 and "semcom-data fetch" in r.stderr and r.stderr.count("\n") == 1
