#!/usr/bin/env python3
"""Validation PSNR against cumulative training hours of one model's lineage, and where it levels off.

Reads a run's log.csv (semcom-train writes one) and the card of the model the run continued from
(``--init-from``: its cumulative steps and hours are the starting point), plots every validation
column against cumulative hours, and fits P(h) = P_inf - A exp(-h / tau) to the error-free column
(tau by grid search, P_inf and A by least squares) to estimate the level the recipe tends to.

  python3 scripts/training_curve.py --log docs/results/training/bitsemcom-16qam-cpp16_continue.csv \\
      --card models/bitsemcom-16qam-cpp16/card.json --start-card card-before.json \\
      --out docs/results/training/bitsemcom-16qam-cpp16_curve
"""
import argparse
import csv
import json

import numpy as np


TAU_MAX = 50.0  # hours: the longest time constant the fit tries


def label(column: str) -> str:
    """'val_psnr_snr4' -> '4 dB', 'val_psnr_error_free' -> 'error-free'."""
    name = column[len("val_psnr_"):]
    return f"{name[3:]} dB" if name.startswith("snr") else name.replace("_", "-")


def read_log(path):
    with open(path) as f:
        rows = [r for r in csv.DictReader(f) if r.get("val_psnr_error_free")]
    columns = [c for c in rows[0] if c.startswith("val_psnr_")] if rows else []
    hours = np.array([float(r["train_s"]) / 3600 for r in rows])
    steps = np.array([int(r["step"]) for r in rows])
    return steps, hours, {c: np.array([float(r[c]) for r in rows]) for c in columns}


def fit_saturation(h, p):
    """(P_inf, A, tau) of P = P_inf - A exp(-h / tau), least squares over a grid of tau."""
    best = None
    for tau in np.geomspace(0.05, TAU_MAX, 400):
        basis = np.stack([np.ones_like(h), -np.exp(-h / tau)], axis=1)
        coef, *_ = np.linalg.lstsq(basis, p, rcond=None)
        err = float(np.sum((basis @ coef - p) ** 2))
        if best is None or err < best[0]:
            best = (err, float(coef[0]), float(coef[1]), float(tau))
    return best[1:]


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--log", required=True, help="the run's log.csv")
    p.add_argument("--start-card", required=True, help="card.json of the model the run started from")
    p.add_argument("--name", default="", help="model name for the title (default: the card's model_id)")
    p.add_argument("--out", required=True, help="output prefix: writes PREFIX.png and PREFIX.md")
    args = p.parse_args()
    with open(args.start_card) as f:
        card = json.load(f)
    start_steps = int(card.get("cumulative_steps") or card.get("train_steps") or 0)
    start_hours = float(card.get("cumulative_train_hours") or (card.get("train_s") or card.get("train_wall_s") or 0) / 3600)
    start_val = card.get("val_psnr_db", {})
    steps, hours, columns = read_log(args.log)
    if not len(steps):
        raise SystemExit(f"{args.log}: no validation rows")
    hours = hours + start_hours
    steps = steps + start_steps
    name = args.name or card.get("model_id", "model")
    key = "val_psnr_error_free"
    h0 = [start_hours] if "error_free" in start_val else []
    p0 = [float(start_val["error_free"])] if h0 else []
    h_all, p_all = np.r_[h0, hours], np.r_[p0, columns[key]]
    p_inf, amp, tau = fit_saturation(h_all - h_all[0], p_all)
    bounded = tau >= 0.999 * TAU_MAX  # still close to a straight line: the level is not determined

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for col, values in columns.items():
        ax.plot(hours, values, marker="o", ms=3, label=label(col), lw=2.5 if col == key else 1)
    if h0:
        ax.plot(h0, p0, "ks", label="start (shipped model)")
    # without a credible level the fit is drawn over the data only: extrapolated, it means nothing
    span = h_all[-1] - h_all[0] if bounded else max(3 * tau, h_all[-1] - h_all[0])
    grid = np.linspace(h_all[0], h_all[0] + span, 100)
    ax.plot(grid, p_inf - amp * np.exp(-(grid - h_all[0]) / tau), "k--", lw=1,
            label="fit, error-free: no credible level" if bounded else f"fit, error-free: levels off at {p_inf:.2f} dB")
    ax.set(xlabel="cumulative training hours (one CPU core)", ylabel="validation PSNR (dB, 8 val crops)",
           title=f"{name}: validation PSNR against cumulative training")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(args.out + ".png", dpi=110)
    lines = [f"{name}: validation PSNR (8 val crops, 256 px) against cumulative training, continuing from "
             f"{start_steps} steps / {start_hours:.2f} h (`scripts/training_curve.py`).", "",
             "| cumulative steps | cumulative hours | " + " | ".join(label(c) for c in columns) + " |",
             "|---" * (len(columns) + 2) + "|"]
    if h0:
        keys = [c[len("val_psnr_"):].removeprefix("snr") for c in columns]  # the card's keys: '0', 'error_free'
        cells = [f"{float(start_val[k]):.2f}" if k in start_val else "-" for k in keys]
        lines.append(f"| {start_steps} | {start_hours:.2f} | " + " | ".join(cells) + " |")
    for i in range(len(steps)):
        lines.append(f"| {steps[i]} | {hours[i]:.2f} | " + " | ".join(f"{v[i]:.2f}" for v in columns.values()) + " |")
    lines += ["", f"Fit of the error-free column, P(h) = P_inf - A exp(-(h - h0) / tau): P_inf = {p_inf:.2f} dB, "
              f"tau = {tau:.2f} h, A = {amp:.2f} dB " + (
                  f"(no credible level: the time constant ran to the fit's {TAU_MAX:g} h bound, the curve being "
                  "still close to a straight line; P_inf is then only where that line's slope would take it)."
                  if bounded else "(the estimate of where this recipe levels off).")]
    with open(args.out + ".md", "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
