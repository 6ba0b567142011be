"""A classification head over the masked VQ-VAE's transmitted indices (the paper's downstream task).

The encoder and codebook stay as trained for reconstruction. Each image (resized to one tile) is
encoded with mask ratio 0.5; the indices' bits cross 16-QAM + LDPC 1/2 through the project's numpy
PHY (``LinkConfig.reference_symbols``: the same code and constellation as the GNU Radio chain,
exact LLRs, min-sum decoding), and the head reads what the receiver has at every position: the
expected basis vector of a received index under its bit posteriors, zeros where nothing arrived
(masked, or best codeword posterior <= 0.5). Three fully connected layers (the paper's decoder for
classification) give the class.

Data: scikit-learn's bundled digits (``load_digits``: 1797 8x8 images, 10 classes, inside the
wheel), or any labelled folder ``class/*.png``.
"""
from __future__ import annotations

import math
import os

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..errors import SemcomError


def digits(size: int) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """scikit-learn's digits as uint8 (n, size, size, 3) (nearest-neighbour upscaling), labels, names."""
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise SemcomError("the digits need scikit-learn (pip install scikit-learn); or give --folder") from None
    d = load_digits()
    small = (d.images / 16.0 * 255).astype(np.uint8)
    k = -(-size // 8)
    big = np.kron(small, np.ones((1, k, k), np.uint8))[:, :size, :size]
    return np.repeat(big[..., None], 3, axis=3), d.target.astype(np.int64), [str(i) for i in range(10)]


def folder(path: str, size: int) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """A labelled folder (one subfolder per class of images), each image resized to size x size."""
    from ..imageio import list_images, load_image, resize
    if not os.path.isdir(path):
        raise SemcomError(f"{path} is not a folder of class subfolders")
    names = sorted(d for d in os.listdir(path) if os.path.isdir(os.path.join(path, d)))
    images, labels = [], []
    for i, name in enumerate(names):
        for p in list_images(os.path.join(path, name)):
            images.append(resize(load_image(p), size, size))
            labels.append(i)
    if len(names) < 2 or not images:
        raise SemcomError(f"{path} needs at least two class subfolders with images")
    return np.stack(images), np.asarray(labels, np.int64), names


class Head(nn.Module):
    """Three fully connected layers over the N x d received vectors of one tile."""

    def __init__(self, positions: int, code_dim: int, classes: int, hidden: int = 256):
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(positions * code_dim, hidden), nn.ReLU(),
                                 nn.Linear(hidden, hidden // 2), nn.ReLU(), nn.Linear(hidden // 2, classes))

    def forward(self, received: torch.Tensor) -> torch.Tensor:
        return self.net(received)


CHUNK = 64  # images through the networks at once (bounded memory)


def transmit(model, images: np.ndarray, snr_db: float | None, seed: int = 0, epsilon: float = 0.0,
             head=None, labels=None, channel: str = "awgn") -> torch.Tensor:
    """(n, N, d) what the receiver has for every position: images (n, tile, tile, 3) through the
    encoder (mask ratio 0.5), the link (16-QAM + LDPC 1/2 over ``channel``: awgn, rayleigh or
    mimo8x4, see phy.channels.received) at ``snr_db`` (None: error-free), the codeword posterior.
    ``epsilon``: semantic noise at the transmitter first (eq. 7), against the head's cross-entropy
    on ``labels`` (to misclassify, as the paper's classification noise). CHUNK images at a time."""
    return torch.cat([_transmit(model, images[i:i + CHUNK], snr_db, seed + i, epsilon, head,
                                None if labels is None else labels[i:i + CHUNK], channel)
                      for i in range(0, len(images), CHUNK)])


def _received(model, x: torch.Tensor, keep: torch.Tensor, straight: bool = False):
    """The error-free received vectors (n, N, d), differentiable in x through the straight-through
    estimator when ``straight`` (what the attack differentiates)."""
    z_e, index, code, weight = model.encode(x, keep, torch.full((len(x),), 10.0))
    sent = model.send_flags(code.detach(), weight.detach(), model.fim_threshold, 2.0)
    vec = (z_e + (code - z_e).detach() if straight else code) * sent[..., None]
    out = torch.zeros(len(x), model.positions, model.code_dim)
    return out.scatter(1, keep[..., None].expand(-1, -1, model.code_dim), vec)


@torch.no_grad()
def _transmit(model, images: np.ndarray, snr_db: float | None, seed: int, epsilon: float, head, labels,
              channel: str):
    from ..phy import channels
    from ..phy.constellations import constellation
    from ..phy.link import LinkConfig
    model.eval()
    x = torch.from_numpy(images.astype(np.float32).transpose(0, 3, 1, 2) / 255.0)
    n = len(x)
    keep_n = int(round(model.positions * (1 - model.mask_ratio)))
    torch.manual_seed(seed)
    keep = model.keep_positions(n, keep_n, "cpu")
    if epsilon:
        from . import adversarial
        with torch.enable_grad():
            x = adversarial.transmitter_noise(lambda inp: head(_received(model, inp, keep, straight=True)),
                                              F.cross_entropy, x, epsilon, 5, target=torch.from_numpy(labels))
    _, index, code, weight = model.encode(x, keep, torch.full((n,), 10.0 if snr_db is None else float(snr_db)))
    sent = model.send_flags(code, weight, model.fim_threshold, 2.0)
    from .mvqvae import index_bits
    bits = index_bits(index, model.bits)  # (n, K, b)
    p1 = bits.clone()
    if snr_db is not None:
        link = LinkConfig("16qam", "ldpc-1/2")
        flat = bits[sent].reshape(-1).numpy().astype(np.uint8)
        rng = np.random.default_rng(seed)
        const = constellation("16qam")
        rx, nv = channels.received(channel, link.reference_symbols(flat), snr_db, rng)
        llr, _ = link.decode(const.llr(rx, nv), len(flat))
        p1[sent] = torch.from_numpy(1 / (1 + np.exp(-np.clip(llr, -40, 40)))).float().reshape(-1, model.bits)
    logp = model.codeword_posterior(p1)
    received = (logp.max(-1).values > math.log(0.5)) & sent
    vec = torch.softmax(logp, -1) @ model.book()
    out = torch.zeros(n, model.positions, model.code_dim)
    out.scatter_(1, keep[..., None].expand(-1, -1, model.code_dim), vec * received[..., None])
    return out


def train_head(model, images: np.ndarray, labels: np.ndarray, classes: int, steps: int = 600, seed: int = 0,
               snr_db: float | None = None) -> Head:
    """The head on the received vectors of ``images`` (error-free, a new mask draw every 100 steps)."""
    torch.manual_seed(seed)
    head = Head(model.positions, model.code_dim, classes)
    opt = torch.optim.Adam(head.parameters(), lr=1e-3)
    y = torch.from_numpy(labels)
    feats = None
    for step in range(steps):
        if step % 100 == 0:
            feats = transmit(model, images, snr_db, seed=seed + step)
        batch = torch.randint(0, len(images), (64,))
        loss = F.cross_entropy(head(feats[batch]), y[batch])
        opt.zero_grad()
        loss.backward()
        opt.step()
    return head.eval()


@torch.no_grad()
def accuracy(head: Head, feats: torch.Tensor, labels: np.ndarray) -> float:
    return float((head(feats).argmax(1).numpy() == labels).mean())
