"""ONNX export of the masked VQ-VAE (``mvqvae.py``) and its card; the runtime is ``codecs/masked_vq.py``.

encoder.onnx: image (1, 3, H, W) RGB [0, 1], H and W multiples of the tile; keep (T, K) int64, the
kept positions of each of the T tiles (row-major); snr (1,) dB; fim_threshold (1,); delta (1,)
-> index (T, K) int64, send (T, K) float 0/1, copy (T, K) float 0/1 (not sent: the receiver copies
the previous kept token), weight (T, K) (the FIM's).
decoder.onnx: p1 (1, log2 J, H/patch, W/patch) P(b=1) of every position's index bits (0.5 where
nothing was received) -> image (1, 3, H, W).
"""
from __future__ import annotations

import os

import numpy as np
import torch

from . import export as ex
from .onnx_io import fast_upsampling_file, initializers_not_inputs, store_fp16, write_card

PARITY_INPUT = (256, 384)  # 2 x 3 tiles at the default tile: the export's shapes (1 x 1) are not reused


class EncoderExport(torch.nn.Module):
    def __init__(self, model):
        super().__init__()
        self.m = model

    def forward(self, image, keep, snr, fim_threshold, delta):
        tiles = self.m.to_tiles(image)
        _, index, code, weight = self.m.encode(tiles, keep, snr.expand(tiles.shape[0]))
        copy = self.m.copy_flags(code, weight, fim_threshold, delta)
        return index, ((weight >= fim_threshold) & ~copy).float(), copy.float(), weight


class DecoderExport(torch.nn.Module):
    def __init__(self, model):
        super().__init__()
        self.m = model

    def forward(self, p1):
        return self.m.decode(p1)


def encoder_inputs(model, height: int, width: int, keep_count: int, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    tiles = (height // model.tile) * (width // model.tile)
    keep = np.sort(np.stack([rng.permutation(model.positions)[:keep_count] for _ in range(tiles)]), 1)
    return {"image": rng.random((1, 3, height, width), dtype=np.float32), "keep": keep.astype(np.int64),
            "snr": np.array([10.0], np.float32), "fim_threshold": np.array([model.fim_threshold], np.float32),
            "delta": np.array([0.98], np.float32)}


def parity(model, enc_path: str, dec_path: str) -> dict:
    """onnxruntime against torch at PARITY_INPUT: share of equal indices and send flags, max abs
    difference of the FIM weights and of the decoded image (random bit posteriors)."""
    import onnxruntime as ort
    h, w = PARITY_INPUT
    feeds = encoder_inputs(model, h, w, model.positions // 2)
    enc = ort.InferenceSession(enc_path, providers=["CPUExecutionProvider"])
    dec = ort.InferenceSession(dec_path, providers=["CPUExecutionProvider"])
    index_o, send_o, copy_o, weight_o = enc.run(None, feeds)
    p1 = np.random.default_rng(1).random((1, model.bits, h // model.patch, w // model.patch), dtype=np.float32)
    img_o, = dec.run(None, {"p1": p1})
    with torch.no_grad():
        t = {k: torch.from_numpy(v) for k, v in feeds.items()}
        index_t, send_t, copy_t, weight_t = EncoderExport(model)(t["image"], t["keep"], t["snr"], t["fim_threshold"],
                                                                 t["delta"])
        img_t = model.decode(torch.from_numpy(p1))
    return {"index_agreement": float(np.mean(index_o == index_t.numpy())),
            "send_agreement": float(np.mean((send_o == send_t.numpy()) & (copy_o == copy_t.numpy()))),
            "weight": float(np.max(np.abs(weight_o - weight_t.numpy()))),
            "decoder": float(np.max(np.abs(img_o - img_t.numpy()))), "input": f"{w}x{h}"}


def card_facts(model) -> dict:
    return {
        "codec": "mvqvae", "variant": "masked-vq-vae", "latent_channels": model.bits, "stride": model.patch,
        "patch": model.patch, "tile": model.tile, "positions_per_tile": model.positions,
        "codebook": model.codebook_size, "code_dim": model.code_dim, "index_bits": model.bits,
        "mask_ratio": model.mask_ratio, "mask_ratio_range": list(model.mask_ratio_range),
        "mask_logits": [round(float(v), 4) for v in model.mask_logits],
        "fim": model.fim is not None, "fim_threshold": model.fim_threshold, "delta_train": model.delta,
        "snr_db": float(np.mean(model.snr_range)), "architecture": model.architecture,
        "bits_per_image": "masked_vq.layout: side information + 8 bits per sent index",
        "bit_order": "NCHW", "bit_decision": "threshold",
        "padding": f"reflect to a multiple of {model.tile} (bottom/right), crop back after decoding",
        "encoder_io": "image (1,3,H,W) [0,1], keep (T,K) int64, snr (1,), fim_threshold (1,), delta (1,) "
                      "-> index (T,K) int64, send (T,K) 0/1, copy (T,K) 0/1, weight (T,K)",
        "decoder_io": "p1 = P(b=1) (1,log2 J,H/patch,W/patch), 0.5 where nothing was received -> image (1,3,H,W)",
        "default_fec": "ldpc-1/2",
    }


def export_mvqvae(model, saved: dict, out_dir: str, model_id: str | None, opset: int, fp16: bool) -> dict:
    import warnings
    rounding = None
    if fp16:
        before = parity_snapshot(model)
        with torch.no_grad():
            for param in model.parameters():
                param.copy_(param.half().float())
        rounding = {"decoder": float(np.max(np.abs(parity_snapshot(model) - before)))}
    os.makedirs(out_dir, exist_ok=True)
    enc_path, dec_path = os.path.join(out_dir, "encoder.onnx"), os.path.join(out_dir, "decoder.onnx")
    feeds = {k: torch.from_numpy(v) for k, v in encoder_inputs(model, model.tile, model.tile, 4).items()}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # weights exported as they are (no folding, no merging), so that training can continue
        # from the shipped folder (export.load_onnx_weights)
        torch.onnx.export(EncoderExport(model), tuple(feeds.values()), enc_path, dynamo=False, opset_version=opset,
                          input_names=list(feeds), output_names=["index", "send", "copy", "weight"],
                          do_constant_folding=False, keep_initializers_as_inputs=True,
                          dynamic_axes={"image": {2: "H", 3: "W"}, "keep": {0: "T", 1: "K"},
                                        "index": {0: "T", 1: "K"}, "send": {0: "T", 1: "K"},
                                        "copy": {0: "T", 1: "K"},
                                        "weight": {0: "T", 1: "K"}})
        g = model.grid
        torch.onnx.export(DecoderExport(model), (torch.rand(1, model.bits, g, g),), dec_path, dynamo=False,
                          opset_version=opset, input_names=["p1"], output_names=["image"],
                          do_constant_folding=False, keep_initializers_as_inputs=True,
                          dynamic_axes={"p1": {2: "h", 3: "w"}, "image": {2: "H", 3: "W"}})
    for path in (enc_path, dec_path):
        initializers_not_inputs(path)
        if fp16:
            store_fp16(path)
    fast_upsampling_file(dec_path)
    card = ex.model_card(saved, model_id, backbone=model.architecture)
    card.update(card_facts(model))
    card["onnx_opset"] = opset
    card["weights"] = "float16 (cast to float32 on load)" if fp16 else "float32"
    if rounding:
        card["fp16_rounding_max_abs_diff"] = rounding
    check = parity(model, enc_path, dec_path)
    card["parity"] = {**check, "tolerance": {"decoder": ex.PARITY_TOL * 10, "index_agreement": 0.999}}
    if check["decoder"] > ex.PARITY_TOL * 10 or check["index_agreement"] < 0.999 or check["send_agreement"] < 0.999:
        raise RuntimeError(f"ONNX parity check failed: {check}")
    write_card(out_dir, card, {"encoder": enc_path, "decoder": dec_path})
    return card


def parity_snapshot(model) -> np.ndarray:
    """The decoder's output on fixed random posteriors (what fp16 rounding changes)."""
    p1 = torch.from_numpy(np.random.default_rng(2).random((1, model.bits, model.grid, model.grid), dtype=np.float32))
    with torch.no_grad():
        return model.decode(p1).numpy()
