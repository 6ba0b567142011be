#!/usr/bin/env python3
"""AMP-SC and its baselines, from training to the comparison table.

  python3 research/ampsc_study.py train [--bits 4 2]   # AMP-SC, then the baselines from its snapshots
  python3 research/ampsc_study.py export               # ONNX + cards: AMP-SC into models/, baselines into --zoo
  python3 research/ampsc_study.py eval                 # semcom-eval of all of them (+ BitSemCom 16-QAM, SSCC)
  python3 research/ampsc_study.py mask-sweep           # the Fig. 10 ablation: mask ratio p .. 5p [--sweep-T 100]
  python3 research/ampsc_study.py table-iv             # flip ratio vs SNR: the paper's Table IV beside ours
  python3 research/ampsc_study.py claims               # the paper's claims, checked on the eval's results
  python3 research/ampsc_study.py uep-models           # unequal error protection: the shipped models + UEP layout
  python3 research/ampsc_study.py uep-train --bits 4   # their decoder fine-tuned with UEP flips, and without
  python3 research/ampsc_study.py uep-eval             # paper's mapping vs UEP at Es/N0 0..18 dB
  python3 research/ampsc_study.py uep                  # research/results/ampsc/uep.md from uep-eval's results

Runs live in runs/ampsc_b<b>[_<baseline>]; every command skips what is done and resumes what is
not (checkpoints), so it can be re-run after an interruption. The baselines start from the AMP-SC
run's snapshots, as in the paper: Conventional (after Step 1), SoftQ (after Step 2), He22 (Step 1,
then decoder TTA), SoftHe22 (SoftQ, then decoder fine-tuning), SoftAMP (AMP without IRSNet),
SoftAMP-woMATK and SoftHe22 with MATK (b = 4 only, as in the paper's ablation).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

import study_config  # scripts/, beside this file

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
PY = sys.executable
# baseline: (template, snapshot it starts from, start_after, bit widths it is run for)
BASELINES = {
    "soft-he22": ("soft-he22", "softq", "softq", (4, 2)),
    "he22": ("he22", "conventional", "fe", (4, 2)),
    "soft-amp": ("soft-amp", "softq", "softq", (4, 2)),
    "soft-amp-wo-matk": ("soft-amp-wo-matk", "softq", "softq", (4,)),
    "soft-he22-matk": ("soft-he22-matk", "softq", "softq", (4,)),
}
SNAPSHOT_MODELS = {"conventional": "conventional", "softq": "softq"}


def main_config(bits: int) -> str:
    return os.path.join(ROOT, "configs", f"ampsc_b{bits}_16qam_cpp16_small.json")


def run_dir(bits: int, baseline: str | None = None) -> str:
    return os.path.join(ROOT, "runs", f"ampsc_b{bits}" + (f"_{baseline.replace('-', '_')}" if baseline else ""))


def model_name(bits: int, variant: str = "ampsc") -> str:
    return f"{variant}-b{bits}-16qam-cpp16"


def train(cmd: list[str], out: str) -> None:
    if os.path.exists(os.path.join(out, "model.pt")):
        print(f"done already: {out}")
        return
    resume = ["--resume"] if os.path.isdir(out) and any(f.startswith("ckpt_") for f in os.listdir(out)) else []
    print("+", " ".join(cmd + resume), flush=True)
    subprocess.run(cmd + resume, check=True, cwd=ROOT)


def baseline_config(bits: int, name: str) -> str:
    template, _, start, _ = BASELINES[name]
    with open(main_config(bits)) as f:
        cfg = json.load(f)
    cfg["name"] = f"{cfg['name']}_{name.replace('-', '_')}"
    cfg["recipe"] = {**cfg["recipe"], "template": template, "start_after": start}
    return study_config.write(cfg, run_dir(bits, name))


def snapshot(bits: int, snap: str) -> str:
    """The AMP-SC run's snapshot after Step 1 or 2, else that of its head-only run (``--baselines-only``)."""
    main = os.path.join(run_dir(bits), f"snapshot_{snap}.pt")
    return main if os.path.exists(main) else os.path.join(run_dir(bits, "head"), f"snapshot_{snap}.pt")


def head_config(bits: int) -> str:
    """The AMP-SC config stopped after Step 2: the same Steps 1 and 2 (model, seed), only the snapshots."""
    with open(main_config(bits)) as f:
        cfg = json.load(f)
    cfg["name"] = f"{cfg['name']}_head"
    cfg["recipe"] = {**cfg["recipe"], "stop_after": "softq"}
    return study_config.write(cfg, run_dir(bits, "head"))


def cmd_train(args) -> None:
    for bits in args.bits:
        out = run_dir(bits)
        if not args.baselines_only:
            train([PY, "-m", "gnuradio.semcom.cli.train", main_config(bits), "--out", out, "--no-progress"], out)
        else:
            ensure_head(bits)  # where the AMP-SC run is gone, redo only its Steps 1 and 2
        for name, (_, snap, _, widths) in BASELINES.items():
            if bits in widths and (not args.only or name in args.only):
                train([PY, "-m", "gnuradio.semcom.cli.train", baseline_config(bits, name), "--out",
                       run_dir(bits, name), "--no-progress", "--init-from", snapshot(bits, snap)],
                      run_dir(bits, name))


def export(checkpoint: str, folder: str, model_id: str) -> None:
    if not os.path.exists(checkpoint):
        print(f"skipped (not trained yet): {checkpoint}")
        return
    subprocess.run([PY, "-m", "gnuradio.semcom.cli.export", checkpoint, "--out", folder, "--model-id", model_id],
                   check=True, cwd=ROOT)


def cmd_export(args) -> None:
    for bits in args.bits:
        export(os.path.join(run_dir(bits), "model.pt"), os.path.join(ROOT, "models", model_name(bits)),
               model_name(bits))
        for snap in SNAPSHOT_MODELS:
            name = model_name(bits, f"ampsc-{snap}")
            export(snapshot(bits, snap), os.path.join(args.zoo, name), name)
        for base, (*_, widths) in BASELINES.items():
            if bits in widths:
                name = model_name(bits, f"ampsc-{base}")
                export(os.path.join(run_dir(bits, base), "model.pt"), os.path.join(args.zoo, name), name)


def zoo_codecs(bits: int, zoo: str) -> list[str]:
    names = [f"ampsc-{s}" for s in SNAPSHOT_MODELS] + [f"ampsc-{b}" for b, (*_, w) in BASELINES.items() if bits in w]
    return [model_name(bits, n) + "-hard" for n in names if os.path.isdir(os.path.join(zoo, model_name(bits, n)))]


CONVENTIONAL = ["avif", "jpeg2000", "webp"]
CONVENTIONAL_LINKS = ["bpsk/ldpc-1/2", "qpsk/ldpc-1/3", "qpsk/ldpc-1/2", "16qam/ldpc-1/2", "64qam/ldpc-1/2"]  # make results


def copy_conventional(src: str, dst: str, snrs) -> None:
    """The conventional codecs' rows (CONVENTIONAL_LINKS, the SNRs asked for) of another results.csv,
    merged into ``dst`` (semcom-eval --append then keeps them)."""
    import csv
    with open(src) as f:
        rows = list(csv.DictReader(f))
    keep = [r for r in rows if r["codec"] in CONVENTIONAL and r["link"] in CONVENTIONAL_LINKS
            and float(r["snr_db"]) in {float(s) for s in snrs}]
    old = []
    if os.path.exists(dst):
        with open(dst) as f:
            old = [r for r in csv.DictReader(f) if r["codec"] not in CONVENTIONAL]
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    with open(dst, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(keep + old)
    print(f"{len(keep)} conventional rows from {src}")


def cmd_eval(args) -> None:
    """semcom-eval: the conventional codecs (their best link per point is the SSCC envelope), then every
    learned model uncoded over 16-QAM, appended to the same results."""
    env = {**os.environ, "SEMCOM_MODEL_PATH": args.zoo}
    learned = []
    for bits in args.bits:
        learned += [model_name(bits) + "-hard", model_name(bits)] + zoo_codecs(bits, args.zoo)
    learned += ["bitsemcom-16qam-cpp16-hard", "bitsemcom-16qam-cpp16"]
    if args.models:  # only these codecs (e.g. newly trained baselines), appended to the earlier results
        learned = [n for n in learned if n in args.models or n.removesuffix("-hard") in args.models]
        if not learned:
            raise SystemExit(f"none of {', '.join(args.models)} is a learned codec of this study ({args.zoo})")
    base = [PY, os.path.join(ROOT, "apps", "semcom-eval"), "--images", args.images, "--snr",
            *[str(s) for s in args.snr], "--no-reference", "--out", args.out, *(["--waveform", args.waveform,
                                                                                  "--impaired"] if args.waveform else [])]
    runs = []
    if args.conventional_from:
        copy_conventional(args.conventional_from, os.path.join(args.out, "results.csv"), args.snr)
    elif not args.learned_only:
        runs.append(base + ["--codecs", *CONVENTIONAL, "--links", *CONVENTIONAL_LINKS])
    runs.append(base + ["--codecs", *learned, "--learned-links", "16qam", "--append"])
    for cmd in runs:
        print("+", " ".join(cmd), flush=True)
        subprocess.run(cmd, check=True, cwd=ROOT, env=env)


def ensure_head(bits: int) -> None:
    """The Step 1 and 2 snapshots, from the AMP-SC run or, where it is gone, a head-only run."""
    if not os.path.exists(snapshot(bits, "softq")):
        train([PY, "-m", "gnuradio.semcom.cli.train", head_config(bits), "--out", run_dir(bits, "head"),
               "--no-progress"], run_dir(bits, "head"))


def sweep_name(bits: int, k: int, t: int | None) -> str:
    return model_name(bits, f"ampsc-mask{k}p" + (f"-t{t}" if t else ""))


def cmd_mask_sweep(args) -> None:
    """Step 3 onwards of AMP-SC with mask ratio k*p, k = --factors, from the SoftQ snapshot (T = --sweep-T,
    default the config's), each exported into --zoo; then every swept model present is evaluated
    (16-QAM uncoded, hard decisions, --snr) and tabled in --out/mask_sweep.md."""
    bits = args.bits[0]
    with open(main_config(bits)) as f:
        cfg = json.load(f)
    p = float(cfg["recipe"].get("p", 0.0125))
    t = args.sweep_T
    recipe = {**cfg["recipe"], "start_after": "softq", **({"T": t} if t else {})}
    if not args.table_only:
        ensure_head(bits)
    for k in args.factors:
        if args.table_only:
            break
        out = run_dir(bits, f"mask{k}p" + (f"_t{t}" if t else ""))
        path = study_config.write({**cfg, "name": f"{cfg['name']}_mask{k}p" + (f"_t{t}" if t else ""),
                                   "recipe": {**recipe, "mask_ratio": k * p}}, out)
        train([PY, "-m", "gnuradio.semcom.cli.train", path, "--out", out, "--no-progress",
               "--init-from", snapshot(bits, "softq")], out)
        name = sweep_name(bits, k, t)
        if not os.path.isdir(os.path.join(args.zoo, name)):
            export(os.path.join(out, "model.pt"), os.path.join(args.zoo, name), name)
    if args.no_eval:
        return
    names = {k: sweep_name(bits, k, t) for k in args.factors}
    names = {k: n for k, n in names.items() if os.path.isdir(os.path.join(args.zoo, n))}
    if not names:
        raise SystemExit(f"no swept model in {args.zoo}: run mask-sweep without --table-only first")
    out = os.path.join(args.out, "mask_sweep")
    results_file = os.path.join(out, "results.json")
    done = {}
    if os.path.exists(results_file):
        with open(results_file) as f:
            done = json.load(f)
    todo = [n + "-hard" for n in names.values() if sorted(_series(done, n + "-hard")) != sorted(map(float, args.snr))]
    if todo:  # models measured at every SNR already (another invocation) are not measured again
        cmd = [PY, os.path.join(ROOT, "apps", "semcom-eval"), "--images", args.images, "--snr",
               *[str(v) for v in args.snr], "--no-reference", "--out", out, "--codecs", *todo,
               "--learned-links", "16qam", "--append"]
        print("+", " ".join(cmd), flush=True)
        subprocess.run(cmd, check=True, cwd=ROOT, env={**os.environ, "SEMCOM_MODEL_PATH": args.zoo})
    with open(results_file) as f:
        results = json.load(f)
    snrs = sorted(args.snr)
    lines = [f"Mask-ratio ablation (the AMP-SC paper's Fig. 10), b = {bits}: Steps 3-5 of AMP from the SoftQ "
             f"snapshot with MATK ratio k*p (p = {p:g}), T = {t or cfg['recipe']['T']} steps; 16-QAM uncoded, "
             f"AWGN, hard decisions, the photos of {os.path.basename(os.path.normpath(args.images))}/; PSNR dB, mean over "
             f"the photos, then over the SNRs "
             f"(`python3 research/ampsc_study.py mask-sweep --bits {bits}"
             + (f" --sweep-T {t}" if t else "") + "`).", "",
             "| k | mask ratio | " + " | ".join(f"{v:g} dB" for v in snrs) + " | mean |",
             "|---|---|" + "---|" * (len(snrs) + 1)]
    for k, n in sorted(names.items()):
        c = _series(results, n + "-hard")
        if sorted(c) != [float(v) for v in snrs]:
            continue
        lines.append(f"| {k} | {k * p:g} | " + " | ".join(f"{c[float(v)]:.2f}" for v in snrs)
                     + f" | {sum(c.values()) / len(c):.2f} |")
    with open(os.path.join(args.out, "mask_sweep.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


def cmd_table_iv(args) -> None:
    """research/results/ampsc/table_iv.md: Table IV, the closed form at Eb/N0 and at Es/N0, and Monte-Carlo
    flip rates per bit position of the project's Gray 16-QAM (numpy PHY, hard decisions)."""
    import numpy as np
    sys.path.insert(0, os.path.join(ROOT, "scripts"))
    import run_from_source  # noqa: F401 (the source tree's package, without GNU Radio)
    from semcom.phy import channels
    from semcom.phy.constellations import constellation
    from semcom.training import amp
    const = constellation("16qam")
    rng = np.random.default_rng(0)
    n = 400_000
    bits = rng.integers(0, 2, 4 * n).astype(np.uint8)
    lines = ["SNR -> bit flip ratio p of uncoded Gray 16-QAM over AWGN. Paper: Table IV of the AMP-SC paper. "
             "Closed form: `phy.theory.ber_awgn` (`training.amp.flip_probability`). Table IV's SNR is Eb/N0 "
             "(it matches the closed form at Es/N0 = SNR + 6.02 dB); the project's SNR is Es/N0. Per position: "
             f"{n} symbols of the project's constellation, hard decisions, at Es/N0 = the row's SNR "
             "(`python3 research/ampsc_study.py table-iv`).", "",
             "| SNR dB | paper p | closed form, SNR = Eb/N0 | ratio | closed form, SNR = Es/N0 | measured per bit "
             "position 0 / 1 / 2 / 3 at Es/N0 |", "|---|---|---|---|---|---|"]
    for snr, p in amp.PAPER_TABLE_IV.items():
        ours = amp.flip_probability(snr, per_bit=True)
        y = channels.awgn(const.modulate(bits), float(snr), rng)
        errors = (const.hard_bits(y).reshape(-1, 4) != bits.reshape(-1, 4)).mean(axis=0)
        lines.append(f"| {snr} | {p:.3g} | {ours:.3g} | {ours / p:.3f} | {amp.flip_probability(snr):.3g} | "
                     + " / ".join(f"{e:.2g}" for e in errors) + " |")
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "table_iv.md")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


UEP_SNRS = [0, 3, 6, 9, 12, 15, 18]
UEP_LAYOUT = "uep-16qam"
# fine-tunes (``uep_config``): name -> training Es/N0 range (None: where the mean flip rate is Step 5's p)
UEP_FINE_TUNES = {"ft": None, "ft-low": (0.0, 9.0)}
UEP_MAPPINGS = ("paper", "uep")  # each fine-tune is run with the paper's mapping (the baseline) and with UEP


def uep_name(bits: int, suffix: str = "uep") -> str:
    return model_name(bits) + f"-{suffix}"


def cmd_uep_models(args) -> None:
    """The shipped models with the UEP symbol layout added to their card (run time only, no retraining)."""
    sys.path.insert(0, os.path.join(ROOT, "scripts"))
    import shutil

    import run_from_source  # noqa: F401 (the source tree's package, without GNU Radio)
    from semcom.codecs.neural import update_card
    for bits in args.bits:
        folder = os.path.join(args.uep_zoo, uep_name(bits))
        shutil.rmtree(folder, ignore_errors=True)
        shutil.copytree(os.path.join(ROOT, "models", model_name(bits)), folder)
        update_card(folder, "symbol_layout", UEP_LAYOUT)
        print(f"wrote {folder}")


def uep_config(bits: int, mapping: str, fine_tune: str, steps: int) -> str:
    """A Step-5-like fine-tune of the shipped model's decoder + IRSNet (cosine from Step 5's rate) through
    the hard-decision chain as exact per-position flips, the Es/N0 per image uniform in the fine-tune's
    range (``UEP_FINE_TUNES``): ``uep`` with the UEP layout, ``paper`` with the paper's mapping and one p
    for every bit."""
    sys.path.insert(0, os.path.join(ROOT, "scripts"))
    import run_from_source  # noqa: F401 (the source tree's package, without GNU Radio)
    from scipy.optimize import brentq
    from semcom.phy.theory import ber_awgn
    from semcom.training import amp
    with open(main_config(bits)) as f:
        cfg = json.load(f)
    template = cfg.pop("recipe")
    p, lr = float(template.get("p", 0.0125)), 1.5e-5 * float(template.get("lr_scale", 1.0))
    snr = round(brentq(lambda x: ber_awgn(cfg["modulation"], x) - p, -10.0, 40.0), 3)
    uep, suffix = mapping == "uep", f"{mapping}-{fine_tune}"
    stage = amp._stage(f"{suffix}-tta", steps, lr, ["decoder"], {
        "kind": "flips", "snr_range": list(UEP_FINE_TUNES[fine_tune] or (snr, snr)), "per_position": uep})
    cfg.update({"name": f"{cfg['name']}_{suffix.replace('-', '_')}", "recipe": [stage], "lr": lr,
                "model": {**cfg["model"], **amp.model_options(template)},
                "val": {**cfg["val"], "every": steps, "snrs": [0.0, 6.0, 12.0, 18.0]}})
    if uep:
        cfg["symbol_layout"] = UEP_LAYOUT
    return study_config.write(cfg, run_dir(bits, suffix))


def cmd_uep_train(args) -> None:
    """The fine-tunes (``uep_config``) from the shipped model, exported into --uep-zoo."""
    for bits in args.bits:
        for fine_tune in args.fine_tunes:
            for mapping in UEP_MAPPINGS:
                uep_train_one(args, bits, mapping, fine_tune)


def uep_train_one(args, bits: int, mapping: str, fine_tune: str) -> None:
    suffix = f"{mapping}-{fine_tune}"
    out = run_dir(bits, suffix)
    train([PY, "-m", "gnuradio.semcom.cli.train", uep_config(bits, mapping, fine_tune, args.steps), "--out", out,
           "--no-progress", "--init-from", os.path.join(ROOT, "models", model_name(bits))], out)
    export(os.path.join(out, "model.pt"), os.path.join(args.uep_zoo, uep_name(bits, suffix)), uep_name(bits, suffix))


def cmd_uep_eval(args) -> None:
    """semcom-eval over 16-QAM: each model with the paper's mapping, with the UEP layout at run time, and
    the fine-tuned ones found in --uep-zoo; hard and soft receivers, appended to --out's results."""
    names = []
    for bits in args.bits:
        names += [model_name(bits)] + [uep_name(bits, s) for _, s in uep_columns()
                                       if os.path.isdir(os.path.join(args.uep_zoo, uep_name(bits, s)))]
    names = [n for n in names if not args.models or n in args.models]
    cmd = [PY, os.path.join(ROOT, "apps", "semcom-eval"), "--images", args.images, "--snr",
           *[str(s) for s in args.snr], "--no-reference", "--out", args.out, "--learned-links", "16qam",
           "--append", "--codecs", *[n + suffix for n in names for suffix in ("-hard", "")]]
    print("+", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True, cwd=ROOT, env={**os.environ, "SEMCOM_MODEL_PATH": args.uep_zoo})


def uep_columns() -> list[tuple[str, str]]:
    """(label, model folder suffix) of every UEP model the study makes."""
    return [("UEP, run time", "uep")] + [
        (f"{'UEP' if m == 'uep' else 'paper'}, fine-tuned" + (f" at {r[0]:g}..{r[1]:g} dB" if r else ""), f"{m}-{ft}")
        for ft, r in UEP_FINE_TUNES.items() for m in UEP_MAPPINGS]


def uep_table(results: dict, bits_list, snrs) -> str:
    """The UEP tables (``cmd_uep_table``) from semcom-eval's results.json."""
    columns = uep_columns()
    lines = [f"Unequal error protection for AMP-SC: the quantizer's most significant bit planes on the reliable "
             f"positions (0 and 2) of Gray 16-QAM (card `symbol_layout: {UEP_LAYOUT}`), against the paper's mapping "
             f"(bits in NCHW order). Uncoded 16-QAM, AWGN, cpp 1/16, {results.get('images')} Kodak-like test images; "
             "mean PSNR dB / MS-SSIM; gain: PSNR minus the shipped model's with the paper's mapping. Fine-tuned: "
             "the shipped model's decoder + IRSNet, the same steps for each, through exact per-position flips at "
             "the Es/N0 where their mean is Step 5's p, or at an Es/N0 per image uniform in the range named (the "
             "paper's mapping: one p for every bit) "
             "(`python3 research/ampsc_study.py uep-train`, `uep-eval`, `uep`).", ""]
    for bits in bits_list:
        for receiver, suffix in (("hard decisions", "-hard"), ("soft receiver", "")):
            paper = results["summary"].get(f"awgn/{model_name(bits)}{suffix}") or {}
            series = {label: results["summary"].get(f"awgn/{uep_name(bits, s)}{suffix}") for label, s in columns}
            series = {k: v for k, v in series.items() if v}
            points = [str(float(s)) for s in snrs if str(float(s)) in paper]
            if not points or not series:
                continue
            lines += [f"**b = {bits}, {receiver}**", "",
                      "| Es/N0 dB | paper | " + " | ".join(f"{k} | gain" for k in series) + " |",
                      "|---|---|" + "---|---|" * len(series)]
            for snr in points + ["mean"]:
                at = (lambda d: d.get(snr)) if snr != "mean" else (lambda d: {  # noqa: E731
                    m: sum(d[s][m] for s in points) / len(points) for m in ("psnr_db", "ms_ssim")}
                    if all(s in d for s in points) else None)
                p = at(paper)
                row = [f"{float(snr):g}" if snr != "mean" else "mean", f"{p['psnr_db']:.2f} / {p['ms_ssim']:.3f}"]
                for v in series.values():
                    q = at(v)
                    row += [f"{q['psnr_db']:.2f} / {q['ms_ssim']:.3f}", f"{q['psnr_db'] - p['psnr_db']:+.2f}"] if q \
                        else ["", ""]
                lines.append("| " + " | ".join(row) + " |")
            lines.append("")
    return "\n".join(lines)


def cmd_uep_table(args) -> None:
    """``uep.md`` beside --out: per SNR, the paper's mapping against the UEP layout (run time only, and
    fine-tuned with it), PSNR / MS-SSIM and the gain in PSNR."""
    with open(os.path.join(args.out, "results.json")) as f:
        text = uep_table(json.load(f), args.bits, args.snr)
    path = os.path.join(os.path.dirname(os.path.normpath(args.out)), "uep.md")
    with open(path, "w") as f:
        f.write(text)
    print(text)


def _series(results: dict, name: str) -> dict:
    return {float(k): v["psnr_db"] for k, v in results.get("summary", {}).get(f"awgn/{name}", {}).items()}


def cmd_claims(args) -> None:
    """research/results/ampsc/claims.md: mean PSNR over the SNRs of each model (hard decisions, the paper's
    receiver) and the paper's two claims: AMP-SC above SoftHe22 and SoftQ on average (paper: +1.24..1.65 dB
    over SoftHe22), and IRSNet helping at 1-10 dB Eb/N0 (AMP-SC against SoftAMP)."""
    with open(os.path.join(args.out, "results.json")) as f:
        results = json.load(f)
    lines = []
    for bits in args.bits:
        names = {"AMP-SC": model_name(bits), **{label: model_name(bits, f"ampsc-{v}") for label, v in (
            ("SoftAMP", "soft-amp"), ("SoftHe22", "soft-he22"), ("He22", "he22"), ("SoftQ", "softq"),
            ("Conventional", "conventional"), ("SoftAMP-woMATK", "soft-amp-wo-matk"),
            ("SoftHe22 + MATK", "soft-he22-matk"))}}
        curves = {label: _series(results, n + "-hard") for label, n in names.items()}
        curves["AMP-SC, soft receiver"] = _series(results, model_name(bits))
        curves = {k: v for k, v in curves.items() if v}
        if "AMP-SC" not in curves:
            continue
        snrs = sorted(curves["AMP-SC"])
        lines += [f"**b = {bits}** (16-QAM uncoded, AWGN, Es/N0 {snrs[0]:g}..{snrs[-1]:g} dB = Eb/N0 "
                  f"{snrs[0] - 6.02:.1f}..{snrs[-1] - 6.02:.1f} dB; mean PSNR over these SNRs, hard decisions "
                  "unless named):", "", "| model | mean PSNR dB | AMP-SC minus it |", "|---|---|---|"]
        ref = sum(curves["AMP-SC"].values()) / len(snrs)
        for label, c in curves.items():
            if sorted(c) == snrs:
                mean = sum(c.values()) / len(snrs)
                lines.append(f"| {label} | {mean:.2f} | {ref - mean:+.2f} |")
        if "SoftAMP" in curves:
            band = [s for s in snrs if 1 <= s - 6.02 <= 10]
            gain = [curves["AMP-SC"][s] - curves["SoftAMP"][s] for s in band]
            lines += ["", f"IRSNet (AMP-SC minus SoftAMP) at Eb/N0 1..10 dB (Es/N0 "
                      + ", ".join(f"{s:g}" for s in band) + " dB): " + ", ".join(f"{g:+.2f}" for g in gain) + " dB."]
        lines.append("")
    path = os.path.join(args.out, "claims.md")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("command", choices=("train", "export", "eval", "mask-sweep", "table-iv", "claims",
                                        "uep-models", "uep-train", "uep-eval", "uep"))
    ap.add_argument("--bits", type=int, nargs="+", default=[4, 2], help="quantizer widths b (default: 4 2)")
    ap.add_argument("--only", nargs="*", choices=sorted(BASELINES), help="train: only these baselines")
    ap.add_argument("--baselines-only", action="store_true",
                    help="train: only the baselines; where the AMP-SC run's Step 1 and 2 snapshots are gone, "
                         "redo only those steps (runs/ampsc_b<b>_head)")
    ap.add_argument("--zoo", default=os.path.join(ROOT, ".cache", "ampsc-models"),
                    help="folder for the baselines' exported models (default .cache/ampsc-models)")
    ap.add_argument("--images", default=os.path.expanduser("~/.cache/gr-semcom/data/test"),
                    help="eval: test photos (default: the Kodak-like set of semcom-data)")
    ap.add_argument("--snr", type=float, nargs="+",
                    help="eval: Es/N0 in dB (default: the grid of make results, 0 3 6 10 15 20, whose conventional rows "
                         "--conventional-from reuses; the paper's Eb/N0 is Es/N0 - 6.02 dB for 16-QAM)")
    ap.add_argument("--conventional-from", default=os.path.join(ROOT, "docs", "results", "results.csv"),
                    help="eval: take the conventional codecs' rows from this results.csv (make results) "
                         "instead of running them; '' runs them")
    ap.add_argument("--out", help="eval: output folder (default research/results/ampsc; uep-eval, uep: "
                    "research/results/ampsc/uep)")
    ap.add_argument("--uep-zoo", default=os.path.join(ROOT, ".cache", "ampsc-uep"),
                    help="uep-*: folder of the UEP models (default .cache/ampsc-uep)")
    ap.add_argument("--steps", type=int, default=400, help="uep-train: fine-tuning steps (default 400, Step 5's)")
    ap.add_argument("--fine-tunes", nargs="+", choices=list(UEP_FINE_TUNES), default=list(UEP_FINE_TUNES),
                    help="uep-train: which fine-tunes (default: all)")
    ap.add_argument("--models", nargs="*", help="uep-eval: only these model folders (names); eval: only these "
                    "learned codecs (model names), appended to the results already in --out")
    ap.add_argument("--learned-only", action="store_true",
                    help="eval: only the learned models, appended to --out's results (conventional rows kept)")
    ap.add_argument("--waveform", choices=("sc", "ofdm"), help="eval: bursts over this impaired waveform instead "
                    "of the ideal channel")
    ap.add_argument("--factors", type=int, nargs="+", default=[1, 2, 3, 4, 5], help="mask-sweep: k in k*p")
    ap.add_argument("--sweep-T", type=int, help="mask-sweep: the epoch unit T in steps (default: the config's; "
                    "each k trains 10 T steps, about 18 min a core at T = 100)")
    ap.add_argument("--table-only", action="store_true", help="mask-sweep: only evaluate and table the swept models")
    ap.add_argument("--no-eval", action="store_true", help="mask-sweep: only train and export (e.g. two ratios at "
                    "a time on two cores, then one --table-only)")
    args = ap.parse_args()
    uep = args.command.startswith("uep")
    args.snr = args.snr or (UEP_SNRS if uep else [0, 3, 6, 10, 15, 20])
    args.out = args.out or os.path.join(ROOT, "research", "results", "ampsc", *(["uep"] if uep else []))
    {"train": cmd_train, "export": cmd_export, "eval": cmd_eval, "mask-sweep": cmd_mask_sweep,
     "table-iv": cmd_table_iv, "claims": cmd_claims, "uep-models": cmd_uep_models, "uep-train": cmd_uep_train,
     "uep-eval": cmd_uep_eval, "uep": cmd_uep_table}[args.command](args)


if __name__ == "__main__":
    main()
