#!/usr/bin/env python3
"""Receive images with the gr-semcom PHY and write each one with a JSON record.

With --radio sim there is no remote transmitter yet: an in-process transmitter
sends --reference repeatedly through the simulated channel, and each received
image is scored against it. Files are written atomically (never partial).

Example:
  rx_image.py --reference photo.png --count 5 --snr 2 --output-dir out/rx
"""
import json
import os

from gnuradio.semcom import cli


def main():
    p = cli.parser(__doc__)
    cli.add_radio_options(p)
    cli.add_link_options(p)
    g = p.add_argument_group("receiver")
    g.add_argument("--reference", required=True, help="image the simulated transmitter sends (and PSNR reference)")
    g.add_argument("--count", type=int, default=1, help="images to receive (0 = until Ctrl-C)")
    g.add_argument("--output-dir", default="out/rx", help="received images and JSON records go here")
    args = p.parse_args()
    cli.quiet_gnuradio(args.verbose)

    from gnuradio.semcom import metrics
    from gnuradio.semcom.imageio import load_image
    from gnuradio.semcom.sim_link import SimLink

    reference = load_image(args.reference)
    os.makedirs(args.output_dir, exist_ok=True)
    received = 0
    with SimLink(args.codec, args.modulation, args.fec, args.cpp, args.channel, args.snr,
                 ldpc_backend=args.ldpc_backend, seed=args.seed, output_dir=args.output_dir) as link:
        try:
            while args.count == 0 or received < args.count:
                result = link.transmit(reference)
                frame = os.path.join(args.output_dir, f"frame{received:06d}")
                score = {"psnr_db": round(metrics.psnr(reference, result.image), 2),
                         "ms_ssim": round(metrics.ms_ssim(reference, result.image), 4)}
                with open(frame + ".json") as f:
                    record = {**json.load(f), **score}
                with open(frame + ".json.tmp", "w") as f:
                    json.dump(record, f, indent=1)
                os.replace(frame + ".json.tmp", frame + ".json")
                print(f"frame {received}: {'LOST (' + result.reason + ')' if result.lost else 'ok'}  "
                      f"PSNR {score['psnr_db']:.2f} dB  -> {frame}.png", flush=True)
                received += 1
        except KeyboardInterrupt:
            print(f"stopped after {received} images; all written to {args.output_dir}")
    return 0


if __name__ == "__main__":
    cli.run_main(main)
