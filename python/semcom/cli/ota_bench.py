"""Over-the-air receiver benchmarks, throttle off unless stated.

  throughput  images sent as bursts through air_channel (the acceptance impairments,
              --snr) are recorded once; the recording is then replayed as fast as the
              flowgraph goes through (a) sync + demodulation only (burst_rx) and (b) the
              full receiver (burst_rx -> image_rx with neural decoding), images packed back
              to back (with the float32 and the int8 decoder) and paced (one per --image-interval seconds at --rate). Reports samples/s,
              images/s, and, paced and throttled to --rate, the latency from an image's
              first sample to its decoded image.
  noise       noise only (channels' fastnoise_source) through burst_rx for --noise-minutes
              at --rate: detector tags, acquisitions tried, headers passed, frames out.
  impulses    the throughput recording with unit-amplitude impulses on --spike-densities of
              its samples, through burst_rx alone: Msps against --rate and against the clean
              recording's, images out, and those with no burst lost.
  erasures    BitSemCom's PSNR when k of an image's bursts are lost (LLR 0), error-free
              otherwise (SSCC loses the image).
  soak        --soak-images images from tx_image.py to rx_image.py over ZeroMQ (PUSH/PULL)
              at --snr through the impaired channel: images lost, receiver RSS at start and
              end, thread counts.

Writes --out/ota_bench.json and --out/ota_bench.md. Medians of --runs runs.
"""
import json
import os
import statistics
import subprocess
import sys
import threading
import time

from . import common as cli



def record_stream(images, snr_db, waveform, gap, codec="bitsemcom"):
    """Bursts of every image through the impaired channel, with ``gap`` noise samples after each."""
    import numpy as np
    from gnuradio import blocks, gr
    from ..flowgraphs.air import ACCEPTANCE, Impairments
    from ..blocks.burst_common import fingerprint_of
    from ..blocks.image import image_tx
    from ..blocks.pdu_io import split_pdu
    from ..phy import burst

    tx = image_tx(codec, "qpsk", "", 1 / 16)
    bursts = burst.BurstTransmitter("qpsk", tx.link.fec, waveform)  # the reference transmitter's samples
    pieces = []
    for frame, image in enumerate(images):
        meta, bits = split_pdu(tx.encode(image), np.uint8)
        pieces += bursts.bursts(bits, int(meta["codec_id"]), int(meta["height"]), int(meta["width"]), frame,
                                fingerprint_of(meta))
        pieces.append(np.zeros(gap, np.complex64))
    clean = np.concatenate(pieces)
    tb = gr.top_block()
    src = blocks.vector_source_c(clean)
    channel = Impairments(snr_db, seed=7, **ACCEPTANCE).block()
    sink = blocks.vector_sink_c()
    tb.connect(src, channel, sink)
    tb.run()
    return np.asarray(sink.data(), np.complex64)


def replay(stream, waveform, decode, rate=0.0, expect=0, output_dir="", codec="bitsemcom"):
    """Runs stream -> burst_rx [-> image_rx, writing the images to ``output_dir`` when given]; returns
    (seconds, frames out, arrival times, metas, t0) (without ``decode``, the metas of the frames
    burst_rx put out)."""
    import pmt
    from gnuradio import blocks, gr
    from ..blocks.burst_rx import burst_rx
    from ..blocks.image import image_rx
    from ..flowgraphs.air import DECODE_WORKERS

    tb = gr.top_block()
    src = blocks.vector_source_c(stream)
    rx = burst_rx(waveform)
    chain = [src]
    if rate:
        chain.append(blocks.throttle(8, rate, True))
    tb.connect(*chain, rx)
    arrivals, metas = [], []
    if decode:
        sink = image_rx(output_dir, codec, workers=DECODE_WORKERS)  # as rx_image.py receives
        sink.upstream_blocks = 1  # it finishes with burst_rx, not after an idle grace period
        rx.hold_while(lambda: sink.congested)
        tb.msg_connect(rx, "out", sink, "in")
    else:
        sink = blocks.message_debug()
        tb.msg_connect(rx, "out", sink, "store")
    t0 = time.perf_counter()
    tb.start()
    if decode:
        while len(arrivals) < expect:
            try:
                meta, _ = sink.received.get(timeout=120)
            except Exception:
                break
            arrivals.append(time.perf_counter())
            metas.append(meta)
    tb.wait()
    elapsed = time.perf_counter() - t0
    if not decode:
        metas = [pmt.to_python(pmt.car(sink.get_message(i))) for i in range(sink.num_messages())]
    return elapsed, len(metas), arrivals, metas, t0


def image_paths(args) -> list[str]:
    """--images (at most --max-images), or the sample photo."""
    from ..imageio import list_images
    return list_images(args.images)[:args.max_images] if args.images else [cli.sample_image()]


def timed_replays(args, label, stream, waveform, decode, count) -> dict:
    """Median over --runs unthrottled replays of ``stream``."""
    runs = []
    for _ in range(args.runs):
        sec, frames, *_ = replay(stream, waveform, decode, expect=count, codec=args.codec)
        runs.append((sec, frames))
        print(f"  {waveform} {label}: {len(stream) / sec / 1e6:.2f} Msps, {frames}/{count} images "
              f"in {sec:.2f} s", file=sys.stderr, flush=True)
    sec = statistics.median(r[0] for r in runs)
    return {"samples": len(stream), "msps": round(len(stream) / sec / 1e6, 2),
            "images_per_s": round(count / sec, 2), "images_out": min(r[1] for r in runs), "seconds": round(sec, 2)}


def bench_throughput(args, report):
    from ..codecs.neural import DECODER_ENV
    from ..imageio import load_image
    os.environ.pop(DECODER_ENV, None)  # float32 decoders unless stated
    images = [load_image(p) for p in image_paths(args)]
    images = (images * (args.frames // len(images) + 1))[:args.frames]
    n = len(images)
    for waveform in args.waveforms:
        packed = record_stream(images, args.snr, waveform, 4096, args.codec)
        per_image = len(packed) // n
        row = {"waveform": waveform, "codec": args.codec, "images": n, "snr_db": args.snr, "samples_per_image": per_image,
               "rate_sps": args.rate,
               "sync_demod_packed": timed_replays(args, "sync+demod packed", packed, waveform, False, n),
               "full_packed": timed_replays(args, "full packed", packed, waveform, True, n), "paced": []}
        os.environ[DECODER_ENV] = "int8"  # the same, with the models' int8 decoders (semcom-quantize)
        try:
            row["full_packed_int8"] = timed_replays(args, "full packed, int8 decoder", packed, waveform, True, n)
        finally:
            os.environ.pop(DECODER_ENV)
        for interval in args.image_interval:
            paced = record_stream(images, args.snr, waveform, max(4096, int(args.rate * interval) - per_image),
                                  args.codec)
            entry = {"image_interval_s": interval,
                     **timed_replays(args, f"full, an image every {interval:g} s", paced, waveform, True, n)}
            # latency in real time: the paced stream through a throttle at --rate
            sec, frames, arrivals, metas, t0 = replay(paced, waveform, True, rate=args.rate, expect=n, codec=args.codec)
            lat = [(t - t0) - int(m["first_sample"]) / args.rate for t, m in zip(arrivals, metas)]
            entry["latency_ms"] = {"median": round(1e3 * statistics.median(lat), 1),
                                   "max": round(1e3 * max(lat), 1), "images_out": frames}
            row["paced"].append(entry)
        row["image_on_air_ms"] = round(1e3 * per_image / args.rate, 1)
        report["throughput"].append(row)


def bench_noise(args, report):
    from gnuradio import analog, blocks, gr
    from ..blocks.burst_rx import burst_rx
    for waveform in args.waveforms:
        n = int(args.noise_minutes * 60 * args.rate)
        tb = gr.top_block()
        src = analog.fastnoise_source_c(analog.GR_GAUSSIAN, 1.0, 11, 1 << 20)
        head = blocks.head(8, n)
        rx = burst_rx(waveform)
        dbg = blocks.message_debug()
        tb.connect(src, head, rx)
        tb.msg_connect(rx, "out", dbg, "store")
        t = time.perf_counter()
        tb.run()
        sec = time.perf_counter() - t
        r = rx.receiver
        row = {"waveform": waveform, "samples": n, "minutes_at_rate": args.noise_minutes, "rate_sps": args.rate,
               "detector_tags": r.detections_seen, "acquisitions_failed": r.misses,
               "headers_rejected": r.dropped, "bursts_accepted": r.bursts, "frames_out": dbg.num_messages(),
               "msps": round(n / sec / 1e6, 2)}
        print(f"  noise {waveform}: {row}", file=sys.stderr, flush=True)
        report["noise"].append(row)


def bench_impulses(args, report):
    """The packed recording with unit-amplitude impulses (random phase) on a share of its samples,
    replayed through burst_rx alone: throughput against the radio rate and against the clean
    recording's (same process), images out, and images whole (no burst lost)."""
    import numpy as np
    from ..imageio import load_image
    images = [load_image(p) for p in image_paths(args)]
    images = (images * (args.frames // len(images) + 1))[:args.frames]
    for waveform in args.waveforms:
        clean = record_stream(images, args.snr, waveform, 4096)
        clean_sec = statistics.median(replay(clean, waveform, False)[0] for _ in range(args.runs))
        for density in args.spike_densities:
            rng = np.random.default_rng(int(density * 1e6))
            stream = clean.copy()
            k = int(round(density * len(stream)))
            spots = rng.choice(len(stream), k, replace=False)
            stream[spots] += np.exp(2j * np.pi * rng.random(k)).astype(np.complex64)
            runs = [replay(stream, waveform, False) for _ in range(args.runs)]
            sec = statistics.median(r[0] for r in runs)
            whole = min(sum(1 for m in r[3] if not m.get("bursts_lost")) for r in runs)
            row = {"waveform": waveform, "spike_density": density, "samples": len(stream), "images": len(images),
                   "images_out": min(r[1] for r in runs), "images_whole": whole,
                   "msps": round(len(stream) / sec / 1e6, 2), "x_radio_rate": round(len(stream) / sec / args.rate, 2),
                   "x_clean": round(clean_sec / sec, 2), "rate_sps": args.rate, "snr_db": args.snr}
            print(f"  impulses {waveform} {density:g}: {row['msps']} Msps ({row['x_radio_rate']}x the radio rate, "
                  f"{row['x_clean']}x the clean recording's), {row['images_out']}/{len(images)} images, "
                  f"{whole} whole", file=sys.stderr, flush=True)
            report["impulses"].append(row)


def bench_erasures(args, report):
    """PSNR when k of a frame's bursts are lost (their LLRs erased), error-free otherwise."""
    import numpy as np
    from .. import metrics
    from ..codecs.base import Received
    from ..blocks.image import image_tx
    from ..imageio import load_image
    from ..blocks.pdu_io import split_pdu
    from ..phy import burst
    tx = image_tx("bitsemcom", "qpsk", "", 1 / 16)
    per_burst = burst.BurstTransmitter("qpsk", "none", "sc").bits_per_burst
    scores = {}
    for path in image_paths(args):
        image = load_image(path)
        meta, bits = split_pdu(tx.encode(image), np.uint8)
        segments = max(1, -(-len(bits) // per_burst))
        lengths = burst.segment_lengths(len(bits), segments)
        starts = np.concatenate([[0], np.cumsum(lengths)])
        for lost in range(0, segments):
            llrs = np.where(bits > 0, 30.0, -30.0).astype(np.float32)
            for seg in np.linspace(0, segments - 1, lost).round().astype(int) if lost else []:
                llrs[starts[seg]:starts[seg + 1]] = 0.0
            dec = tx.codec.decode(Received((llrs > 0).astype(np.uint8), llrs, True, meta))
            scores.setdefault((segments, lost), []).append(metrics.psnr(image, dec.image))
    report["erasures"] = [{"bursts": b, "lost": k, "images": len(v), "psnr_db": round(float(np.mean(v)), 2)}
                          for (b, k), v in sorted(scores.items())]
    print(f"  erasures: {report['erasures']}", file=sys.stderr, flush=True)


def rss_threads(pid):
    with open(f"/proc/{pid}/status") as f:
        status = dict(line.split(":", 1) for line in f if ":" in line)
    return int(status["VmRSS"].split()[0]) // 1024, int(status["Threads"])


def bench_soak(args, report):
    import tempfile
    paths = image_paths(args)
    out = tempfile.mkdtemp(prefix="semcom-soak-")
    address = "tcp://127.0.0.1:5781"
    common = ["--radio", "zmq", "--address", address, "--zmq-pattern", "pushpull"]
    per_send = -(-args.soak_images // len(paths))
    # the receiver waits for every image sent: one that stopped early would leave the PUSH sender blocked
    rx = subprocess.Popen([*cli.app_command("rx_image"), *common, "--count",
                           str(per_send * len(paths)), "--output-dir", out, "--idle-exit", "60"],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    samples = []
    stop = threading.Event()

    def watch():
        while not stop.wait(1.0) and rx.poll() is None:
            try:
                samples.append((time.time(), *rss_threads(rx.pid)))
            except (OSError, KeyError):
                break
    threading.Thread(target=watch, daemon=True).start()
    time.sleep(3)
    t = time.time()
    try:
        tx = subprocess.run([*cli.app_command("tx_image"), *common, "--add-channel",
                             "--impaired", "--snr", str(args.snr), "--repeat", str(per_send), "--interval",
                             str(args.soak_interval), *paths], capture_output=True, text=True,
                            timeout=per_send * len(paths) * args.soak_interval + 300)
        tx_error = tx.stderr[-300:] if tx.returncode else ""
    except subprocess.TimeoutExpired:
        tx_error = "timed out"
    try:
        rx_out, rx_err = rx.communicate(timeout=300)
    except subprocess.TimeoutExpired:
        rx.kill()
        rx_out, rx_err = rx.communicate()
    stop.set()
    recs = [json.load(open(os.path.join(out, f))) for f in sorted(os.listdir(out)) if f.endswith(".json")]
    lost = [r for r in recs if r.get("lost") or r.get("bursts_lost")]
    # while receiving: after the last image the receiver is shutting down, its threads ending
    received_by = max((os.path.getmtime(os.path.join(out, f)) for f in os.listdir(out)), default=float("inf"))
    samples = [s for s in samples if s[0] <= received_by] or samples
    warm = [s for s in samples if s[0] - samples[0][0] > 20] or samples
    row = {"distinct_images": len(paths),
           "images_sent": f"tx failed: {tx_error}" if tx_error else per_send * len(paths),
           "images_received": len(recs), "images_lost_or_partial": len(lost), "snr_db": args.snr,
           "seconds": round(time.time() - t, 1), "rss_mb_start": warm[0][1] if warm else None,
           "rss_mb_end": warm[-1][1] if warm else None, "rss_mb_peak": max(s[1] for s in samples) if samples else None,
           "threads_start": warm[0][2] if warm else None, "threads_end": warm[-1][2] if warm else None,
           "rss_mb_by_fifth": [warm[int(i * (len(warm) - 1) / 5)][1] for i in range(6)] if warm else [],
           "rx_exit": rx.returncode, "psnr_db_median": statistics.median(r.get("psnr_db", 0) for r in recs) if recs and "psnr_db" in recs[0] else None}
    print(f"  soak: {row}", file=sys.stderr, flush=True)
    if rx.returncode:
        print(rx_err[-2000:], file=sys.stderr)
    report["soak"] = row


def markdown(report) -> str:
    lines = []
    if report["throughput"]:
        rate = report["throughput"][0]["rate_sps"] / 1e6
        lines += ["Replayed without throttle, from start-up (model loading included) to the last image; "
                  "sync+demod is `burst_rx` alone, full RX is `burst_rx → image_rx` decoding "
                  f"`{report['throughput'][0].get('codec', 'bitsemcom')}`. "
                  "*Packed*: images back to back; int8 decoder: `SEMCOM_DECODER=int8`.", "",
                  "| waveform | sync+demod Msps | full RX Msps | images/s | full RX Msps, int8 decoder "
                  "| images/s, int8 decoder | images |",
                  "|---|---|---|---|---|---|---|"]
        for r in report["throughput"]:
            full, int8 = r["full_packed"], r.get("full_packed_int8") or {}
            lines.append(f"| {r['waveform']} | {r['sync_demod_packed']['msps']} | {full['msps']} | "
                         f"{full['images_per_s']} | {int8.get('msps', '')} | {int8.get('images_per_s', '')} | "
                         f"{min(full['images_out'], int8.get('images_out', full['images_out']))}/{r['images']} |")
        lines += ["", f"*Paced*: one image every T seconds of a {rate:g} Msps stream, noise between. Full RX "
                  f"Msps: replayed without throttle (real time needs {rate:g}). Latency: the same stream "
                  f"throttled to {rate:g} Msps, from an image's first sample to its decoded image.", "",
                  "| waveform | image every T, s | images/s | full RX Msps | latency median / max, ms | images |",
                  "|---|---|---|---|---|---|"]
        for r in report["throughput"]:
            for p in r["paced"]:
                lat = p["latency_ms"]
                lines.append(f"| {r['waveform']} | {p['image_interval_s']:g} | {1 / p['image_interval_s']:g} | "
                             f"{p['msps']} | {lat['median']} / {lat['max']} | {lat['images_out']}/{r['images']} |")
        lines.append("")
    if report["noise"]:
        lines += ["| waveform | noise samples | detector tags | headers rejected | bursts accepted | frames out | Msps |",
                  "|---|---|---|---|---|---|---|"]
        for r in report["noise"]:
            lines.append(f"| {r['waveform']} | {r['samples']:.3g} ({r['minutes_at_rate']:g} min at "
                         f"{r['rate_sps'] / 1e6:g} Msps) | {r['detector_tags']} | {r['headers_rejected']} | "
                         f"{r['bursts_accepted']} | {r['frames_out']} | {r['msps']} |")
        lines.append("")
    if report.get("impulses"):
        rate = report["impulses"][0]["rate_sps"] / 1e6
        lines += [f"Impulsive noise: unit-amplitude spikes on a share of the samples of the packed recording, "
                  f"`burst_rx` alone, unthrottled; real time is {rate:g} Msps. × clean: against the recording "
                  f"without spikes, same process. Whole: images with no burst lost.", "",
                  "| waveform | SNR, dB | spike density | Msps | × radio rate | × clean | images | whole |",
                  "|---|---|---|---|---|---|---|---|"]
        for r in report["impulses"]:
            lines.append(f"| {r['waveform']} | {r.get('snr_db', '')} | {r['spike_density']:g} | {r['msps']} | "
                         f"{r['x_radio_rate']} | {r.get('x_clean', '')} | {r['images_out']}/{r['images']} | "
                         f"{r.get('images_whole', '')} |")
        lines.append("")
    if report.get("erasures"):
        rows = report["erasures"]
        most = max(r["lost"] for r in rows)
        lines += ["| BitSemCom, mean PSNR (dB) with k bursts lost | images | "
                  + " | ".join(f"k = {k}" for k in range(most + 1)) + " |", "|---|---|" + "---|" * (most + 1)]
        for b in sorted({r["bursts"] for r in rows}):
            mine = {r["lost"]: r for r in rows if r["bursts"] == b}
            cells = [f"{mine[k]['psnr_db']:.2f}" if k in mine else "" for k in range(most + 1)]
            lines.append(f"| {b} bursts per image | {mine[0]['images']} | " + " | ".join(cells) + " |")
        lines.append("")
    if report.get("soak"):
        s = report["soak"]
        lines += ["| soak | sent | received | lost or partial | RSS start → end (peak), MB | threads start → end |",
                  "|---|---|---|---|---|---|",
                  f"| ZeroMQ, {s['snr_db']:g} dB, impaired | {s['images_sent']} | {s['images_received']} | "
                  f"{s['images_lost_or_partial']} | {s['rss_mb_start']} → {s['rss_mb_end']} ({s['rss_mb_peak']}) | "
                  f"{s['threads_start']} → {s['threads_end']} |", ""]
    return "\n".join(lines)


def main():
    p = cli.parser(__doc__)
    p.add_argument("--only", nargs="+", choices=("throughput", "noise", "impulses", "erasures", "soak"),
                   default=["throughput", "noise", "impulses", "erasures", "soak"])
    p.add_argument("--waveforms", nargs="+", choices=("sc", "ofdm"), default=["sc", "ofdm"])
    p.add_argument("--images", default="", help="folder of images (default: examples/images/kodim23.png)")
    p.add_argument("--max-images", type=int, default=12)
    p.add_argument("--frames", type=int, default=24, help="images in the throughput recording")
    p.add_argument("--codec", default="bitsemcom",
                   help="the codec of the throughput images, sent over QPSK (default bitsemcom; e.g. bitsemcom-qpsk-cpp16-fast)")
    p.add_argument("--snr", type=cli.snr_value, default=15.0)
    p.add_argument("--rate", type=float, default=2e6, help="sample rate the paced stream, latency and noise assume")
    p.add_argument("--image-interval", type=float, nargs="+", default=[0.5, 0.1],
                   help="seconds of stream per image when paced (one replay and latency run each)")
    p.add_argument("--noise-minutes", type=float, default=10.0)
    p.add_argument("--spike-densities", type=float, nargs="+", default=[1e-4, 1e-3, 1e-2, 1e-1],
                   help="shares of samples hit by an impulse (impulses)")
    p.add_argument("--soak-images", type=int, default=500)
    p.add_argument("--soak-interval", type=float, default=0.4, help="seconds between soak images")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--out", default="results")
    p.add_argument("--append", action="store_true", help="keep --out/ota_bench.json's other sections")
    args = p.parse_args()
    cli.quiet_gnuradio(args.verbose)
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "ota_bench.json")
    report = {"throughput": [], "noise": [], "impulses": [], "erasures": [], "soak": None}
    if args.append and os.path.exists(path):  # keep the sections this run does not redo
        with open(path) as f:
            report.update(json.load(f))
    report.update(cpu_cores=os.cpu_count(), date=time.strftime("%Y-%m-%d"))
    for name in args.only:
        report[name] = None if name == "soak" else []
        print(f"{name} ...", file=sys.stderr, flush=True)
        {"throughput": bench_throughput, "noise": bench_noise, "impulses": bench_impulses,
         "erasures": bench_erasures, "soak": bench_soak}[name](args, report)
    with open(path, "w") as f:
        json.dump(report, f, indent=1)
    text = markdown(report)
    with open(os.path.join(args.out, "ota_bench.md"), "w") as f:
        f.write(text + "\n")
    print(text)
    return 0


def run():
    cli.run_main(main)


if __name__ == "__main__":
    run()
