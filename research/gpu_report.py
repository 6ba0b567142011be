#!/usr/bin/env python3
"""Report of GPU continuation jobs (research/gpu_continue.sh), unpacked here into JOB folders:

  python3 research/gpu_report.py runs/gpu1/qpsk runs/gpu2/qpsk-anneal ... --out research/results/training/gpu

For every job: its device, precision and speed (train.log's summary), recipe (run/config.json),
validation curve (run/log.csv), and its exported model scored here with ONNX Runtime against the
shipped model it started from, on the same validation centre crops and the Kodak-like test set
(error-free, 0 and 3 dB; research/compare_models.py). OUT gets report.md, curves.png and a copy of
each job's small files (JOB/log.csv, config.json, summary.json, card.json), so the record stays
when the runs are gone. The ship rule itself is research/ship_model.py's.
"""
import argparse
import csv
import json
import os
import shutil
import sys


sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compare_models import better, scores  # noqa: E402

from gnuradio.semcom import data  # noqa: E402
from gnuradio.semcom.codecs.neural import OnnxModel  # noqa: E402
from gnuradio.semcom.evaluation.rate_profile import centre_crop  # noqa: E402
from gnuradio.semcom.imageio import load_image  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def summary(job: str) -> dict:
    """The last JSON line of the job's train.log (run.py train's summary)."""
    with open(os.path.join(job, "train.log")) as f:
        lines = [ln for ln in f.read().splitlines() if ln.startswith("{")]
    if not lines:
        raise SystemExit(f"{job}/train.log has no summary line: the job did not finish")
    return json.loads(lines[-1])


def val_curve(job: str) -> list[tuple[int, float]]:
    with open(os.path.join(job, "run", "log.csv")) as f:
        return [(int(r["step"]), float(r["val_psnr_error_free"])) for r in csv.DictReader(f)
                if r.get("val_psnr_error_free")]


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("jobs", nargs="+", help="JOB folders (train.log, run/, model/)")
    p.add_argument("--out", default=os.path.join(ROOT, "research", "results", "training", "gpu"))
    p.add_argument("--snr", nargs="+", type=float, default=[0.0, 3.0])
    args = p.parse_args(argv)
    test = [load_image(path) for path in data.split_paths("test")]
    crops = [centre_crop(load_image(path)) for path in data.split_paths("val")]
    os.makedirs(args.out, exist_ok=True)
    rows, shipped = [], {}
    for job in args.jobs:
        name = os.path.basename(os.path.normpath(job))
        s = summary(job)
        with open(os.path.join(job, "run", "config.json")) as f:
            cfg = json.load(f)
        model = OnnxModel(os.path.join(job, "model"))
        model_id = model.card["model_id"]
        if model_id not in shipped:
            ref = OnnxModel(os.path.join(ROOT, "models", model_id))
            shipped[model_id] = {"val": scores(ref, crops, [])["error_free"], "test": scores(ref, test, args.snr),
                                 "steps": ref.card.get("cumulative_steps")}
        got = {"val": scores(model, crops, [])["error_free"], "test": scores(model, test, args.snr)}
        ref = shipped[model_id]
        rows.append({"job": name, "model_id": model_id, "summary": s, "config": cfg, "scores": got,
                     "better": better(ref["test"], got["test"], got["val"] > ref["val"]),
                     "curve": val_curve(job)})
        dest = os.path.join(args.out, name)
        os.makedirs(dest, exist_ok=True)
        shutil.copy(os.path.join(job, "run", "log.csv"), dest)
        shutil.copy(os.path.join(job, "run", "config.json"), dest)
        shutil.copy(os.path.join(job, "model", "card.json"), dest)
        with open(os.path.join(dest, "summary.json"), "w") as f:
            json.dump({**s, "scores_here": got}, f, indent=1)
        print(f"{name}: val {ref['val']:.2f} -> {got['val']:.2f} dB, test error-free "
              f"{ref['test']['error_free']:.2f} -> {got['test']['error_free']:.2f} dB", flush=True)

    keys = list(rows[0]["scores"]["test"])
    head = " | ".join("Kodak-like error-free" if k == "error_free" else f"Kodak-like {k} dB" for k in keys)
    lines = ["| job | model | device, precision | crop x batch | peak lr | steps | s/step | val crops | "
             f"{head} | better |", "|---" * (9 + len(keys)) + "|"]
    for model_id, ref in shipped.items():
        lines.append(f"| shipped | {model_id} | CPU | | | {ref['steps']} | | {ref['val']:.2f} | "
                     + " | ".join(f"{ref['test'][k]:.2f}" for k in keys) + " | |")
    for r in rows:
        s, d = r["summary"], r["config"]["data"]
        lines.append(f"| {r['job']} | {r['model_id']} | {s['device']}, {s['precision']} | {d['crop']} x {d['batch']} | "
                     f"{r['config']['lr']:g} | {s['steps']} | {s['s_per_step_probe']:.3f} | {r['scores']['val']:.2f} | "
                     + " | ".join(f"{r['scores']['test'][k]:.2f}" for k in keys) + f" | {'yes' if r['better'] else 'no'} |")
    note = ("Scores measured here with ONNX Runtime (float32) on the 8 validation centre crops (256 px) and the "
            f"{len(test)} Kodak-like test photos (AWGN, exact LLRs). s/step: the job's probe, with the other jobs "
            "sharing the GPU. Every job starts from the shipped model's weights (--init-from) with a fresh optimizer.")
    with open(os.path.join(args.out, "report.md"), "w") as f:
        f.write("\n".join(lines) + "\n\n" + note + "\n")

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for i, r in enumerate(rows):
        steps, val = zip(*r["curve"])
        ax.plot(steps, val, marker=".", color=plt.cm.tab10(i), label=f"{r['job']} ({r['summary']['precision']})")
    for i, (model_id, ref) in enumerate(shipped.items()):
        ax.axhline(ref["val"], ls="--", color="k", alpha=0.4 + 0.3 * i, label=f"shipped {model_id}")
    ax.set_xlabel("steps of the GPU job")
    ax.set_ylabel("val PSNR error-free (dB)")
    ax.set_title("Continuing the shipped models on one H200 (jobs side by side)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(os.path.join(args.out, "curves.png"), dpi=110)
    print(f"wrote {os.path.join(args.out, 'report.md')}, curves.png", flush=True)


if __name__ == "__main__":
    main()
