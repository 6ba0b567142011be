"""Export a trained BitSemCom model to two ONNX files (encoder, decoder) with a model card.

``encoder.onnx``: input ``image`` float32 (N, 3, H, W) RGB in [0, 1], H and W multiples of 16;
outputs ``bits`` float32 0/1 (N, C, H/16, W/16) (the threshold [logit > 0]; on the air in C order,
"NCHW") and ``logits``. The card's ``bit_decision`` says which bits to send: ``threshold`` (``bits``)
or ``gumbel-sample`` ([logit + Logistic(0, 1) noise > 0], drawn by the runtime). ``decoder.onnx``: input ``p1`` float32 (N, C, H/16, W/16), the bit
posteriors P(b=1) = sigmoid(LLR) (LLR > 0 means bit 1; error-free: the bits); output ``image``
(N, 3, H, W) in [0, 1]. H and W are dynamic axes.

The model card is stored in both files' ONNX ``metadata_props`` (keys ``semcom.*``; the whole card as
JSON under ``semcom.card``) and written next to them as ``card.json``.

The runtime side (``codecs.neural``, numpy + onnxruntime) reflect-pads images to a multiple of 16
before the encoder and crops the decoder's output back; torch and onnx are imported only inside the
functions here that need them.
"""
from __future__ import annotations

import datetime
import json
import os

import numpy as np

from .. import methods
from ..errors import SemcomError
from . import registry
from .onnx_io import fast_upsampling_file, initializers_not_inputs, store_fp16, write_card

CARD_VERSION = "1"
PARITY_TOL = 1e-4  # max abs difference onnxruntime vs torch (float32); for the encoder's logits, which
# grow to hundreds in a long-trained model, relative to the largest logit (float32 rounding scales with it)
STRIDE = 16
# how the runtime turns encoder logits l into bits: a Logistic(0, 1) sample (Gumbel-Softmax's
# forward pass, b = [l + g > 0]) or the threshold [l > 0]
BIT_DECISION = {"bitsemcom": "gumbel-sample", "hard-ste": "threshold", "deepjscc-1bit": "threshold"}


# ---------------------------------------------------------------- bit count

def bits_per_image(latent_channels: int, height: int, width: int) -> int:
    """C * ceil(H/16) * ceil(W/16)."""
    return latent_channels * -(-height // STRIDE) * -(-width // STRIDE)


# ---------------------------------------------------------------- export

def _encoder_wrapper(encoder):
    import torch

    class EncoderExport(torch.nn.Module):
        def __init__(self, enc):
            super().__init__()
            self.enc = enc

        def forward(self, image):
            logits = self.enc.logits(image)
            return (logits > 0).to(logits.dtype), logits

    return EncoderExport(encoder).eval()


def _recipe_facts(cfg: dict) -> dict:
    """The recipe in a card, plus the legacy keys (steps error-free / through a channel, the last
    noisy stage's channel and SNR range) that tools reading older cards expect."""
    stages = cfg.get("recipe") or [
        {"name": "error-free", "steps": int(cfg["stage1_steps"]), "channel": {"kind": "error-free"}},
        {"name": "channel", "steps": int(cfg["stage2_steps"]), "channel": cfg["channel"]}]
    noisy = [s for s in stages if s["channel"]["kind"] != "error-free"]
    last = noisy[-1]["channel"] if noisy else {"kind": "error-free"}
    return {
        "recipe": [{"name": s.get("name", ""), "steps": int(s["steps"]), "channel": s["channel"]["kind"],
                    **({"snr_range_db": list(s["channel"]["snr_range"])} if "snr_range" in s["channel"] else {}),
                    **({"train": s["train"]} if s.get("train") else {}), "loss": s.get("loss", cfg.get("loss", "mse"))}
                   for s in stages],
        "stage1_steps": sum(int(s["steps"]) for s in stages if s["channel"]["kind"] == "error-free"),
        "stage2_steps": sum(int(s["steps"]) for s in noisy),
        "train_channel": last["kind"],
        "train_snr_range_db": list(last.get("snr_range", [])),
    }


def lineage(card: dict) -> dict:
    """What a run continued from a shipped model records of it: its id, fingerprint of the card's
    facts, its cumulative steps and training hours (its own plus its ancestors'), and its own
    ``continued_from``, so the whole line of ancestors stays on the card."""
    return {"model_id": card.get("model_id", "?"), "exported": card.get("exported", ""),
            **({"continued_from": card["continued_from"]} if card.get("continued_from") else {}),
            "latent_channels": card.get("latent_channels"),  # fewer than the run's: it was widened
            "backbone_channels": (card.get("backbone") or {}).get("channels"),  # likewise
            "cumulative_steps": int(card.get("cumulative_steps", card.get("train_steps", 0))),
            "cumulative_train_hours": round(float(card.get("cumulative_train_hours",
                                                           float(card.get("train_wall_s", 0.0)) / 3600)), 3)}


def read_lineage(folder_or_card: str) -> dict:
    """``lineage`` of the model folder (or its card.json) ``folder_or_card``; SemcomError (one line)
    when the card is missing, not JSON or not a model card."""
    path = folder_or_card if os.path.isfile(folder_or_card) else os.path.join(folder_or_card, "card.json")
    try:
        with open(path) as f:
            card = json.load(f)
        if not isinstance(card, dict):
            raise ValueError(f"a JSON {type(card).__name__}, not an object")
        return lineage(card)
    except (OSError, ValueError, TypeError, AttributeError) as err:
        raise SemcomError(f"--continued-from {folder_or_card}: {path} is not a readable model card ({err})") from None


def model_card(saved: dict, model_id: str | None = None, backbone: dict | None = None) -> dict:
    """Card facts from a ``model.pt``/checkpoint dict (``trainer.Trainer.save_final``); a run
    continued from another model adds that model's steps and hours to the cumulative ones.
    ``backbone``: the built model's (default: the BitSemCom backbone the config names)."""
    cfg = saved["config"]
    c = int(cfg["model"]["latent_channels"])
    method = registry.of_config(cfg["model"])
    facts = method.card(cfg)
    variant = facts["variant"]
    model_id = model_id or cfg.get("name", methods.DEFAULT)
    parent = saved.get("continued_from")
    return {
        **facts,
        "codec": method.name,
        "version": CARD_VERSION,
        "model_id": model_id,
        "config": cfg.get("name", ""),
        "preset": cfg["model"].get("preset", "small"),
        "latent_channels": c,
        "stride": STRIDE,
        "bits_per_image": f"{c}*ceil(H/16)*ceil(W/16)",
        "bit_order": "NCHW",
        "bit_decision": BIT_DECISION.get(variant, "threshold"),
        "padding": "reflect to a multiple of 16 (bottom/right), crop back after decoding",
        "encoder_io": "image float32 (N,3,H,W) RGB [0,1] -> bits float32 0/1 (N,C,H/16,W/16), logits",
        "decoder_io": "p1 = P(b=1) = sigmoid(LLR) float32 (N,C,H/16,W/16) -> image float32 (N,3,H,W) [0,1]",
        "modulation": cfg["modulation"],
        "cpp": str(cfg["cpp"]),
        **_recipe_facts(cfg),
        "backbone": backbone or _backbone(cfg["model"]),
        "loss": ", ".join(dict.fromkeys(s.get("loss", cfg.get("loss", "mse")) for s in (cfg.get("recipe") or [{}]))),
        "train_steps": int(saved.get("step", 0)),
        "train_wall_s": round(float(saved.get("wall_s", 0.0)), 1),
        "continued_from": parent,
        **({"distilled_from": {"model": os.path.basename(os.path.normpath(cfg["distill"]["from"])),
                               "weight": float(cfg["distill"].get("weight", 1.0))}} if cfg.get("distill") else {}),
        "cumulative_steps": int(saved.get("step", 0)) + (parent or {}).get("cumulative_steps", 0),
        "cumulative_train_hours": round(float(saved.get("wall_s", 0.0)) / 3600
                                        + (parent or {}).get("cumulative_train_hours", 0.0), 3),
        "hardware": saved.get("hardware", "unknown"),
        "precision": saved.get("precision", "fp32"),
        "train_s": round(float(saved.get("train_s", saved.get("wall_s", 0.0))), 1),
        "dataset_hash": saved.get("dataset_hash", "unknown"),
        "crop": int(cfg["data"]["crop"]),
        "batch": int(cfg["data"]["batch"]),
        "lr": float(cfg["lr"]),
        **({"weight_average": f"exponential moving average, decay {float(cfg['ema']):g}"} if cfg.get("ema") else {}),
        "seed": int(cfg["seed"]),
        "val_psnr_db": {k: round(float(v), 3) for k, v in (saved.get("val_psnr") or {}).items()},
        "torch": saved.get("torch", ""),
        "exported": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def _backbone(model_cfg: dict) -> dict:
    """The backbone options the model was built with (``models.BACKBONE``, preset values filled)."""
    from .models import BACKBONE, resolve_backbone
    return resolve_backbone(model_cfg.get("preset", "small"), **{k: model_cfg.get(k) for k in BACKBONE})


def parity(model, encoder_path: str, decoder_path: str, height: int = 64, width: int = 96,
           seed: int = 0) -> dict:
    """Max abs difference onnxruntime vs torch on a random (1, 3, H, W) image: encoder logits (and
    the largest |logit|, their scale), decoder output on random posteriors, and the fraction of
    differing bits where |logit| > 1e-3."""
    import onnxruntime as ort
    import torch
    model.eval()
    rng = np.random.default_rng(seed)
    x = rng.random((1, 3, height, width), dtype=np.float32)
    p1 = rng.random((1, model.latent_channels, height // STRIDE, width // STRIDE), dtype=np.float32)
    enc = ort.InferenceSession(encoder_path, providers=["CPUExecutionProvider"])
    dec = ort.InferenceSession(decoder_path, providers=["CPUExecutionProvider"])
    bits_o, logits_o = enc.run(["bits", "logits"], {"image": x})
    img_o, = dec.run(["image"], {"p1": p1})
    with torch.no_grad():
        logits_t = model.encoder.logits(torch.from_numpy(x)).numpy()
        img_t = model.decoder(torch.from_numpy(p1)).numpy()
    sure = np.abs(logits_t) > 1e-3
    return {"encoder": float(np.max(np.abs(logits_o - logits_t))), "logit_scale": float(np.max(np.abs(logits_t))),
            "decoder": float(np.max(np.abs(img_o - img_t))),
            "bit_mismatch": float(np.mean((bits_o != (logits_t > 0))[sure])) if sure.any() else 0.0,
            "shape": [height, width]}


def round_weights_to_fp16(model, height: int = 64, width: int = 96, seed: int = 0) -> dict:
    """Rounds every parameter to the nearest float16 (in place); returns the max abs change of the
    encoder logits and decoder output on a random input (what storing float16 weights costs)."""
    import torch
    rng = np.random.default_rng(seed)
    x = torch.from_numpy(rng.random((1, 3, height, width), dtype=np.float32))
    p1 = torch.from_numpy(rng.random((1, model.latent_channels, height // STRIDE, width // STRIDE),
                                     dtype=np.float32))
    with torch.no_grad():
        before = model.encoder.logits(x), model.decoder(p1)
        for param in model.parameters():
            param.copy_(param.half().float())
        after = model.encoder.logits(x), model.decoder(p1)
    return {"encoder_logits": float((before[0] - after[0]).abs().max()),
            "decoder": float((before[1] - after[1]).abs().max())}


def export(model, saved: dict, out_dir: str, model_id: str | None = None, opset: int = 17,
           tol: float = PARITY_TOL, fp16: bool = True) -> dict:
    """Writes ``encoder.onnx``, ``decoder.onnx`` and ``card.json`` to ``out_dir``; returns the card
    (with the parity result). RuntimeError when onnxruntime and torch differ by more than ``tol``;
    without onnxruntime the card says the check was not made.
    ``fp16``: the weights are rounded to float16 first and stored as float16 (the parity check
    compares against the rounded model; the card records what rounding changed)."""
    import warnings

    import torch
    model = model.cpu().eval()
    method = registry.of_model(model)
    if method.exporter:
        return method.exporter(model, saved, out_dir, model_id, opset, fp16)
    rounding = round_weights_to_fp16(model) if fp16 else None
    os.makedirs(out_dir, exist_ok=True)
    enc_path, dec_path = os.path.join(out_dir, "encoder.onnx"), os.path.join(out_dir, "decoder.onnx")
    c = model.latent_channels
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the legacy-exporter deprecation notice
        # without folding, the weights go out as graph inputs to skip the merging of equal ones, which
        # initializers_not_inputs undoes
        fold = method.fold_constants
        torch.onnx.export(_encoder_wrapper(model.encoder), (torch.rand(1, 3, 64, 64),), enc_path,
                          dynamo=False, opset_version=opset, input_names=["image"], do_constant_folding=fold,
                          keep_initializers_as_inputs=not fold,
                          output_names=["bits", "logits"],
                          dynamic_axes={"image": {0: "N", 2: "H", 3: "W"}, "bits": {0: "N", 2: "h", 3: "w"},
                                        "logits": {0: "N", 2: "h", 3: "w"}})
        torch.onnx.export(model.decoder, (torch.rand(1, c, 4, 4),), dec_path, dynamo=False, do_constant_folding=fold,
                          keep_initializers_as_inputs=not fold,
                          opset_version=opset, input_names=["p1"], output_names=["image"],
                          dynamic_axes={"p1": {0: "N", 2: "h", 3: "w"}, "image": {0: "N", 2: "H", 3: "W"}})
    if not fold:
        for path in (enc_path, dec_path):
            initializers_not_inputs(path)
    if fp16:
        for path in (enc_path, dec_path):
            store_fp16(path)
    fast_upsampling_file(dec_path)
    card = model_card(saved, model_id, getattr(model, "backbone", None))
    card["onnx_opset"] = opset
    card["weights"] = "float16 (cast to float32 on load)" if fp16 else "float32"
    if rounding:
        card["fp16_rounding_max_abs_diff"] = rounding
    try:
        import onnxruntime  # noqa: F401
    except ImportError:  # a training machine without it (GPU boxes): check later with semcom-export
        card["parity_max_abs_diff"] = "not checked: onnxruntime is not installed"
    else:
        check = parity(model, enc_path, dec_path)
        scale = max(1.0, check["logit_scale"])
        card["parity_max_abs_diff"] = {"encoder_logits": check["encoder"], "decoder": check["decoder"],
                                       "tolerance": tol, "input": "64x96",
                                       **({"encoder_tolerance": f"{tol} x largest |logit| {scale:.1f}"}
                                          if scale > 1 else {})}
        if check["encoder"] > tol * scale or check["decoder"] > tol or check["bit_mismatch"] > 0:
            raise RuntimeError(f"ONNX parity check failed (tolerance {tol}): {check}")
    write_card(out_dir, card, {"encoder": enc_path, "decoder": dec_path})
    return card


def export_file(checkpoint: str, out_dir: str, model_id: str | None = None, opset: int = 17,
                fp16: bool = True, continued_from: str | None = None) -> dict:
    """``export`` of a ``model.pt`` (or checkpoint) written by the trainer; ``continued_from``: the
    model folder the run started from, when the run did not record it."""
    from .models import load_model
    model, saved = load_model(checkpoint)
    if continued_from:
        saved["continued_from"] = read_lineage(continued_from)
    return export(model, saved, out_dir, model_id, opset, fp16=fp16)


def widened(small: dict, fresh: dict) -> dict:
    """A BitSemCom state with fewer latent channels, or narrower CNN stages, embedded in a wider
    model's fresh state: the old weights fill the leading slice of every tensor, the new outputs
    keep their fresh values and the new inputs of old outputs are zero, so the wider model
    computes the old model's image until training gives the new bits and features a use
    (pixel-shuffle convs keep this: the new channels' sub-pixels are the appended outputs).
    Weights the wider model lacks, or that do not fit in it, stay as they are (the caller
    reports them)."""
    out = {}
    for name, old in small.items():
        new = fresh.get(name)
        if new is None or old.shape == new.shape or old.dim() != new.dim() or old.dim() == 0 \
                or any(o > n for o, n in zip(old.shape, new.shape)):
            out[name] = old
            continue
        t = new.clone()
        if t.dim() >= 2:
            t[:old.shape[0], old.shape[1]:] = 0
        t[tuple(slice(0, o) for o in old.shape)] = old.to(t.device)
        out[name] = t
    return out


def narrowed(wide: dict, fresh: dict, prefix: str) -> dict:
    """The tensors under ``prefix`` of a model with narrower stages, from a wider model's state: each
    the leading slice of the wide tensor (a tensor of unchanged shape: all of it), i.e. the
    sub-network of every stage's first channels (pixel-shuffle convs keep this: a channel's
    sub-pixels are consecutive outputs). A tensor that is missing or does not fit keeps its fresh
    value."""
    out = {}
    for name, new in fresh.items():
        old = wide.get(name)
        if not name.startswith(prefix):
            continue
        if old is None or old.dim() != new.dim() or any(o < n for o, n in zip(old.shape, new.shape)):
            out[name] = new
        else:
            out[name] = old[tuple(slice(0, n) for n in new.shape)].clone()
    return out


def load_onnx_weights(model, folder: str) -> dict:
    """Loads the weights of an exported model folder (encoder.onnx + decoder.onnx, float16 or
    float32) into ``model``, so training can continue from a shipped model when its checkpoints
    are gone. A BitSemCom model with fewer latent channels (QPSK into 16-QAM at the same cpp)
    is widened (``widened``); a model with its own narrower ``decoder_channels`` gets the decoder
    ``narrowed``. Returns the card; SemcomError when the folder does not match."""
    import onnx
    import torch
    from onnx import numpy_helper

    card = None
    state = {}
    method = registry.of_model(model)
    roles = method.weight_roles
    for role, prefix, target in roles:
        path = os.path.join(folder, f"{role}.onnx")
        try:
            m = onnx.load(path)
        except Exception as err:  # noqa: BLE001 (missing file, protobuf errors)
            raise SemcomError(f"cannot read {path} ({str(err).splitlines()[0][:120]})") from None
        meta = {p.key: p.value for p in m.metadata_props}
        card = card or json.loads(meta.get("semcom.card", "null") or "null")
        for init in m.graph.initializer:
            name = init.name[:-len("__fp16")] if init.name.endswith("__fp16") else init.name
            if name.startswith(prefix):
                state[target + name[len(prefix):]] = torch.from_numpy(
                    numpy_helper.to_array(init).astype(np.float32).copy())
    if card is None:
        raise SemcomError(f"{folder} has no gr-semcom model card; export it with semcom-export")
    want = {"codec": method.name, "latent_channels": model.latent_channels, "preset": model.preset,
            **method.identity(model)}
    got = {k: card.get(k, methods.DEFAULT if k == "codec" else None) for k in want}
    widen = method.widens and {**got, "latent_channels": want["latent_channels"]} == want \
        and int(got["latent_channels"] or 0) <= want["latent_channels"]
    if got != want and not widen:
        raise SemcomError(f"{folder} holds a {got} model, the config builds {want}")
    expected = model.state_dict()
    if "decoder_channels" in (getattr(model, "backbone", None) or {}):
        state.update(narrowed(state, expected, "decoder."))
    if widen:
        state = widened(state, expected)
        misfit = sorted(k for k in expected if k in state and state[k].shape != expected[k].shape)
        if misfit:
            raise SemcomError(f"{folder}'s backbone {card.get('backbone', {}).get('channels')} does not fit in the "
                              f"config's ({', '.join(misfit[:2])}): a model can only be widened, with the same "
                              "stages and blocks")
    method.complete_state(state, card, expected)
    missing = sorted(set(expected) - set(state))
    if missing:
        raise SemcomError(f"{folder} lacks weights for {', '.join(missing[:3])}")
    model.load_state_dict({k: state[k].reshape(expected[k].shape) for k in expected})
    return card
