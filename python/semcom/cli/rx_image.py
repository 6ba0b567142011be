"""Receive images with the gr-semcom burst waveform; write each with a JSON record.

--radio zmq/file/uhd/soapy: runs until Ctrl-C (or --count images, or --idle-exit
seconds without one, or the end of a --radio file recording). Every image is
written as frameNNNNNN.png with frameNNNNNN.json (codec, model, SNR estimate,
bursts lost, PSNR and MS-SSIM when --reference is given), both written
atomically: never a partial file. Bursts that fail become erasures for learned
codecs and a lost image (grey placeholder) for SSCC. The receiver keeps running
when the transmitter stops and restarts.

--radio sim: an in-process transmitter sends --reference repeatedly through the
simulated channel.

Examples:
  rx_image.py --radio zmq --output-dir out/rx                           # with tx_image.py --radio zmq
  rx_image.py --radio zmq --reference photo.png --count 10
  rx_image.py --radio zmq --timestamps tcp://127.0.0.1:5557 --keep-up --gui  # tx_image.py --frames ...
  rx_image.py --radio zmq --gui                                        # watch: spectrum, symbols, SNR, image
  rx_image.py --radio file --file out/capture.sigmf-data --output-dir out/rx
  rx_image.py --radio uhd --args type=b200 --freq 2.45e9 --gain 40
  rx_image.py --reference photo.png --count 5 --snr 2 --impaired        # simulated
"""
import json
import os
import queue
import sys
import time

from . import common as cli, live
from .. import options


def main():
    p = cli.parser(__doc__)
    cli.add_radio_options(p, receiver=True)
    cli.add_link_options(p)
    live.add_options(p, receiver=True)
    g = p.add_argument_group("receiver")
    g.add_argument("--reference", default="", help="image to score against (and, with --radio sim, to send), at most "
                   f"{options.MAX_SIDE} pixels a side and {options.MAX_IMAGE_PIXELS} pixels")
    options.add(g, "count")
    options.add(g, "idle_exit")
    g.add_argument("--feedback", default="", metavar="ADDR",
                   help="publish each image's per-burst SNR estimates on this ZeroMQ address (bound here) for "
                        "tx_image.py --codec auto --feedback ADDR")
    options.add(g, "status")
    g.add_argument("--output-dir", default="out/rx", help="received images and JSON records go here")
    g.add_argument("--record", default="", metavar="FILE.sigmf-data",
                   help="keep the received samples (cf32_le, at --rate) in this SigMF recording, with one "
                        "annotation per burst (sample span, semcom:snr_db, semcom:cfo, semcom:frame) written at "
                        "the end; replays with --radio file --file FILE.sigmf-data")
    g.add_argument("--gui", action="store_true",
                   help="show the reception in a window: spectrum, equalised symbols, SNR estimate per burst and "
                        "the last image (needs a display; not with --radio sim)")
    g.add_argument("--decoder", choices=("float32", "int8"), default="",
                   help="learned decoder precision: int8 (decoder.int8.onnx, from semcom-quantize) decodes about "
                        "twice as fast (default: $SEMCOM_DECODER, else float32)")
    args = p.parse_args()
    if args.decoder:
        from ..codecs.neural import DECODER_ENV
        os.environ[DECODER_ENV] = args.decoder
    cli.quiet_gnuradio(args.verbose)
    cli.check_radio_options(args)

    from ..errors import SemcomError
    from ..imageio import load_image
    reference = load_image(args.reference, "--reference") if args.reference else None
    if args.radio == "sim" and args.feedback:
        raise SemcomError("--feedback reports to a transmitter in another process: use it with --radio zmq, file, "
                          "uhd or soapy")
    if args.radio == "sim" and args.record:
        raise SemcomError("--record keeps the samples a radio received: use it with --radio zmq, file, uhd or soapy")
    if args.radio == "sim" and args.gui:
        raise SemcomError("--gui shows what a radio receives: use it with --radio zmq, file, uhd or soapy")
    if args.radio == "sim" and (args.timestamps or args.keep_up or args.video):
        raise SemcomError("--timestamps, --video and --keep-up are for live frames from a radio: use them with "
                          "--radio zmq, file, uhd or soapy")
    if args.radio == "sim" and reference is None:
        raise SemcomError("--radio sim needs --reference: the image the simulated transmitter sends")
    if os.path.exists(args.output_dir) and not os.path.isdir(args.output_dir):
        raise SemcomError(f"--output-dir {args.output_dir} is a file, not a folder")
    try:
        os.makedirs(args.output_dir, exist_ok=True)
    except OSError as err:
        raise SemcomError(f"cannot create --output-dir {args.output_dir}: {err.strerror}") from None
    if args.radio == "sim":
        return receive_simulated(args, reference)
    return receive_from_radio(args, reference)


def record(args, meta: dict, image, reference, index: int, drops: dict) -> dict:
    """Adds PSNR/MS-SSIM and the receiver's drop counts so far to the JSON record image_rx wrote,
    atomically; returns it."""
    from .. import metrics
    stem = os.path.join(args.output_dir, f"frame{index:06d}")
    try:
        with open(stem + ".json") as f:
            rec = json.load(f)
    except (OSError, ValueError):  # image_rx could not write it (and said so): report from the metadata
        rec = {k: v for k, v in meta.items() if isinstance(v, (int, float, str, bool))}
        rec["written"] = False
    if reference is not None:
        if reference.shape == image.shape:
            rec.update(psnr_db=round(metrics.psnr(reference, image), 2),
                       ms_ssim=round(metrics.ms_ssim(reference, image), 4))
        else:
            rec["reference_mismatch"] = f"received {image.shape[1]}x{image.shape[0]}, reference is " \
                                        f"{reference.shape[1]}x{reference.shape[0]}"
    rec["receiver_drops"] = drops
    if rec.get("written", True):
        try:
            with open(stem + ".json.tmp", "w") as f:
                json.dump(rec, f, indent=1)
            os.replace(stem + ".json.tmp", stem + ".json")
        except OSError as err:
            rec["written"] = False
            print(f"error: cannot update {stem}.json: {err.strerror}", file=sys.stderr, flush=True)
            if os.path.exists(stem + ".json.tmp"):
                os.unlink(stem + ".json.tmp")
    rec["file"] = stem + ".png" if rec.get("written", True) else "(not written)"
    return rec


def log_line(rec: dict, index: int) -> str:
    state = f"LOST ({rec.get('reason')})" if rec.get("lost") else "ok"
    parts = [f"image {index}: {state}", f"codec {rec.get('model') or rec.get('codec')}"]
    if "bursts" in rec:
        parts.append(f"bursts {rec['bursts'] - rec['bursts_lost']}/{rec['bursts']}")
        parts.append(f"SNR est {rec['snr_est_db']:.1f} dB")
    if "psnr_db" in rec:
        parts.append(f"PSNR {rec['psnr_db']:.2f} dB")
    return "  ".join(parts) + f"  -> {rec['file']}"


def receive_simulated(args, reference):
    received = 0
    with cli.sim_link(args, output_dir=args.output_dir) as link:
        try:
            while args.count == 0 or received < args.count:
                result = link.transmit(reference)
                if not result.meta:  # nothing detected: nothing written
                    print(f"image {received}: LOST ({result.reason}), nothing written", flush=True)
                    continue
                print(log_line(record(args, result.meta, result.image, reference, received, link.drops()), received),
                      flush=True)
                received += 1
        except KeyboardInterrupt:
            pass
        failed = link.rx.write_failures
        drops = link.drops()
    where = f"all written to {args.output_dir}" if not failed else f"{failed} of them could NOT be written to {args.output_dir}"
    print(f"stopped after {received} images; {where}{drop_text(drops)}")
    return 1 if failed else 0


def drop_text(drops: dict) -> str:
    """'; dropped: stage: reason n, ...' for the summary line (empty when nothing was dropped)."""
    parts = [f"{stage}: " + ", ".join(f"{why} {n}" for why, n in counts.items()) for stage, counts in drops.items()]
    return "; dropped: " + "; ".join(parts) if parts else "; nothing dropped"


def status_line(images: int, drops: dict, snr_db, transmitters_ended: int = 0, rates: str = "") -> str:
    """'status: N images; dropped: stage n, ...; last SNR estimate x dB[; rates]; transmitters ended n'
    (a live line while receiving; ``rates``: LiveStats.text; the ended part only once a transmitter
    ended)."""
    parts = [f"{stage} {sum(counts.values())}" for stage, counts in drops.items()]
    snr = f"; last SNR estimate {snr_db:.1f} dB" if isinstance(snr_db, (int, float)) else ""
    rates = f"; {rates}" if rates else ""
    dropped = ", ".join(parts) or "nothing"
    return f"status: {images} images; dropped: {dropped}{snr}{rates}{ended_text(transmitters_ended)}"


def ended_text(transmitters_ended: int) -> str:
    """'; transmitters ended n' (empty when none did): transmitters that closed their connection."""
    return f"; transmitters ended {transmitters_ended}" if transmitters_ended else ""


GUI_WAIT_SECONDS = 0.03  # with --gui, the window's events are handled at least this often


def receive_from_radio(args, reference):
    from ..errors import SemcomError
    from ..flowgraphs.air import AirReceiver
    feedback = None
    if args.feedback:
        from .feedback import FeedbackPublisher
        feedback = FeedbackPublisher(args.feedback)
    codec = args.codec if args.codec != cli.DEFAULT_CODEC else ""  # default: the codec each frame names
    stamps = live.StampSubscriber(args.timestamps) if args.timestamps else None
    timing = live.LiveStats()
    video = None
    if args.video:
        from ..frames import VideoWriter
        video = VideoWriter(args.video, args.video_fps)
    view = None
    if args.gui:
        from ..flowgraphs.view import ReceiverView, application
        app = application()
    rx = AirReceiver(cli.radio_config(args), cli.air_options(args), codec, args.output_dir, args.record,
                     symbols=args.gui, keep_up=args.keep_up)
    rx.warm_up(args.codec)
    if args.gui:
        view = ReceiverView(rx, f"rx_image.py: {args.radio} ({args.waveform})")
    rx.start()
    if view is not None:
        view.show()
        app.processEvents()
    print(f"listening on {args.radio} ({args.waveform}); images go to {args.output_dir}", flush=True)
    received, last = 0, time.monotonic()
    shown, next_status, snr = None, time.monotonic() + args.status, None
    wait = 0.2 if view is None else GUI_WAIT_SECONDS
    try:
        while args.count == 0 or received < args.count:
            if view is not None:
                app.processEvents()
                if view.closed:
                    break
            if args.status and time.monotonic() >= next_status:
                line = status_line(rx.image.count, rx.drops(), snr, rx.transmitters_ended, timing.text())
                if line != shown:
                    print(line, flush=True)
                    shown = line
                next_status = time.monotonic() + args.status
            try:
                meta, image = rx.received.get(timeout=wait)
            except queue.Empty:
                if rx.finished.is_set() and rx.received.empty():
                    break  # a file recording ended
                if args.idle_exit and time.monotonic() - last > args.idle_exit:
                    break
                continue
            last = time.monotonic()
            timing.add(time.time(), stamps.times(meta.get("session"), meta.get("frame")) if stamps else None)
            if video is not None:
                try:
                    video.add(image)
                except SemcomError as err:  # the frames are still written as files
                    print(f"error: {err}; no more frames go into it", file=sys.stderr, flush=True)
                    video.close()
                    video = None
            rec = record(args, meta, image, reference, received, rx.drops())
            snr = rec.get("snr_est_db", snr)
            print(log_line(rec, received), flush=True)
            if feedback is not None:
                feedback.publish(rec)
            received += 1
    except KeyboardInterrupt:
        pass
    finally:
        rx.close()
        if feedback is not None:
            feedback.close()
        if stamps is not None:
            stamps.close()
        if video is not None:
            video.close()
    rates = timing.text(window=None)
    stats = rx.bursts.receiver
    failed = rx.image.write_failures
    where = (f"all written to {args.output_dir}" if not failed else
             f"{failed} of them could NOT be written to {args.output_dir}")
    unlogged = rx.image.count - received  # written, but the console's queue kept only the newest
    behind = f", {unlogged} of them written without a log line (the console fell behind)" if unlogged > 0 else ""
    if args.radio == "file" and not rx.image.count and args.rate is None:
        print(f"the recording is at {rx.source.cfg.rate:g} samples/s: if the transmitter ran at another rate, "
              "give that rate with --rate to resample the recording to it")
    print(f"stopped after {rx.image.count} images ({stats.bursts} bursts{behind}); {where}{drop_text(rx.drops())}"
          + (f"; {rates}" if rates else "") + ended_text(rx.transmitters_ended))
    return 1 if failed else 0


def run():
    cli.run_main(main)


if __name__ == "__main__":
    run()
