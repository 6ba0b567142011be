"""Benchmarks of gr-semcom (medians of several runs).

  * learned codec latency: encode and decode of one 768x512 image with ONNX
    Runtime (all cores, and one thread), the codec's whole path against the
    networks alone, the peak memory (max RSS) of tx_image.py sending one
    4032x3024 photo, and of rx_image.py receiving images with that codec over
    the simulated channel;
  * PHY, pinned to one CPU core: symbols/s through map -> AWGN -> soft demap, as a GNU Radio stream flowgraph
    (constellation_encoder_bc -> add_cc + noise_source_c -> constellation_soft_decoder_cf
    with the exact-LLR table);
  * information bits/s through LDPC decoding (n=1800, rate 1/2, BPSK): the compiled layered
    min-sum decoder, the numpy min-sum reference and GNU Radio's fec.ldpc_decoder on the same
    frames, and their ratios.

Writes --out/bench.json and --out/bench.md.
"""
import json
import os
import statistics
import time

from .. import machine
from . import common as cli



def bench_stream(modulation, n_symbols, runs):
    import numpy as np
    from gnuradio import analog, blocks, digital, gr
    from ..phy import channels, soft_lut
    from ..phy.constellations import constellation
    from ..blocks.modem import load_table, project_constellation as gr_constellation

    const, gr_const = constellation(modulation), gr_constellation(modulation)
    load_table(gr_const, soft_lut.build_table(const, channels.noise_var(10)), soft_lut.DEFAULT_PRECISION)
    labels = np.random.default_rng(0).integers(0, len(const.points), 1 << 16).astype(np.uint8)
    times = []
    for _ in range(runs):
        tb = gr.top_block()
        src = blocks.vector_source_b(labels, True)
        head = blocks.head(gr.sizeof_char, n_symbols)
        mapper = digital.constellation_encoder_bc(gr_const)
        noise = analog.noise_source_c(analog.GR_GAUSSIAN, float(np.sqrt(channels.noise_var(10))), 1)
        add = blocks.add_cc()
        scale = blocks.multiply_const_cc(1.0 / soft_lut.axis_limit(const, channels.noise_var(10)))
        soft = digital.constellation_soft_decoder_cf(gr_const)
        sink = blocks.null_sink(gr.sizeof_float)
        tb.connect(src, head, mapper, (add, 0))
        tb.connect(noise, (add, 1))
        tb.connect(add, scale, soft, sink)
        t = time.perf_counter()
        tb.run()
        times.append(time.perf_counter() - t)
    return n_symbols / statistics.median(times)


def bench_codec(model_name, runs, modulation="qpsk"):
    """Median encode/decode ms for one 768x512 image, per ONNX Runtime thread setting: the networks
    alone (one session run each, as before rate matching and tiling) and the codec's whole path
    (plan, puncturing or repetition, LLR combining), alternated within one run."""
    import numpy as np
    from ..codecs import masked_vq, neural, registry
    from ..codecs.base import Received
    from ..imageio import load_image
    from ..phy.link import LinkConfig
    image = load_image(cli.sample_image())
    h, w = image.shape[:2]
    vq = isinstance(registry.get(model_name), masked_vq.MaskedVQCodec)
    if modulation == "own":  # the modulation the model's card says it was trained for
        modulation = registry.get(model_name).model.card.get("modulation") or "qpsk"
    link = LinkConfig(modulation, registry.get(model_name).default_fec)  # uncoded, or the model's own FEC
    out = {"model": model_name, "image": f"{w}x{h}", "link": link.describe()}
    for threads in (0, 1):
        os.environ[neural.THREADS_ENV] = str(threads)
        codec = registry.get(model_name)
        enc = codec.encode(image, link, h * w // 16)  # warm-up (session init)
        rx = Received(enc.bits, np.where(enc.bits > 0, 4.0, -4.0).astype(np.float32), True,
                      {**enc.meta, "height": h, "width": w})
        if vq:  # the networks alone: all tiles at mask ratio 0.5, and every position received
            m = codec.model
            padded = neural.pad_to_multiple(image, m.tile)[0]
            tiles = (padded.shape[0] // m.tile) * (padded.shape[1] // m.tile)
            keep = masked_vq.keep_positions(m.mask_logits, tiles, m.positions // 2)
            planes = np.full((m.index_bits, padded.shape[0] // m.patch, padded.shape[1] // m.patch), 0.9, np.float32)
            net_enc, net_dec = (lambda: m.run_encoder(padded, keep)), (lambda: m.run_decoder(planes))
        else:
            x = np.ascontiguousarray((neural.pad_to_multiple(image, 16)[0].astype(np.float32) / 255).transpose(2, 0, 1)[None])
            p1 = neural.posterior(np.where(codec.model.encode(image) > 0, 4.0, -4.0))
            p1 = p1.reshape((1,) + codec.model.latent_shape(h, w))
            enc_s, dec_s = codec.model.session("encoder"), codec.model.session("decoder")
            net_enc = lambda: enc_s.run(["bits", "logits"], {"image": x})  # noqa: E731
            net_dec = lambda: dec_s.run(["image"], {"p1": p1})  # noqa: E731
        t = {k: [] for k in ("net_enc", "net_dec", "codec_enc", "codec_dec")}
        for _ in range(runs):
            for key, job in (("net_enc", net_enc),
                             ("net_dec", net_dec),
                             ("codec_enc", lambda: codec.encode(image, link, h * w // 16)),
                             ("codec_dec", lambda: codec.decode(rx))):
                t0 = time.perf_counter()
                job()
                t[key].append(time.perf_counter() - t0)
        med = {k: 1e3 * statistics.median(v) for k, v in t.items()}
        key = "all_cores" if threads == 0 else "1_thread"
        out[key] = {"encode_ms": med["codec_enc"], "decode_ms": med["codec_dec"],
                    "network_encode_ms": med["net_enc"], "network_decode_ms": med["net_dec"],
                    "encode_ratio": med["codec_enc"] / med["net_enc"], "decode_ratio": med["codec_dec"] / med["net_dec"],
                    "threads": os.cpu_count() if threads == 0 else 1}
    os.environ.pop(neural.THREADS_ENV)
    return out


def run_measured(cmd, what: str):
    """Runs an app to its end; (its stdout, its own peak RSS in MB, wall seconds). RuntimeError if it fails."""
    import subprocess
    import tempfile
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)  # this child's rusage alone
        wall = time.perf_counter() - t
        out.seek(0)
        err.seek(0)
        if os.waitstatus_to_exitcode(status) != 0:
            raise RuntimeError(f"{what} failed: {err.read().decode()[-300:]}")
        return out.read().decode(), usage.ru_maxrss / 1024, wall


def bench_big_photo(codec, width=4032, height=3024):
    """Peak RSS (MB) and wall time of tx_image.py sending one width x height photo (the sample,
    upscaled) over the simulated channel, decoded and scored (tiled inference, rate matching)."""
    import tempfile
    from ..imageio import load_image, resize, save_image
    with tempfile.TemporaryDirectory() as tmp:
        photo = os.path.join(tmp, f"photo_{width}x{height}.png")
        save_image(photo, resize(load_image(cli.sample_image()), height, width))
        out, rss, wall = run_measured([*cli.app_command("tx_image"), "--codec", codec, "--json", "--rx-output",
                                       os.path.join(tmp, "rx.png"), photo], "tx_image.py")
        report = json.loads(out.strip().splitlines()[-1])
    return {"codec": codec, "image": f"{width}x{height}", "max_rss_mb": rss, "wall_s": wall,
            "psnr_db": report["psnr_db"], "model": report["model"]}


def bench_rx_memory(codec, count):
    """Peak RSS (MB) and wall time of rx_image.py receiving ``count`` images (simulated radio)."""
    import tempfile
    with tempfile.TemporaryDirectory() as out:
        _, rss, wall = run_measured([*cli.app_command("rx_image"), "--reference", cli.sample_image(), "--count",
                                     str(count), "--codec", codec, "--snr", "10", "--output-dir", out], "rx_image.py")
    return {"codec": codec, "images": count, "max_rss_mb": rss, "wall_s": wall}


LDPC_DECODERS = ("compiled", "numpy", "gnuradio")


def bench_ldpc(snr_db, frames, runs, decoders=LDPC_DECODERS):
    """{decoder: {info_bits_per_s (median of ``runs``), ber}} of ``frames`` codewords of LDPC 1/2 over
    BPSK at Es/N0 ``snr_db``: the compiled decoder ("compiled", when installed), the numpy reference
    ("numpy"), both on the receiver's clipped LLRs, and gr-fec's decoder through the receiver ("gnuradio")."""
    import numpy as np
    from ..phy import channels, framing, ldpc
    from ..phy.link import LLR_CLIP
    from ..blocks.phy_rx import phy_rx
    from ..blocks.phy_tx import phy_tx

    code = ldpc.code("ldpc-1/2")
    rng = np.random.default_rng(1)
    bits = rng.integers(0, 2, frames * code.k).astype(np.uint8)
    y = channels.awgn(phy_tx("bpsk", "ldpc-1/2").modulate(bits, {}), snr_db, rng)
    const_llr = phy_rx("bpsk", "ldpc-1/2", "exact").const.llr(y, channels.noise_var(snr_db)).astype(np.float32)
    llr = np.clip(const_llr, -LLR_CLIP, LLR_CLIP).reshape(-1, code.n)
    gr_rx = phy_rx("bpsk", "ldpc-1/2", "exact", "gnuradio")
    meta = {framing.CODED_BITS: frames * code.n, framing.PAYLOAD_BITS: len(bits)}
    decode = {"compiled": lambda: code.decode(llr)[2][:, code.m:].ravel(),
              "numpy": lambda: code.decode_numpy(llr)[2][:, code.m:].ravel(),
              "gnuradio": lambda: gr_rx.decode(const_llr.copy(), len(bits), meta)}
    out = {}
    for decoder in decoders:
        if decoder == "compiled" and not ldpc.COMPILED:
            continue
        times, bers = [], []
        for _ in range(runs):
            t = time.perf_counter()
            post = decode[decoder]()
            times.append(time.perf_counter() - t)
            bers.append(float(np.mean((post > 0) != bits)))
        out[decoder] = {"info_bits_per_s": len(bits) / statistics.median(times), "ber": bers[0]}
    return out


def bench_ldpc_decoders(snr_db, frames, gr_frames, runs):
    """``bench_ldpc`` of every decoder: ``frames`` codewords per run for the compiled and numpy
    decoders, ``gr_frames`` for gr-fec's (about 500 times slower)."""
    r = bench_ldpc(snr_db, frames, runs, ("compiled", "numpy"))
    r.update(bench_ldpc(snr_db, gr_frames, runs, ("gnuradio",)))
    return r


def ldpc_lines(key, r):
    """bench.md rows of one ``bench_ldpc`` result."""
    names = {"compiled": "compiled layered min-sum", "numpy": "numpy min-sum", "gnuradio": "gr-fec ldpc_decoder"}
    gr_rate = r["gnuradio"]["info_bits_per_s"]
    return [f"| LDPC 1/2 {names[d]}, {key} | {v['info_bits_per_s'] / 1e6:.3f} Mbit/s (BER {v['ber']:.1e})"
            + ("" if d == "gnuradio" else f"; {v['info_bits_per_s'] / gr_rate:.0f}x gr-fec") + " |"
            for d, v in r.items()]


def main():
    p = cli.parser(__doc__)
    p.add_argument("--runs", type=int, default=5, help="runs per measurement (median reported)")
    p.add_argument("--symbols", type=int, default=2_000_000, help="symbols per stream run")
    p.add_argument("--frames", type=int, default=40, help="LDPC codewords (n=1800) per run of gr-fec's decoder")
    p.add_argument("--ldpc-frames", type=int, default=1000,
                   help="LDPC codewords per run of the compiled and numpy decoders")
    p.add_argument("--model", default="bitsemcom-qpsk-cpp16", help="learned codec for the latency and memory runs")
    p.add_argument("--big-photo-codec", default="bitsemcom", help="codec for the 4032x3024 memory run")
    p.add_argument("--rx-images", type=int, default=5, help="images rx_image.py receives in the memory run")
    p.add_argument("--out", default="results", help="output folder")
    p.add_argument("--latency", nargs="+", metavar="MODEL",
                   help="measure only the learned-codec latency of these models (first = reference for the "
                        "ratios), over --modulation at cpp 1/16, uncoded (a masked VQ-VAE: under its LDPC 1/2); writes --out/latency.json and latency.md")
    p.add_argument("--modulation", default="own",
                   help="link of the --latency runs: a modulation for all, or 'own' (default): each model's "
                        "card's (a model over another modulation is rate-matched to it)")
    args = p.parse_args()
    cli.quiet_gnuradio(args.verbose)
    if args.latency:
        return latency_only(args)
    results = {"cpu": os.uname().machine, "runs": args.runs, "stream_symbols_per_s": {}, "ldpc": {}}
    results["codec"] = bench_codec(args.model, args.runs)
    for key in ("all_cores", "1_thread"):
        r = results["codec"][key]
        print(f"{args.model} 768x512 ({r['threads']} thread(s)): encode {r['encode_ms']:.0f} ms, "
              f"decode {r['decode_ms']:.0f} ms")
        print(f"  networks alone: encode {r['network_encode_ms']:.0f} ms, decode {r['network_decode_ms']:.0f} ms "
              f"(codec / networks: {r['encode_ratio']:.2f}, {r['decode_ratio']:.2f})")
    results["big_photo"] = bench_big_photo(args.big_photo_codec)
    r = results["big_photo"]
    print(f"tx_image.py, one {r['image']} photo with {r['codec']}: peak RSS {r['max_rss_mb']:.0f} MB, "
          f"{r['wall_s']:.1f} s, {r['psnr_db']:.2f} dB")
    results["rx_memory"] = bench_rx_memory(args.model, args.rx_images)
    r = results["rx_memory"]
    print(f"rx_image.py, {r['images']} images with {r['codec']}: peak RSS {r['max_rss_mb']:.0f} MB, {r['wall_s']:.1f} s")
    if hasattr(os, "sched_setaffinity"):  # the PHY figures are per core
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    for mod in ("bpsk", "qpsk", "16qam", "64qam"):
        results["stream_symbols_per_s"][mod] = bench_stream(mod, args.symbols, args.runs)
        print(f"map -> AWGN -> soft demap  {mod:6s} {results['stream_symbols_per_s'][mod] / 1e6:6.2f} Msym/s")
    for snr in (1.0, 3.0):
        r = bench_ldpc_decoders(snr, args.ldpc_frames, args.frames, args.runs)
        results["ldpc"][f"bpsk_{snr:g}dB"] = r
        print(f"LDPC n=1800 r=1/2 BPSK {snr:g} dB: " + ", ".join(
            f"{d} {v['info_bits_per_s'] / 1e6:.3f} Mbit/s (BER {v['ber']:.1e})" for d, v in r.items()))
    results["machine"] = machine.cpu_summary()
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "bench.json"), "w") as f:
        json.dump(results, f, indent=1)
    lines = ["| measurement | value |", "|---|---|", f"| machine | {machine.cpu_summary()} |"]
    c = results["codec"]
    for key in ("all_cores", "1_thread"):
        lines.append(f"| {c['model']} encode / decode, one {c['image']} image, ONNX Runtime, {c[key]['threads']} "
                     f"thread(s) | {c[key]['encode_ms']:.0f} ms / {c[key]['decode_ms']:.0f} ms |")
        lines.append(f"| the networks alone (one ONNX session run each), {c[key]['threads']} thread(s); codec / "
                     f"networks | {c[key]['network_encode_ms']:.0f} ms / {c[key]['network_decode_ms']:.0f} ms; "
                     f"{c[key]['encode_ratio']:.2f} / {c[key]['decode_ratio']:.2f} |")
    r = results["big_photo"]
    lines.append(f"| tx_image.py peak memory (max RSS) and wall time, one {r['image']} photo with {r['codec']} "
                 f"({r['model']}, tiled) | {r['max_rss_mb']:.0f} MB, {r['wall_s']:.0f} s, {r['psnr_db']:.2f} dB |")
    r = results["rx_memory"]
    lines.append(f"| rx_image.py peak memory (max RSS), {r['images']} images with {r['codec']} | "
                 f"{r['max_rss_mb']:.0f} MB |")
    for mod, v in results["stream_symbols_per_s"].items():
        lines.append(f"| map -> AWGN -> soft demap, {mod} | {v / 1e6:.2f} Msym/s |")
    for key, r in results["ldpc"].items():
        lines += ldpc_lines(key, r)
    with open(os.path.join(args.out, "bench.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print(f"wrote {args.out}/bench.json and bench.md")
    return 0


def latency_only(args) -> int:
    """``bench_codec`` of every --latency model, each ``runs`` times, in two alternating rounds."""
    rounds = [{m: bench_codec(m, args.runs, args.modulation) for m in args.latency} for _ in range(2)]
    results = {}
    for m in args.latency:
        results[m] = {k: {x: statistics.median([r[m][k][x] for r in rounds]) for x in rounds[0][m][k]}
                      if isinstance(rounds[0][m][k], dict) else rounds[0][m][k] for k in rounds[0][m]}
    ref = results[args.latency[0]]
    lines = [f"Encode and decode of one {ref['image']} image (cpp 1/16; medians of 2 x {args.runs} runs "
             f"alternated between models; ratio = this model / {args.latency[0]}; "
             f"{machine.cpu_summary()}).", "",
             "| model | link | threads | encode ms | decode ms | encode ratio | decode ratio |",
             "|---|---|---|---|---|---|---|"]
    for m, r in results.items():
        for key in ("all_cores", "1_thread"):
            lines.append(f"| {m} | {r['link']} | {int(r[key]['threads'])} | {r[key]['encode_ms']:.0f} | "
                         f"{r[key]['decode_ms']:.0f} | "
                         f"{r[key]['encode_ms'] / ref[key]['encode_ms']:.2f} | "
                         f"{r[key]['decode_ms'] / ref[key]['decode_ms']:.2f} |")
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "latency.json"), "w") as f:
        json.dump(results, f, indent=1)
    with open(os.path.join(args.out, "latency.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


def run():
    cli.run_main(main)


if __name__ == "__main__":
    run()
