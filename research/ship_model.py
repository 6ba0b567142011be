#!/usr/bin/env python3
"""Ship a training run as a model of models/, only if it scores better (the models' README rule).

  python3 research/ship_model.py runs/more bitsemcom-qpsk-cpp16

1. exports RUN/model.pt into RUN/export (semcom-export);
2. compares it with models/MODEL_ID on the Kodak-like test set, error-free and at --snr
   (research/compare_models.py), and on the validation crops of both cards: it ships only if it is
   better on every one;
3. keeps the lineage in research/results/training: the replaced card (MODEL_ID_card_STEPS.json), the
   card the run started from, and the run's log (MODEL_ID_continue_A-B_log.csv), which
   `make curves` reads;
4. installs encoder, decoder and card into models/MODEL_ID, then re-makes the int8 decoder
   (semcom-quantize) and the rate-matching profile (semcom-rate-profile) for it.

A run from the shipped model that is refused is kept too (MODEL_ID_tried_A-B_log.csv and
MODEL_ID_tried_A-B_card.json with the comparison's scores): `make curves` draws it, so a
continuation that bought nothing is part of the record.

Then: `make curves`, and the result tables (`make results envelope`, see the Makefile).
"""
import argparse
import json
import os
import shutil
import subprocess
import sys

from training_curve import steps_of  # same folder: the steps a card counts

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run(*cmd: str, echo: bool = True) -> str:
    print("+", " ".join(cmd), flush=True)
    done = subprocess.run(cmd, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    if echo:
        print(done.stdout, end="", flush=True)
    if done.returncode:
        sys.exit(f"ship_model: {cmd[0]} failed (exit {done.returncode})")
    return done.stdout


def keep(card: dict, history: str, name: str) -> str:
    """Writes a card into the history once; returns its path."""
    path = os.path.join(history, name)
    if not os.path.exists(path):
        with open(path, "w") as f:
            json.dump(card, f, indent=2, sort_keys=True)
            f.write("\n")
    return path


def parent_card(parent: dict, models: str, history: str) -> dict | None:
    """The card of the model a run started from: the shipped one, or its copy in the history."""
    model_id, steps = parent.get("model_id", ""), int(parent.get("cumulative_steps", -1))
    for path in (os.path.join(models, model_id, "card.json"),
                 os.path.join(history, f"{model_id}_card_{steps}.json")):
        if os.path.isfile(path):
            with open(path) as f:
                card = json.load(f)
            if steps_of(card) == steps:
                return card
    return None


def keep_tried(run_dir: str, staged: str, shipped_steps: int, report: dict, model_id: str, history: str):
    """Keeps a refused run's log and card (with the comparison) when it started from the shipped model."""
    with open(os.path.join(staged, "card.json")) as f:
        card = json.load(f)
    start = (card.get("continued_from") or {}).get("cumulative_steps")
    if start is None or shipped_steps is None or int(start) != int(shipped_steps):
        return
    os.makedirs(history, exist_ok=True)
    name = f"{model_id}_tried_{start}-{steps_of(card)}"
    shutil.copyfile(os.path.join(run_dir, "log.csv"), os.path.join(history, name + "_log.csv"))
    with open(os.path.join(history, name + "_card.json"), "w") as f:
        json.dump({**card, "compare": report}, f, indent=2, sort_keys=True)
        f.write("\n")
    print(f"ship_model: kept the refused run's log and scores as {name}_* in {history}")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run", help="the training run's folder (model.pt, log.csv)")
    p.add_argument("model_id", help="the folder of models/ it would replace")
    p.add_argument("--snr", nargs="+", default=["0", "3"], help="test-set SNRs of the comparison (dB)")
    p.add_argument("--continued-from", metavar="FOLDER_OR_CARD",
                   help="the model (folder or card.json) the run started from, when its model.pt does not record "
                        "it or records it without its latent channels (runs of an older trainer)")
    p.add_argument("--images", help="one folder of photos for every comparison, calibration and profile "
                                    "(default: the data cache's splits: test, train, val)")
    p.add_argument("--models", default=os.path.join(ROOT, "models"), help="the shipped models (default: models/)")
    p.add_argument("--history", default=os.path.join(ROOT, "research", "results", "training"),
                   help="where the lineage is kept (default: research/results/training)")
    p.add_argument("--compare-only", action="store_true", help="export and compare, install nothing")
    args = p.parse_args()
    shipped = os.path.join(args.models, args.model_id)
    staged = os.path.join(args.run, "export")
    photos = lambda *flags: [x for f in flags for x in (f, args.images)] if args.images else []  # noqa: E731
    for path in (os.path.join(args.run, "model.pt"), os.path.join(args.run, "log.csv"),
                 os.path.join(shipped, "card.json")):
        if not os.path.isfile(path):
            sys.exit(f"ship_model: {path} is missing")
    shutil.rmtree(staged, ignore_errors=True)
    run("semcom-export", os.path.join(args.run, "model.pt"), "--out", staged, "--model-id", args.model_id,
        *(["--continued-from", args.continued_from] if args.continued_from else []))
    report = json.loads(run(sys.executable, "research/compare_models.py", shipped, staged, "--snr", *args.snr,
                             *photos("--images"), echo=False))
    with open(os.path.join(staged, "compare.json"), "w") as f:
        json.dump(report, f, indent=1)
    old, new = report["models"]
    print("\n".join(f"  {k:>10}: {old['test'][k]:.2f} -> {new['test'][k]:.2f} dB (test)" for k in old["test"]))
    print(f"  validation error-free: {old['val_card'].get('error_free')} -> {new['val_card'].get('error_free')} dB"
          f" (cards); steps {old['steps']} -> {new['steps']}")
    if "val_rule" in report:
        print(f"  validation error-free: {old['val_same_crops']:.2f} -> {new['val_same_crops']:.2f} dB "
              f"({report['val_rule']})")
    if not report["new_better"]:
        if not args.compare_only:
            keep_tried(args.run, staged, old["steps"], report, args.model_id, args.history)
        sys.exit(f"ship_model: not shipped, the run is not better on every score (staged in {staged})")
    if args.compare_only:
        print(f"ship_model: better on every score; --compare-only, staged in {staged}")
        return
    with open(os.path.join(shipped, "card.json")) as f:
        replaced = json.load(f)
    with open(os.path.join(staged, "card.json")) as f:
        card = json.load(f)
    os.makedirs(args.history, exist_ok=True)
    keep(replaced, args.history, f"{args.model_id}_card_{steps_of(replaced)}.json")
    parent = card.get("continued_from") or {}
    start = int(parent.get("cumulative_steps", 0))
    started = parent_card(parent, args.models, args.history)
    if started:
        keep(started, args.history, f"{parent['model_id']}_card_{start}.json")
    shutil.copyfile(os.path.join(args.run, "log.csv"),
                    os.path.join(args.history, f"{args.model_id}_continue_{start}-{steps_of(card)}_log.csv"))
    for name in ("encoder.onnx", "decoder.onnx", "card.json"):
        shutil.copyfile(os.path.join(staged, name), os.path.join(shipped, name))
    stale = os.path.join(shipped, "decoder.int8.onnx")
    if os.path.exists(stale):
        os.remove(stale)
    run("semcom-quantize", shipped, *photos("--calibration", "--images"))
    run("semcom-rate-profile", shipped, *photos("--val", "--images"))
    print(f"ship_model: {args.model_id} replaced ({steps_of(replaced)} -> {steps_of(card)} steps); "
          "next: make curves, then the result tables (make results envelope)")


if __name__ == "__main__":
    main()
