#!/usr/bin/env python3
"""Receiver throughput and latency of this tree against an older commit, measured in one run.

The older commit is checked out beside (git worktree) and installed into a prefix of its own; each
tree then measures, in a process of its own, alternating, --rounds times, on its own recordings of
the same images through the acceptance impairments at 15 dB (each tree's transmitter):

* sync + demodulation: the packed recording (images back to back) through ``burst_rx`` alone;
* the full receiver, per decoder precision: ``burst_rx -> image_rx`` wired as ``rx_image.py``
  wires it, writing every image to a folder, on the packed recording replayed unthrottled (Msps,
  images/s, mean PSNR), and on a paced recording (one image every --interval seconds, noise
  between) throttled to --rate: the latency from an image's first sample to its written file.

The table gives medians; machines here are shared, so only ratios within one run mean much.

  .venv/bin/python research/compare_receivers.py --old f34a20b --out docs/results/ota/pipeline
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))


def install_old(commit: str, work: str) -> tuple[str, str]:
    tree, build, prefix = (os.path.join(work, d) for d in ("tree", "build", "prefix"))
    subprocess.run(["git", "-C", ROOT, "worktree", "add", "--detach", tree, commit], check=True,
                   capture_output=True)
    subprocess.run(["cmake", "-S", tree, "-B", build, f"-DCMAKE_INSTALL_PREFIX={prefix}"], check=True,
                   capture_output=True)
    subprocess.run(["cmake", "--build", build, "--target", "install"], check=True, capture_output=True)
    site = [os.path.join(prefix, "lib", d, "site-packages") for d in os.listdir(os.path.join(prefix, "lib"))]
    return tree, site[0]


# ---------------------------------------------------------------- one tree's measurements (--measure)

def recordings(args, waveform: str, cache: str):
    """(packed, paced) recordings of --frames images, made once per tree and kept in ``cache``."""
    import numpy as np
    from gnuradio.semcom.cli import common as cli
    from gnuradio.semcom.cli.ota_bench import record_stream
    from gnuradio.semcom.imageio import list_images, load_image
    paths = {w: os.path.join(cache, f"{waveform}-{w}.npy") for w in ("packed", "paced")}
    if not all(os.path.exists(p) for p in paths.values()):
        files = list_images(args.images) if args.images else [cli.sample_image()]
        images = [load_image(p) for p in (files * args.frames)[:args.frames]]
        packed = record_stream(images, 15.0, waveform, 4096)
        per_image = len(packed) // len(images)
        np.save(paths["packed"], packed)
        np.save(paths["paced"], record_stream(images, 15.0, waveform, max(4096, int(args.rate * args.interval)
                                                                           - per_image)))
    return np.load(paths["packed"]), np.load(paths["paced"])


def full_receiver(stream, waveform: str, output_dir: str, rate: float, count: int):
    """stream [-> throttle] -> burst_rx -> image_rx (wired as AirReceiver wires it), writing to
    ``output_dir``: (seconds from start to the last image, [(written at, meta, image)])."""
    from gnuradio import blocks, gr
    from gnuradio.semcom.blocks.burst_rx import burst_rx
    from gnuradio.semcom.blocks.image import image_rx
    from gnuradio.semcom.flowgraphs import air
    workers = getattr(air, "DECODE_WORKERS", 0)
    tb = gr.top_block()
    chain = [blocks.vector_source_c(stream)]
    if rate:
        chain.append(blocks.throttle(8, rate, True))
    rx = burst_rx(waveform)
    sink = image_rx(output_dir, "bitsemcom", workers=workers) if workers else image_rx(output_dir, "bitsemcom")
    sink.upstream_blocks = 1
    if workers:
        rx.hold_while(lambda: sink.congested)
    tb.connect(*chain, rx)
    tb.msg_connect(rx, "out", sink, "in")
    got = []
    t0 = time.perf_counter()
    tb.start()
    while len(got) < count:
        try:
            meta, image = sink.received.get(timeout=120)
        except Exception:  # noqa: BLE001 (queue.Empty: an image lost)
            break
        got.append((time.perf_counter() - t0, meta, image))
    seconds = time.perf_counter() - t0
    tb.wait()
    return seconds, got


def measure(args) -> dict:
    from gnuradio.semcom import metrics
    from gnuradio.semcom.cli import common as cli
    from gnuradio.semcom.cli.ota_bench import replay
    from gnuradio.semcom.imageio import load_image
    cli.quiet_gnuradio(False)
    reference = load_image(cli.sample_image()) if not args.images else None
    out = {}
    for waveform in args.waveforms:
        packed, paced = recordings(args, waveform, args.cache)
        sec = replay(packed, waveform, False)[0]
        row = {"samples": len(packed), "sync_demod_msps": len(packed) / sec / 1e6}
        for precision in args.decoders:
            os.environ["SEMCOM_DECODER"] = precision
            with tempfile.TemporaryDirectory() as folder:
                sec, got = full_receiver(packed, waveform, folder, 0.0, args.frames)
                psnr = [metrics.psnr(reference, image) for _, _, image in got] if reference is not None else []
            with tempfile.TemporaryDirectory() as folder:
                _, timed = full_receiver(paced, waveform, folder, args.rate, args.frames)
            latency = sorted(t - int(m["first_sample"]) / args.rate for t, m, _ in timed)
            row[precision] = {"msps": len(packed) / sec / 1e6, "images_per_s": len(got) / sec,
                              "images_out": min(len(got), len(timed)),
                              "psnr_db": statistics.mean(psnr) if psnr else None,
                              "latency_median_ms": 1e3 * statistics.median(latency) if latency else None,
                              "latency_p90_ms": 1e3 * latency[int(0.9 * (len(latency) - 1))] if latency else None}
        out[waveform] = row
    return out


# ---------------------------------------------------------------- the comparison

def run_tree(env: dict, args, cache: str) -> dict:
    with tempfile.NamedTemporaryFile(suffix=".json") as f:
        cmd = [sys.executable, os.path.abspath(__file__), "--measure", f.name, "--cache", cache,
               "--frames", str(args.frames), "--interval", str(args.interval), "--rate", str(args.rate),
               "--waveforms", *args.waveforms, "--decoders", *args.decoders]
        if args.images:
            cmd += ["--images", args.images]
        subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        with open(f.name) as g:
            return json.load(g)


def median(runs, waveform, *keys):
    values = []
    for run in runs:
        value = run[waveform]
        for key in keys:
            value = value[key]
        values.append(value)
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else float("nan")


def table(args, runs, load) -> str:
    rate = args.rate / 1e6
    lines = [f"Receiver, this tree against `{args.old}`, medians of {args.rounds} alternating rounds on "
             f"{os.cpu_count()} cores (`research/compare_receivers.py`; load average {load}). {args.frames} "
             f"images; full receiver: `burst_rx → image_rx` writing every image, packed recording replayed "
             f"unthrottled; latency: one image every {args.interval:g} s of a {rate:g} Msps stream throttled "
             f"to {rate:g} Msps, from an image's first sample to its written file.", "",
             "| waveform | measure | old | new | new / old |", "|---|---|---|---|---|"]
    for waveform in args.waveforms:
        rows = [("sync + demodulation, Msps", ("sync_demod_msps",))]
        for precision in args.decoders:
            rows += [(f"full receiver, {precision} decoder, Msps", (precision, "msps")),
                     (f"full receiver, {precision} decoder, images/s", (precision, "images_per_s")),
                     (f"latency, {precision} decoder, median ms", (precision, "latency_median_ms")),
                     (f"latency, {precision} decoder, p90 ms", (precision, "latency_p90_ms")),
                     (f"mean PSNR, {precision} decoder, dB", (precision, "psnr_db"))]
        for label, keys in rows:
            old, new = median(runs["old"], waveform, *keys), median(runs["new"], waveform, *keys)
            lines.append(f"| {waveform} | {label} | {old:.2f} | {new:.2f} | {new / old:.2f} |")
        for precision in args.decoders:
            out = min(run[waveform][precision]["images_out"] for name in runs for run in runs[name])
            lines.append(f"| {waveform} | images out (fewest in any run), {precision} decoder | | {out}/{args.frames} | |")
    return "\n".join(lines) + "\n"


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--old", help="the commit to compare against")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--frames", type=int, default=12)
    p.add_argument("--images", default="")
    p.add_argument("--interval", type=float, default=0.25, help="seconds of stream per image in the latency run")
    p.add_argument("--rate", type=float, default=2e6, help="samples/s the latency run is throttled to")
    p.add_argument("--waveforms", nargs="+", default=["sc", "ofdm"], choices=("sc", "ofdm"))
    p.add_argument("--decoders", nargs="+", default=["float32", "int8"], choices=("float32", "int8"))
    p.add_argument("--out", default="results/compare")
    p.add_argument("--measure", help=argparse.SUPPRESS)  # one tree's measurements into this JSON file
    p.add_argument("--cache", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.measure:
        result = measure(args)
        with open(args.measure, "w") as f:
            json.dump(result, f)
        return
    if not args.old:
        p.error("--old is required")
    os.makedirs(args.out, exist_ok=True)
    loads = []
    with tempfile.TemporaryDirectory() as work:
        old_tree, old_site = install_old(args.old, work)
        try:
            trees = {"old": {**os.environ, "PYTHONPATH": old_site}, "new": dict(os.environ)}
            runs = {name: [] for name in trees}
            for r in range(args.rounds):
                for name, env in trees.items():
                    cache = os.path.join(work, f"rec-{name}")
                    os.makedirs(cache, exist_ok=True)
                    runs[name].append(run_tree(env, args, cache))
                    loads.append(os.getloadavg()[0])
                    print(f"round {r + 1}/{args.rounds} {name}: " + json.dumps(runs[name][-1]), file=sys.stderr,
                          flush=True)
        finally:
            subprocess.run(["git", "-C", ROOT, "worktree", "remove", "--force", old_tree], capture_output=True)
    load = f"{min(loads):.1f}–{max(loads):.1f}"
    with open(os.path.join(args.out, "compare.json"), "w") as f:
        json.dump({"old": args.old, "rounds": args.rounds, "load": load, "runs": runs}, f, indent=1)
    text = table(args, runs, load)
    with open(os.path.join(args.out, "compare.md"), "w") as f:
        f.write(text)
    print(text)


if __name__ == "__main__":
    main()
