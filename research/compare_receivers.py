#!/usr/bin/env python3
"""Receiver throughput of this tree against an older commit, measured in one run.

The older commit is checked out beside (git worktree) and installed into a prefix of its own;
both run `semcom-ota-bench --only throughput` (sync + demodulation, and the full receiver with
float32 decoders, on the same packed recording of images at 15 dB through the acceptance
impairments), alternating, --rounds times. The table gives medians and new/old ratios: machines
here are shared, so only ratios within one run mean much.

  .venv/bin/python research/compare_receivers.py --old 24e6ab8 --out docs/results/ota/compare
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
METRICS = (("sync_demod_packed", "sync + demodulation"), ("full_packed", "full receiver, float32 decoder"))


def install_old(commit: str, work: str) -> str:
    tree, build, prefix = (os.path.join(work, d) for d in ("tree", "build", "prefix"))
    subprocess.run(["git", "-C", ROOT, "worktree", "add", "--detach", tree, commit], check=True,
                   capture_output=True)
    subprocess.run(["cmake", "-S", tree, "-B", build, f"-DCMAKE_INSTALL_PREFIX={prefix}"], check=True,
                   capture_output=True)
    subprocess.run(["cmake", "--build", build, "--target", "install"], check=True, capture_output=True)
    site = [os.path.join(prefix, "lib", d, "site-packages") for d in os.listdir(os.path.join(prefix, "lib"))]
    return tree, site[0]


def bench(app: str, env: dict, out: str, args) -> dict:
    cmd = [sys.executable, app, "--only", "throughput", "--frames", str(args.frames), "--runs", "1",
           "--image-interval", "0.5", "--out", out]
    if args.images:
        cmd += ["--images", args.images]
    subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    with open(os.path.join(out, "ota_bench.json")) as f:
        return {row["waveform"]: row for row in json.load(f)["throughput"]}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--old", required=True, help="the commit to compare against")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--frames", type=int, default=12)
    p.add_argument("--images", default="")
    p.add_argument("--out", default="results/compare")
    args = p.parse_args()
    os.makedirs(args.out, exist_ok=True)
    with tempfile.TemporaryDirectory() as work:
        old_tree, old_site = install_old(args.old, work)
        try:
            trees = {"old": (os.path.join(old_tree, "apps", "semcom-ota-bench"),
                             {**os.environ, "PYTHONPATH": old_site}),
                     "new": (os.path.join(ROOT, "apps", "semcom-ota-bench"), dict(os.environ))}
            runs = {name: [] for name in trees}
            for r in range(args.rounds):
                for name, (app, env) in trees.items():
                    runs[name].append(bench(app, env, os.path.join(work, f"{name}{r}"), args))
                    print(f"round {r + 1}/{args.rounds} {name}: " + ", ".join(
                        f"{w} {m} {row[m]['msps']} Msps" for w, row in runs[name][-1].items() for m, _ in METRICS),
                        file=sys.stderr, flush=True)
        finally:
            subprocess.run(["git", "-C", ROOT, "worktree", "remove", "--force", old_tree], capture_output=True)
    rows = []
    for waveform in runs["new"][0]:
        for key, label in METRICS:
            med = {n: statistics.median(run[waveform][key]["msps"] for run in runs[n]) for n in runs}
            images = min(run[waveform][key]["images_out"] for run in runs["new"])
            rows.append({"waveform": waveform, "measure": label, "old_msps": med["old"], "new_msps": med["new"],
                         "ratio": round(med["new"] / med["old"], 2), "new_images_out": images,
                         "images": runs["new"][0][waveform]["images"]})
    with open(os.path.join(args.out, "compare.json"), "w") as f:
        json.dump({"old": args.old, "rounds": args.rounds, "rows": rows}, f, indent=1)
    lines = [f"Receiver throughput, this tree against `{args.old}`, medians of {args.rounds} alternating rounds "
             f"on {os.cpu_count()} cores (`research/compare_receivers.py`):", "",
             "| waveform | measure | old (Msps) | new (Msps) | new / old | images out |", "|---|---|---|---|---|---|"]
    lines += [f"| {r['waveform']} | {r['measure']} | {r['old_msps']} | {r['new_msps']} | {r['ratio']} | "
              f"{r['new_images_out']}/{r['images']} |" for r in rows]
    with open(os.path.join(args.out, "compare.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
