"""Fixed-budget study of what limits the learned codec: one factor at a time against a baseline.

Every run trains the QPSK cpp 1/16 BitSemCom model from scratch on the same data for the same
training time (validation excluded), one thread, with today's small-preset recipe scaled to the
steps that fit: a short probe measures seconds per step, the run gets N = budget / (s/step) steps,
a third error-free then the noisy stage, LR x0.6 every N/3 steps (as 2000 of 6000 today), and it
stops at the budget even if the probe was optimistic. Validation (val centre crops, error-free and
at 3 dB AWGN) runs every N/6 steps; ``log.csv`` of each run gives val PSNR against training time.

    runs: run(variants, out, budget_s)       report: report(out, md, png)
    named runs of equal steps: runs_table(runs, md), plot_runs(runs, png, against='steps')
"""
from __future__ import annotations

import csv
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts"))
import run_from_source  # noqa: F401 (scripts/: the package from the source tree, without GNU Radio)

BASE_CONFIG = os.path.join(os.path.dirname(__file__), "..", "configs", "bitsemcom_qpsk_cpp16_small.json")

# variant -> config overrides (one factor each against the baseline)
VARIANTS = {
    "baseline": {},
    "bf16": {"precision": "bf16", "channels_last": True},
    "gdn": {"model": {"act": "gdn"}},
    "mse+msssim": {"loss": {"kind": "mse+msssim"}},
    "wide": {"model": {"channels": [48, 96, 144, 192]}},
    "deep": {"model": {"blocks": 2}},
    "se": {"model": {"se": True}},
    "deconv": {"model": {"upsample": "deconv"}},
    "cosine": {"lr_schedule": {"kind": "cosine"}},
    "warmup-cosine": {"lr_schedule": {"kind": "warmup-cosine", "warmup": 0.05}},
    "l1": {"loss": "l1"},
    "crop64-b64": {"data": {"crop": 64, "batch": 64}},
    "crop256-b4": {"data": {"crop": 256, "batch": 4}},
    "jitter": {"data": {"jitter": [0.5, 1.0]}},
    "scale0.5": {"data": {"prepared_scale": 0.5}},
}
VAL_SNR = 3.0
# the recipe as the study measured it: float32, contiguous (before the trainer defaulted to auto)
STUDY_BASE = {"precision": "fp32", "channels_last": False}


def _merge(base, over):
    from semcom.training.trainer import _merge as merge
    return merge(base, over)


def probe(cfg: dict, steps: int = 6) -> float:
    """Median seconds per training step (data included) of a throw-away trainer."""
    import statistics
    import tempfile

    from semcom.training.trainer import Trainer
    with tempfile.TemporaryDirectory() as tmp:
        t = Trainer(cfg, tmp, progress=False)
        sampler = t._sampler()
        times = []
        for _ in range(steps + 2):
            t0 = time.perf_counter()
            t.train_step(next(sampler))
            times.append(time.perf_counter() - t0)
    return statistics.median(times[2:])


def scaled(cfg: dict, n: int, val_points: int = 6) -> dict:
    """The config's recipe (the small preset's: 2000 + 4000 steps, LR x0.6 every 2000) scaled to
    ``n`` steps, validated ``val_points`` times at error-free and 3 dB, no intermediate checkpoints."""
    from semcom.training.trainer import scale_to_steps
    return _merge(scale_to_steps(cfg, n), {"val": {"every": max(1, n // val_points), "snrs": [VAL_SNR]},
                                           "checkpoint_every": 10 ** 9, "keep_checkpoints": 1, "log_every": 25,
                                           "threads": 1})


def run(names, out: str, budget_s: float, base: str = BASE_CONFIG, val_points: int = 6) -> None:
    import torch

    from semcom.training.trainer import Trainer, load_config
    torch.set_num_threads(1)
    os.makedirs(out, exist_ok=True)
    for name in names:
        run_dir = os.path.join(out, name)
        if os.path.exists(os.path.join(run_dir, "summary.json")):
            continue
        cfg = load_config(base, _merge(STUDY_BASE, VARIANTS[name]))
        sec = probe(scaled(cfg, 3))
        n = max(6, int(budget_s / sec))
        cfg = scaled(cfg, n, val_points)
        cfg["name"] = f"study-{name}"
        t0 = time.time()
        t = Trainer(cfg, run_dir, progress=False)
        s = t.fit(budget_s=budget_s)
        summary = {"variant": name, "overrides": VARIANTS[name], "probe_s_per_step": sec, "planned_steps": n,
                   "steps": s["step"], "train_s": s["train_s"], "wall_s": time.time() - t0,
                   "steps_per_s": s["step"] / s["train_s"], "precision": t.precision,
                   "val_psnr": s["val_psnr"], "params": sum(p.numel() for p in t.model.parameters())}
        with open(os.path.join(run_dir, "summary.json"), "w") as f:
            json.dump(summary, f, indent=1)
        print(json.dumps(summary), flush=True)


def speed(overrides: dict, steps: int = 10, base: str = BASE_CONFIG) -> list[dict]:
    """Median seconds per training step (batch and crop of the config, 1 thread) in float32 and
    bf16 autocast, contiguous and channels_last."""
    import statistics
    import tempfile

    import torch

    from semcom.training.trainer import Trainer, load_config
    torch.set_num_threads(1)
    out = []
    for precision in ("fp32", "bf16"):
        for cl in (False, True):
            cfg = load_config(base, _merge(overrides, {"precision": precision, "channels_last": cl, "threads": 1}))
            with tempfile.TemporaryDirectory() as tmp:
                t = Trainer(cfg, tmp, progress=False)
                sampler = t._sampler()
                times = []
                for _ in range(steps + 2):
                    x = next(sampler)
                    t0 = time.perf_counter()
                    t.train_step(x)
                    times.append(time.perf_counter() - t0)
            out.append({"precision": precision, "channels_last": cl, "step_s": statistics.median(times[2:]),
                        "min_s": min(times[2:])})
            print(json.dumps(out[-1]), flush=True)
    return out


def bf16_check(overrides: dict, steps: int, out: str, base: str = BASE_CONFIG) -> dict:
    """Val PSNR after the same ``steps`` steps (same seed, data, recipe) in float32 and in bf16, and
    of a float32 run from another seed (how much two float32 trajectories differ anyway); plus the
    bf16 model evaluated in float32 and under bf16 autocast (inference precision alone)."""
    import torch

    from semcom.training.trainer import Trainer, autocast, load_config
    result = {}
    for name, over in (("fp32", STUDY_BASE), ("bf16", {"precision": "bf16", "channels_last": True}),
                       ("fp32_seed1", {**STUDY_BASE, "seed": 1})):
        cfg = scaled(load_config(base, _merge(overrides, over)), steps)
        t = Trainer(cfg, os.path.join(out, name), progress=False)
        s = t.fit()
        result[name] = {"val_psnr": s["val_psnr"], "train_s": s["train_s"], "steps": s["step"]}
        if name == "bf16":
            with autocast(t.device, "bf16"), torch.no_grad():
                result[name]["val_psnr_bf16_inference"] = t.validate()
        print(json.dumps({name: result[name]}), flush=True)
    for name in ("bf16", "fp32_seed1"):
        result[f"delta_{name}_db"] = {k: result[name]["val_psnr"][k] - result["fp32"]["val_psnr"][k]
                                      for k in result["fp32"]["val_psnr"]}
    with open(os.path.join(out, "bf16_check.json"), "w") as f:
        json.dump(result, f, indent=1)
    return result


def curves(run_dir: str) -> list[tuple[float, int, float, float]]:
    """(train_s, step, val PSNR error-free, val PSNR at 3 dB) rows of a run's log."""
    rows = []
    with open(os.path.join(run_dir, "log.csv")) as f:
        for r in csv.DictReader(f):
            if r.get("val_psnr_error_free"):
                rows.append((float(r["train_s"]), int(r["step"]), float(r["val_psnr_error_free"]),
                             float(r[f"val_psnr_snr{VAL_SNR:g}"])))
    return rows


def report(out: str, md: str, png: str | None = None, points: str | None = None) -> list[dict]:
    """Table (markdown), val-PSNR-vs-time plot and (``points``) a CSV of every validation of every
    finished run under ``out``."""
    done = []
    for name in VARIANTS:
        path = os.path.join(out, name, "summary.json")
        if os.path.exists(path):
            with open(path) as f:
                done.append(json.load(f))
    if not done:
        return done
    base = next((d for d in done if d["variant"] == "baseline"), None)
    lines = ["| variant | change | params | steps | steps/s | val PSNR error-free (dB) | at 3 dB (dB) | "
             "vs baseline (error-free / 3 dB) |", "|---|---|---|---|---|---|---|---|"]
    for d in done:
        ef, s3 = d["val_psnr"]["error_free"], d["val_psnr"][f"{VAL_SNR:g}"]
        delta = (f"{ef - base['val_psnr']['error_free']:+.2f} / {s3 - base['val_psnr'][f'{VAL_SNR:g}']:+.2f}"
                 if base else "")
        change = json.dumps(d["overrides"]).replace("|", "/") if d["overrides"] else "today's small recipe"
        lines.append(f"| {d['variant']} | `{change}` | {d['params'] / 1e6:.2f}M | {d['steps']} | "
                     f"{d['steps_per_s']:.2f} | {ef:.2f} | {s3:.2f} | {delta} |")
    with open(md, "w") as f:
        f.write("\n".join(lines) + "\n")
    if points:
        with open(points, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["variant", "train_s", "step", "val_psnr_error_free", f"val_psnr_snr{VAL_SNR:g}"])
            for d in done:
                w.writerows([d["variant"], *r] for r in curves(os.path.join(out, d["variant"])))
    if png:
        plot_runs([(d["variant"], os.path.join(out, d["variant"])) for d in done], png,
                  bold=("baseline", "bf16"))
    return done


def plot_runs(runs: list[tuple[str, str]], png: str, against: str = "minutes", bold=()) -> None:
    """Val PSNR (error-free, at VAL_SNR) of (label, run folder) pairs against training minutes or steps."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 2, figsize=(12, 5), sharex=True)
    colors = plt.cm.tab20.colors
    x_of = (lambda r: r[0] / 60) if against == "minutes" else (lambda r: r[1])
    for i, (label, run_dir) in enumerate(runs):
        rows = curves(run_dir)
        style = {"color": colors[(2 * i) % 20 + (i >= 10)], "linestyle": ("-", "--", ":")[i % 3],
                 "linewidth": 2.2 if label in bold else 1.2}
        for ax, col in zip(axes, (2, 3)):
            ax.plot([x_of(r) for r in rows], [r[col] for r in rows], marker=".", label=label, **style)
    for ax, title in zip(axes, ("error-free", f"AWGN {VAL_SNR:g} dB")):
        ax.set_title(f"val PSNR, {title}")
        ax.set_xlabel("training time (min, 1 thread)" if against == "minutes" else "training steps")
        ax.set_ylabel("PSNR (dB)")
        ax.grid(alpha=0.3)
    axes[1].legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(png, dpi=110)


def runs_table(runs: list[tuple[str, str]], md: str) -> None:
    """Markdown table of named runs' validations at the steps all of them logged one (runs of equal
    steps compare point by point): val PSNR error-free / at VAL_SNR, a column per run."""
    by_run = {label: {r[1]: r for r in curves(run_dir)} for label, run_dir in runs}
    steps = sorted(set.intersection(*(set(v) for v in by_run.values()))) if by_run else []
    lines = ["| steps | " + " | ".join(by_run) + " |", "|---|" + "---|" * len(by_run)]
    lines += [f"| {s} | " + " | ".join(f"{rows[s][2]:.2f} / {rows[s][3]:.2f}" for rows in by_run.values()) + " |"
              for s in steps]
    with open(md, "w") as f:
        f.write(f"val PSNR dB, error-free / AWGN {VAL_SNR:g} dB\n\n" + "\n".join(lines) + "\n")


def level_off(t, y) -> dict:
    """Least-squares fit of y = a - b exp(-t / tau) (tau on a log grid, a and b linear): the
    plateau a, b, tau, and the time where the fit comes within 0.5 dB of a."""
    import numpy as np
    t, y = np.asarray(t, float), np.asarray(y, float)
    best = None
    for tau in np.geomspace(max(t.max(), 1e-9) / 50, t.max() * 50, 400):
        basis = np.stack([np.ones_like(t), -np.exp(-t / tau)], 1)
        coef, *_ = np.linalg.lstsq(basis, y, rcond=None)
        err = float(np.sum((basis @ coef - y) ** 2))
        if best is None or err < best[0]:
            best = (err, tau, coef)
    err, tau, (a, b) = best
    return {"plateau_db": float(a), "b": float(b), "tau": float(tau),
            "within_0.5db_at": float(tau * np.log(b / 0.5)) if b > 0.5 else 0.0,
            "rms_db": float(np.sqrt(err / len(t)))}


def best_curve(run_dir: str, png: str, skip_frac: float = 0.34) -> dict:
    """Val PSNR against training time (hours) of one run, with the level-off fit over the points
    after the first ``skip_frac`` of the time (the noisy stage)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    rows = curves(run_dir)
    t = np.array([r[0] for r in rows]) / 3600
    fig, ax = plt.subplots(figsize=(7, 4.5))
    fits = {}
    for col, label in ((2, "error-free"), (3, f"AWGN {VAL_SNR:g} dB")):
        y = np.array([r[col] for r in rows])
        line, = ax.plot(t, y, marker=".", label=label)
        keep = t >= skip_frac * t.max()
        if keep.sum() >= 3:
            fit = fits[label] = level_off(t[keep], y[keep])
            tt = np.linspace(t[keep].min(), max(3 * t.max(), fit["within_0.5db_at"]), 200)
            ax.plot(tt, fit["plateau_db"] - fit["b"] * np.exp(-tt / fit["tau"]), "--", color=line.get_color(),
                    alpha=0.7, label=f"fit, plateau {fit['plateau_db']:.1f} dB")
    with open(os.path.join(run_dir, "log.csv")) as f:
        lr = [(float(r["train_s"]) / 3600, float(r["lr"])) for r in csv.DictReader(f) if r.get("lr")]
    if lr:  # the schedule: a curve that flattens as the LR anneals is not a plateau of the model
        ax2 = ax.twinx()
        ax2.plot(*zip(*lr), color="gray", alpha=0.5, linewidth=1)
        ax2.set_ylabel("learning rate (gray)")
    ax.set_xlabel("training time (CPU hours, 1 thread)")
    ax.set_ylabel("val PSNR (dB)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="center right")
    fig.tight_layout()
    fig.savefig(png, dpi=110)
    return fits


def main(argv=None):
    import argparse
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default="runs/study")
    p.add_argument("--budget", type=float, default=360.0, help="training seconds per run")
    p.add_argument("--variants", nargs="*", default=list(VARIANTS))
    p.add_argument("--define", nargs=2, action="append", default=[], metavar=("NAME", "JSON"),
                   help="add a variant (config overrides as JSON), e.g. a combination of the best factors")
    p.add_argument("--val-points", type=int, default=6, help="validations per run")
    p.add_argument("--report", metavar="MD", help="only write the table (and --plot) of finished runs")
    p.add_argument("--plot", metavar="PNG")
    p.add_argument("--points", metavar="CSV", help="with --report: every validation point of every run")
    p.add_argument("--speed", metavar="JSON", help="only time fp32/bf16 x contiguous/channels_last steps of "
                                                  "this config override (e.g. '{}')")
    p.add_argument("--bf16-check", metavar="JSON", help="only compare fp32 and bf16 val PSNR after --steps steps "
                                                       "of this config override")
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--curve", nargs=2, metavar=("RUN_DIR", "PNG"), help="only plot one run's curve with its fit")
    p.add_argument("--runs", nargs="+", metavar="LABEL=RUN_DIR",
                   help="only compare these runs (a semcom-train log.csv each), equal steps: the table of their "
                        "validations (--report) and their curves against steps (--plot)")
    args = p.parse_args(argv)
    for name, overrides in args.define:
        VARIANTS[name] = json.loads(overrides)
    if args.curve:
        print(json.dumps(best_curve(*args.curve), indent=1))
    elif args.runs:
        runs = [tuple(r.split("=", 1)) if "=" in r else (os.path.basename(r.rstrip("/")), r) for r in args.runs]
        if args.report:
            runs_table(runs, args.report)
        if args.plot:
            plot_runs(runs, args.plot, against="steps")
    elif args.report:
        report(args.out, args.report, args.plot, args.points)
    elif args.speed is not None:
        speed(json.loads(args.speed))
    elif args.bf16_check is not None:
        bf16_check(json.loads(args.bf16_check), args.steps, args.out)
    else:
        run(args.variants, args.out, args.budget, val_points=args.val_points)


if __name__ == "__main__":
    main()
