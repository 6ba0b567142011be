"""AMP-SC (Huang et al., "Alternating multi-phase training ... digital semantic communication"):
encoder, rounding quantizer to b bits, AD conversion (eq. 2), IRSNet (a U-Net restorer on the
latent) and decoder. Training is a recipe (``amp.py``); this module is only the networks.

Blocks (the paper's Fig. 4 and the authors' code): a residual conv block (RCB) is conv k5 (stride
1 or 2) -> GDN -> PReLU -> conv 1x1 -> GDN, plus a shortcut (1x1 conv where the shape changes), then
PReLU; all convs bias-free. A T-RCB is the same with a stride-2 transposed conv and IGDN. A
squeeze-excitation block follows every RCB but the last (Table III: 8 RCBs and 7 SEs for Kodak).

Latent and bits. The encoder gives x~ = tanh(e) * 2^(b-1) + 0.5 per latent value (C values per 16x16
cell); the quantizer rounds it to -(2^(b-1)-1) .. 2^(b-1), offset to the level 0 .. 2^b-1; eq. 2
writes the level as b plain binary bits, most significant first. Bits are laid out as the bit planes
(N, C*b, h, w), plane c*b + i holding bit i (MSB i = 0) of latent channel c, so the runtime's NCHW
flatten and ``latent_channels`` (= C*b, the bits per cell) work as for BitSemCom.

The receiver reads bit posteriors P(b=1) in the same shape. DA conversion (eq. 5) is the sum
p_i * 2^(b-1-i): for hard decisions (0/1, the paper's receiver) exactly eq. 5, for soft posteriors the
expected level under independent bits (the soft receiver this project adds). Then the offset is
removed, MATK may zero values (training only), IRSNet restores the latent (with a global residual:
restored = input + U-Net(input)) and the decoder synthesises the image.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from . import amp
from .layers import GDN, STRIDE, SqueezeExcite
from .registry import register_method

# encoder widths of the four stride-2 RCBs, stride-1 RCBs after them, IRSNet widths (three levels)
PRESETS = {
    "tiny": {"widths": (8, 12, 16, 16), "extra": 0, "restorer": (16, 16, 16)},
    "small": {"widths": (48, 64, 96, 128), "extra": 1, "restorer": (32, 48, 64)},
    "medium": {"widths": (64, 96, 128, 192), "extra": 2, "restorer": (64, 128, 192)},
    "paper": {"widths": (256, 256, 256, 256), "extra": 3, "restorer": (48, 96, 192)},
}


class RCB(nn.Module):
    """Residual conv block; ``up``: the T-RCB (stride-2 transposed conv, IGDN)."""

    def __init__(self, cin: int, cout: int, stride: int = 1, up: bool = False, last_act: bool = True):
        super().__init__()
        if up:
            first = nn.ConvTranspose2d(cin, cout, 5, stride=2, padding=2, output_padding=1, bias=False)
            self.shortcut = nn.ConvTranspose2d(cin, cout, 2, stride=2, bias=False)
        else:
            first = nn.Conv2d(cin, cout, 5, stride=stride, padding=2, bias=False)
            self.shortcut = (nn.Conv2d(cin, cout, 1, stride=stride, bias=False) if stride != 1 or cin != cout
                             else nn.Identity())
        self.body = nn.Sequential(first, GDN(cout, inverse=up), nn.PReLU(cout),
                                  nn.Conv2d(cout, cout, 1, bias=False), GDN(cout, inverse=up))
        self.act = nn.PReLU(cout) if last_act else nn.Identity()

    def forward(self, x):
        return self.act(self.body(x) + self.shortcut(x))


def _with_se(blocks: list[nn.Module], widths: list[int]) -> list[nn.Module]:
    out = []
    for block, w in zip(blocks, widths):
        out += [block, SqueezeExcite(w, reduction=2)]
    return out


class AmpEncoder(nn.Module):
    """Image (B, 3, H, W) in [0, 1] -> x~ (B, C, H/16, W/16) in (-(2^(b-1)) + 0.5, 2^(b-1) + 0.5)."""

    def __init__(self, channels: int, bits: int, widths, extra: int):
        super().__init__()
        self.channels, self.bits = channels, bits
        blocks, dims, cin = [], [], 3
        for w in widths:
            blocks.append(RCB(cin, w, stride=2))
            dims.append(w)
            cin = w
        for _ in range(extra):
            blocks.append(RCB(cin, cin))
            dims.append(cin)
        self.net = nn.Sequential(*_with_se(blocks, dims), RCB(cin, channels, last_act=False))

    def analog(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.net(2 * x - 1)) * 2 ** (self.bits - 1) + 0.5

    def quantize(self, xt: torch.Tensor) -> torch.Tensor:
        """Rounded latent ⌈x~⌉ (straight-through gradient)."""
        top = 2 ** (self.bits - 1)
        q = torch.round(xt).clamp(-(top - 1), top)
        return xt + (q - xt).detach()

    def to_bits(self, q: torch.Tensor) -> torch.Tensor:
        """Eq. 2: levels q + 2^(b-1) - 1 as b binary bits, MSB first -> (B, C*b, h, w) float 0/1
        (float floor/remainder, which ONNX exports; exact for these small integers)."""
        level = q.detach() + (2 ** (self.bits - 1) - 1)
        weights = 2.0 ** torch.arange(self.bits - 1, -1, -1, device=q.device, dtype=q.dtype)
        bits = torch.remainder(torch.floor(level[:, :, None] / weights[None, None, :, None, None] + 1e-3), 2)
        return bits.reshape(q.shape[0], -1, q.shape[2], q.shape[3])

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """+-1 per bit (bit 1: +1): the export's ``logits`` (the runtime sends [logit > 0])."""
        return 2 * self.to_bits(self.quantize(self.analog(x))) - 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.to_bits(self.quantize(self.analog(x)))


class IRSNet(nn.Module):
    """U-Net on the latent: five down-path RCBs (two stride 2), one projection RCB, then two T-RCBs and
    three RCBs with additive skips (9 RCBs, 2 T-RCBs); sizes that do not halve evenly are cropped back."""

    def __init__(self, channels: int, widths):
        super().__init__()
        a, b, c = widths
        self.d0 = nn.Sequential(RCB(channels, a), RCB(a, a))
        self.d1 = nn.Sequential(RCB(a, b, stride=2), RCB(b, b))
        self.d2 = RCB(b, c, stride=2)
        self.proj = RCB(c, c)
        self.up1, self.u1 = RCB(c, b, up=True), RCB(b, b)
        self.up0, self.u0 = RCB(b, a, up=True), RCB(a, a)
        self.out = RCB(a, channels, last_act=False)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        s0 = self.d0(z)
        s1 = self.d1(s0)
        y = self.proj(self.d2(s1))
        y = self.u1(self.up1(y)[:, :, :s1.shape[2], :s1.shape[3]] + s1)
        y = self.u0(self.up0(y)[:, :, :s0.shape[2], :s0.shape[3]] + s0)
        return z + self.out(y)


class Synthesis(nn.Module):
    """Latent (B, C, h, w) scaled to about [-1, 1] -> RGB (B, 3, 16h, 16w) in [0, 1]."""

    def __init__(self, channels: int, widths, extra: int):
        super().__init__()
        rev = list(widths)[::-1]
        blocks, dims = [RCB(channels, rev[0])], [rev[0]]
        for _ in range(extra):
            blocks.append(RCB(rev[0], rev[0]))
            dims.append(rev[0])
        for i, w in enumerate(rev[:-1]):
            blocks.append(RCB(w, rev[i + 1], up=True))
            dims.append(rev[i + 1])
        self.net = nn.Sequential(*_with_se(blocks, dims), RCB(rev[-1], 3, up=True, last_act=False))

    def forward(self, z):
        return torch.sigmoid(self.net(z))


class AmpReceiver(nn.Module):
    """P(b=1) (B, C*b, h, w) -> image: DA conversion (eq. 5), IRSNet (optional), decoder."""

    def __init__(self, channels: int, bits: int, widths, extra: int, restorer_widths, irsnet: bool = True):
        super().__init__()
        self.channels, self.bits = channels, bits
        self.restorer = IRSNet(channels, restorer_widths) if irsnet else None
        self.synthesis = Synthesis(channels, widths, extra)
        self.register_buffer("weights", 2.0 ** torch.arange(bits - 1, -1, -1, dtype=torch.float32))

    def dac(self, p1: torch.Tensor) -> torch.Tensor:
        """Expected level minus the offset: eq. 5 for 0/1 input."""
        b, _, h, w = p1.shape
        level = (p1.reshape(b, self.channels, self.bits, h, w) * self.weights[None, None, :, None, None]).sum(2)
        return level - (2 ** (self.bits - 1) - 1)

    def restore(self, z: torch.Tensor) -> torch.Tensor:
        return z if self.restorer is None else self.restorer(z)

    def synthesize(self, z: torch.Tensor) -> torch.Tensor:
        return self.synthesis(z / 2 ** (self.bits - 1))

    def forward(self, p1: torch.Tensor) -> torch.Tensor:
        return self.synthesize(self.restore(self.dac(p1)))


def mask_attack(z: torch.Tensor, ratio: float) -> torch.Tensor:
    """MATK: each latent value zeroed with probability ``ratio`` (0 is also a valid level)."""
    if ratio <= 0:
        return z
    return z * (torch.rand_like(z) >= ratio).to(z.dtype)


class AMPSC(nn.Module):
    """Encoder + receiver. ``latent_channels`` counts bits per 16x16 cell (C*b, as for BitSemCom);
    ``bits`` is b. ``forward(x, channel)`` follows the stage's channel:
      * ``analog`` (spec ``noise`` alpha, ``mask_ratio``, ``restorer``): y = D_S(D_R((x~ + alpha N) . M))
        (eqs. 8, 10, 14, 18; ``restorer: false`` skips IRSNet, as in Steps 1 and 2);
      * ``error-free`` or a bit channel (``bsc`` with ``hard``, ``hard``, ...): quantize, bits, channel,
        DA, MATK (``mask_ratio``), IRSNet, decoder (eqs. 12, 16, 20); ``extra_loss`` is then the
        IRSNet term |D_R(z~ . M) - ⌈x~⌉|_1 (eqs. 17, 21) times ``restorer_weight`` (spec, default 1).
    """

    method = "ampsc"
    # torch 2.13 (CPU) corrupts the heap in the first optimizer step when the transposed convs'
    # weights are channels_last; the trainer keeps this model contiguous
    channels_last_safe = False

    def __init__(self, latent_channels: int = 64, bits: int = 4, preset: str = "small", irsnet: bool = True):
        super().__init__()
        if preset not in PRESETS:
            raise ValueError(f"unknown AMP-SC preset '{preset}'; choose one of {', '.join(PRESETS)}")
        if bits < 1 or latent_channels % bits:
            raise ValueError(f"latent_channels {latent_channels} (bits per 16x16 cell) is not a multiple of b = {bits}")
        p = PRESETS[preset]
        self.preset, self.variant, self.latent_channels, self.bits = preset, "ampsc", latent_channels, bits
        self.irsnet = irsnet
        c = latent_channels // bits
        self.backbone = {"arch": "ampsc", **{k: list(v) if isinstance(v, tuple) else v for k, v in p.items()},
                         "latent_values_per_cell": c, "bits": bits, "irsnet": irsnet}
        self.encoder = AmpEncoder(c, bits, p["widths"], p["extra"])
        self.decoder = AmpReceiver(c, bits, p["widths"], p["extra"], p["restorer"], irsnet)
        self._extra = None

    def bits_per_image(self, height: int, width: int) -> int:
        return self.latent_channels * -(-height // STRIDE) * -(-width // STRIDE)

    def extra_loss(self):
        return self._extra

    def forward(self, x: torch.Tensor, channel=None) -> torch.Tensor:
        self._extra = None
        xt = self.encoder.analog(x)
        spec = {} if channel is None else getattr(channel, "spec", {"kind": "bits"})  # a bare callable: bits
        kind = spec.get("kind", "error-free")
        mask = float(spec.get("mask_ratio", 0.0)) if self.training else 0.0
        if kind == "analog":
            z = xt + float(spec.get("noise", 0.0)) * torch.randn_like(xt) if spec.get("noise") else xt
            z = mask_attack(z, mask)
            if spec.get("restorer", True):
                z = self.decoder.restore(z)
            return self.decoder.synthesize(z)
        q = self.encoder.quantize(xt)
        bits = self.encoder.to_bits(q)
        p1 = bits if channel is None or kind == "error-free" else \
            channel(bits.reshape(bits.shape[0], -1)).reshape(bits.shape).to(bits.dtype)
        z = mask_attack(self.decoder.dac(p1), mask)
        restored = self.decoder.restore(z)
        if self.decoder.restorer is not None and self.training:
            self._extra = float(spec.get("restorer_weight", 1.0)) * F.l1_loss(restored.float(), q.detach().float())
        return self.decoder.synthesize(restored)


def card_facts(cfg: dict) -> dict:
    """What an AMP-SC card adds: the quantizer, the bit layout and the template the recipe came from."""
    b = int(cfg["model"].get("bits", 4))
    layout = {"symbol_layout": cfg["symbol_layout"]} if cfg.get("symbol_layout") else {}
    return {**layout, "variant": (cfg.get("recipe_template") or {}).get("template", "ampsc"),
            "quantizer_bits": b, "latent_values_per_cell": int(cfg["model"]["latent_channels"]) // b,
            "bit_layout": f"plane c*{b}+i = bit i (MSB first) of latent channel c; level = round(x~) + {2 ** (b - 1) - 1}, "
                          "plain binary (eq. 2)",
            "receiver": "DA conversion = expected level under the bit posteriors (eq. 5 for hard 0/1 input), "
                        "then IRSNet, then the decoder",
            **({"extra_loss": "in the bit-channel stages, IRSNet's L1 distance to the rounded latent (eqs. 17, 21)"}
               if cfg["model"].get("irsnet", True) else {}),
            "recipe_template": cfg.get("recipe_template"), "deviations_from_paper": amp.DEVIATIONS}


# GDN parameters folded into derived constants, and equal ones merged, could not be mapped back to the
# model: the export keeps every weight as it is (ONNX Runtime folds at load)
@register_method("ampsc", card_facts=card_facts, fold_constants=False,
                 quantizer_bits=lambda model_cfg: int(model_cfg.get("bits", 4)), identity=lambda model: {"quantizer_bits": model.bits})
def build(cfg: dict) -> AMPSC:
    return AMPSC(int(cfg["latent_channels"]), int(cfg.get("bits", 4)), cfg.get("preset", "small"),
                 bool(cfg.get("irsnet", True)))
