"""BitSemCom codec (Tang et al., "BitSemCom"): semantic extractor + learnable bit mapper + decoder.

The paper's backbone is a Swin Transformer (WITT; preset ``paper``, ``swin.py``). The CPU presets
are a convolutional stand-in: four stride-2 stages (a 3x3 strided conv then residual blocks with
LeakyReLU or GDN/IGDN, optional squeeze-excitation; pixel-shuffle or transposed-conv upsampling).
Either way the latent is (C, H/16, W/16) and one image carries ``C * H/16 * W/16`` bits. With QPSK and cpp 1/16 that is
C = 32; with 16-QAM C = 64 (``latent_channels_for``).

Bit generation (``variant``):
  * ``bitsemcom``: the bit mapper (1x1 convs over the feature dimension) gives one logit l per
    bit, i.e. the two-class distribution pi = softmax([0, l]). Training draws b with Gumbel-Softmax,
    hard=True, temperature tau: for two classes softmax((log pi + g)/tau)[1] = sigmoid((l + g1 - g0)/tau)
    and g1 - g0 is Logistic(0, 1), so that is what is drawn (same forward value and gradient as
    ``F.gumbel_softmax``). Inference samples the same way, as the authors' code does. Early in
    training the encoder dithers (a value is carried by the probability of its bits) and the most
    probable bit [l > 0] loses about 7 dB (13.6 vs 20.8 dB on kodim23 at step 1000); by step 6000
    the logits are large (median |l| 15.7), samples differ from it in 2.3 % of the bits and the
    PSNR is the same (22.91 dB).
  * ``hard-ste``: same mapper, b = [sigmoid(l) > 0.5] with a straight-through gradient (paper's
    "Backbone-Hard + STE" ablation).
  * ``deepjscc-1bit``: no mapper; b = [tanh(z) > 0] with a straight-through gradient through
    (tanh(z) + 1)/2 (1-bit uniform quantisation of the latent).

The encoder returns bits as float 0/1 tensors (B, C, h, w); their order on the air is the C-order
flatten of that tensor (channel-major, "NCHW"). The decoder reads the bit posteriors
P(b=1) = sigmoid(LLR) in the same shape (error-free: the bits themselves) and returns RGB in [0, 1].
Encoder and decoder are separate modules, fully convolutional, so they export to ONNX with dynamic
H and W (multiples of 16).
"""
from __future__ import annotations

import torch
from torch import nn

from .layers import GDN, STRIDE, SqueezeExcite, latent_channels_for, leaky_relu  # noqa: F401 (re-exported)
from .registry import of_config, register_method

VARIANTS = ("bitsemcom", "hard-ste", "deepjscc-1bit")
# CNN: channels of the four stages, residual blocks per stage; Swin (``swin.py``): dims and depths
# of the four stages, attention window
PRESETS = {
    "tiny": {"channels": (8, 12, 16, 16), "blocks": 0},
    "small": {"channels": (32, 64, 96, 128), "blocks": 1},
    "medium": {"channels": (64, 96, 128, 192), "blocks": 2},
    "large": {"channels": (128, 192, 256, 320), "blocks": 2},
    "swin-tiny": {"arch": "swin", "dims": (16, 16, 32, 32), "depths": (1, 2, 1, 2), "window": 4},
    "paper": {"arch": "swin", "dims": (128, 192, 256, 320), "depths": (2, 2, 6, 2), "window": 8},
}
ACTS = ("leaky", "gdn")
UPSAMPLES = ("shuffle", "deconv")
# backbone options of a config's ``model`` section (None: the preset's); act/se/upsample and
# channels/blocks apply to the CNN, dims/depths/window to Swin; decoder_channels: the CNN decoder's
# own stage widths (None: channels), a narrower decoder for the same encoder
BACKBONE = {"channels": None, "blocks": None, "act": "leaky", "se": False, "upsample": "shuffle",
            "dims": None, "depths": None, "window": None, "decoder_channels": None}


def _norm(kind: str, ch: int, decoder: bool) -> nn.Module:
    """The non-linearity after a conv: LeakyReLU, or GDN in the encoder / IGDN in the decoder."""
    return GDN(ch, inverse=decoder) if kind == "gdn" else leaky_relu()


class ResBlock(nn.Module):
    """x + conv(act(conv(x))) [then SE on the branch], followed by LeakyReLU (``act='leaky'``) or
    nothing (``act='gdn'``, the branch's GDN/IGDN is the non-linearity)."""

    def __init__(self, ch: int, act: str = "leaky", se: bool = False, decoder: bool = False):
        super().__init__()
        layers = [nn.Conv2d(ch, ch, 3, padding=1), _norm(act, ch, decoder), nn.Conv2d(ch, ch, 3, padding=1)]
        if se:
            layers.append(SqueezeExcite(ch))
        self.body = nn.Sequential(*layers)
        self.act = leaky_relu() if act == "leaky" else nn.Identity()

    def forward(self, x):
        return self.act(x + self.body(x))


class Encoder(nn.Module):
    """Image (B, 3, H, W) in [0, 1] -> bits (B, C, H/16, W/16).

    ``forward``: Gumbel/STE bits in training mode; in eval mode Gumbel samples for ``bitsemcom``
    and hard thresholds for the ablations. ``logits``: the bit
    logits (for ``deepjscc-1bit`` the latent itself)."""

    def __init__(self, latent_channels: int, backbone: dict, variant: str = "bitsemcom", tau: float = 1.0):
        super().__init__()
        if variant not in VARIANTS:
            raise ValueError(f"unknown variant '{variant}'; choose one of {', '.join(VARIANTS)}")
        self.variant, self.tau, self.latent_channels = variant, float(tau), latent_channels
        b = backbone
        if b["arch"] == "swin":
            from .swin import SwinAnalysis
            self.extractor = SwinAnalysis(latent_channels, b["dims"], b["depths"], b["window"])
        else:
            layers, cin = [], 3
            for cout in b["channels"]:
                layers += [nn.Conv2d(cin, cout, 3, stride=2, padding=1), _norm(b["act"], cout, False)]
                layers += [ResBlock(cout, b["act"], b["se"]) for _ in range(b["blocks"])]
                cin = cout
            layers.append(nn.Conv2d(cin, latent_channels, 1))  # semantic feature z (L_z = L_b)
            self.extractor = nn.Sequential(*layers)
        if variant == "deepjscc-1bit":
            self.mapper = nn.Identity()
        else:  # probabilistic generation network: per-position MLP over the feature dimension
            self.mapper = nn.Sequential(nn.Conv2d(latent_channels, 2 * latent_channels, 1), leaky_relu(),
                                        nn.Conv2d(2 * latent_channels, latent_channels, 1))

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        return self.mapper(self.extractor(2 * x - 1))

    def sample(self, logits: torch.Tensor) -> torch.Tensor:
        """Training bits: exactly 0/1 in the forward pass, with gradients to the logits."""
        if self.variant == "bitsemcom":
            u = torch.rand_like(logits).clamp(1e-6, 1 - 1e-6)
            soft = torch.sigmoid((logits + torch.log(u) - torch.log1p(-u)) / self.tau)
        elif self.variant == "hard-ste":
            soft = torch.sigmoid(logits)
        else:
            soft = (torch.tanh(logits) + 1) / 2
        hard = (soft > 0.5).to(soft.dtype)
        return hard + (soft - soft.detach())  # exactly 0/1 forward (x - x == 0), gradient of soft

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits = self.logits(x)
        if self.training or self.variant == "bitsemcom":
            return self.sample(logits)
        return (logits > 0).to(logits.dtype)


def _upsample(cin: int, cout: int, kind: str) -> list[nn.Module]:
    """2x upsampling: sub-pixel conv (conv to 4*cout, PixelShuffle) or a 4x4 transposed conv."""
    if kind == "deconv":
        return [nn.ConvTranspose2d(cin, cout, 4, stride=2, padding=1)]
    return [nn.Conv2d(cin, 4 * cout, 3, padding=1), nn.PixelShuffle(2)]


class Decoder(nn.Module):
    """Bit posteriors P(b=1) (B, C, h, w) -> RGB (B, 3, 16h, 16w) in [0, 1]."""

    def __init__(self, latent_channels: int, backbone: dict):
        super().__init__()
        b = backbone
        if b["arch"] == "swin":
            from .swin import SwinSynthesis
            self.net = SwinSynthesis(latent_channels, b["dims"], b["depths"], b["window"])
            return
        rev = list(b.get("decoder_channels") or b["channels"])[::-1]
        layers = [nn.Conv2d(latent_channels, rev[0], 1), leaky_relu()]
        for i, cin in enumerate(rev):
            layers += [ResBlock(cin, b["act"], b["se"], decoder=True) for _ in range(b["blocks"])]
            cout = rev[i + 1] if i + 1 < len(rev) else 3
            layers += _upsample(cin, cout, b["upsample"])
            if i + 1 < len(rev):
                layers.append(_norm(b["act"], cout, True))
        self.net = nn.Sequential(*layers)

    def forward(self, p1: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.net(2 * p1 - 1))


def resolve_backbone(preset: str, **options) -> dict:
    """The backbone a preset and ``BACKBONE`` options give (None: the preset's value)."""
    if preset not in PRESETS:
        raise ValueError(f"unknown preset '{preset}'; choose one of {', '.join(PRESETS)}")
    unknown = set(options) - set(BACKBONE)
    if unknown:
        raise ValueError(f"unknown model option(s) {', '.join(sorted(unknown))}; known: {', '.join(BACKBONE)}")
    opts = {**BACKBONE, **{k: v for k, v in options.items() if v is not None}}
    if opts["act"] not in ACTS or opts["upsample"] not in UPSAMPLES:
        raise ValueError(f"act must be one of {ACTS}, upsample one of {UPSAMPLES}")
    spec = PRESETS[preset]
    if spec.get("arch") == "swin":
        dims = [int(d) for d in (opts["dims"] or spec["dims"])]
        depths = [int(d) for d in (opts["depths"] or spec["depths"])]
        if len(dims) != 4 or len(depths) != 4:
            raise ValueError("a Swin backbone has four stages: four dims and four depths")
        if opts["decoder_channels"]:
            raise ValueError("decoder_channels applies to the CNN backbone, not to Swin")
        return {"arch": "swin", "dims": dims, "depths": depths, "window": int(opts["window"] or spec["window"])}
    channels = [int(c) for c in (opts["channels"] or spec["channels"])]
    backbone = {"arch": "cnn", "channels": channels,
                "blocks": int(spec["blocks"] if opts["blocks"] is None else opts["blocks"]),
                "act": opts["act"], "se": bool(opts["se"]), "upsample": opts["upsample"]}
    decoder = [int(c) for c in opts["decoder_channels"] or channels]
    if len(decoder) != len(channels) or min(decoder) < 1:
        raise ValueError(f"decoder_channels {decoder} must be {len(channels)} positive widths, one per stage")
    if decoder != channels:  # the encoder's widths otherwise (and the cards of such models omit it)
        backbone["decoder_channels"] = decoder
    return backbone


class BitSemCom(nn.Module):
    """``preset`` picks the backbone: a CNN (stage widths, residual blocks per stage; ``channels``/
    ``blocks`` override them, ``decoder_channels`` narrows the decoder alone; ``act`` 'leaky' or 'gdn',
    ``se``, ``upsample`` 'shuffle' or 'deconv';
    the defaults are the shipped models' layers) or, for ``paper`` and ``swin-tiny``, the Swin
    Transformer of WITT/BitSemCom (``dims``, ``depths``, ``window`` override it). ``BACKBONE``."""

    method = "bitsemcom"

    def __init__(self, latent_channels: int = 32, preset: str = "small", variant: str = "bitsemcom",
                 tau: float = 1.0, **backbone):
        super().__init__()
        self.backbone = b = resolve_backbone(preset, **backbone)
        self.preset, self.variant, self.latent_channels = preset, variant, latent_channels
        self.encoder = Encoder(latent_channels, b, variant, tau)
        self.decoder = Decoder(latent_channels, b)

    def bits_per_image(self, height: int, width: int) -> int:
        return self.latent_channels * -(-height // STRIDE) * -(-width // STRIDE)

    def forward(self, x: torch.Tensor, channel=None) -> torch.Tensor:
        """Error-free when ``channel`` is None, else ``channel(bits (B, L)) -> P(b=1) (B, L)``."""
        bits = self.encoder(x)
        if channel is None:
            return self.decoder(bits)
        p1 = channel(bits.reshape(bits.shape[0], -1)).reshape(bits.shape)
        return self.decoder(p1)


def count_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


@register_method("bitsemcom", identity=lambda model: {"variant": model.variant}, widens=True)
def build_bitsemcom(cfg: dict) -> BitSemCom:
    return BitSemCom(int(cfg["latent_channels"]), cfg.get("preset", "small"), cfg.get("variant", "bitsemcom"),
                     float(cfg.get("tau", 1.0)), **{k: cfg.get(k) for k in BACKBONE})


def build(cfg: dict) -> nn.Module:
    """Model from the ``model`` section of a training config, by its ``method`` (``registry``)."""
    return of_config(cfg).build(cfg)


def load_model(path: str, device: str = "cpu") -> tuple[BitSemCom, dict]:
    """Model (eval mode) and its saved dict from ``model.pt`` or a trainer checkpoint (a checkpoint
    of a run with a weight average gives the average, as its model.pt would); SemcomError (one
    line) when the file is not one."""
    from ..errors import SemcomError
    from . import checkpoint
    ck = checkpoint.load(path, device)
    try:
        model = build(ck["config"]["model"]).to(device)
        average = ck.get("ema") or {}
        model.load_state_dict({k: average[k].to(v.dtype) if k in average else v for k, v in ck["model"].items()})
    except Exception as err:  # noqa: BLE001 (key and shape errors of a foreign file)
        first = (str(err).strip().splitlines() or [type(err).__name__])[0][:160]
        raise SemcomError(f"{path} is not a gr-semcom model or checkpoint ({type(err).__name__}: {first})") from None
    model.eval()
    return model, ck
