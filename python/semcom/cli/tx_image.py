"""Transmit images with the gr-semcom burst waveform.

--radio sim: the receiver runs in this process, through GNU Radio's channel_model
(or the ideal synchronised channel with --waveform ideal); the received image is
written to --rx-output and PSNR, MS-SSIM, bits and channel uses are printed.

--radio zmq/file/uhd/soapy: the images are sent as bursts to the radio and the
app exits once every sample has left; run rx_image.py at the other end.

Examples:
  tx_image.py --snr 3 --rx-output out/rx.png photo.png                      # BitSemCom, simulated
  tx_image.py --impaired --waveform ofdm --codec sscc photo.png             # CFO, timing, multipath
  tx_image.py --radio zmq --repeat 10 --interval 0.5 a.png b.png            # to rx_image.py --radio zmq
  tx_image.py --radio zmq --add-channel --snr 15 --impaired photo.png        # noisy, impaired ZeroMQ link
  tx_image.py --radio zmq --frames clip.mp4 --size 256x256 --timestamps tcp://127.0.0.1:5557
                                                        # live frames to rx_image.py --radio zmq --timestamps ...
  tx_image.py --radio file --file out/capture.sigmf-data photo.png          # record IQ
  tx_image.py --radio uhd --args type=b200 --freq 2.45e9 --gain 60 photo.png
  tx_image.py --modulation auto --snr 0 photo.png                           # model and QAM for 0 dB
  tx_image.py --radio zmq --modulation auto --target-snr 6 photo.png        # for a receiver at 6 dB
  tx_image.py --codec auto --snr-steps 15,0,-3,15 a.png b.png               # codec x link per image
  tx_image.py --radio zmq --codec auto --feedback tcp://127.0.0.1:5556 --add-channel --snr-steps 15,0 a.png
                                                        # closed loop with rx_image.py --feedback tcp://*:5556
"""
import json
import os
import sys
import time

from . import auto_tx, common as cli, live
from .. import options
from ..codecs.auto import AUTO_CODEC


def main():
    p = cli.parser(__doc__)
    p.add_argument("images", nargs="*", help="image files to send (PNG, JPEG, ...), at most "
                   f"{options.MAX_SIDE} pixels a side and {options.MAX_IMAGE_PIXELS} pixels")
    cli.add_radio_options(p)
    live.add_options(p)
    cli.add_link_options(p, auto=True)
    auto_tx.add_options(p)
    g = p.add_argument_group("output")
    g.add_argument("--rx-output", default="out/rx.png", help="--radio sim: where the received image is written "
                   f"({', '.join(e for e in options.IMAGE_OUTPUTS if e)})")
    options.add(g, "repeat")
    options.add(g, "interval")
    g.add_argument("--json", action="store_true", help="print one JSON line per image")
    g.add_argument("--add-channel", action="store_true",
                   help="--radio zmq/file: pass the samples through the simulated channel first "
                        "(--snr, --cfo, --timing-offset, --clock-ppm, --taps, --impaired)")
    args = p.parse_args()
    cli.quiet_gnuradio(args.verbose)
    cli.check_radio_options(args)

    from ..errors import SemcomError
    from ..imageio import load_image
    if bool(args.images) == bool(args.frames):
        raise SemcomError("give image files or --frames SOURCE (one of them)")
    if args.frames and (args.radio == "sim" or args.codec == AUTO_CODEC):
        raise SemcomError("--frames sends to a radio (--radio zmq, file, uhd or soapy) with one codec, "
                          f"not --radio sim or --codec {AUTO_CODEC}")
    if args.frames:
        from ..frames import ffmpeg_reader, source_kind
        if source_kind(args.frames) != "folder":  # checked before anything starts
            ffmpeg_reader()
    images = [(path, load_image(path)) for path in args.images]
    if args.radio == "sim":
        for _, image in images:
            options.image_output(args.rx_output, *image.shape[:2], "--rx-output")
    if args.codec == AUTO_CODEC:
        return auto_tx.send(args, images, check_sent)
    args.auto_pick = ""
    card_link(args, explicit=any(a.split("=")[0] == "--modulation" for a in sys.argv[1:]))
    if args.modulation == options.AUTO_MODULATION:
        args.auto_pick = pick_auto_link(args, *(args.size if args.frames else images[0][1].shape[:2]))
        if not args.json:
            print(f"--modulation {options.AUTO_MODULATION}: {args.auto_pick}", flush=True)
    if args.radio == "sim":
        return send_simulated(args, images)
    return send_to_radio(args, images)


def card_link(args, explicit: bool) -> None:
    """A model goes over the modulation its card was trained for unless --modulation names
    another; then one warning line says what that costs."""
    from .. import codecs
    model = getattr(codecs.get(args.codec), "model", None)
    trained = (model.card.get("modulation") if model is not None else None) or args.modulation
    if trained == args.modulation or args.modulation == options.AUTO_MODULATION:
        return
    if not explicit:
        args.modulation = trained
        return
    from ..phy.constellations import constellation
    ratio = constellation(args.modulation).bits_per_symbol / constellation(trained).bits_per_symbol
    cost = (f"sends {ratio:.0%} of its latent (punctured by its rate profile)" if ratio < 1 else
            f"repeats its latent {ratio:g} times at the same channel uses")
    print(f"warning: {model.name} was trained for {trained}; over {args.modulation} it {cost}: expect a lower "
          f"PSNR than over {trained} (leave out --modulation to use {trained})", file=sys.stderr, flush=True)


def pick_auto_link(args, height: int, width: int) -> str:
    """--modulation auto: sets ``args.modulation`` and ``args.codec`` (the picked model, -hard kept)
    from the BitSemCom cards' measured curves at --target-snr (--snr with --radio sim); without a
    curve at --cpp, today's choice over QPSK. Returns what was picked; SemcomError (one line) when
    the codec is not bitsemcom or no card has curves."""
    from .. import codecs
    from ..codecs.neural import MEASURED_KEY, AutoBitSemCom
    from ..errors import SemcomError
    from ..phy.link import FEC_NONE, LinkConfig
    codec = codecs.get(args.codec)
    if not isinstance(codec, AutoBitSemCom):
        raise SemcomError(f"--modulation {options.AUTO_MODULATION} picks a BitSemCom model and modulation: use "
                          f"--codec bitsemcom or bitsemcom-hard, not {args.codec}")
    snr = args.snr if args.target_snr is None and args.radio == "sim" else args.target_snr
    if snr is None:
        raise SemcomError(f"--modulation {options.AUTO_MODULATION} with --radio {args.radio} needs --target-snr "
                          "(the Es/N0 the receiver sees, e.g. its last SNR estimate)")
    if not any(m.card_section(MEASURED_KEY) for m in codec.models.values()):
        raise SemcomError(f"--modulation {options.AUTO_MODULATION}: no installed BitSemCom model has measured curves "
                          f"(card.json '{MEASURED_KEY}'); measure them with semcom-eval --codecs "
                          f"{' '.join(codec.models) or 'MODELS'} --learned-links qpsk 16qam 64qam --per-link --out DIR, "
                          "write them with scripts/model_cards.py --measured DIR/results.json, then make install")
    fallback = LinkConfig(options.default("modulation"), FEC_NONE)
    model, args.modulation, psnr = codec.choose_link(snr, args.cpp, height, width, fallback)
    if psnr is None:  # bitsemcom keeps choosing per image, as without auto
        return f"{model.name}@{args.modulation} (no curve measured at cpp {args.cpp:g}: the rate profile's choice)"
    args.codec = model.name + ("-hard" if codec.hard else "")
    return f"{model.name}@{args.modulation}, measured {psnr:.2f} dB at {snr:g} dB"


def send_simulated(args, images):
    from .. import metrics
    from ..imageio import save_image
    with cli.sim_link(args) as link:
        for path, image in images * args.repeat:
            result = link.transmit(image)
            save_image(args.rx_output, result.image)
            h, w = image.shape[:2]
            report = {
                "image": path, "received": args.rx_output, "codec": args.codec,
                "model": result.meta.get("model", ""), "link": link.tx.link.describe(), "channel": cli.link_text(args),
                "snr_db": args.snr, "snr_est_db": result.meta.get("snr_est_db"), "lost": result.lost,
                "reason": result.reason, "bursts": result.meta.get("bursts"), "bursts_lost": result.meta.get("bursts_lost"),
                "psnr_db": round(metrics.psnr(image, result.image), 2),
                "ms_ssim": round(metrics.ms_ssim(image, result.image), 4),
                "payload_bits": result.payload_bits, "channel_uses": result.channel_uses,
                "cpp": round(result.channel_uses / (h * w), 5), "receiver_drops": link.drops(),
                **({"auto": args.auto_pick} if args.auto_pick else {}),
            }
            if args.json:
                print(json.dumps(report), flush=True)
                continue
            state = f"LOST ({result.reason}), placeholder written" if result.lost else "received"
            model = f" ({report['model']})" if report["model"] else ""
            bursts = ""
            if report["bursts"] is not None:
                bursts = (f"  {report['bursts'] - report['bursts_lost']}/{report['bursts']} bursts, "
                          f"SNR estimate {report['snr_est_db']:.1f} dB")
            print(f"{state}: {args.rx_output}  {w}x{h}  codec {args.codec}{model} over {report['link']}, "
                  f"{report['channel']}")
            print(f"PSNR {report['psnr_db']:.2f} dB  MS-SSIM {report['ms_ssim']:.4f}  "
                  f"{result.payload_bits} bits in {result.channel_uses} channel uses (cpp {report['cpp']:.4f})"
                  f"{bursts}", flush=True)
    return 0


def send_to_radio(args, images):
    from ..flowgraphs.air import AirTransmitter
    from ..errors import SemcomError
    radio = cli.radio_config(args)
    if args.add_channel and args.radio not in ("zmq", "file"):
        raise SemcomError("--add-channel is for --radio zmq or file; over the air the channel is real")
    with AirTransmitter(radio, args.codec, args.modulation, args.fec, args.cpp, cli.air_options(args),
                        throttle=args.radio == "zmq",
                        impairments=cli.impairments(args) if args.add_channel else None).start() as tx:
        queued, summary = live.send_frames(args, tx) if args.frames else send_images(args, tx, images)
        time.sleep(0.5 if args.radio == "zmq" else 0.1)  # let the last samples leave the socket or device
        sent, samples = tx.bursts.frames_sent, tx.bursts.samples_sent
    check_sent(args, sent, queued, samples)
    print(summary, flush=True)
    return 0


def send_images(args, tx, images) -> tuple[int, str]:
    """The image files, --repeat times, each once the one before has left; (images queued, the line
    that says what was sent)."""
    for n, (path, image) in enumerate(images * args.repeat):
        meta, len_bits = tx.send(image, {"path": path})
        line = {"sent": path, "frame": int(meta["frame"]), "codec": meta["codec"], "model": meta.get("model", ""),
                "bits": int(len_bits), "link": tx.image.link.describe(), "radio": args.radio}
        print(json.dumps(line) if args.json else
              f"frame {line['frame']}: {path} -> {args.radio} ({line['codec']}, {line['bits']} bits, "
              f"{line['link']}, {args.waveform})", flush=True)
        tx.wait_sent(timeout=600)
        if args.interval and n + 1 < len(images) * args.repeat:
            time.sleep(args.interval)
    return len(images) * args.repeat, (f"sent {tx.bursts.frames_sent} images in {tx.bursts.bursts_sent} bursts, "
                                       f"{tx.bursts.samples_sent} samples")


def check_sent(args, sent: int, queued: int, samples: int) -> None:
    """The transmitter tells the truth: a frame that never left, or a recording shorter than the
    samples sent (a full disk), is an error (exit status 2), not 'sent'."""
    from ..errors import SemcomError
    from ..flowgraphs.radios import sigmf_paths
    if sent < queued:
        raise SemcomError(f"only {sent} of {queued} images left the transmitter (the others were dropped: see the "
                          "warnings above)")
    if args.radio == "file":
        path = sigmf_paths(args.file)[0]
        size = os.path.getsize(path) if os.path.exists(path) else 0
        if size < samples * 8:
            raise SemcomError(f"{path} holds {size} bytes but {samples} samples ({samples * 8} bytes) were sent: "
                              "the disk is full or the file was cut; free space and send again")


def run():
    cli.run_main(main)


if __name__ == "__main__":
    run()
