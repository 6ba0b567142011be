#!/usr/bin/env python3
"""Validation PSNR against cumulative training hours of one model's lineage, and where it levels off.

Reads the log.csv of each run of the lineage (semcom-train writes one) with the card of the model
that run continued from (``--init-from``: its cumulative steps and hours are the run's starting
point; ``--log``/``--start-card`` pairs, oldest first), plots every validation column against
cumulative hours, and fits P(h) = P_inf - A exp(-h / tau) to the best error-free value so far
(tau by grid search, P_inf and A by least squares) to estimate the level the recipe tends to. Each
run restarts its learning-rate schedule and dips first, so it also marks the values the runs ended
at (the shipped models' cards) and gives the last run's gain per hour: what continuing buys.

  python3 research/training_curve.py --lineage bitsemcom-qpsk-cpp16 --out research/results/training/bitsemcom-qpsk-cpp16_curve
  python3 research/training_curve.py --log runs/more/log.csv --start-card models/bitsemcom-qpsk-cpp16/card.json \\
      --out runs/more/curve
"""
import argparse
import csv
import json
import os

import numpy as np


ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TAU_MAX = 50.0  # hours: the longest time constant the fit tries
NOISE_DB = 0.3  # validation PSNR of one run moves by about this between validations (study.md)


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


def load(path: str) -> dict:
    with open(path) as f:
        return json.load(f)


def steps_of(card: dict) -> int:
    return int(card.get("cumulative_steps") or card.get("train_steps") or 0)


def lineage(model_id: str, history: str, models: str) -> list[tuple[str, str, str]]:
    """(log, start card, the card the run ended at) of each run behind models/MODEL_ID, oldest
    first, from what research/ship_model.py keeps in ``history``: ID_continue_A-B_log.csv and the
    start card ID_card_A.json (following continued_from, across a widening from another model)."""
    end = os.path.join(models, model_id, "card.json")
    runs = []
    while True:
        card = load(end)
        parent = card.get("continued_from") or {}
        log = os.path.join(history, f"{card['model_id']}_continue_{parent.get('cumulative_steps')}-{steps_of(card)}_log.csv")
        start = os.path.join(history, f"{parent.get('model_id')}_card_{parent.get('cumulative_steps')}.json")
        if not (parent and os.path.isfile(log) and os.path.isfile(start)):
            break
        runs.append((log, start, end))
        end = start
    if not runs:
        raise SystemExit(f"no run of {model_id}'s lineage is kept in {history} (research/ship_model.py keeps them)")
    return runs[::-1]


def tried(model_id: str, history: str, steps: int) -> list[tuple[str, dict]]:
    """(log, card) of the runs from the shipped model at ``steps`` that ship_model.py refused."""
    found = []
    for name in sorted(os.listdir(history)):
        if name.startswith(f"{model_id}_tried_{steps}-") and name.endswith("_log.csv"):
            card = os.path.join(history, name[:-len("_log.csv")] + "_card.json")
            if os.path.isfile(card):
                found.append((os.path.join(history, name), load(card)))
    return found


def segment(log: str, start_card: str, end_card: str, modulation: str):
    """(card, start steps, start hours, steps, hours, columns) of one run, cumulative; a run that
    trained another modulation than the curve's model keeps its error-free column only."""
    card = load(start_card)
    start_steps = steps_of(card)
    start_hours = card_hours(card)
    steps, hours, columns = read_log(log)
    if not len(steps):
        raise SystemExit(f"{log}: no validation rows")
    if load(end_card).get("modulation") != modulation:
        columns = {c: v for c, v in columns.items() if c == "val_psnr_error_free"}
    return card, start_steps, start_hours, steps + start_steps, hours + start_hours, columns


def card_hours(card: dict) -> float:
    return float(card.get("cumulative_train_hours") or (card.get("train_s") or card.get("train_wall_s") or 0) / 3600)


def run_ends(cards: list[dict]) -> tuple[np.ndarray, np.ndarray]:
    """(cumulative hours, validation error-free PSNR) of each card that has one."""
    pts = [(card_hours(c), float(c["val_psnr_db"]["error_free"])) for c in cards
           if "error_free" in (c.get("val_psnr_db") or {})]
    return np.array([h for h, _ in pts]), np.array([v for _, v in pts])


def describe_fit(p_inf: float, amp: float, tau: float, what: str) -> str:
    bounded = tau >= 0.999 * TAU_MAX
    return (f"Fit of {what}, P(h) = P_inf - A exp(-(h - h0) / tau): P_inf = {p_inf:.2f} dB, tau = {tau:.2f} h, "
            f"A = {amp:.2f} dB " + (
                f"(no credible level: the time constant ran to the fit's {TAU_MAX:g} h bound, the curve being "
                "still close to a straight line; P_inf is then only where that line's slope would take it)."
                if bounded else "(where the fitted curve levels off)."))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--lineage", metavar="MODEL_ID",
                   help="every run behind models/MODEL_ID that research/ship_model.py kept in --history")
    p.add_argument("--history", default=os.path.join(ROOT, "research", "results", "training"),
                   help="where the lineage's logs and cards are (default: research/results/training)")
    p.add_argument("--models", default=os.path.join(ROOT, "models"), help="the shipped models (default: models/)")
    p.add_argument("--log", action="append", default=[], help="a run's log.csv (repeat per run, oldest first)")
    p.add_argument("--start-card", action="append", default=[],
                   help="card.json of the model that run started from (one per --log, same order)")
    p.add_argument("--card", help="card.json of the model the curve ends at (default: the last start card; "
                                   "with --lineage: models/MODEL_ID/card.json)")
    p.add_argument("--name", default="", help="model name for the title (default: the card's model_id)")
    p.add_argument("--out", required=True, help="output prefix: writes PREFIX.png and PREFIX.md")
    args = p.parse_args()
    if args.lineage:
        runs = lineage(args.lineage, args.history, args.models)
        args.card = args.card or runs[-1][2]
    elif args.log and len(args.log) == len(args.start_card):
        runs = [(log, card, args.card or card) for log, card in zip(args.log, args.start_card)]
    else:
        raise SystemExit("give --lineage MODEL_ID, or one --start-card per --log in the same order")
    final = load(args.card or runs[-1][1])
    runs = [segment(*r, final.get("modulation")) for r in runs]
    card, start_steps, start_hours = runs[0][:3]
    start_val = card.get("val_psnr_db", {})
    if final.get("modulation") != card.get("modulation"):
        start_val = {k: v for k, v in start_val.items() if k == "error_free"}
    columns = {c: np.concatenate([r[5][c] if c in r[5] else np.full(len(r[3]), np.nan) for r in runs])
               for c in runs[-1][5]}
    steps, hours = np.concatenate([r[3] for r in runs]), np.concatenate([r[4] for r in runs])
    name = args.name or final.get("model_id", "model")
    key = "val_psnr_error_free"
    h0 = [start_hours] if "error_free" in start_val else []
    p0 = [float(start_val["error_free"])] if h0 else []
    # refused runs (card, hours, error-free column, start card): from the shipped model, and from
    # models of this lineage since replaced (drawn and listed, not fitted: they overlap in time)
    all_tried = []
    if args.lineage:
        for base in [r[0] for r in runs if r[0].get("model_id") == args.lineage] + [final]:
            if base is not final and steps_of(base) == steps_of(final):
                continue
            for log, tcard in tried(args.lineage, args.history, steps_of(base)):
                _, t_hours, t_cols = read_log(log)
                if key in t_cols:
                    all_tried.append((tcard, t_hours + card_hours(base), t_cols[key], base))
    refused = [t[:3] for t in all_tried if t[3] is final]
    earlier = [t for t in all_tried if t[3] is not final]
    h_all = np.r_[h0, hours, *[r[1] for r in refused]]
    p_all = np.r_[p0, columns[key], *[r[2] for r in refused]]
    # the best value so far: each run restarts its schedule and dips, the best model is what is kept
    best_all = np.maximum.accumulate(p_all)
    p_inf, amp, tau = fit_saturation(h_all - h_all[0], best_all)
    bounded = tau >= 0.999 * TAU_MAX  # still close to a straight line: the level is not determined
    end_h, end_p = run_ends([r[0] for r in runs] + [final])

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for col, values in columns.items():
        ax.plot(hours, values, marker="o", ms=3, label=label(col), lw=2.5 if col == key else 1)
    for r in runs[1:]:
        ax.axvline(r[2], color="grey", lw=0.8, ls=":")
    if h0:
        ax.plot(h0, p0, "ks", label="start (shipped model)")
    # without a credible level the fit is drawn over the data only: extrapolated, it means nothing
    span = h_all[-1] - h_all[0] if bounded else max(3 * tau, h_all[-1] - h_all[0])
    grid = np.linspace(h_all[0], h_all[0] + span, 100)
    ax.plot(grid, p_inf - amp * np.exp(-(grid - h_all[0]) / tau), "k--", lw=1,
            label="fit of the best so far: no credible level" if bounded else f"fit of the best so far: levels off at {p_inf:.2f} dB")
    ax.plot(end_h, end_p, "kD", ms=5, mfc="none", label="end of each run (shipped models)")
    for i, (tcard, t_hours, t_values) in enumerate(refused):
        ax.plot(np.r_[end_h[-1], t_hours], np.r_[end_p[-1], t_values], color="grey", ls="--", marker="x", ms=4,
                lw=1.5, label="error-free, a run from the shipped model that was not shipped" if i == 0 else None)
    for i, (tcard, t_hours, t_values, base) in enumerate(earlier):
        ax.plot(np.r_[card_hours(base), t_hours], np.r_[float(base["val_psnr_db"]["error_free"]), t_values],
                color="silver", ls="--", marker="x", ms=3, lw=1,
                label="error-free, a run from an earlier shipped model that was not shipped" if i == 0 else None)
    ax.set(xlabel="cumulative training hours (one CPU core; dotted: a new run from the shipped weights)",
           ylabel="validation PSNR (dB, 8 val crops)", title=f"{name}: validation PSNR against cumulative training")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(args.out + ".png", dpi=110)
    starts = ", ".join(f"{r[0].get('model_id', '?')} at {r[1]} steps / {r[2]:.2f} h" for r in runs)
    lines = [f"{name}: validation PSNR (8 val crops, 256 px) against cumulative training; "
             f"{len(runs)} run(s), each from the shipped weights, starting at {starts} (`research/training_curve.py`).", "",
             "| cumulative steps | cumulative hours | " + " | ".join(label(c) for c in columns) + " |",
             "|---" * (len(columns) + 2) + "|"]
    if h0:
        keys = [c[len("val_psnr_"):].removeprefix("snr") for c in columns]  # the card's keys: '0', 'error_free'
        cells = [f"{float(start_val[k]):.2f}" if k in start_val else "-" for k in keys]
        lines.append(f"| {start_steps} | {start_hours:.2f} | " + " | ".join(cells) + " |")
    for i in range(len(steps)):
        lines.append(f"| {steps[i]} | {hours[i]:.2f} | " + " | ".join(
            "-" if np.isnan(v[i]) else f"{v[i]:.2f}" for v in columns.values()) + " |")
    lines += ["", describe_fit(p_inf, amp, tau, "the best error-free value so far")]
    lag = best_all[-1] - (p_inf - amp * np.exp(-(h_all[-1] - h_all[0]) / tau))
    if lag < -NOISE_DB:
        lines[-1] += (f" At the last validation the best value so far is {-lag:.2f} dB below the fit: the curve "
                      f"has bent more than one exponential allows, so the fit's level is an upper bound and the "
                      f"measured level is the best value so far, {best_all[-1]:.2f} dB.")
    for tcard, t_hours, t_values, base in all_tried:
        old, new = tcard["compare"]["models"]
        tests = ", ".join(f"{'error-free' if k == 'error_free' else k + ' dB'} {old['test'][k]:.2f} -> {new['test'][k]:.2f}"
                          for k in old["test"])
        since = "" if base is final else f" of {steps_of(base)} steps (since replaced)"
        lines += ["", f"Not shipped (research/ship_model.py: not better on every score): a run of "
                  f"{steps_of(tcard) - steps_of(base)} steps from the shipped model{since} ({tcard.get('config', '?')}), "
                  f"{card_hours(base):.2f} -> {card_hours(tcard):.2f} h; validation error-free "
                  f"{float(base['val_psnr_db']['error_free']):.2f} -> {float(tcard['val_psnr_db']['error_free']):.2f} dB "
                  f"(best on the way {np.nanmax(t_values):.2f}); Kodak-like test {tests}."]
    for tcard, _, _ in refused:
        end_h, end_p = np.r_[end_h, card_hours(tcard)], np.r_[end_p, float(tcard["val_psnr_db"]["error_free"])]
    if len(end_h) >= 2:
        ends = ", ".join(f"{v:.2f} dB at {h:.2f} h" for h, v in zip(end_h, end_p))
        # a refused run started from the shipped model (the last shipped end), as every other refused one did
        before = -len(refused) - 1 if refused else -2
        gain, spent = end_p[-1] - end_p[before], max(end_h[-1] - end_h[before], 1e-9)
        lines += ["", f"Error-free values the runs ended at: {ends}. The last run "
                  f"{'(not shipped) ' if refused else ''}added {gain:+.2f} dB in {spent:.2f} h "
                  f"({gain / spent:+.3f} dB per hour of one core): what continuing this recipe buys now."]
    with open(args.out + ".md", "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
