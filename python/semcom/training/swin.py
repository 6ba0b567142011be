"""Swin Transformer analysis and synthesis transforms (the WITT / BitSemCom backbone).

Encoder: 2x2 patch embedding, then four stages of (shifted-)window attention blocks with 2x2
patch merging between them, so a (3, H, W) image becomes (C, H/16, W/16) features (WITT's layout;
the paper preset is dims [128, 192, 256, 320], depths [2, 2, 6, 2], window 8, heads dims/32).
Decoder: the mirror image, with 2x patch expanding (linear to 4x channels, pixel shuffle).

Feature maps whose sides are not multiples of the window are zero-padded inside each block and
cropped back, and the shifted-window mask is built from the padded size in the graph, so the
modules export to ONNX with dynamic H and W (any multiple of 16).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def _region_ids(n: torch.Tensor, window: int, shift: int, device) -> torch.Tensor:
    """Per row (or column) of a padded side n: 0, 1, 2 for the three shifted-window regions."""
    idx = torch.arange(n, device=device)
    return (idx >= n - window).long() + (idx >= n - shift).long()


class WindowAttention(nn.Module):
    def __init__(self, dim: int, heads: int, window: int):
        super().__init__()
        self.heads, self.window, self.scale = heads, window, (dim // heads) ** -0.5
        self.qkv, self.proj = nn.Linear(dim, 3 * dim), nn.Linear(dim, dim)
        self.bias_table = nn.Parameter(torch.zeros((2 * window - 1) ** 2, heads))
        nn.init.trunc_normal_(self.bias_table, std=0.02)
        coords = torch.stack(torch.meshgrid(torch.arange(window), torch.arange(window), indexing="ij")).flatten(1)
        rel = (coords[:, :, None] - coords[:, None, :]).permute(1, 2, 0) + window - 1
        self.register_buffer("bias_index", rel[..., 0] * (2 * window - 1) + rel[..., 1], persistent=False)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        """x (B*nW, N, C); mask (nW, N, N) of 0 / -100 or None."""
        bw, n, c = x.shape
        qkv = self.qkv(x).reshape(bw, n, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        attn = (q * self.scale) @ k.transpose(-2, -1)
        attn = attn + self.bias_table[self.bias_index.reshape(-1)].reshape(n, n, -1).permute(2, 0, 1)[None]
        if mask is not None:
            nw = mask.shape[0]
            attn = attn.reshape(-1, nw, self.heads, n, n) + mask[None, :, None]
            attn = attn.reshape(-1, self.heads, n, n)
        out = attn.softmax(-1) @ v
        return self.proj(out.transpose(1, 2).reshape(bw, n, c))


class SwinBlock(nn.Module):
    """Pre-norm (shifted) window attention + MLP on (B, H, W, C) feature maps."""

    def __init__(self, dim: int, heads: int, window: int, shift: bool, mlp_ratio: float = 4.0):
        super().__init__()
        self.window, self.shift = window, window // 2 if shift else 0
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.attn = WindowAttention(dim, heads, window)
        hidden = int(dim * mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))

    def _mask(self, hp, wp, device) -> torch.Tensor:
        ws, s = self.window, self.shift
        ids = _region_ids(hp, ws, s, device)[:, None] * 3 + _region_ids(wp, ws, s, device)[None, :]
        ids = ids.reshape(hp // ws, ws, wp // ws, ws).permute(0, 2, 1, 3).reshape(-1, ws * ws)
        return (ids[:, :, None] != ids[:, None, :]).float() * -100.0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, h, w, c = x.shape
        ws = self.window
        y = self.norm1(x)
        pad_h, pad_w = (ws - h % ws) % ws, (ws - w % ws) % ws
        y = F.pad(y, (0, 0, 0, pad_w, 0, pad_h))
        hp, wp = h + pad_h, w + pad_w
        mask = None
        if self.shift:
            y = torch.roll(y, shifts=(-self.shift, -self.shift), dims=(1, 2))
            mask = self._mask(hp, wp, x.device)
        win = y.reshape(b, hp // ws, ws, wp // ws, ws, c).permute(0, 1, 3, 2, 4, 5).reshape(-1, ws * ws, c)
        win = self.attn(win, mask)
        y = win.reshape(b, hp // ws, wp // ws, ws, ws, c).permute(0, 1, 3, 2, 4, 5).reshape(b, hp, wp, c)
        if self.shift:
            y = torch.roll(y, shifts=(self.shift, self.shift), dims=(1, 2))
        x = x + y[:, :h, :w]
        return x + self.mlp(self.norm2(x))


class Stage(nn.Module):
    def __init__(self, dim: int, depth: int, heads: int, window: int):
        super().__init__()
        self.blocks = nn.Sequential(*[SwinBlock(dim, heads, window, shift=i % 2 == 1) for i in range(depth)])

    def forward(self, x):
        return self.blocks(x)


class PatchMerging(nn.Module):
    """(B, H, W, C) -> (B, H/2, W/2, C') by 2x2 space-to-depth, LayerNorm, linear."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.norm, self.reduce = nn.LayerNorm(4 * cin), nn.Linear(4 * cin, cout)

    def forward(self, x):
        x = F.pixel_unshuffle(x.permute(0, 3, 1, 2), 2).permute(0, 2, 3, 1)
        return self.reduce(self.norm(x))


class PatchExpand(nn.Module):
    """(B, H, W, C) -> (B, 2H, 2W, C') by a linear to 4C' and 2x2 depth-to-space."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.expand, self.norm = nn.Linear(cin, 4 * cout), nn.LayerNorm(cout)

    def forward(self, x):
        x = F.pixel_shuffle(self.expand(x).permute(0, 3, 1, 2), 2).permute(0, 2, 3, 1)
        return self.norm(x)


def heads_for(dims) -> list[int]:
    return [max(1, d // 32) for d in dims]


class SwinAnalysis(nn.Module):
    """(B, 3, H, W) in [-1, 1] -> (B, C, H/16, W/16)."""

    def __init__(self, latent_channels: int, dims, depths, window: int, heads=None):
        super().__init__()
        heads = heads or heads_for(dims)
        self.embed = nn.Conv2d(3, dims[0], 2, stride=2)
        self.embed_norm = nn.LayerNorm(dims[0])
        layers = []
        for i, (d, n, h) in enumerate(zip(dims, depths, heads)):
            if i:
                layers.append(PatchMerging(dims[i - 1], d))
            layers.append(Stage(d, n, h, window))
        self.stages = nn.Sequential(*layers)
        self.norm, self.head = nn.LayerNorm(dims[-1]), nn.Linear(dims[-1], latent_channels)

    def forward(self, x):
        x = self.embed_norm(self.embed(x).permute(0, 2, 3, 1))
        x = self.head(self.norm(self.stages(x)))
        return x.permute(0, 3, 1, 2)


class SwinSynthesis(nn.Module):
    """(B, C, h, w) -> (B, 3, 16h, 16w) pre-sigmoid."""

    def __init__(self, latent_channels: int, dims, depths, window: int, heads=None):
        super().__init__()
        dims, depths = list(dims)[::-1], list(depths)[::-1]
        heads = (heads or heads_for(dims[::-1]))[::-1]
        self.head = nn.Linear(latent_channels, dims[0])
        layers = []
        for i, (d, n, h) in enumerate(zip(dims, depths, heads)):
            layers.append(Stage(d, n, h, window))
            if i + 1 < len(dims):
                layers.append(PatchExpand(d, dims[i + 1]))
        self.stages = nn.Sequential(*layers)
        self.norm = nn.LayerNorm(dims[-1])
        self.out = nn.Linear(dims[-1], 3 * 4)  # the last 2x: 2x2 RGB patches

    def forward(self, z):
        x = self.stages(self.head(z.permute(0, 2, 3, 1)))
        x = self.out(self.norm(x)).permute(0, 3, 1, 2)
        return F.pixel_shuffle(x, 2)
