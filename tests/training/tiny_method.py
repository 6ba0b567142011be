"""A training method in one file: one strided conv each way, bits by a straight-through threshold.
Importing it registers it (both layers), as a new method would in python/semcom."""
from __future__ import annotations

import torch
from torch import nn

from gnuradio.semcom import methods
from gnuradio.semcom.training.layers import STRIDE
from gnuradio.semcom.training.registry import register_method

NAME = "tiny-test"
methods.register(methods.Method(NAME, training=__name__))


class Encoder(nn.Module):
    def __init__(self, c: int):
        super().__init__()
        self.conv = nn.Conv2d(3, c, STRIDE, stride=STRIDE)

    def logits(self, x):
        return self.conv(2 * x - 1)

    def forward(self, x):
        soft = torch.sigmoid(self.logits(x))
        return (soft > 0.5).to(soft.dtype) + (soft - soft.detach())


class Tiny(nn.Module):
    method = NAME

    def __init__(self, latent_channels: int, preset: str = "tiny"):
        super().__init__()
        self.latent_channels, self.preset = latent_channels, preset
        self.backbone = {"arch": "one strided conv"}
        self.encoder = Encoder(latent_channels)
        self.decoder = nn.Sequential(nn.ConvTranspose2d(latent_channels, 3, STRIDE, stride=STRIDE), nn.Sigmoid())

    def forward(self, x, channel=None):
        bits = self.encoder(x)
        p1 = bits if channel is None else channel(bits.reshape(bits.shape[0], -1)).reshape(bits.shape)
        return self.decoder(p1)


@register_method(NAME, card_facts=lambda cfg: {"variant": NAME})
def build(cfg: dict) -> Tiny:
    return Tiny(int(cfg["latent_channels"]), cfg.get("preset", "tiny"))
