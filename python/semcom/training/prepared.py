"""Prepared training data: the train/val photos decoded once into one uint8 array per split.

A prepared folder holds ``train.npy`` and ``val.npy`` (every image's HxWx3 pixels, flattened and
concatenated) and ``index.json`` (per split: names, shapes, offsets; the source's data-set hash and
the training scale). Loading it is one file read, so PNG decoding is off the training path, and
the folder is all a machine without the photo cache (a GPU box with a copy of the repository) needs.

Training photos may be shrunk once more by ``scale`` when the folder is made (Lanczos; 0.5 makes a
cache of about 30 MB from the 125 MB of the full train split); validation photos never are, so
validation stays at the resolution of the test photos.

``CropSampler`` draws training batches from it: random crops with flips and optional scale jitter
(a crop of ``crop/s`` px, ``s`` uniform in ``jitter``, resized to ``crop`` with antialiasing), from
its own ``torch.Generator`` (whose state checkpoints keep), on the training device.
"""
from __future__ import annotations

import hashlib
import json
import os

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import SemcomError

INDEX = "index.json"
FORMAT = 1
SPLITS = ("train", "val")


def default_root() -> str:
    """``$SEMCOM_PREPARED``, else ``~/.cache/gr-semcom/prepared``."""
    return os.path.abspath(os.path.expanduser(os.environ.get("SEMCOM_PREPARED") or "~/.cache/gr-semcom/prepared"))


def source_hash(data_cfg: dict) -> str | None:
    """Identity of the photos a config reads: the data cache's manifest hash, or for a folder a
    hash of its file names and sizes; None when there is no source here."""
    from .. import data, imageio
    if data_cfg.get("folder"):
        paths = imageio.list_images(data_cfg["folder"])
        h = hashlib.sha256("\n".join(f"{os.path.basename(p)} {os.path.getsize(p)}" for p in paths).encode())
        return "folder-" + h.hexdigest()
    try:
        return data.load_manifest(data_cfg.get("cache"))["hash"]
    except SemcomError:
        return None


def read_index(folder: str) -> dict | None:
    try:
        with open(os.path.join(folder, INDEX)) as f:
            index = json.load(f)
    except (OSError, ValueError):
        return None
    ok = index.get("format") == FORMAT and all(os.path.exists(os.path.join(folder, f"{s}.npy")) for s in SPLITS)
    return index if ok else None


def _shrink(im: np.ndarray, scale: float) -> np.ndarray:
    if scale == 1.0:
        return im
    from PIL import Image
    h, w = im.shape[:2]
    return np.asarray(Image.fromarray(im).resize((max(1, round(w * scale)), max(1, round(h * scale))),
                                                 Image.LANCZOS))


def centre_crop(im: np.ndarray, crop: int | None) -> np.ndarray:
    """The centre crop of at most ``crop`` x ``crop`` in whole model strides that validation takes
    (empty when the image is smaller than one stride); ``im`` itself for no ``crop``."""
    if not crop:
        return im
    from .models import STRIDE
    h, w = im.shape[:2]
    ch, cw = min(crop, h) // STRIDE * STRIDE, min(crop, w) // STRIDE * STRIDE
    y, x = (h - ch) // 2, (w - cw) // 2
    return im[y:y + ch, x:x + cw]


def write(folder: str, splits: dict, scale: float, source: str, val_crop: int | None = None) -> dict:
    """``splits``: {'train': [(name, HxWx3 uint8)], 'val': [...]}; train images shrunk by ``scale``;
    val images kept whole, or only the centre crops that validation at ``val_crop`` uses."""
    os.makedirs(folder, exist_ok=True)
    index = {"format": FORMAT, "source_hash": source, "scale": scale, "val_crop": val_crop, "splits": {}}
    for split in SPLITS:
        items = [(n, _shrink(im, scale) if split == "train" else centre_crop(im, val_crop)) for n, im in splits[split]]
        offsets, total = [], 0
        for _, im in items:
            offsets.append(total)
            total += im.size
        flat = np.empty(total, np.uint8)
        for (_, im), off in zip(items, offsets):
            flat[off:off + im.size] = np.ascontiguousarray(im, dtype=np.uint8).reshape(-1)
        tmp = os.path.join(folder, f".{split}.npy.tmp")
        with open(tmp, "wb") as f:
            np.save(f, flat)
        os.replace(tmp, os.path.join(folder, f"{split}.npy"))
        index["splits"][split] = {"names": [n for n, _ in items], "shapes": [list(im.shape) for _, im in items],
                                  "offsets": offsets}
    tmp = os.path.join(folder, f".{INDEX}.tmp")
    with open(tmp, "w") as f:
        json.dump(index, f)
    os.replace(tmp, os.path.join(folder, INDEX))
    return index


def prepare(data_cfg: dict, folder: str | None = None, scale: float | None = None,
            val_crop: int | None = None) -> str:
    """The prepared folder of the config's train/val photos; returns its path.

    ``folder`` None: a folder under ``default_root()`` named by the source's hash and the scale
    (``data.prepared_scale``), made on first use. A named ``folder`` that holds prepared data is
    used as it is, whatever made it, unless ``scale`` is given (making one: it is remade when
    its scale or source differ). ``val_crop``: keep only the val centre crops of that size (a
    compact folder to carry; validation at that ``data.val_crop`` sees the same pixels)."""
    from .. import data, imageio
    if folder is not None and scale is None and read_index(folder):
        return folder
    scale = float(data_cfg.get("prepared_scale", 1.0) if scale is None else scale)
    src = source_hash(data_cfg)
    if src is None:
        raise SemcomError(f"no photos to prepare{' into ' + folder if folder else ''}; {data.FETCH_HINT}")
    folder = folder or os.path.join(default_root(), f"{src[:16]}_s{scale:g}")
    index = read_index(folder)
    if index and index["source_hash"] == src and index["scale"] == scale and index.get("val_crop") == val_crop:
        return folder
    splits = {}
    for split in SPLITS:
        paths = split_paths(data_cfg, split)
        splits[split] = [(os.path.basename(p), imageio.load_image(p)) for p in paths]
    write(folder, splits, scale, src, val_crop)
    return folder


def split_paths(data_cfg: dict, split: str) -> list[str]:
    """Photo paths of ``split``; a folder has no splits, so the cache's name rule holds out 'val'."""
    from .. import data
    paths = data.split_paths(split, cache=data_cfg.get("cache"), folder=data_cfg.get("folder"))
    if data_cfg.get("folder"):
        held = [p for p in paths if data.split_of(os.path.basename(p)) == "val"]
        rest = [p for p in paths if p not in held]
        if held and rest:
            paths = held if split == "val" else rest
    return paths


class Images:
    """One split of a prepared folder: ``len``, ``image(i)`` (HxWx3 uint8 tensor view), ``to(device)``."""

    def __init__(self, flat: torch.Tensor, shapes, offsets, names=None):
        self.flat, self.shapes, self.offsets = flat, [tuple(s) for s in shapes], list(offsets)
        self.names = list(names or [])

    @classmethod
    def load(cls, folder: str, split: str) -> "Images":
        index = read_index(folder)
        if index is None:
            raise SemcomError(f"{folder} is not a prepared data folder")
        meta = index["splits"][split]
        flat = torch.from_numpy(np.load(os.path.join(folder, f"{split}.npy")))
        return cls(flat, meta["shapes"], meta["offsets"], meta["names"])

    @classmethod
    def from_arrays(cls, images: list[np.ndarray]) -> "Images":
        shapes = [im.shape for im in images]
        flat = np.concatenate([np.ascontiguousarray(im, dtype=np.uint8).reshape(-1) for im in images]) \
            if images else np.empty(0, np.uint8)
        offsets = np.concatenate([[0], np.cumsum([im.size for im in images])[:-1]]).astype(int).tolist() \
            if images else []
        return cls(torch.from_numpy(flat), shapes, offsets)

    def __len__(self):
        return len(self.shapes)

    def image(self, i: int) -> torch.Tensor:
        h, w, c = self.shapes[i]
        return self.flat[self.offsets[i]:self.offsets[i] + h * w * c].view(h, w, c)

    def arrays(self) -> list[np.ndarray]:
        return [self.image(i).cpu().numpy() for i in range(len(self))]

    def to(self, device) -> "Images":
        return Images(self.flat.to(device), self.shapes, self.offsets, self.names)


class CropSampler:
    """Batches (B, 3, crop, crop) float in [0, 1] of random crops, flips and scale jitter."""

    def __init__(self, images: Images, crop: int, batch: int, seed: int = 0, jitter=None, device="cpu"):
        self.crop, self.batch = int(crop), int(batch)
        self.jitter = tuple(float(v) for v in jitter) if jitter else None
        if self.jitter and not 0 < self.jitter[0] <= self.jitter[1] <= 1:
            raise SemcomError(f"scale jitter must be 0 < low <= high <= 1 (downscaling only), not {list(jitter)}")
        keep = [i for i in range(len(images)) if min(images.shapes[i][:2]) >= self.crop]
        if not keep:
            raise SemcomError(f"no training image is at least {crop}x{crop} px")
        self.images, self.keep, self.device = images.to(device), keep, torch.device(device)
        self.gen = torch.Generator().manual_seed(int(seed))

    def _one(self) -> torch.Tensor:
        g = self.gen
        i = self.keep[int(torch.randint(len(self.keep), (), generator=g))]
        im = self.images.image(i)
        h, w = im.shape[:2]
        size = self.crop
        if self.jitter:
            s = self.jitter[0] + (self.jitter[1] - self.jitter[0]) * float(torch.rand((), generator=g))
            size = min(h, w, max(self.crop, round(self.crop / s)))
        y = int(torch.randint(0, h - size + 1, (), generator=g))
        x = int(torch.randint(0, w - size + 1, (), generator=g))
        t = im[y:y + size, x:x + size].permute(2, 0, 1).float() / 255.0
        flips = torch.rand(2, generator=g)
        if flips[0] < 0.5:
            t = t.flip(2)
        if flips[1] < 0.5:
            t = t.flip(1)
        if size != self.crop:
            t = F.interpolate(t[None], size=(self.crop, self.crop), mode="bilinear", antialias=True,
                              align_corners=False)[0].clamp(0, 1)
        return t

    def __next__(self) -> torch.Tensor:
        return torch.stack([self._one() for _ in range(self.batch)])

    def __iter__(self):
        return self

    def state_dict(self) -> dict:
        return {"gen": self.gen.get_state()}

    def load_state_dict(self, state: dict) -> None:
        self.gen.set_state(state["gen"].cpu())  # a checkpoint loaded onto a GPU brings it there
