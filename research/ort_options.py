#!/usr/bin/env python3
"""onnxruntime session options on a model's decoders, each against onnxruntime's defaults:

  python3 research/ort_options.py models/bitsemcom-qpsk-cpp16 --md research/results/ort_options.md

One 768x512 decode per run, the variants alternated run by run (after two warm-ups each); medians of
--runs. ms: wall time; CPU ms: the process's CPU time for the decode, all its threads (spinning
threads count), which the other processes of a shared machine move less than the wall time; largest
difference: of the image against the defaults' (0: the same image).
"""
import argparse
import datetime
import os
import statistics
import sys
import time

import numpy as np

VARIANTS = {  # name: (session attributes, session config entries)
    "defaults": ({}, {}),
    "receivers' (no spinning)": (None, None),  # codecs/onnx_model.session_options()
    "2 threads, spinning": ({"intra_op_num_threads": 2}, {"session.intra_op.allow_spinning": "1"}),
    "1 thread": ({"intra_op_num_threads": 1}, {}),
    "parallel executor, 2 + 2 threads": ({"execution_mode": "ORT_PARALLEL", "inter_op_num_threads": 2,
                                           "intra_op_num_threads": 2}, {}),
    "no memory arena, no memory pattern": ({"enable_cpu_mem_arena": False, "enable_mem_pattern": False}, {}),
    "graph optimisation: extended (no layout change)": ({"graph_optimization_level": "ORT_ENABLE_EXTENDED"}, {}),
    "graph optimisation: basic": ({"graph_optimization_level": "ORT_ENABLE_BASIC"}, {}),
}


def options(name: str):
    import onnxruntime as ort

    from gnuradio.semcom.codecs import onnx_model
    attributes, entries = VARIANTS[name]
    if attributes is None:
        return onnx_model.session_options()
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    for key, value in attributes.items():
        if key == "execution_mode":
            value = getattr(ort.ExecutionMode, value)
        elif key == "graph_optimization_level":
            value = getattr(ort.GraphOptimizationLevel, value)
        setattr(opts, key, value)
    for key, value in entries.items():
        opts.add_session_config_entry(key, value)
    return opts


def measure(path: str, feeds: dict, runs: int) -> dict:
    """{variant: (median wall ms, median CPU ms, largest difference from the defaults' image)}."""
    import onnxruntime as ort
    sessions = {name: ort.InferenceSession(path, options(name), providers=["CPUExecutionProvider"])
                for name in VARIANTS}
    images = {name: s.run(None, feeds)[0] for name, s in sessions.items()}
    for s in sessions.values():
        s.run(None, feeds)
    wall, cpu = {name: [] for name in sessions}, {name: [] for name in sessions}
    for _ in range(runs):
        for name, s in sessions.items():
            t, c = time.perf_counter(), time.process_time()
            s.run(None, feeds)
            wall[name].append(1e3 * (time.perf_counter() - t))
            cpu[name].append(1e3 * (time.process_time() - c))
    return {name: (statistics.median(wall[name]), statistics.median(cpu[name]),
                   float(np.abs(images[name] - images["defaults"]).max())) for name in sessions}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("folder", help="a model folder (decoder.onnx, optionally decoder.int8.onnx)")
    p.add_argument("--runs", type=int, default=7, help="timed decodes per variant (default 7)")
    p.add_argument("--md", help="also write the table to this Markdown file")
    args = p.parse_args()
    if args.runs < 1:
        p.error("--runs must be at least 1")
    import onnxruntime as ort

    from gnuradio.semcom.codecs import onnx_model
    from gnuradio.semcom.errors import SemcomError
    from gnuradio.semcom.machine import cpu_summary
    try:
        model = onnx_model.OnnxModel(args.folder, "float32")
        c, gh, gw = model.latent_shape(512, 768)
    except SemcomError as err:
        sys.exit(f"ort_options: {err}")
    feeds = {"p1": (np.random.default_rng(1).random((1, c, gh, gw)) > 0.5).astype(np.float32)}
    rows = []
    for file in onnx_model.DECODER_FILES.values():
        path = os.path.join(args.folder, file)
        if not os.path.isfile(path):
            continue
        result = measure(path, feeds, args.runs)
        base_wall, base_cpu, _ = result["defaults"]
        for name, (wall, cpu, diff) in result.items():
            rows.append(f"| {file} | {name} | {wall:.0f} | {wall / base_wall:.2f} | {cpu:.0f} | {cpu / base_cpu:.2f} | "
                        f"{diff:.1e} |")
            print(rows[-1], flush=True)
    text = (f"onnxruntime {ort.__version__} session options on {model.name}'s decoders, one 768x512 image "
            f"(`research/ort_options.py`): medians of {args.runs} runs alternated between the variants; ratios "
            f"against onnxruntime's defaults; {cpu_summary()}; {datetime.date.today()}, load average "
            f"{os.getloadavg()[0]:.1f} at the end.\n\n"
            "| file | options | ms | ms ratio | CPU ms | CPU ratio | largest difference |\n" + "|---" * 7 + "|\n"
            + "\n".join(rows) + "\n")
    if args.md:
        with open(args.md, "w") as f:
            f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
