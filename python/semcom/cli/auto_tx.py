"""``tx_image.py --codec auto``: per image, the codec and link the rate table (``codecs/auto.py``)
predicts best for the SNR given (--target-snr; --snr with --radio sim) or the one the receiver
reports (--feedback ADDR, closed loop with --hysteresis). Frames name their codec, so the
receiver needs no configuration. Every image gets a record of what was picked and why."""
from __future__ import annotations

import argparse
import copy
import json
import time

from .. import options
from ..errors import SemcomError


def add_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("--codec auto (per image the codec x link predicted best for the SNR)")
    g.add_argument("--feedback", default="", metavar="ADDR",
                   help="ZeroMQ address of rx_image.py --feedback: each image is picked for the receiver's latest "
                        "SNR estimate (closed loop)")
    for name in ("auto_margin", "hysteresis", "feedback_wait"):
        options.add(g, name)
    g.add_argument("--snr-steps", default="", metavar="DB,DB,...",
                   help="the simulated channel's SNR changes along the images (--radio sim, or --add-channel): "
                        "e.g. 15,0,-3,15, --step-images images each (a first step below 0 dB: --snr-steps=-6,0)")
    g.add_argument("--step-images", type=options.argparse_type(options.OPTIONS["repeat"]), default=1,
                   help="images sent at each --snr-steps value")


def snr_steps(args) -> list[float]:
    """--snr-steps as numbers (each a valid --snr); [] when not given."""
    if not args.snr_steps:
        return []
    return [options.check("snr", s.strip()) for s in args.snr_steps.split(",") if s.strip()]


def channel_snr(args, steps: list[float], index: int) -> float:
    """The simulated channel's SNR for image ``index``."""
    return steps[min(index // args.step_images, len(steps) - 1)] if steps else args.snr


class Picker:
    """The SNR each image is picked for, and the pick: given, or the receiver's feedback."""

    def __init__(self, args, table):
        from .feedback import FeedbackSubscriber
        self.args, self.table, self.current = args, table, None
        self.feedback = FeedbackSubscriber(args.feedback) if args.feedback else None
        if self.feedback is None and args.target_snr is None and args.radio != "sim":
            raise SemcomError(f"--codec auto with --radio {args.radio} needs --target-snr (the Es/N0 the receiver "
                              "sees) or --feedback ADDR (rx_image.py --feedback ADDR reports it)")

    def snr(self, channel_db: float, last_frame: int | None) -> tuple[float, str]:
        """(SNR, where it came from) for the next image; ``last_frame``: the frame just sent."""
        if self.feedback is not None:
            message = self.feedback.latest(last_frame, self.args.feedback_wait if last_frame is not None else 0)
            if message is not None:
                return float(message["snr_est_db"]), f"receiver's estimate of frame {message.get('frame')}"
            if self.args.target_snr is not None:
                return self.args.target_snr, "--target-snr, no estimate yet"
            lowest = min((float(s) for c in self.table.curves.values() for s in c), default=0.0)
            return lowest, "no estimate yet: the lowest SNR measured"
        if self.args.target_snr is not None:
            return self.args.target_snr, "--target-snr"
        return channel_db, "the simulated channel's"

    def pick(self, snr: float, source: str, pixels: int):
        """The table's choice; with feedback (closed loop) the previous pick is held by the hysteresis."""
        current = self.current if self.feedback is not None else None
        return self.table.choose(snr, pixels, current, self.args.hysteresis, source)

    def close(self):
        if self.feedback is not None:
            self.feedback.close()


def encode_first(choice, send):
    """``send(candidate)`` for the pick, else the ranked candidates after it (a conventional codec may
    not fit a tiny budget); (candidate, its result, note)."""
    errors = []
    for candidate in [choice.candidate] + [c for c, _ in choice.ranked if c != choice.candidate]:
        try:
            return candidate, send(candidate), "; ".join(errors)
        except SemcomError as err:
            errors.append(f"{candidate.label} cannot send it ({err})")
    raise SemcomError("--codec auto: no candidate can send this image: " + "; ".join(errors))


def send(args, images, check_sent) -> int:
    """Sends ``images`` picking per image; ``check_sent(args, sent, queued, samples)`` checks a radio's count."""
    from ..codecs.auto import RateTable
    table = RateTable.installed(args.cpp, args.auto_margin)
    if args.radio != "sim" or args.waveform != "ideal":  # bursts carry whole FEC blocks
        table = table.restricted(lambda link: link.payload_bits(args.burst_symbols) > 0)
    steps = snr_steps(args)
    if steps and args.radio != "sim" and not args.add_channel:
        raise SemcomError("--snr-steps changes the simulated channel: use it with --radio sim or --add-channel")
    picker = Picker(args, table)
    try:
        if args.radio == "sim":
            return _send_simulated(args, images, picker, steps)
        return _send_to_radio(args, images, picker, steps, table, check_sent)
    finally:
        picker.close()


def _sent_record(choice, candidate, note: str) -> dict:
    """The image record's ``auto`` part: the pick, or the fallback that sent it and why."""
    record = choice.record()
    if candidate != choice.candidate:
        record.update(codec=candidate.codec, link=candidate.link, family=candidate.family, fallback=note)
    return record


def _report(args, record: dict) -> None:
    if args.json:
        print(json.dumps(record), flush=True)
        return
    auto = record["auto"]
    got = f"  PSNR {record['psnr_db']:.2f} dB{' LOST' if record.get('lost') else ''}" if "psnr_db" in record else ""
    channel = f" channel {record['channel_snr_db']:g} dB" if "channel_snr_db" in record else ""
    print(f"image {record['index']} ({record['image']}):{channel} -> {auto['codec']} {auto['link']}{got}  "
          f"[{auto['why']}]", flush=True)


def _send_simulated(args, images, picker, steps) -> int:
    from . import common as cli
    from .. import metrics
    from ..imageio import save_image
    link, key = None, None
    try:
        for n, (path, image) in enumerate(images * args.repeat):
            h, w = image.shape[:2]
            snr_db = channel_snr(args, steps, n)
            choice = picker.pick(*picker.snr(snr_db, None), h * w)

            def transmit(candidate):
                nonlocal link, key
                if key != candidate:  # one running link at a time: the pick's codec and link
                    if link is not None:
                        link.close()
                    link, key = None, None
                    fixed = copy.copy(args)
                    fixed.codec = candidate.codec
                    fixed.modulation, _, fixed.fec = candidate.link.partition("/")
                    fixed.fec = fixed.fec or "none"
                    link, key = cli.sim_link(fixed), candidate
                link.set_snr(snr_db)
                return link.transmit(image)
            candidate, result, note = encode_first(choice, transmit)
            picker.current = candidate
            save_image(args.rx_output, result.image)
            _report(args, {"index": n, "image": path, "received": args.rx_output, "channel_snr_db": snr_db,
                           "auto": _sent_record(choice, candidate, note), "lost": result.lost, "reason": result.reason,
                           "psnr_db": round(metrics.psnr(image, result.image), 2),
                           "ms_ssim": round(metrics.ms_ssim(image, result.image), 4),
                           "payload_bits": result.payload_bits, "channel_uses": result.channel_uses})
    finally:
        if link is not None:
            link.close()
    return 0


def _send_to_radio(args, images, picker, steps, table, check_sent) -> int:
    from . import common as cli
    from ..flowgraphs.adaptive import AdaptiveTransmitter
    links = sorted({c.link for c in table.candidates})
    tx = AdaptiveTransmitter(cli.radio_config(args), links, args.cpp, cli.air_options(args),
                             throttle=args.radio == "zmq",
                             impairments=cli.impairments(args) if args.add_channel else None).start()
    queued, frame = 0, None
    try:
        for n, (path, image) in enumerate(images * args.repeat):
            h, w = image.shape[:2]
            snr_db, source = picker.snr(channel_snr(args, steps, n), frame)
            if steps:
                tx.channel.set_snr(channel_snr(args, steps, n))
            choice = picker.pick(snr_db, source, h * w)
            candidate, (meta, bits), note = encode_first(
                choice, lambda c: tx.send(image, {"path": path}, c.codec, c.link))
            picker.current, frame, queued = candidate, int(meta["frame"]), queued + 1
            record = {"index": n, "image": path, "frame": frame, "bits": int(bits),
                      "auto": _sent_record(choice, candidate, note), "radio": args.radio}
            if steps:
                record["channel_snr_db"] = channel_snr(args, steps, n)
            _report(args, record)
            tx.wait_sent(timeout=600)
            if args.interval and n + 1 < len(images) * args.repeat:
                time.sleep(args.interval)
        time.sleep(0.5 if args.radio == "zmq" else 0.1)  # let the last samples leave the socket or device
        sent, samples = tx.bursts.frames_sent, tx.bursts.samples_sent
    finally:
        tx.close()
    check_sent(args, sent, queued, samples)
    print(f"sent {sent} images in {tx.bursts.bursts_sent} bursts, {samples} samples", flush=True)
    return 0
