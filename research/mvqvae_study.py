#!/usr/bin/env python3
"""Masked VQ-VAE, from the trained runs to the README's tables.

  python3 research/mvqvae_study.py train        # both patch sizes (configs/mvqvae_p{8,16}_small.json), resumable
  python3 research/mvqvae_study.py at-train     # adversarial training as a fine-tune of the shipped model, and
                                               # the same fine-tune without it (the fair "no AT")
  python3 research/mvqvae_study.py noise-map    # the masking strategy from measured semantic-noise statistics
  python3 research/mvqvae_study.py export       # ONNX + cards: the better patch size into models/, the rest into the zoo
                                               # (--zoo: all into the zoo, models/ untouched)
  python3 research/mvqvae_study.py robustness   # PSNR under semantic noise: AT vs not, FIM and masking ablations
  python3 research/mvqvae_study.py eval         # semcom-eval next to BitSemCom, AMP-SC and the SSCC envelope:
                                               # AWGN, Rayleigh and the paper's 8x4 MIMO channel (LMMSE)
  python3 research/mvqvae_study.py table-i      # symbols per 224x224 image at equal PSNR (the paper's Table I)
  python3 research/mvqvae_study.py task         # a classification head over the indices: accuracy vs SNR and eps
  python3 research/mvqvae_study.py similarity   # the similarity rule (delta) and the FIM threshold at run time
  python3 research/mvqvae_study.py tiling       # what 128 px tiles cost at their seams
  python3 research/mvqvae_study.py probe --patch 16 [--set lr=0.001 model.fim=false]
                                               # a throw-away run from scratch: reconstruction PSNR every 25 steps

Runs live in runs/mvqvae_p<patch>; the run's ``snapshot_plain.pt`` (before the adversarial stage) is
the model without adversarial training. Where ``at-train`` has run, its pair replaces them:
runs/mvqvae_p<patch>_at (adversarial) and runs/mvqvae_p<patch>_ft (the same steps without), both from
the shipped weights. Results go to research/results/mvqvae/.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys

import numpy as np

import study_config  # scripts/, beside this file

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
PY = sys.executable
OUT = os.environ.get("MVQVAE_OUT", os.path.join(ROOT, "research", "results", "mvqvae"))
ZOO = os.path.join(ROOT, ".cache", "mvqvae-models")
TEST = os.path.expanduser("~/.cache/gr-semcom/data/test")
PATCHES = (8, 16)
EPSILONS = (0.0, 0.008, 0.016)
NOISE_KAPPA = 2.0  # mask_logits = -kappa * (saliency / mean - 1): a patch twice as hit is kept e^-2 as often
SHIPPED = "mvqvae-p{patch}-16qam"
sys.path.insert(0, os.path.join(ROOT, "python"))
# the registry (which reads this when it is first imported) sees the zoo and the source tree's models/
os.environ["SEMCOM_MODEL_PATH"] = os.pathsep.join(
    p for p in (ZOO, os.path.join(ROOT, "models"), os.environ.get("SEMCOM_MODEL_PATH", "")) if p)


def write_table(name: str, text: str) -> None:
    """A generated Markdown table into OUT (the README copies it), and to the terminal."""
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, name), "w") as f:
        f.write(text)
    print(text)


def run_dir(patch: int) -> str:
    return os.path.join(ROOT, "runs", f"mvqvae_p{patch}")


def config(patch: int) -> str:
    return os.path.join(ROOT, "configs", f"mvqvae_p{patch}_small.json")


def final_weights(patch: int) -> str:
    """model.pt, else the latest checkpoint (a run still going)."""
    d = run_dir(patch)
    if os.path.exists(os.path.join(d, "model.pt")):
        return os.path.join(d, "model.pt")
    from semcom.training.trainer import latest_checkpoint
    ck = latest_checkpoint(d)
    if not ck:
        raise SystemExit(f"{d} has no model.pt or checkpoint; run: python3 research/mvqvae_study.py train")
    return ck


def at_pair(patch: int) -> tuple[str, str]:
    """(adversarially trained, not) weights: at-train's fine-tunes where both are done, else the
    training run's final weights and its snapshot before the adversarial stage."""
    at, ft = (os.path.join(ROOT, "runs", f"mvqvae_p{patch}_{k}", "model.pt") for k in ("at", "ft"))
    if os.path.exists(at) and os.path.exists(ft):
        return at, ft
    return final_weights(patch), os.path.join(run_dir(patch), "snapshot_plain.pt")


def noise_masked(patch: int) -> str:
    """The adversarially trained weights with the noise-related masking (noise-map's output)."""
    return os.path.join(os.path.dirname(at_pair(patch)[0]), "model_noise_masked.pt")


def at_config(patch: int, adversarial: bool, steps: int) -> str:
    """The config's adversarial stage as a fine-tune of ``steps`` (its own cosine from its lr), with or
    without the adversarial part; codebook upkeep off in both, so the pair differs in AT alone."""
    with open(config(patch)) as f:
        cfg = json.load(f)
    stage = dict(next(s for s in cfg["recipe"] if s.get("adversarial")))
    if not adversarial:
        stage.pop("adversarial")
    kind = "at" if adversarial else "ft"
    stage.update(name=f"{kind}-fine-tune", steps=steps)
    stage.pop("snapshot", None)
    cfg.update(name=f"{cfg['name']}_{kind}", recipe=[stage], model={**cfg["model"], "maintain_codebook": False},
               val={**cfg["val"], "every": steps})
    return study_config.write(cfg, os.path.join(ROOT, "runs", f"mvqvae_p{patch}_{kind}"))


def cmd_at_train(args) -> None:
    """Adversarial training (Algorithm 2) and, as its control, the same fine-tune without it, both
    from the shipped model (models/ or the zoo) for --at-steps steps."""
    for patch in args.patch:
        start = next((d for d in (os.path.join(ROOT, "models", SHIPPED.format(patch=patch)),
                                  os.path.join(ZOO, SHIPPED.format(patch=patch))) if os.path.isdir(d)), None)
        if start is None:
            print(f"skip patch {patch}: no model {SHIPPED.format(patch=patch)} to start from")
            continue
        for adversarial in (False, True):
            path = at_config(patch, adversarial, args.at_steps)
            out = os.path.dirname(path)
            if os.path.exists(os.path.join(out, "model.pt")):
                print(f"done already: {out}")
                continue
            resume = ["--resume"] if any(f.startswith("ckpt_") for f in os.listdir(out)) else []
            cmd = [PY, os.path.join(ROOT, "apps", "semcom-train"), path, "--out", out, "--no-progress",
                   "--init-from", start, *resume]
            print("+", " ".join(cmd), flush=True)
            subprocess.run(cmd, check=True, cwd=ROOT)


def cmd_probe(args) -> None:
    """From scratch, --probe-steps steps of the config (with --set overrides): the reconstruction PSNR
    (the loss without the codebook terms) every 25 steps, to see whether and when a variant starts to learn."""
    import math
    import tempfile
    import time
    from semcom.training import trainer
    for patch in args.patch:
        with open(config(patch)) as f:
            cfg = json.load(f)
        for item in args.set:
            key, value = item.split("=", 1)
            *path, last = key.split(".")
            node = cfg
            for k in path:
                node = node[k]
            try:
                node[last] = json.loads(value)
            except json.JSONDecodeError:  # a bare word: a string
                node[last] = value
        cfg = trainer.load_config({**cfg, "threads": args_threads()})
        with tempfile.TemporaryDirectory() as tmp:
            t = trainer.Trainer(cfg, tmp, progress=False)
            t.sampler, window, start = t._sampler(), [], time.time()
            while t.step < args.probe_steps:
                loss = t.train_step(next(t.sampler))
                extra = t.model.extra_loss()
                window.append(loss - (float(extra.detach()) if extra is not None else 0.0))
                t.step += 1
                if t.step % 25 == 0:
                    mse = sum(window) / len(window)
                    print(f"patch {patch} {' '.join(args.set)} step {t.step}: reconstruction {mse:.4f} "
                          f"({-10 * math.log10(mse):.2f} dB), {time.time() - start:.0f} s", flush=True)
                    window = []


def cmd_train(args) -> None:
    for patch in args.patch:
        out = run_dir(patch)
        if os.path.exists(os.path.join(out, "model.pt")):
            print(f"done already: {out}")
            continue
        resume = ["--resume"] if os.path.isdir(out) and any(f.startswith("ckpt_") for f in os.listdir(out)) else []
        cmd = [PY, os.path.join(ROOT, "apps", "semcom-train"), config(patch), "--out", out, "--no-progress", *resume]
        print("+", " ".join(cmd), flush=True)
        subprocess.run(cmd, check=True, cwd=ROOT)


# ---------------------------------------------------------------- torch-side evaluation

def load(path: str):
    import torch
    from semcom.training.models import load_model
    torch.set_num_threads(args_threads())
    model, saved = load_model(path)
    return model, saved


def args_threads() -> int:
    return int(os.environ.get("MVQVAE_THREADS", "1"))


def test_images(limit: int = 0):
    from semcom.imageio import list_images, load_image
    paths = list_images(TEST)[: limit or None]
    return [(os.path.basename(p), load_image(p)) for p in paths]


def as_tensor(image: np.ndarray, tile: int):
    import torch
    from semcom.codecs.neural import pad_to_multiple
    padded, _ = pad_to_multiple(image, tile)
    return torch.from_numpy(padded.astype(np.float32).transpose(2, 0, 1)[None] / 255.0)


def psnr_under_noise(model, images, epsilon: float, seed: int = 0, universal=None) -> float:
    """Mean PSNR (dB) of the error-free reconstructions of images with transmitter semantic noise (eq. 7),
    or with ``universal`` (1, 3, tile, tile), one sample-independent noise (Algorithm 1) on every tile."""
    import torch
    import torch.nn.functional as F
    from semcom import metrics
    from semcom.training import adversarial
    model.eval()
    values = []
    for i, (_, image) in enumerate(images):
        x = as_tensor(image, model.tile)

        def forward(inp, i=i):
            torch.manual_seed(seed + i)  # the same kept positions at every FGSM step and for the result
            return model(inp)
        if universal is not None:
            noisy = (x + universal.repeat(1, 1, x.shape[2] // model.tile, x.shape[3] // model.tile)).clamp(0, 1)
        else:
            noisy = adversarial.transmitter_noise(forward, F.mse_loss, x, epsilon, 5) if epsilon else x
        with torch.no_grad():
            out = forward(noisy)
        h, w = image.shape[:2]
        rec = (out[0, :, :h, :w].clamp(0, 1).permute(1, 2, 0).numpy() * 255 + 0.5).astype(np.uint8)
        values.append(metrics.psnr(image, rec))
    return float(np.mean(values))


UNIVERSAL_CROPS = 16


def universal_noise(model, cfg: dict, epsilon: float):
    """Algorithm 1's sample-independent noise (1, 3, tile, tile) for ``model`` (trained with ``cfg``), from
    its validation crops."""
    import torch
    import torch.nn.functional as F
    from semcom.training import adversarial, checkpoint, trainer
    crops = torch.stack(trainer.center_crops(trainer.load_images(cfg, "val"), model.tile, UNIVERSAL_CROPS))
    model.eval()
    torch.manual_seed(0)
    return adversarial.receiver_noise(model, F.mse_loss, crops, epsilon, 5, draws=UNIVERSAL_CROPS).detach()


def cmd_noise_map(args) -> None:
    """Per-position saliency of the semantic noise, mean |delta * grad| over the tiles of the training
    crops (first-order loss increase each patch contributes), into mask_logits of the run's weights."""
    import torch
    import torch.nn.functional as F
    from semcom.training import adversarial, trainer
    for patch in args.patch:
        path = at_pair(patch)[0]
        model, saved = load(path)
        cfg = saved["config"]
        crops = trainer.center_crops(trainer.load_images(cfg, "val"), model.tile, 64)
        x = torch.stack(crops)
        model.eval()
        delta = adversarial.transmitter_noise(model, F.mse_loss, x, 0.016, 5) - x
        noisy = (x + delta).requires_grad_(True)
        loss = F.mse_loss(model(noisy), x)
        grad, = torch.autograd.grad(loss, noisy)
        sal = (delta * grad).abs().sum(1)  # (B, t, t)
        g, p = model.grid, model.patch
        per_pos = sal.reshape(-1, g, p, g, p).sum((2, 4)).mean(0).reshape(-1)
        logits = -NOISE_KAPPA * (per_pos / per_pos.mean() - 1)
        model.mask_logits.copy_(logits)
        saved["model"] = model.state_dict()
        saved["noise_map"] = {"saliency_per_position": per_pos.tolist(), "kappa": NOISE_KAPPA, "crops": len(crops)}
        out = noise_masked(patch)
        checkpoint.save(saved, out)
        spread = float(per_pos.max() / per_pos.min())
        print(f"patch {patch}: saliency max/min {spread:.2f}; mask logits {float(logits.min()):.2f}..{float(logits.max()):.2f}"
              f" -> {out}")


def cmd_robustness(args) -> None:
    """PSNR (error-free channel, mask ratio 0.5) under semantic noise eps: with and without adversarial
    training, FIM dropping on and off, noise-related and uniform masking."""
    import torch

    from semcom.training import checkpoint
    images = test_images(args.max_images)
    rows = []
    for patch in args.patch:
        at = noise_masked(patch)
        for label, path in (("AT", at), ("no AT", at_pair(patch)[1])):
            if not os.path.exists(path):
                print(f"skip {path} (missing)")
                continue
            model, saved = load(path)
            universal = universal_noise(model, saved["config"], EPSILONS[-1])  # once per model, as loaded
            noise_logits = model.mask_logits.clone()
            if label == "no AT" and os.path.exists(at):  # the same noise-related masking as the AT model
                noise_logits = checkpoint.load(at, "cpu")["model"]["mask_logits"]
            for masking in ("noise-related", "uniform"):
                for fim in ("FIM", "FIM off"):
                    if fim == "FIM off" and label == "no AT":
                        continue
                    model.mask_logits.copy_(noise_logits if masking == "noise-related" else torch.zeros_like(noise_logits))
                    model.fim_threshold = 0.25 if fim == "FIM" else 0.0
                    scores = {f"{e:g}": round(psnr_under_noise(model, images, e), 3) for e in EPSILONS}
                    scores["universal"] = round(psnr_under_noise(model, images, 0.0, universal=universal), 3)
                    row = {"patch": patch, "training": label, "masking": masking, "fim": fim, **scores}
                    print(row, flush=True)
                    rows.append(row)
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "robustness.json"), "w") as f:
        json.dump(rows, f, indent=1)
    top = EPSILONS[-1]
    lines = ["| patch | training | masking | FIM drop | " + " | ".join(f"PSNR eps={e:g}" for e in EPSILONS)
             + f" | loss at {top:g} | PSNR, Alg. 1 noise {top:g} | its loss |",
             "|---|---|---|---|" + "---|" * (len(EPSILONS) + 3)]
    for r in rows:
        vals = [r[f"{e:g}"] for e in EPSILONS]
        lines.append(f"| {r['patch']} | {r['training']} | {r['masking']} | {r['fim']} | "
                     + " | ".join(f"{v:.2f}" for v in vals) + f" | {vals[-1] - vals[0]:+.2f} | "
                     + f"{r['universal']:.2f} | {r['universal'] - vals[0]:+.2f} |")
    text = (f"Semantic noise at the transmitter (iterative FGSM, eq. 7, K = 5, L-inf eps, per image), and one "
            f"sample-independent noise of L-inf norm {top:g} (Algorithm 1: from up to {UNIVERSAL_CROPS} validation "
            f"crops and {UNIVERSAL_CROPS} channel draws, the same on every tile of every photo), error-free channel, "
            f"mask ratio 0.5, {len(images)} Kodak-like photos; `python3 research/mvqvae_study.py robustness`.\n\n"
            + "\n".join(lines) + "\n")
    write_table("robustness.md", text)


# ---------------------------------------------------------------- export and GNU Radio evaluation

def export_one(path: str, folder: str, model_id: str) -> dict:
    from semcom.training import export
    if os.path.isdir(folder):
        shutil.rmtree(folder)
    card = export.export_file(path, folder, model_id)
    print(f"exported {path} -> {folder}: parity {card['parity']}")
    return card


def cmd_export(args) -> None:
    """The patch size with the better validation PSNR ships in models/; the other and the no-AT
    snapshot go to the zoo (for the tables)."""
    from semcom.training import checkpoint
    scores = {}
    for patch in args.patch:
        path = noise_masked(patch)
        if not os.path.exists(path):
            path = at_pair(patch)[0]
        val = checkpoint.load(path, "cpu").get("val_psnr", {})
        scores[patch] = (float(np.mean(list(val.values()))) if val else float("-inf"), path)
    best = max(scores, key=lambda p: scores[p][0])
    for patch, (score, path) in scores.items():
        name = SHIPPED.format(patch=patch)
        plain = at_pair(patch)[1]
        # the robustness table decides: without AT (uniform masking, as trained) the model scored higher,
        # clean and under semantic noise, so that one ships; the AT one (noise-related masking) is kept
        shipped, other = (plain, path) if args.ship == "no-at" and os.path.exists(plain) else (path, plain)
        home = os.path.join(ROOT, "models") if patch == best and not args.zoo else ZOO
        export_one(shipped, os.path.join(home, name), name)
        suffix = "-at" if shipped == plain else "-no-at"
        if os.path.exists(other):
            export_one(other, os.path.join(ZOO, name + suffix), name + suffix)
    if not args.zoo:
        print(f"shipped: {SHIPPED.format(patch=best)} (validation PSNR {scores[best][0]:.2f} dB)")


def vq_codecs() -> list[str]:
    from semcom.codecs import neural
    return [os.path.basename(d) for d in neural.model_dirs() if neural.card_codec(d) == "mvqvae"]


def cmd_eval(args) -> None:
    """AWGN: the VQ models over 16-QAM + LDPC 1/2 at cpp 1/16, appended to the AMP-SC study's results
    (BitSemCom 16-QAM, AMP-SC, the conventional codecs whose best link is the SSCC envelope).
    Rayleigh: the same codecs at fewer SNRs."""
    env = dict(os.environ)
    vq = [c for c in vq_codecs() if not c.endswith(("-at", "-no-at"))]
    eval_app = [PY, os.path.join(ROOT, "apps", "semcom-eval"), "--images", args.images, "--no-reference",
                "--max-images", str(args.max_images)]
    awgn = os.path.join(OUT, "awgn")
    os.makedirs(awgn, exist_ok=True)
    src = os.path.join(ROOT, "research", "results", "ampsc", "results.csv")
    keep = ("bitsemcom-16qam-cpp16-hard", "ampsc-b4-16qam-cpp16-hard", "avif", "webp", "jpeg2000")
    with open(src) as f, open(os.path.join(awgn, "results.csv"), "w") as g:
        header = f.readline()
        g.write(header)
        for line in f:
            if line.split(",")[1] in keep:
                g.write(line)
    runs = [eval_app + ["--snr", *map(str, args.snr), "--out", awgn, "--codecs", *vq, "--learned-links", "16qam",
                        "--append"]]
    eval_app = eval_app[:-1] + [str(args.side_images)]  # Rayleigh, MIMO, over the air: fewer photos
    ray = os.path.join(OUT, "rayleigh")
    runs.append(eval_app + ["--snr", *map(str, args.rayleigh_snr), "--out", ray, "--channels", "rayleigh",
                            "--codecs", *vq, "bitsemcom-16qam-cpp16-hard", "ampsc-b4-16qam-cpp16-hard",
                            "--learned-links", "16qam"])
    runs.append(eval_app + ["--snr", *map(str, args.rayleigh_snr), "--out", ray, "--channels", "rayleigh",
                            "--codecs", "avif", "webp", "jpeg2000", "--links", "16qam/ldpc-1/2", "qpsk/ldpc-1/2",
                            "qpsk/ldpc-1/3", "--append"])
    mimo = os.path.join(OUT, "mimo8x4")
    runs.append(eval_app + ["--snr", *map(str, args.mimo_snr), "--out", mimo, "--channels", "mimo8x4",
                            "--codecs", *vq, "bitsemcom-16qam-cpp16-hard", "avif", "webp", "jpeg2000",
                            "--learned-links", "16qam", "--links", "16qam/ldpc-1/2", "qpsk/ldpc-1/2", "qpsk/ldpc-1/3"])
    ota = os.path.join(OUT, "ota")
    for extra in ([], ["--waveform", "sc", "--impaired", "--append"]):  # ideal, then the impaired burst waveform
        runs.append(eval_app + ["--snr", *map(str, args.ota_snr), "--out", ota, "--codecs", *vq,
                                "bitsemcom-16qam-cpp16-hard", "--learned-links", "16qam", *extra])
    for cmd in runs:
        print("+", " ".join(cmd), flush=True)
        subprocess.run(cmd, check=True, cwd=ROOT, env=env)


def cmd_tiling(args) -> None:
    """What tiling costs: error-free PSNR of the pixels within 4 px of a tile seam against the rest."""
    from semcom.codecs import registry
    from semcom.codecs.base import Received
    from semcom.phy.link import LinkConfig
    link = LinkConfig("16qam", "ldpc-1/2")
    rows = []
    for name in [c for c in vq_codecs() if not c.endswith(("-at", "-no-at"))]:
        codec = registry.get(name)
        t = codec.model.tile
        near, far = [], []
        for _, img in test_images(args.max_images):
            h, w = img.shape[:2]
            enc = codec.encode(img, link, h * w // 16)
            llr = np.where(enc.bits > 0, 20.0, -20.0).astype(np.float32)
            out = codec.decode(Received(enc.bits, llr, True, {"height": h, "width": w, **enc.meta})).image
            d = np.abs(np.minimum(np.arange(h) % t, t - 1 - np.arange(h) % t))[:, None]
            e = np.abs(np.minimum(np.arange(w) % t, t - 1 - np.arange(w) % t))[None, :]
            seam = np.minimum(d, e) < 4
            err = (img.astype(np.float64) - out) ** 2
            near.append(err[seam].mean())
            far.append(err[~seam].mean())
        psnr = lambda mse: 10 * np.log10(255 ** 2 / np.mean(mse))  # noqa: E731
        rows.append((name, psnr(near), psnr(far)))
    lines = ["| model | PSNR within 4 px of a seam | PSNR elsewhere | seam cost |", "|---|---|---|---|"]
    lines += [f"| {n} | {a:.2f} | {b:.2f} | {a - b:+.2f} dB |" for n, a, b in rows]
    text = ("Tiling (128 px tiles, refined across seams by the decoder's conv): error-free reconstructions at cpp "
            f"1/16, 16-QAM + LDPC 1/2, {args.max_images or 'all'} Kodak-like photos; "
            "`python3 research/mvqvae_study.py tiling`.\n\n" + "\n".join(lines) + "\n")
    write_table("tiling.md", text)


def cmd_similarity(args) -> None:
    """The similarity rule (delta) and the FIM threshold at run time: error-free PSNR, kept positions
    and what was sent, at cpp 1/16 and 1/32 (16-QAM + LDPC 1/2), on the Kodak-like photos."""
    from semcom import metrics
    from semcom.codecs import masked_vq, neural
    from semcom.codecs.base import Received
    from semcom.phy.link import LinkConfig
    link = LinkConfig("16qam", "ldpc-1/2")
    images = test_images(args.max_images)
    lines = ["| model | delta | FIM threshold | cpp | kept per tile | sent / copies / masked (of kept) | PSNR dB |",
             "|---|---|---|---|---|---|---|"]
    for d in neural.model_dirs():
        if neural.card_codec(d) != "mvqvae" or d.endswith(("-at", "-no-at")):
            continue
        m = masked_vq.MaskedVQModel(d)
        for delta in (2.0, 0.999, 0.98, 0.95):
            for fim in (m.card.get("fim_threshold", 0.25), 0.0):
                codec = masked_vq.MaskedVQCodec(m, delta=delta, fim_threshold=fim)
                for cpp in (1 / 16, 1 / 32):
                    psnr, keep, sent, copies, kept = [], [], 0, 0, 0
                    for _, img in images:
                        h, w = img.shape[:2]
                        enc = codec.encode(img, link, int(cpp * h * w))
                        llr = np.where(enc.bits > 0, 20.0, -20.0).astype(np.float32)
                        plan, flags, copy, _ = codec._side(llr, h, w)
                        out = codec.decode(Received(enc.bits, llr, True, {"height": h, "width": w, **enc.meta}))
                        psnr.append(metrics.psnr(img, out.image))
                        keep.append(plan.keep)
                        sent, copies, kept = sent + int(flags.sum()), copies + int(copy.sum()), kept + plan.kept
                    lines.append(f"| {m.name} | {'off' if delta > 1 else delta} | {fim:g} | 1/{round(1 / cpp)} | "
                                 f"{np.mean(keep):.0f} of {m.positions} | {100 * sent / kept:.1f} / "
                                 f"{100 * copies / kept:.1f} / {100 * (kept - sent - copies) / kept:.1f} % | "
                                 f"{np.mean(psnr):.2f} |")
                    print(lines[-1], flush=True)
    text = (f"The similarity rule and the FIM at run time (error-free channel, {len(images)} Kodak-like photos; "
            "a copy costs one side bit, a sent index 8 bits plus one; what is saved buys more kept positions); "
            "`python3 research/mvqvae_study.py similarity`.\n\n" + "\n".join(lines) + "\n")
    write_table("similarity.md", text)


def symbols_for_psnr(image: np.ndarray, target: float, fmt: str, bits_per_symbol: int = 4, rate: float = 0.5):
    """Fewest 16-QAM + LDPC 1/2 symbols with which ``fmt`` reaches ``target`` dB (bisection over bytes)."""
    from semcom import metrics
    from semcom.codecs import sscc
    from semcom.errors import SemcomError

    def reaches(budget: int) -> bool:
        try:
            return metrics.psnr(image, sscc.fit_to_budget(image, budget, fmt)[1]) >= target
        except SemcomError:  # below the format's smallest file
            return False
    lo, hi = 16, 1 << 17
    if not reaches(hi):
        return None
    while hi - lo > max(8, lo // 50):
        mid = (lo + hi) // 2
        if reaches(mid):
            hi = mid
        else:
            lo = mid
    return int(np.ceil(hi * 8 / rate / bits_per_symbol))


def cmd_table_i(args) -> None:
    """Symbols for one 224x224 image: the paper's formula, ours measured (side information included),
    and JPEG+LDPC and the SSCC envelope at the PSNR the VQ model reaches (error-free), per photo."""
    from semcom import metrics
    from semcom.codecs import registry
    from semcom.imageio import resize
    from semcom.phy.link import LinkConfig
    link = LinkConfig("16qam", "ldpc-1/2")
    images = [(n, resize(img[:min(img.shape[:2]), :min(img.shape[:2])], 224, 224)) for n, img in test_images(args.max_images)]
    rows = []
    for codec_name in [c for c in vq_codecs() if not c.endswith(("-at", "-no-at"))]:
        codec = registry.get(codec_name)
        m = codec.model
        paper = 224 * 224 * m.index_bits * 0.5 / (m.patch ** 2 * 4)
        keep = int(m.positions * 0.5)
        tiles = (-(-224 // m.tile)) ** 2
        bits = 2 * (32 + tiles * keep) + tiles * keep * m.index_bits
        cu = link.channel_uses(bits)
        psnrs, jpeg, env = [], [], []
        from semcom.codecs.base import Received
        for name, img in images:
            enc = codec.encode(img, link, cu)
            llr = np.where(enc.bits > 0, 20.0, -20.0).astype(np.float32)
            out = codec.decode(Received(enc.bits, llr, True, {"height": 224, "width": 224, **enc.meta})).image
            p = metrics.psnr(img, out)
            psnrs.append(p)
            jpeg.append(symbols_for_psnr(img, p, "jpeg"))
            env.append(min([s for s in (symbols_for_psnr(img, p, f) for f in ("jpeg", "webp", "avif", "jpeg2000"))
                            if s is not None], default=None))
        rows.append({"codec": codec_name, "patch": m.patch, "paper_formula_symbols": paper, "ours_symbols": cu,
                     "psnr_db": float(np.mean(psnrs)),
                     "jpeg_ldpc_symbols": float(np.mean([j for j in jpeg if j])) if any(jpeg) else None,
                     "sscc_envelope_symbols": float(np.mean([e for e in env if e])) if any(env) else None})
        print(rows[-1], flush=True)
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "table_i.json"), "w") as f:
        json.dump(rows, f, indent=1)
    lines = ["| scheme | symbols per 224x224 image | PSNR (dB) |", "|---|---|---|"]
    for patch in sorted(set(PATCHES) - {r["patch"] for r in rows}):  # not trained: the formula only
        lines.append(f"| masked VQ-VAE, patch {patch} (paper's formula, no side information, no LDPC; no model "
                     f"trained here) | {224 * 224 * 8 * 0.5 / (patch ** 2 * 4):.0f} | |")
    for r in rows:
        lines.append(f"| masked VQ-VAE, patch {r['patch']} (paper's formula, no side information, no LDPC) | "
                     f"{r['paper_formula_symbols']:.0f} | |")
        lines.append(f"| {r['codec']} (ours: the budget of mask ratio 0.5 with every kept index sent, side "
                     f"information, LDPC 1/2, 16-QAM; copies and FIM drops buy more kept positions) | {r['ours_symbols']} | "
                     f"{r['psnr_db']:.2f} |")
        if r["jpeg_ldpc_symbols"]:
            lines.append(f"| JPEG + LDPC 1/2, 16-QAM, at that PSNR | {r['jpeg_ldpc_symbols']:.0f} | {r['psnr_db']:.2f} |")
        if r["sscc_envelope_symbols"]:
            lines.append(f"| SSCC envelope (best of JPEG, WebP, AVIF, JPEG 2000) at that PSNR | "
                         f"{r['sscc_envelope_symbols']:.0f} | {r['psnr_db']:.2f} |")
    text = (f"The paper's Table I for image reconstruction: {len(images)} Kodak-like photos, centre square resized "
            f"to 224x224; conventional symbols = fewest bytes reaching the VQ model's PSNR on each photo, x 8 / "
            f"(1/2 x 4); `python3 research/mvqvae_study.py table-i`.\n\n" + "\n".join(lines) + "\n")
    write_table("table_i.md", text)


MIMO_LABEL = "8x4 MIMO"


def cmd_task(args) -> None:
    """The classification head on the digits (or --folder): accuracy against SNR (16-QAM + LDPC 1/2,
    AWGN and 8x4 MIMO) and against semantic noise eps, with and without adversarial training."""
    import torch
    from semcom.phy import channels
    from semcom.training import mvqvae_task
    rows = []
    for patch in args.patch:
        for label, path in (("AT", noise_masked(patch)), ("no AT", at_pair(patch)[1])):
            if not os.path.exists(path):
                print(f"skip {path} (missing)")
                continue
            model, _ = load(path)
            images, labels, names = (mvqvae_task.folder(args.folder, model.tile) if args.folder
                                     else mvqvae_task.digits(model.tile))
            order = np.random.default_rng(0).permutation(len(images))
            cut = int(0.78 * len(images))
            train, test = order[:cut], order[cut:]
            torch.manual_seed(0)
            head = mvqvae_task.train_head(model, images[train], labels[train], len(names), steps=args.head_steps)
            row = {"patch": patch, "training": label, "train_images": len(train), "test_images": len(test),
                   "classes": len(names)}
            row["error-free"] = mvqvae_task.accuracy(head, mvqvae_task.transmit(model, images[test], None), labels[test])
            for snr in args.task_snr:
                row[f"{snr:g} dB"] = mvqvae_task.accuracy(head, mvqvae_task.transmit(model, images[test], snr),
                                                          labels[test])
            for snr in args.mimo_snr:
                row[f"{MIMO_LABEL} {snr:g} dB"] = mvqvae_task.accuracy(
                    head, mvqvae_task.transmit(model, images[test], snr, channel=channels.MIMO), labels[test])
            for eps in EPSILONS[1:]:
                row[f"eps {eps:g}"] = mvqvae_task.accuracy(
                    head, mvqvae_task.transmit(model, images[test], None, epsilon=eps, head=head, labels=labels[test]),
                    labels[test])
            print(row, flush=True)
            rows.append(row)
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "task.json"), "w") as f:
        json.dump(rows, f, indent=1)
    cols = (["error-free"] + [f"{snr:g} dB" for snr in args.task_snr] + [f"{MIMO_LABEL} {snr:g} dB" for snr in args.mimo_snr]
            + [f"eps {e:g}" for e in EPSILONS[1:]])
    lines = ["| patch | training | " + " | ".join(cols) + " |", "|---|---|" + "---|" * len(cols)]
    for r in rows:
        lines.append(f"| {r['patch']} | {r['training']} | " + " | ".join(f"{100 * r[c]:.1f} %" for c in cols) + " |")
    what = f"the folder {args.folder}" if args.folder else "scikit-learn's digits (8x8, upscaled to one tile)"
    n = rows[0] if rows else {}
    text = (f"Classification accuracy of a 3-layer head over the received indices (encoder and codebook as "
            f"trained for reconstruction, mask ratio 0.5), {what}: {n.get('train_images')} training and "
            f"{n.get('test_images')} test images, {n.get('classes')} classes. dB columns: 16-QAM + LDPC 1/2 over "
            f"AWGN, and over the paper's 8x4 MIMO Rayleigh channel with LMMSE detection ({MIMO_LABEL}, Es/N0 per "
            f"receive antenna), in the project's numpy PHY twin; eps columns: semantic noise at the transmitter against the "
            f"head's cross-entropy (iterative FGSM, K = 5, through the straight-through codebook), error-free channel; `python3 research/mvqvae_study.py task`.\n\n" + "\n".join(lines) + "\n")
    write_table("task.md", text)


def cmd_shipped(args) -> None:
    """Prints the masked VQ-VAE models shipped in models/ (for make mvqvae)."""
    from semcom.codecs import neural
    folder = os.path.join(ROOT, "models")
    print(" ".join(d for d in sorted(os.listdir(folder)) if neural.card_codec(os.path.join(folder, d)) == "mvqvae"
                   and os.path.isfile(os.path.join(folder, d, "card.json"))))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("command", choices=("train", "probe", "at-train", "noise-map", "export", "robustness", "eval", "table-i", "task",
                                           "tiling", "similarity", "shipped"))
    ap.add_argument("--patch", type=int, nargs="+", default=list(PATCHES), help="patch sizes (default 8 16)")
    ap.add_argument("--images", default=TEST, help="eval: test photos (default: the Kodak-like set)")
    ap.add_argument("--max-images", type=int, default=0, help="use only the first N photos (0 = all)")
    ap.add_argument("--snr", type=float, nargs="+", default=[0, 3, 6, 10, 15, 20], help="eval: AWGN Es/N0 (dB)")
    ap.add_argument("--rayleigh-snr", type=float, nargs="+", default=[0, 10, 20], help="eval: Rayleigh Es/N0 (dB)")
    ap.add_argument("--mimo-snr", type=float, nargs="+", default=[10, 20, 30],
                    help="eval and task: 8x4 MIMO Es/N0 per receive antenna (dB)")
    ap.add_argument("--side-images", type=int, default=6,
                    help="eval: photos for the Rayleigh, MIMO and over-the-air runs (AWGN: --max-images)")
    ap.add_argument("--ota-snr", type=float, nargs="+", default=[10, 15],
                    help="eval: Es/N0 (dB) of the ideal channel against the impaired burst waveform")
    ap.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE",
                    help="probe: config overrides, dotted keys, JSON values (model.fim=false lr=0.001)")
    ap.add_argument("--probe-steps", type=int, default=200, help="probe: steps from scratch")
    ap.add_argument("--at-steps", type=int, default=150,
                    help="at-train: steps of each fine-tune (an adversarial one costs about eight)")
    ap.add_argument("--ship", choices=("no-at", "at"), default="no-at",
                    help="export: which model goes to models/ (no-at: it scored higher in the robustness table)")
    ap.add_argument("--zoo", action="store_true",
                    help="export: every model into the zoo (.cache/mvqvae-models), models/ untouched")
    ap.add_argument("--folder", help="task: a labelled folder (class/*.png) instead of the digits")
    ap.add_argument("--task-snr", type=float, nargs="+", default=[0, 3, 6, 10], help="task: Es/N0 (dB)")
    ap.add_argument("--head-steps", type=int, default=600, help="task: training steps of the head")
    args = ap.parse_args()
    {"train": cmd_train, "probe": cmd_probe, "at-train": cmd_at_train, "noise-map": cmd_noise_map, "export": cmd_export, "robustness": cmd_robustness,
     "eval": cmd_eval, "table-i": cmd_table_i, "task": cmd_task, "tiling": cmd_tiling, "similarity": cmd_similarity,
     "shipped": cmd_shipped}[args.command](args)


if __name__ == "__main__":
    main()
