"""Offline photo data set: fetch into a cache, record checksums and splits, list and verify.

The photos ship inside Debian packages (training) and PyPI wheels (the held-out
"Kodak-like" test set, never trained on). Everything lands in
``cache_dir()`` as RGB PNG without metadata, described by ``manifest.json``:
one entry per image (path, sha256, size, source, licence, split) and a
top-level ``hash`` that identifies the data set. Any folder of images (DIV2K,
Kodak, your own) can stand in for the cache: ``split_paths(folder=...)``.
"""
from __future__ import annotations

import fnmatch
import functools
import hashlib
import io
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass
from urllib.parse import unquote

import numpy as np
from PIL import Image, ImageOps

from . import imageio
from .errors import SemcomError

SPLITS = ("train", "val", "test")
VAL_EVERY = 8  # about one training photo in 8 is held out for validation
MANIFEST = "manifest.json"
JPEG_SOI = b"\xff\xd8\xff"
FETCH_HINT = "run `semcom-data fetch` first, or pass a folder of your own images"


@dataclass(frozen=True)
class Source:
    """Photos inside one downloadable archive."""
    package: str  # Debian package, or pip requirement for a wheel
    folder: str  # "train" (Debian packages) or "test" (wheels)
    members: dict  # fnmatch pattern inside the archive -> licence note (debian/copyright overrides)
    skip: tuple = ()  # fnmatch patterns of photo labels that are artwork
    label_part: int = -1  # which path component names the photo
    big: bool = False  # skipped by --quick

    @property
    def name(self) -> str:
        return re.split(r"[=<>!~ ]", self.package)[0]


_PLASMA = ("BytheWater", "ColdRipple", "ColorfulCups", "DarkestHour", "EveningGlow", "FallenLeaf",
           "Grey", "Kite", "OneStandsOut", "Path", "summer_1am")
_WATERLOO = "Waterloo BragZone, free of copyright restrictions (sporco/data/README.rst)"
SOURCES = (
    Source("sporco==0.2.2.post1", "test", {
        "sporco/data/kodim23.png": "Kodak PhotoCD, released for unrestricted use; bottom row altered",
        "sporco/data/monarch.png": _WATERLOO, "sporco/data/sail.png": _WATERLOO,
        "sporco/data/tulips.png": _WATERLOO}),
    Source("scikit-image==0.26.*", "test", {
        "skimage/data/astronaut.png": "NASA, public domain",
        "skimage/data/chelsea.png": "CC0, Stefan van der Walt",
        "skimage/data/coffee.png": "CC0, Rachel Michetti",
        "skimage/data/rocket.jpg": "SpaceX, public domain",
        "skimage/data/motorcycle_*.png": "Middlebury 2014 stereo benchmark (Scharstein et al.)"}),
    Source("scikit-learn", "test", {
        "sklearn/datasets/images/*.jpg": "CC-BY-2.0, Flickr (sklearn/datasets/images/README.txt)"}),
    Source("lomiri-wallpapers-16.04", "train", {"usr/share/backgrounds/*_by_*.jpg": ""}, skip=("umang_*",)),
    Source("lomiri-wallpapers-20.04", "train", {"usr/share/backgrounds/Kleiber_by_Lukas_Baubkus.jpg": ""}),
    Source("mate-backgrounds", "train", {"usr/share/backgrounds/mate/nature/*.jpg": "GPL-2+"}),
    Source("plasma-workspace-wallpapers", "train", {
        f"usr/share/wallpapers/{d}/contents/images/2560x1600.jpg": "GPL-2+" for d in _PLASMA}, label_part=-4),
    Source("enlightenment-data", "train", {"usr/share/enlightenment/data/backgrounds/*.edj": "BSD-2-clause"},
           skip=("Dunes", "Flat-*", "Paper-Flower", "Squiggle*"), big=True),
)


# ---------------------------------------------------------------- cache and manifest

def cache_dir() -> str:
    """``$SEMCOM_DATA``, else ``~/.cache/gr-semcom/data``."""
    return os.path.abspath(os.path.expanduser(os.environ.get("SEMCOM_DATA") or "~/.cache/gr-semcom/data"))


def sha256_file(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def split_of(rel: str) -> str:
    """Split of an image from its path in the cache: test/ stays 'test'; a training photo is 'val'
    when the sha256 of its file name is 0 mod VAL_EVERY. The name, not the pixels, decides, so a
    photo keeps its split whatever else is in the cache and whichever Pillow wrote the PNG."""
    if rel.startswith("test/"):
        return "test"
    digest = hashlib.sha256(os.path.basename(rel).encode()).hexdigest()
    return "val" if int(digest, 16) % VAL_EVERY == 0 else "train"


def make_entry(cache: str, rel: str, **meta) -> dict:
    """Manifest entry of the image at ``cache/rel``; ``meta``: source, version, original, licence."""
    path = os.path.join(cache, rel)
    with Image.open(path) as im:
        width, height = im.size
    return {"path": rel, "sha256": sha256_file(path), "width": width, "height": height,
            "split": split_of(rel), **meta}


def dataset_hash(images: list[dict]) -> str:
    """sha256 over the sorted 'sha256 split' lines: the data set's identity for model cards."""
    lines = sorted(f"{e['sha256']} {e['split']}" for e in images)
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def make_manifest(images: list[dict]) -> dict:
    images = sorted(images, key=lambda e: e["path"])
    return {"format": 1, "hash": dataset_hash(images),
            "counts": {s: sum(e["split"] == s for e in images) for s in SPLITS}, "images": images}


def write_manifest(cache: str, manifest: dict) -> None:
    tmp = os.path.join(cache, f".{MANIFEST}.tmp")
    with open(tmp, "w") as f:
        json.dump(manifest, f, indent=1)
    os.replace(tmp, os.path.join(cache, MANIFEST))


def load_manifest(cache: str | None = None) -> dict:
    cache = cache or cache_dir()
    path = os.path.join(cache, MANIFEST)
    if not os.path.exists(path):
        raise SemcomError(f"no data set in {cache}; {FETCH_HINT}")
    try:
        with open(path) as f:
            manifest = json.load(f)
        if not isinstance(manifest.get("images"), list):
            raise ValueError("no image list")
    except (OSError, ValueError, AttributeError) as err:
        raise SemcomError(f"{path} is unreadable ({type(err).__name__}); run `semcom-data fetch` to rebuild it") from None
    return manifest


def problem(cache: str, entry: dict) -> str | None:
    """Why the cached file of ``entry`` is not as recorded, or None."""
    path = os.path.join(cache, entry["path"])
    if not os.path.isfile(path):
        return "missing"
    return None if sha256_file(path) == entry["sha256"] else "checksum mismatch"


def verify(cache: str | None = None) -> dict:
    """The manifest, after checking every file and the data set hash; SemcomError on any problem."""
    cache = cache or cache_dir()
    manifest = load_manifest(cache)
    images = manifest["images"]
    bad = [f"{e['path']}: {why}" for e in images if (why := problem(cache, e))]
    if manifest.get("hash") != dataset_hash(images):
        bad.append(f"{MANIFEST}: data set hash mismatch")
    if bad:
        more = f" and {len(bad) - 3} more" if len(bad) > 3 else ""
        raise SemcomError(f"{len(bad)} problem(s) in {cache} ({'; '.join(bad[:3])}{more}); "
                          "run `semcom-data fetch` to repair")
    return manifest


def split_paths(split: str | None, cache: str | None = None, folder: str | None = None) -> list[str]:
    """Image paths of ``split`` ('train', 'val', 'test'; None: all) in the cache, or every image
    directly inside ``folder`` when one is given (any folder of images, split ignored)."""
    if folder:
        return imageio.list_images(folder)
    if split is not None and split not in SPLITS:
        raise SemcomError(f"unknown split '{split}'; choose one of {', '.join(SPLITS)}")
    cache = cache or cache_dir()
    paths = [os.path.join(cache, e["path"]) for e in load_manifest(cache)["images"] if split in (None, e["split"])]
    if not paths:
        raise SemcomError(f"no {split + ' ' if split else ''}images in {cache}; {FETCH_HINT}")
    return paths


# ---------------------------------------------------------------- photo extraction

def largest_jpeg(blob: bytes) -> Image.Image:
    """The largest JPEG among those embedded in ``blob`` (an Enlightenment .edj background keeps one
    photo at about 13 sizes). Every FF D8 FF offset is tried; those PIL cannot open are skipped."""
    best, start = None, blob.find(JPEG_SOI)
    while start >= 0:
        try:
            im = Image.open(io.BytesIO(blob[start:]), formats=["JPEG"])
            if best is None or im.width * im.height > best.width * best.height:
                best = im
        except Exception:  # noqa: BLE001 (an SOI marker inside other data)
            pass
        start = blob.find(JPEG_SOI, start + 1)
    if best is None:
        raise SemcomError("no JPEG image inside the data")
    return best


def downscale_factor(width: int, height: int) -> int:
    """2, 3 or 4: the least that brings the short side to at most 1000 px."""
    return min(4, max(2, math.ceil(min(width, height) / 1000)))


def save_photo(im: Image.Image, path: str, downscale: bool) -> None:
    """RGB PNG without metadata (EXIF orientation applied); training photos shrunk by Lanczos."""
    with im:
        arr = imageio.to_rgb(ImageOps.exif_transpose(im))
    if downscale:
        h, w = arr.shape[:2]
        f = downscale_factor(w, h)
        arr = np.asarray(Image.fromarray(arr).resize((round(w / f), round(h / f)), Image.LANCZOS))
    imageio.save_image(path, arr)


def deb_licence(copyright_path: str, member: str) -> str | None:
    """License of ``member`` in a machine-readable debian/copyright (the last stanza whose Files
    pattern is '*' or names the same file wins)."""
    if not os.path.isfile(copyright_path):
        return None
    with open(copyright_path, errors="replace") as f:
        stanzas = f.read().split("\n\n")
    found = None
    for stanza in stanzas:
        fields = dict(re.findall(r"^(Files|License):(.*(?:\n[ \t].*)*)", stanza, re.M))
        patterns = fields.get("Files", "").split()
        if "License" in fields and any(p == "*" or os.path.basename(p) == os.path.basename(member) for p in patterns):
            found = fields["License"].splitlines()[0].strip()
    return found


def _matching(src: Source, names) -> list[tuple[str, str, str]]:
    """(member, label, licence note) of the archive members that are wanted photos."""
    out = []
    for name in sorted(names):
        pattern = next((p for p in src.members if fnmatch.fnmatch(name, p)), None)
        label = os.path.splitext(name.split("/")[src.label_part])[0]
        if pattern and not any(fnmatch.fnmatch(label, s) for s in src.skip):
            out.append((name, label, src.members[pattern]))
    return out


def _run(cmd: list[str], cwd: str) -> None:
    try:
        r = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    except FileNotFoundError:
        raise SemcomError(f"{cmd[0]} is not available on this system") from None
    if r.returncode:
        lines = [ln.strip() for ln in (r.stderr + r.stdout).splitlines() if ln.strip() and not ln.startswith("W:")]
        raise SemcomError(f"`{' '.join(cmd[:3])}` failed: {lines[-1] if lines else f'exit status {r.returncode}'}")


@functools.lru_cache(maxsize=None)
def _apt_update() -> None:
    _run(["apt-get", "update"], "/")


def _apt_download(package: str, dest: str) -> None:
    try:
        _run(["apt-get", "download", package], dest)
    except SemcomError as err:
        if os.geteuid() != 0:
            raise SemcomError(f"{err}; the package lists may be stale: as root run `apt-get update`") from None
        _apt_update()  # root: refresh the lists once, then retry
        _run(["apt-get", "download", package], dest)


def _photos(src: Source, archive: str, tmp: str):
    """(member, label, opened image, licence) of every wanted photo in a downloaded wheel or .deb."""
    if archive.endswith(".whl"):
        with zipfile.ZipFile(archive) as zf:
            for member, label, note in _matching(src, zf.namelist()):
                yield member, label, Image.open(io.BytesIO(zf.read(member))), note
        return
    root = os.path.join(tmp, "root")
    _run(["dpkg-deb", "-x", archive, root], tmp)
    names = [os.path.relpath(os.path.join(d, f), root).replace(os.sep, "/") for d, _, fs in os.walk(root) for f in fs]
    copyright_path = os.path.join(root, "usr/share/doc", src.name, "copyright")
    for member, label, note in _matching(src, names):
        path = os.path.join(root, member)
        if member.endswith(".edj"):
            with open(path, "rb") as f:
                im = largest_jpeg(f.read())
        else:
            im = Image.open(path)
        yield member, label, im, deb_licence(copyright_path, member) or note


def fetch_source(src: Source, cache: str, keep_downloads: bool = False) -> list[dict]:
    """Download one source, write its photos into ``cache/<folder>/<name>_<label>.png`` and return
    their manifest entries. The archive and extracted tree live in a temporary folder in the cache."""
    folder = os.path.join(cache, src.folder)
    os.makedirs(folder, exist_ok=True)
    for old in os.listdir(folder):  # leftovers of an earlier, interrupted or older fetch
        if old.startswith(src.name + "_"):
            os.remove(os.path.join(folder, old))
    with tempfile.TemporaryDirectory(dir=cache, prefix=".fetch-") as tmp:
        dl = os.path.join(tmp, "download")
        os.mkdir(dl)
        if src.folder == "test":
            _run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
                  "--disable-pip-version-check", "-d", dl, src.package], tmp)
        else:
            _apt_download(src.package, dl)
        (archive,) = [os.path.join(dl, n) for n in os.listdir(dl)]
        base = os.path.basename(archive)
        version = unquote(base.split("_")[1] if base.endswith(".deb") else base.split("-")[1])
        entries = []
        for member, label, im, licence in _photos(src, archive, tmp):
            rel = f"{src.folder}/{src.name}_{label}.png"
            save_photo(im, os.path.join(cache, rel), downscale=src.folder == "train")
            entries.append(make_entry(cache, rel, source=src.name, version=version, original=member, licence=licence))
        if not entries:
            raise SemcomError(f"no photos matched inside {base}")
        if keep_downloads:
            os.makedirs(os.path.join(cache, "downloads"), exist_ok=True)
            shutil.move(archive, os.path.join(cache, "downloads", base))
    return entries


def fetch(cache: str | None = None, only: str | None = None, quick: bool = False,
          keep_downloads: bool = False, log=None) -> dict:
    """Fetch every source not already in the cache with intact checksums; a source that fails is
    reported by ``log`` and skipped. The manifest is rewritten after each source (resumable)."""
    from tqdm import tqdm

    log = log or tqdm.write
    cache = cache or cache_dir()
    os.makedirs(cache, exist_ok=True)
    try:
        images = load_manifest(cache)["images"]
    except SemcomError:
        images = []
    for src in tqdm(SOURCES, unit="source", leave=False, disable=None):
        cached = [e for e in images if e["source"] == src.name]
        wanted = (only in (None, src.folder)) and not (quick and src.big)
        if not wanted or (cached and not any(problem(cache, e) for e in cached)):
            if cached:
                log(f"{src.name}: {len(cached)} {src.folder} images, cached")
            elif src.big and quick:
                log(f"{src.name}: skipped (--quick)")
            continue
        t0 = time.monotonic()
        try:
            new = fetch_source(src, cache, keep_downloads)
        except SemcomError as err:
            log(f"warning: {src.name} skipped: {err}")
            continue
        images = [e for e in images if e["source"] != src.name] + new
        write_manifest(cache, make_manifest(images))
        mp = sum(e["width"] * e["height"] for e in new) / 1e6
        log(f"{src.name} {new[0]['version']}: {len(new)} {src.folder} images, {mp:.1f} MP, {time.monotonic() - t0:.1f} s")
    if not images:
        raise SemcomError(f"no images could be fetched into {cache}; see the warnings above")
    manifest = make_manifest(images)
    write_manifest(cache, manifest)
    return manifest


def summary(manifest: dict, cache: str) -> str:
    images = manifest["images"]
    mp = sum(e["width"] * e["height"] for e in images) / 1e6
    counts = ", ".join(f"{n} {s}" for s, n in manifest["counts"].items())
    return f"{len(images)} images ({counts}), {mp:.1f} MP in {cache}; hash {manifest['hash']}"
