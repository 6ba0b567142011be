"""Masked VQ-VAE (Hu et al., "Robust Semantic Communications With Masked VQ-VAE Enabled Codebook").

An image is cut into tiles of ``tile`` px, the ViT's fixed grid of N = (tile/patch)^2 positions
(photos of any size: tiles, so no positional embedding is ever interpolated). Per tile:

* **Masking** (Section III-A): K of the N positions are kept, drawn by Gumbel-top-K over the
  per-position log-weights ``mask_logits`` (all zero: uniform random masking, the ablation; the
  noise-related strategy sets them from measured semantic-noise energy, ``noise_mask_logits``).
* **Encoder**: patch embedding (conv patch x patch) plus 2-D sine-cosine positions, ViT blocks
  over the kept tokens only.
* **FIM** (Section IV-A, eq. 13-14): the GAP of each token and the SNR go through FC-ReLU-FC to
  one weight per position, softmax over the kept ones, scaled to mean 1; tokens are reweighted by
  it, and a token whose weight is below ``fim_threshold`` is not sent.
* **Codebook** (Section III-B): a linear map to ``code_dim``, nearest of J = ``codebook`` basis
  vectors (eq. 11), straight-through gradient, loss eq. 12 (beta), plus the orthogonality term of
  Section IV-B3 and the similarity loss eq. 17 (``extra_loss``).
* **Similarity** (Section IV-B1): a token whose codeword is more similar (cosine) than ``delta``
  to the previous kept token's is not sent; the receiver copies that one (``copy_flags``).
* **Channel**: each position carries its index as log2(J) bits, MSB first, laid out as bit planes
  (B, log2 J, H/patch, W/patch): the channel callable of the trainer sees them as BitSemCom's.
  Positions not sent read P(b=1) = 0.5.
* **Decoder**: the posterior of every codeword from the bits' P(b=1) (exact, independent bits);
  a position whose most probable codeword has posterior <= 0.5 is erased (never sent, lost, or
  too uncertain) and gets the learned mask token, the others the expected basis vector; 2-D
  positions, ViT blocks, a linear head to patch pixels; then a small conv refinement over the
  stitched image, across tile seams.

The runtime (``codecs/masked_vq.py``) runs the same steps from the exported ONNX files.
"""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .mvqvae_export import export_mvqvae
from .registry import register_method

PRESETS = {
    "tiny": {"dim": 32, "depth": 1, "heads": 2, "dec_dim": 32, "dec_depth": 1, "dec_heads": 2, "refine": 8},
    "small": {"dim": 192, "depth": 6, "heads": 3, "dec_dim": 128, "dec_depth": 4, "dec_heads": 4, "refine": 32},
    "paper": {"dim": 768, "depth": 14, "heads": 12, "dec_dim": 256, "dec_depth": 3, "dec_heads": 8, "refine": 32},
}
RESTART_EVERY = 100  # steps between restarts of unused codewords (a deviation: see DEVIATIONS)
DEVIATIONS = [
    "images of any size run as independent 128x128 tiles (the ViT's fixed grid), stitched and refined "
    "by a 3-layer conv over the whole image",
    "FIM weights come from the network's output for this image (FC-ReLU-FC over the GAP of each token and "
    "the SNR), not from the column means of the last layer's weight matrix (eq. 14), so that they depend "
    "on the image; for reconstruction there is no label, so eq. 15's auxiliary cross-entropy is not used",
    "orthogonality term: the mean of (E^T E - I)^2 over the normalised basis vectors (the paper's "
    "||E^T E||_2 counts the constant diagonal); similarity loss eq. 17 as the mean squared cosine of a "
    "tile's tokens (weight 0 in the shipped recipe)",
    "similarity rule: a token alike (cosine > delta) to the previous kept token is not sent and the "
    "receiver copies that one (one bit of side information), rather than dropping it: dropped, the "
    "rule sent 652 of 6144 kept tokens of kodim23 at delta 0.98 and cost 6 dB; it is off in training "
    "(delta > 1) and the runtime's delta is measured in the ablation",
    "features and basis vectors are l2-normalised before the nearest-neighbour lookup (ViT-VQGAN; "
    "without it 17 of 256 codewords were in use after 250 steps and the PSNR stalled at 11 dB)",
    "for the first vq_warmup steps the decoder reads the encoder output itself; k-means over those "
    "outputs then starts the codebook (without it the codebook collapsed to 17-39 codewords)",
    "patch embedding by log2(patch) stride-2 convs and a pixel-shuffle conv head in place of the linear "
    "patch projection and head (early convolutions: faster training on CPUs; the ViT blocks are the paper's)",
    "codewords unused for 100 steps restart at random encoder outputs (a standard VQ-VAE remedy for "
    "dead codewords, not in the paper)",
    "the decoder reads the exact codeword posterior of each position's bits (soft), and erases a "
    "position whose best codeword has posterior <= 0.5",
    "masking: training masked uniformly; the noise-related weights are measured on the trained model (the "
    "semantic noise's per-position saliency, research/mvqvae_study.py noise-map) and carried by the adversarially "
    "trained model; the shipped model masks uniformly, which scored 0.08 dB higher",
    "adversarial training (Algorithm 2) is a recipe stage with its own cosine from 5e-5 and codebook upkeep "
    "paused; 150 steps of it on the shipped model (each costs eight) lost 0.8 dB clean and no less under "
    "semantic noise than the same fine-tune without it (research/mvqvae_study.py at-train, robustness), so "
    "the shipped model has none",
    "network size and data: the small preset (about 3.7 M parameters; the paper's 14-layer, 12-head encoder is "
    "preset 'paper') trained on 128 px crops of the semcom-data photos on one CPU, not ImageNet",
]


def sincos_2d(grid: int, dim: int) -> torch.Tensor:
    """(grid*grid, dim) fixed 2-D sine-cosine positions (MAE), row-major."""
    quarter = dim // 4
    omega = 1.0 / 10000 ** (torch.arange(quarter, dtype=torch.float32) / max(quarter, 1))
    ys, xs = torch.meshgrid(torch.arange(grid, dtype=torch.float32), torch.arange(grid, dtype=torch.float32),
                            indexing="ij")
    parts = []
    for coord in (ys.reshape(-1), xs.reshape(-1)):
        arg = coord[:, None] * omega[None]
        parts += [torch.sin(arg), torch.cos(arg)]
    emb = torch.cat(parts, 1)
    return F.pad(emb, (0, dim - emb.shape[1]))


class Block(nn.Module):
    """Pre-norm transformer block (multi-head self-attention, MLP x4)."""

    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.heads = heads
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.qkv, self.proj = nn.Linear(dim, 3 * dim), nn.Linear(dim, dim)
        self.mlp = nn.Sequential(nn.Linear(dim, 4 * dim), nn.GELU(), nn.Linear(4 * dim, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, d = x.shape
        q, k, v = self.qkv(self.norm1(x)).reshape(b, n, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        att = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(d // self.heads), -1)
        x = x + self.proj((att @ v).transpose(1, 2).reshape(b, n, d))
        return x + self.mlp(self.norm2(x))


def conv_stem(patch: int, dim: int) -> nn.Sequential:
    """Patch embedding as log2(patch) stride-2 3x3 convs (an early-convolution ViT stem: it trains
    several times faster on our CPUs than one patch x patch projection). He-initialised: with
    torch's default each conv shrinks the signal, and at patch 16 what the patches hold came out
    at 0.5 % of the positional embedding, too little for the decoder to find (it stayed at the
    mean image); He init keeps it of the positions' order at any patch size."""
    layers, cin, n = [], 3, int(round(math.log2(patch)))
    for i in range(n):
        cout = dim if i == n - 1 else max(16, dim >> (n - 1 - i))
        conv = nn.Conv2d(cin, cout, 3, stride=2, padding=1)
        nn.init.kaiming_normal_(conv.weight, nonlinearity="relu")
        nn.init.zeros_(conv.bias)
        layers += [conv] + ([nn.GELU()] if i < n - 1 else [])
        cin = cout
    return nn.Sequential(*layers)


def conv_head(patch: int, dim: int) -> nn.Sequential:
    """Tokens (as a (dim, g, g) map) to pixels: log2(patch) x (3x3 conv, pixel shuffle x2), then RGB."""
    layers, cin = [], dim
    for _ in range(int(round(math.log2(patch)))):
        cout = max(16, cin // 2)
        layers += [nn.Conv2d(cin, 4 * cout, 3, padding=1), nn.PixelShuffle(2), nn.GELU()]
        cin = cout
    return nn.Sequential(*layers, nn.Conv2d(cin, 3, 3, padding=1))


def index_bits(indices: torch.Tensor, bits: int) -> torch.Tensor:
    """(..., ) int64 indices -> (..., bits) float 0/1, MSB first."""
    shifts = torch.arange(bits - 1, -1, -1, device=indices.device)
    return ((indices[..., None] >> shifts) & 1).to(torch.float32)


def label_matrix(codebook: int, bits: int) -> torch.Tensor:
    """(J, bits): the bits of every index, MSB first."""
    return index_bits(torch.arange(codebook), bits)


class MaskedVQVAE(nn.Module):
    """Encoder, codebook, FIM and decoder; ``latent_channels`` = bits per index (log2 J), stride = patch."""

    channels_last_safe = False
    method = "mvqvae"

    def __init__(self, patch: int = 8, tile: int = 128, codebook: int = 256, code_dim: int = 32,
                 preset: str = "small", mask_ratio: float = 0.5, mask_ratio_range=(0.0, 0.75), beta: float = 0.25,
                 ortho_weight: float = 0.1, similarity_weight: float = 0.0, fim: bool = True,
                 fim_threshold: float = 0.25, delta: float = 0.98, snr_range=(0.0, 20.0), normalize: bool = True,
                 vq_warmup: int = 0, maintain_codebook: bool = True,
                 **overrides):
        super().__init__()
        if preset not in PRESETS:
            raise ValueError(f"unknown preset '{preset}'; choose one of {', '.join(PRESETS)}")
        if tile % patch or patch < 2:
            raise ValueError(f"tile {tile} must be a multiple of patch {patch}")
        bits = int(round(math.log2(codebook)))
        if 2 ** bits != codebook or not 1 <= bits <= 16:
            raise ValueError(f"codebook size {codebook} must be a power of two from 2 to 65536")
        p = {**PRESETS[preset], **{k: v for k, v in overrides.items() if v is not None}}
        self.preset, self.architecture = preset, p
        self.patch, self.tile, self.grid = patch, tile, tile // patch
        self.positions, self.codebook_size, self.bits, self.code_dim = self.grid ** 2, codebook, bits, code_dim
        self.latent_channels, self.stride = bits, patch
        self.mask_ratio, self.mask_ratio_range = float(mask_ratio), tuple(float(v) for v in mask_ratio_range)
        self.beta, self.ortho_weight, self.similarity_weight = float(beta), float(ortho_weight), float(similarity_weight)
        self.fim_threshold, self.delta, self.snr_range = float(fim_threshold), float(delta), tuple(snr_range)
        self.normalize = bool(normalize)
        dim, ddim = int(p["dim"]), int(p["dec_dim"])
        self.embed = conv_stem(patch, dim)
        self.register_buffer("pos", sincos_2d(self.grid, dim), persistent=False)
        self.register_buffer("dec_pos", sincos_2d(self.grid, ddim), persistent=False)
        self.encoder = nn.Sequential(*[Block(dim, int(p["heads"])) for _ in range(int(p["depth"]))])
        self.enc_norm = nn.LayerNorm(dim)
        n = self.positions
        self.fim = nn.Sequential(nn.Linear(n + 1, n), nn.ReLU(), nn.Linear(n, n)) if fim else None
        self.to_code = nn.Linear(dim, code_dim)
        self.codewords = nn.Parameter(torch.randn(codebook, code_dim) * 0.1)
        self.register_buffer("labels", label_matrix(codebook, bits), persistent=False)
        self.register_buffer("mask_logits", torch.zeros(n))  # masking strategy: log-weight of keeping each position
        self.register_buffer("usage", torch.zeros(codebook))
        self.register_buffer("vq_started", torch.tensor(vq_warmup == 0))
        self.vq_warmup = int(vq_warmup)
        self.maintain_codebook = bool(maintain_codebook)  # training steps restart dead codewords (off: frozen)
        self.from_code = nn.Linear(code_dim, ddim)
        self.mask_token = nn.Parameter(torch.zeros(ddim))
        self.decoder = nn.Sequential(*[Block(ddim, int(p["dec_heads"])) for _ in range(int(p["dec_depth"]))])
        self.dec_norm = nn.LayerNorm(ddim)
        self.head = conv_head(patch, ddim)
        r = int(p["refine"])
        self.refine = nn.Sequential(nn.Conv2d(3, r, 3, padding=1), nn.GELU(), nn.Conv2d(r, r, 3, padding=1), nn.GELU(),
                                    nn.Conv2d(r, 3, 3, padding=1))
        nn.init.zeros_(self.refine[-1].weight)
        nn.init.zeros_(self.refine[-1].bias)
        self._extra = None
        self._steps = 0

    # ------------------------------------------------------------ tiles
    def to_tiles(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) with H, W multiples of the tile -> (B * tiles, C, tile, tile), row-major tiles."""
        b, c, h, w = x.shape
        t = self.tile
        x = x.reshape(b, c, h // t, t, w // t, t).permute(0, 2, 4, 1, 3, 5)
        return x.reshape(-1, c, t, t)

    def from_tiles(self, x: torch.Tensor, batch: int, rows: int, cols: int) -> torch.Tensor:
        c, t = x.shape[1], x.shape[-1]
        return x.reshape(batch, rows, cols, c, t, t).permute(0, 3, 1, 4, 2, 5).reshape(batch, c, rows * t, cols * t)

    def planes(self, per_position: torch.Tensor, batch: int, rows: int, cols: int) -> torch.Tensor:
        """(B * tiles, N, C) -> (B, C, H/patch, W/patch): positions back to the image's grid."""
        g, c = self.grid, per_position.shape[-1]
        x = per_position.reshape(batch * rows * cols, g, g, c).permute(0, 3, 1, 2)
        return self.from_tiles(x, batch, rows, cols)

    def unplanes(self, planes: torch.Tensor) -> torch.Tensor:
        """(B, C, H/patch, W/patch) -> (B * tiles, N, C)."""
        b, c = planes.shape[:2]
        g = self.grid
        x = planes.reshape(b, c, planes.shape[2] // g, g, planes.shape[3] // g, g).permute(0, 2, 4, 3, 5, 1)
        return x.reshape(-1, g * g, c)

    # ------------------------------------------------------------ transmitter
    def keep_positions(self, tiles: int, keep: int, device) -> torch.Tensor:
        """(tiles, keep) kept positions, ascending: Gumbel-top-K over ``mask_logits``."""
        u = torch.rand(tiles, self.positions, device=device).clamp(1e-9, 1 - 1e-9)
        keys = self.mask_logits[None] - torch.log(-torch.log(u))
        return torch.sort(torch.topk(keys, keep, dim=1).indices, dim=1).values

    def encode(self, tiles: torch.Tensor, keep: torch.Tensor, snr_db: torch.Tensor):
        """Tiles (T, 3, t, t), kept positions (T, K), SNR (T,) -> encoder output z_e (T, K, d),
        nearest indices (T, K), their codewords (T, K, d) and the FIM weights (T, K) (ones without FIM)."""
        tok = self.embed(tiles).flatten(2).transpose(1, 2) + self.pos[None]  # (T, N, D)
        tok = torch.gather(tok, 1, keep[..., None].expand(-1, -1, tok.shape[-1]))
        tok = self.enc_norm(self.encoder(tok))
        weight = torch.ones(keep.shape, dtype=tok.dtype, device=tok.device)
        if self.fim is not None:
            gap = torch.zeros(tok.shape[0], self.positions, dtype=tok.dtype, device=tok.device)
            gap = gap.scatter(1, keep, tok.mean(-1))  # eq. 13; positions not kept read 0
            logits = self.fim(torch.cat([snr_db.to(tok.dtype)[:, None] / 10.0, gap], 1))
            weight = torch.softmax(torch.gather(logits, 1, keep), 1) * keep.shape[1]  # mean 1 over the kept
            tok = tok * weight[..., None]
        z_e = self.to_code(tok).float()
        book = self.book()
        if self.normalize:
            z_e = F.normalize(z_e, dim=-1)
        dist = z_e.pow(2).sum(-1, keepdim=True) - 2 * z_e @ book.t() + book.pow(2).sum(-1)[None, None]
        index = dist.argmin(-1)
        return z_e, index, book[index], weight

    def book(self) -> torch.Tensor:
        """The basis vectors as looked up: on the unit sphere with ``normalize``."""
        return F.normalize(self.codewords, dim=-1) if self.normalize else self.codewords

    def copy_flags(self, code: torch.Tensor, weight: torch.Tensor, fim_threshold, delta) -> torch.Tensor:
        """(T, K) bool: the similarity rule. A token whose codeword is more similar (cosine) than
        delta to the previous kept token's, both passing the FIM, is not sent: the receiver copies
        the previous one (so a run of alike patches costs one index)."""
        by_fim = weight >= fim_threshold
        unit = F.normalize(code, dim=-1)
        similar = (unit[:, 1:] * unit[:, :-1]).sum(-1) > delta
        copy = by_fim[:, 1:] & by_fim[:, :-1] & similar
        return torch.cat([torch.zeros_like(by_fim[:, :1]), copy], 1)

    def send_flags(self, code: torch.Tensor, weight: torch.Tensor, fim_threshold, delta) -> torch.Tensor:
        """(T, K) bool: sent = the FIM weight reaches the threshold and the token is not a copy."""
        return (weight >= fim_threshold) & ~self.copy_flags(code, weight, fim_threshold, delta)

    # ------------------------------------------------------------ receiver
    def codeword_posterior(self, p1: torch.Tensor) -> torch.Tensor:
        """(.., bits) P(b=1) -> (.., J) log-posterior of every codeword (independent bits)."""
        p = p1.float().clamp(1e-7, 1 - 1e-7)
        return torch.log(p) @ self.labels.t() + torch.log1p(-p) @ (1 - self.labels).t()

    def decode_tokens(self, p1: torch.Tensor, straight=None) -> torch.Tensor:
        """(T, N, bits) P(b=1) -> tiles (T, 3, t, t). ``straight``: (z_e (T, N, d), sent (T, N)) for
        the straight-through gradient of training."""
        logp = self.codeword_posterior(p1)
        received = logp.max(-1).values > math.log(0.5)
        vec = torch.softmax(logp, -1) @ self.book()  # expected basis vector
        if straight is not None:
            z_e, sent = straight
            quantized = z_e + (vec - z_e).detach() if self.vq_on else z_e  # before the codebook starts: z_e itself
            vec = torch.where(sent[..., None], quantized, vec)
        # unit basis vectors times sqrt(d): entries of order 1, like the positions added next
        tok = torch.where(received[..., None], self.from_code(vec * math.sqrt(self.code_dim)),
                          self.mask_token.to(vec.dtype)[None, None])
        tok = self.dec_norm(self.decoder(tok + self.dec_pos[None]))
        g = self.grid
        return self.head(tok.transpose(1, 2).reshape(tok.shape[0], -1, g, g)) + 0.5

    def decode(self, p1_planes: torch.Tensor) -> torch.Tensor:
        """(B, bits, H/patch, W/patch) P(b=1) -> images (B, 3, H, W)."""
        b, _, gh, gw = p1_planes.shape
        rows, cols = gh // self.grid, gw // self.grid
        tiles = self.decode_tokens(self.unplanes(p1_planes))
        img = self.from_tiles(tiles, b, rows, cols)
        return img + self.refine(img)

    # ------------------------------------------------------------ training
    def _keep_count(self) -> int:
        ratio = (self.mask_ratio if not self.training else
                 float(torch.empty(()).uniform_(*self.mask_ratio_range)))
        return max(1, min(self.positions, int(round(self.positions * (1 - ratio)))))

    def forward(self, x: torch.Tensor, channel=None) -> torch.Tensor:
        b, _, h, w = x.shape
        rows, cols = h // self.tile, w // self.tile
        tiles = self.to_tiles(x)
        t = tiles.shape[0]
        keep = self.keep_positions(t, self._keep_count(), x.device)
        if self.training:
            snr = torch.empty(t, device=x.device).uniform_(*self.snr_range)
        else:
            snr = torch.full((t,), float(np.mean(self.snr_range)), device=x.device)
        z_e, index, code, weight = self.encode(tiles, keep, snr)
        if self.training and self.maintain_codebook:
            self._maintain_codebook(z_e.detach(), index)
        sent = self.send_flags(code.detach(), weight.detach(), self.fim_threshold, self.delta)
        self._extra = self._vq_losses(z_e, code, index)
        # every position's bits, P(b=1) = 0.5 where nothing is sent; the channel sees them all
        full_index = torch.zeros(t, self.positions, dtype=torch.long, device=x.device).scatter(1, keep, index)
        full_sent = torch.zeros(t, self.positions, dtype=torch.bool, device=x.device).scatter(1, keep, sent)
        bits = self.planes(index_bits(full_index, self.bits), b, rows, cols)  # (B, bits, gh, gw)
        p1 = bits if channel is None else channel(bits.reshape(b, -1)).reshape(bits.shape)
        p1 = self.unplanes(p1)
        p1 = torch.where(full_sent[..., None], p1, torch.full_like(p1, 0.5))
        full_z = torch.zeros(t, self.positions, self.code_dim, device=x.device, dtype=z_e.dtype)
        full_z = full_z.scatter(1, keep[..., None].expand(-1, -1, self.code_dim), z_e)
        out_tiles = self.decode_tokens(p1, straight=(full_z, full_sent))
        img = self.from_tiles(out_tiles, b, rows, cols)
        return img + self.refine(img)

    def _vq_losses(self, z_e, code, index) -> torch.Tensor:
        """Eq. 12's codebook and commitment terms, orthogonality (IV-B3) and similarity (eq. 17)."""
        loss = F.mse_loss(code, z_e.detach()) + self.beta * F.mse_loss(z_e, code.detach())
        if self.ortho_weight:
            e = F.normalize(self.codewords, dim=-1)
            gram = e @ e.t()
            loss = loss + self.ortho_weight * (gram - torch.eye(len(e), device=e.device)).pow(2).mean()
        if self.similarity_weight:
            f = F.normalize(z_e, dim=-1)
            loss = loss - self.similarity_weight * (f @ f.transpose(1, 2)).pow(2).mean()
        return loss

    def extra_loss(self):
        return self._extra

    @property
    def vq_on(self) -> bool:
        return bool(self.vq_started) or not self.training

    @torch.no_grad()
    def _maintain_codebook(self, z_e: torch.Tensor, index: torch.Tensor) -> None:
        """For ``vq_warmup`` steps the decoder reads z_e itself while encoder outputs are collected;
        then k-means over them starts the codebook; afterwards codewords unused for RESTART_EVERY
        steps restart at random encoder outputs."""
        flat = z_e.reshape(-1, z_e.shape[-1])
        if not bool(self.vq_started):
            self._steps += 1
            self._pool = (getattr(self, "_pool", [])[-31:]) + [flat[torch.randperm(len(flat))[:1024]].float()]
            if self._steps >= self.vq_warmup:
                self.codewords.data.copy_(kmeans(torch.cat(self._pool), self.codebook_size, self.normalize))
                self.vq_started.fill_(True)
                self._pool, self._steps = [], 0
            return
        self.usage += torch.bincount(index.reshape(-1), minlength=self.codebook_size).float()
        self._steps += 1
        if self._steps % RESTART_EVERY == 0:
            dead = self.usage == 0
            if dead.any():
                pick = torch.randint(0, len(flat), (int(dead.sum()),), device=flat.device)
                self.codewords.data[dead] = flat[pick] + 0.01 * torch.randn_like(flat[pick])
            self.usage.zero_()

    def bits_per_image(self, height: int, width: int) -> int:
        """Index bits of every position (before masking)."""
        return self.bits * (height // self.patch) * (width // self.patch)


def kmeans(points: torch.Tensor, k: int, spherical: bool, iterations: int = 10) -> torch.Tensor:
    """k centres of ``points`` (N, d): k-means++ seeding, then Lloyd steps (on the sphere when ``spherical``)."""
    gen = torch.Generator().manual_seed(0)
    pts = F.normalize(points, dim=-1) if spherical else points
    centres = pts[torch.randint(len(pts), (1,), generator=gen)]
    for _ in range(1, k):
        d2 = torch.cdist(pts, centres).min(1).values ** 2
        centres = torch.cat([centres, pts[torch.multinomial(d2 + 1e-12, 1, generator=gen)]])
    for _ in range(iterations):
        assign = torch.cdist(pts, centres).argmin(1)
        sums = torch.zeros_like(centres).index_add_(0, assign, pts)
        counts = torch.bincount(assign, minlength=k).float()[:, None]
        centres = torch.where(counts > 0, sums / counts.clamp_min(1), centres)
        if spherical:
            centres = F.normalize(centres, dim=-1)
    return centres


def complete_state(state: dict, card: dict, model_state: dict) -> None:
    """Training-side state the exported networks never read: the card's mask weights, a started codebook."""
    state.setdefault("mask_logits", torch.tensor(card.get("mask_logits", []), dtype=torch.float32))
    state.setdefault("usage", torch.zeros_like(model_state["usage"]))
    state.setdefault("vq_started", torch.tensor(True))


def index_bits_of(model_cfg: dict, cpp: float, bits_per_symbol: int) -> int:
    """Bits per position: log2 of the codebook size (the budget decides how many positions travel)."""
    return int(round(math.log2(int(model_cfg.get("codebook", 256)))))


@register_method("mvqvae", exporter=export_mvqvae, latent_bits=index_bits_of,
                 card_facts=lambda cfg: {"variant": "masked-vq-vae", "deviations_from_paper": DEVIATIONS},
                 weight_roles=(("encoder", "m.", ""), ("decoder", "m.", "")),  # both files hold all weights
                 identity=lambda model: {"patch": model.patch, "codebook": model.codebook_size},
                 complete_state=complete_state)
def build(cfg: dict) -> MaskedVQVAE:
    keys = ("patch", "tile", "codebook", "code_dim", "preset", "mask_ratio", "mask_ratio_range", "beta",
            "ortho_weight", "similarity_weight", "fim", "fim_threshold", "delta", "snr_range", "normalize", "vq_warmup",
            "maintain_codebook",
            "dim", "depth", "heads", "dec_dim", "dec_depth", "dec_heads", "refine")
    return MaskedVQVAE(**{k: cfg[k] for k in keys if k in cfg and cfg[k] is not None})
