"""Training jobs from the source tree, without GNU Radio (``scripts/run_from_source.py run ...``).

``prepare``: decode the train/val photos into a prepared folder (the data that travels with a copy
of the repository, e.g. ``.cache/prepared`` at ``--scale 0.5``, about 50 MB).

``train CONFIG --minutes M --out OUT``: everything within M minutes of wall time, start-up and
export included: a short probe measures seconds per step, the config's recipe is scaled down to
the steps that fit (kept as is when it fits; the probe's images/s and the images the budget will
see are printed as one JSON line), training runs on CUDA with bf16 and torch.compile when there is
a GPU (else the config's precision on the CPU), stops at the budget in any case, and OUT receives the
run directory (``run/``: log.csv, checkpoints, model.pt) and the exported model (``model/``:
encoder.onnx, decoder.onnx, card.json).
"""
from __future__ import annotations

import argparse
import json
import os
import time

EXPORT_RESERVE_S = 60.0  # final validation and ONNX export (at most 30 % of the budget)


def prepare(argv):
    p = argparse.ArgumentParser(prog="prepare", description="decode the photos into a prepared folder")
    p.add_argument("--out", required=True)
    p.add_argument("--scale", type=float, default=1.0, help="shrink the training photos by this factor (val never)")
    p.add_argument("--folder", help="a folder of images instead of the semcom-data cache")
    p.add_argument("--cache", help="the semcom-data cache (default ~/.cache/gr-semcom/data)")
    p.add_argument("--val-crop", type=int, help="keep only the val centre crops of this size (data.val_crop), "
                   "not the whole val photos: a compact folder to carry")
    args = p.parse_args(argv)
    from . import prepared
    folder = prepared.prepare({"folder": args.folder, "cache": args.cache}, args.out, args.scale, args.val_crop)
    size = sum(os.path.getsize(os.path.join(folder, f)) for f in os.listdir(folder))
    print(json.dumps({"folder": folder, "mb": round(size / 1e6, 1), **{
        k: len(v["names"]) for k, v in prepared.read_index(folder)["splits"].items()}}))


def probe_step(cfg: dict, out: str, device: str) -> tuple[float, str]:
    """Median seconds per training step of ``cfg`` (after 3 warm-up steps, which include any
    compilation) and the precision the trainer settled on."""
    from . import trainer
    probe = trainer.Trainer(trainer.scale_to_steps(cfg, 10), os.path.join(out, "probe"), device=device,
                            progress=False)
    sampler = probe._sampler()
    times = []
    for _ in range(12):
        t0 = time.perf_counter()
        probe.train_step(next(sampler))
        times.append(time.perf_counter() - t0)
    return sorted(times[3:])[len(times[3:]) // 2], probe.precision


def train(argv):
    t_start = time.time()
    p = argparse.ArgumentParser(prog="train", description="bounded-time training and export")
    p.add_argument("config")
    p.add_argument("--minutes", type=float, required=True, help="wall-time budget, start-up and export included")
    p.add_argument("--out", required=True)
    p.add_argument("--prepared", help="prepared data folder (default: the config's data.prepared)")
    p.add_argument("--device", help="default: cuda when available")
    p.add_argument("--model-id", help="model id in the card (default: the config's name)")
    p.add_argument("--init-from", help="start from an exported model folder")
    p.add_argument("--precision", choices=("auto", "bf16", "fp32"), default="auto",
                   help="auto: bf16 on a GPU that has it, else the config's (bf16 only where faster on this CPU)")
    p.add_argument("--fill", type=float, default=0.9,
                   help="fraction of the probed steps to plan (validation, checkpoints and other jobs on the same "
                   "device are not in the probe; lower it when several jobs share one GPU)")
    p.add_argument("--no-compile", dest="compile", action="store_false",
                   help="do not torch.compile the model on CUDA (it is compiled by default there)")
    args = p.parse_args(argv)
    if not 0 < args.fill <= 1:
        raise SystemExit(f"--fill must be in (0, 1], not {args.fill}")

    import torch

    from . import export, trainer
    over = {}
    if args.prepared:
        over["data"] = {"prepared": os.path.abspath(args.prepared)}
    cuda = (args.device or ("cuda" if torch.cuda.is_available() else "cpu")).startswith("cuda")
    if args.precision != "auto":
        over["precision"] = args.precision
    elif cuda:
        over["precision"] = "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    if cuda:
        torch.backends.cudnn.benchmark = True
    cfg = trainer.load_config(args.config, over)
    device = args.device or ("cuda" if cuda else "cpu")
    run_dir = os.path.join(args.out, "run")
    budget = args.minutes * 60 - min(EXPORT_RESERVE_S, 0.3 * args.minutes * 60)

    if cuda and args.compile:
        cfg["compile"] = True
    try:
        sec, cfg["precision"] = probe_step(cfg, args.out, device)
    except Exception as err:  # noqa: BLE001 (torch.compile's backends fail in many ways)
        if not cfg.get("compile"):
            raise
        print(f"torch.compile failed ({str(err).splitlines()[0][:120]}); training without it", flush=True)
        cfg["compile"] = False
        sec, cfg["precision"] = probe_step(cfg, args.out, device)
    left = budget - (time.time() - t_start)
    if left <= 0:
        raise SystemExit(f"no time left to train after start-up ({time.time() - t_start:.0f} s)")
    n = max(1, int(args.fill * left / sec))
    batch = int(cfg["data"]["batch"])
    print(json.dumps({"probe": {"device": device, "precision": cfg["precision"], "compile": bool(cfg.get("compile")),
                                "s_per_step": round(sec, 4), "images_per_s": round(batch / sec, 1),
                                "crop": int(cfg["data"]["crop"]), "planned_steps": n,
                                "expected_images": n * batch, "train_s_left": round(left, 1)}}), flush=True)
    if n < trainer.recipe.total_steps(cfg["recipe"]):
        cfg = trainer.scale_to_steps(cfg, n)
    t = trainer.Trainer(cfg, run_dir, device=device, progress=False)
    summary = t.fit(init_from=args.init_from, budget_s=left)
    final = os.path.join(run_dir, "model.pt")
    if not os.path.exists(final):  # stopped by the budget before the recipe's end
        t.save_final()
    model, saved = trainer.load_model(final)
    card = export.export(model, saved, os.path.join(args.out, "model"), args.model_id or cfg["name"])
    import numpy
    print(json.dumps({"device": str(t.device), "precision": t.precision, "numpy": numpy.__version__,
                      "torch": torch.__version__, "s_per_step_probe": round(sec, 4),
                      "steps": summary["step"], "recipe_steps": t.total_steps, "train_s": round(summary["train_s"], 1),
                      "total_s": round(time.time() - t_start, 1), "val_psnr": summary["val_psnr"],
                      "model": os.path.join(args.out, "model"), "parity": card.get("parity_max_abs_diff", card.get("parity"))}))


def main(argv):
    jobs = {"prepare": prepare, "train": train}
    if not argv or argv[0] not in jobs:
        raise SystemExit(f"usage: run {{{','.join(jobs)}}} ...\n\n{__doc__}")
    jobs[argv[0]](argv[1:])
