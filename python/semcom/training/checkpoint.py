"""Model files and checkpoints: loaded without running code from them, written atomically.

``save`` stores tensors and plain Python values only (NumPy arrays become lists, NumPy scalars
numbers, str subclasses str), so ``load`` needs torch's weights-only unpickler and nothing more.
Files written before that held the NumPy RNG state as an array and the torch version as a
``TorchVersion``: ``LEGACY_GLOBALS`` lets exactly those load too.
"""
from __future__ import annotations

import os
import secrets
import warnings

import numpy as np
import torch

from ..errors import SemcomError

try:
    from numpy._core.multiarray import _reconstruct
except ImportError:  # NumPy 1
    from numpy.core.multiarray import _reconstruct

LEGACY_GLOBALS = [_reconstruct, np.ndarray, np.dtype, type(np.dtype(np.uint32)),
                  torch.torch_version.TorchVersion]


def plain(obj):
    """``obj`` with NumPy values and str subclasses replaced by plain Python values; a container is
    rebuilt only where something in it changed (a state dict keeps its type and metadata)."""
    if isinstance(obj, (np.ndarray, np.generic)):
        return obj.tolist()
    if isinstance(obj, str):
        return str(obj)
    if isinstance(obj, dict):
        values = {k: plain(v) for k, v in obj.items()}
        return obj if all(values[k] is v for k, v in obj.items()) else type(obj)(values)
    if isinstance(obj, (list, tuple)):
        values = [plain(v) for v in obj]
        return obj if all(a is b for a, b in zip(values, obj)) else type(obj)(values)
    return obj


def save(obj: dict, path: str) -> None:
    """Writes ``obj`` to ``path`` atomically: a temporary file in the same folder (permissions as
    ``open`` gives), synced, then renamed over ``path``."""
    tmp = f"{path}.{secrets.token_hex(4)}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(plain(obj), f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


_BOILERPLATE = ("Weights only load failed", "Please file an issue", "Check the documentation")


def _refusal(err: Exception) -> str:
    """Why torch refused a file, on one short line (its weights-only advice left out)."""
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    detail = [line for line in lines if not line.startswith(_BOILERPLATE)]
    first = (detail or lines or [type(err).__name__])[0].split(". ")[0][:160]
    if len(detail) < len(lines):
        return f"it holds code or objects other than tensors and plain values: {first}"
    return f"unreadable, truncated or damaged: {type(err).__name__}: {first}"


def load(path: str, map_location=None) -> dict:
    """The dict saved in ``path`` (tensors onto ``map_location``); SemcomError (one line) when the
    file does not exist or is not a gr-semcom model or checkpoint (code, other objects, truncated)."""
    if not os.path.isfile(path):
        raise SemcomError(f"{path} does not exist; train one with semcom-train")
    try:
        with torch.serialization.safe_globals(LEGACY_GLOBALS), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch's notes on a file's pickle protocol
            saved = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # noqa: BLE001 (unpickling, zip and EOF errors of a foreign or corrupt file)
        raise SemcomError(f"{path} is not a gr-semcom model or checkpoint ({_refusal(err)})") from None
    if not isinstance(saved, dict) or not isinstance(saved.get("model"), dict):
        raise SemcomError(f"{path} is not a gr-semcom model or checkpoint (no weights in it)")
    return saved
