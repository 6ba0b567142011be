#!/usr/bin/env python3
"""How close each shipped decoder runs to this CPU's limit, and what the receivers' session options change:

  python3 research/decoder_speed.py models/*/ --md research/results/decoder_speed.md

For every decoder file (decoder.onnx, decoder.int8.onnx) of each model folder, on one 768x512 image:
  GFLOP      2 x the multiply-accumulates of its Conv, ConvTranspose, MatMul and Gemm nodes, from the
             tensor shapes onnxruntime computes;
  ms         wall time of a decode with onnxruntime's default session options and with the receivers'
             (codecs/onnx_model.session_options), medians of --runs alternated between the two, after
             two warm-ups each, and whether both give the same image;
  core ms    thread CPU time of a one-thread decode (median of --runs, alternated between every
             decoder file of the run): the work, which the other processes of a shared machine slow
             less than the wall time;
  floor ms   core ms / the CPU's cores: the decode time were every core busy all along;
  GFLOP/s    GFLOP / core ms, per core, against the core's peak (cpuinfo clock x FLOP per cycle:
             32 float32 (two 256-bit FMA units) and, for int8, 128 with VNNI or 64 without) and, for
             float32, against a one-core float32 matrix product (numpy 2048 x 2048) measured here;
  PSNR       mean over the --images photos (the data cache's test split) through the model's codec at
             1/8 channel use per pixel on its card's modulation (room for every bit), error-free.
"""
import argparse
import datetime
import os
import statistics
import sys
import time

import numpy as np

FILES = ("decoder.onnx", "decoder.int8.onnx")
HEIGHT, WIDTH = 512, 768
FLOP_PER_CYCLE = {"float32": 32, "int8": 128, "int8 (no VNNI)": 64}
MULTIPLY_OPS = ("Conv", "ConvTranspose", "MatMul", "Gemm")


def tensor_shapes(model, feeds: dict) -> dict:
    """Shape of every input and output of the multiply nodes, as onnxruntime computes them."""
    import onnx
    import onnxruntime as ort
    graph = model.graph
    shapes = {i.name: tuple(i.dims) for i in graph.initializer}
    shapes.update({name: x.shape for name, x in feeds.items()})
    present = {o.name for o in graph.output}
    for node in graph.node:
        if node.op_type in MULTIPLY_OPS:
            for name in [*node.input[:2], node.output[0]]:
                if name not in shapes and name not in present:
                    graph.output.append(onnx.ValueInfoProto(name=name))
                    present.add(name)
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL  # every tensor keeps its name
    session = ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])
    shapes.update({o.name: x.shape for o, x in zip(session.get_outputs(), session.run(None, feeds))})
    return shapes


def flops(path: str, feeds: dict) -> int:
    """2 x multiply-accumulates of the Conv, ConvTranspose, MatMul and Gemm nodes of the ONNX file at ``path``."""
    import onnx
    model = onnx.load(path)
    shapes = tensor_shapes(model, feeds)
    total = 0
    for node in model.graph.node:
        if node.op_type not in MULTIPLY_OPS:
            continue
        weight = shapes[node.input[1]]
        if node.op_type == "Conv":  # every output value: (in channels / group) x kernel
            macs = np.prod(shapes[node.output[0]]) * np.prod(weight[1:])
        elif node.op_type == "ConvTranspose":  # every input value: (out channels / group) x kernel
            macs = np.prod(shapes[node.input[0]]) * np.prod(weight[1:])
        else:  # every output value: the inner dimension
            trans_a = any(a.name == "transA" and a.i for a in node.attribute)
            inner = shapes[node.input[0]][-2 if trans_a else -1]
            macs = np.prod(shapes[node.output[0]]) * inner
        total += 2 * int(macs)
    return total


def wall_ms(sessions: list, feeds: dict, runs: int) -> list[float]:
    """Median wall time (ms) of each session, the runs alternated between them after two warm-ups each."""
    for session in sessions:
        for _ in range(2):
            session.run(None, feeds)
    times = [[] for _ in sessions]
    for _ in range(runs):
        for k, session in enumerate(sessions):
            t = time.perf_counter()
            session.run(None, feeds)
            times[k].append(1e3 * (time.perf_counter() - t))
    return [statistics.median(t) for t in times]


def core_ms(jobs: list[tuple[str, dict]], runs: int) -> list[float]:
    """Median thread CPU time (ms) of a one-thread decode (onnxruntime runs it on the calling thread)
    of each (path, feeds), the runs alternated between them after one warm-up each."""
    import onnxruntime as ort
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    opts.intra_op_num_threads = 1
    sessions = [ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"]) for path, _ in jobs]
    for session, (_, feeds) in zip(sessions, jobs):
        session.run(None, feeds)
    times = [[] for _ in jobs]
    for _ in range(runs):
        for k, (session, (_, feeds)) in enumerate(zip(sessions, jobs)):
            t = time.thread_time()
            session.run(None, feeds)
            times[k].append(1e3 * (time.thread_time() - t))
    return [statistics.median(t) for t in times]


def matmul_gflops(size: int = 2048, runs: int = 5) -> float:
    """One core's float32 matrix product rate (GFLOP/s, thread CPU time; numpy's BLAS on one thread)."""
    from threadpoolctl import threadpool_limits
    a, b = (np.random.default_rng(k).random((size, size), dtype=np.float32) for k in range(2))
    with threadpool_limits(1):
        a @ b
        times = []
        for _ in range(runs):
            t = time.thread_time()
            a @ b
            times.append(time.thread_time() - t)
    return 2 * size ** 3 / statistics.median(times) / 1e9


def cpu_clock_ghz() -> float:
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("cpu MHz"):
                return float(line.split(":")[1]) / 1e3
    return float("nan")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("folders", nargs="+", help="model folders (decoder.onnx, optionally decoder.int8.onnx)")
    p.add_argument("--runs", type=int, default=7, help="timed decodes per session (default 7)")
    p.add_argument("--images", default="", help="folder of photos for the PSNR (default: the data cache's test split)")
    p.add_argument("--max-images", type=int, default=12, help="at most this many photos")
    p.add_argument("--md", help="also write the table to this Markdown file")
    args = p.parse_args()
    if args.runs < 1 or args.max_images < 1:
        p.error("--runs and --max-images must be at least 1")

    from gnuradio.semcom.errors import SemcomError
    try:
        return measure(args)
    except SemcomError as err:
        sys.exit(f"decoder_speed: {err}")


def measure(args) -> int:
    import onnxruntime as ort

    from gnuradio.semcom import data, metrics
    from gnuradio.semcom.codecs import onnx_model, registry
    from gnuradio.semcom.codecs.base import Received
    from gnuradio.semcom.phy.link import LinkConfig
    from gnuradio.semcom.imageio import load_image
    from gnuradio.semcom.machine import cpu_flags, cpu_summary

    models = [onnx_model.OnnxModel(folder, "float32") for folder in args.folders]  # a missing file fails first
    images = [load_image(path) for path in data.split_paths("test", folder=args.images or None)[:args.max_images]]
    clock = cpu_clock_ghz()
    int8_key = "int8" if "avx512_vnni" in cpu_flags() or "avx_vnni" in cpu_flags() else "int8 (no VNNI)"
    matmul = matmul_gflops()
    print(f"one core: float32 matrix product {matmul:.0f} GFLOP/s; peak at {clock:.2f} GHz "
          f"{clock * FLOP_PER_CYCLE['float32']:.0f} GFLOP/s float32, {clock * FLOP_PER_CYCLE[int8_key]:.0f} "
          f"GOP/s {int8_key}", flush=True)
    rows, measured = [], []
    for folder, model in zip(args.folders, models):
        name = model.name
        os.environ[onnx_model.DECODER_ENV] = "float32"  # the encoding codec loads the float32 decoder
        codec = registry.get(folder)
        link = LinkConfig(model.card.get("modulation", "qpsk"), "none")
        sent = [codec.encode(image, link, image.shape[0] * image.shape[1] // 8) for image in images]  # cpp 1/8
        c, gh, gw = model.latent_shape(HEIGHT, WIDTH)
        feeds = {"p1": (np.random.default_rng(1).random((1, c, gh, gw)) > 0.5).astype(np.float32)}
        for precision, file in onnx_model.DECODER_FILES.items():
            path = os.path.join(folder, file)
            if not os.path.isfile(path):
                continue
            default = ort.SessionOptions()
            default.log_severity_level = 3
            sessions = [ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])
                        for opts in (default, onnx_model.session_options())]
            same = np.array_equal(*(s.run(None, feeds)[0] for s in sessions))
            ms = wall_ms(sessions, feeds, args.runs)
            os.environ[onnx_model.DECODER_ENV] = precision
            decoder = registry.get(folder)
            psnr = np.mean([metrics.psnr(image, decoder.decode(Received(
                e.bits, np.where(e.bits > 0, 30.0, -30.0).astype(np.float32), True,
                {"height": image.shape[0], "width": image.shape[1], **e.meta})).image)
                for image, e in zip(images, sent)])
            measured.append({"name": name, "file": file, "path": path, "feeds": feeds, "precision": precision,
                             "gflop": flops(path, feeds) / 1e9, "ms": ms, "same": same, "psnr": psnr})
            print(f"{name} {file}: {ms[0]:.0f} / {ms[1]:.0f} ms wall, PSNR {psnr:.2f} dB", flush=True)
    works = core_ms([(m["path"], m["feeds"]) for m in measured], args.runs)  # alternated: same load for all
    for m, work in zip(measured, works):
        gflop, ms, precision = m["gflop"], m["ms"], m["precision"]
        rate = gflop / work * 1e3
        peak = clock * FLOP_PER_CYCLE["float32" if precision == "float32" else int8_key]
        rows.append(f"| {m['name']} | {m['file']} | {gflop:.1f} | {ms[0]:.0f} | {ms[1]:.0f} | {ms[1] / ms[0]:.2f} | "
                    f"{'yes' if m['same'] else 'no'} | {work:.0f} | {work / os.cpu_count():.0f} | {rate:.0f} | "
                    f"{100 * rate / peak:.0f} % | "
                    + (f"{100 * rate / matmul:.0f} %" if precision == "float32" else "") + f" | {m['psnr']:.2f} |")
        print(rows[-1], flush=True)
    load = os.getloadavg()[0]
    text = (f"Decoders on one {WIDTH}x{HEIGHT} image (`research/decoder_speed.py`): onnxruntime {ort.__version__}, "
            f"{cpu_summary()}, cpuinfo clock {clock:.2f} GHz; {datetime.date.today()}, load average {load:.1f} at the "
            f"end. ms: wall time, onnxruntime's default session options against the receivers' "
            f"(`codecs/onnx_model.session_options`), medians of {args.runs} alternated runs; same: both give the same "
            f"image. core ms: thread CPU time of a one-thread decode, medians of {args.runs} runs alternated between all "
            f"the decoders; floor ms: core ms / {os.cpu_count()} cores, "
            f"the wall time were every core busy all along; GFLOP/s per core = GFLOP / core ms; peak = clock x "
            f"{FLOP_PER_CYCLE['float32']} float32 or {FLOP_PER_CYCLE[int8_key]} {int8_key} operations per cycle; "
            f"matmul = one core's float32 matrix product here, {matmul:.0f} GFLOP/s. PSNR: mean over {len(images)} "
            "test photos through the model's codec at cpp 1/8 (room for every bit), error-free.\n\n"
            "| model | file | GFLOP | ms default | ms receivers' | ratio | same | core ms | floor ms | "
            "GFLOP/s per core | % of peak | % of matmul | PSNR dB |\n" + "|---" * 13 + "|\n"
            + "\n".join(rows) + "\n")
    if args.md:
        with open(args.md, "w") as f:
            f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
