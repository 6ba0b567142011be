#!/usr/bin/env python3
"""Transmit an image through the gr-semcom PHY.

With --radio sim the receiver runs in the same flowgraph: the received image is
written to --rx-output and PSNR, MS-SSIM, bits and channel uses are printed.

Example:
  tx_image.py --snr 3 --channel awgn --rx-output out/rx.png photo.png              # BitSemCom
  tx_image.py --snr 3 --codec sscc --fec ldpc-1/3 --rx-output out/rx.png photo.png   # AVIF/JPEG 2000/WebP + LDPC
"""
import json
import sys

from gnuradio.semcom import cli


def main():
    p = cli.parser(__doc__)
    p.add_argument("image", help="image file to send (PNG, JPEG, ...)")
    cli.add_radio_options(p)
    cli.add_link_options(p)
    g = p.add_argument_group("output")
    g.add_argument("--rx-output", default="out/rx.png", help="where the received image is written")
    g.add_argument("--json", action="store_true", help="print the result as one JSON line")
    args = p.parse_args()
    cli.quiet_gnuradio(args.verbose)

    from gnuradio.semcom import metrics
    from gnuradio.semcom.imageio import load_image, save_image
    from gnuradio.semcom.sim_link import SimLink

    image = load_image(args.image)
    with SimLink(args.codec, args.modulation, args.fec, args.cpp, args.channel, args.snr,
                 ldpc_backend=args.ldpc_backend, seed=args.seed) as link:
        result = link.transmit(image)
        link_text = link.tx.link.describe()
    save_image(args.rx_output, result.image)
    h, w = image.shape[:2]
    report = {
        "image": args.image, "received": args.rx_output, "codec": args.codec,
        "model": result.meta.get("model", ""), "link": link_text, "channel": args.channel, "snr_db": args.snr,
        "lost": result.lost, "reason": result.reason,
        "psnr_db": round(metrics.psnr(image, result.image), 2),
        "ms_ssim": round(metrics.ms_ssim(image, result.image), 4),
        "payload_bits": result.payload_bits, "channel_uses": result.channel_uses,
        "cpp": round(result.channel_uses / (h * w), 5),
    }
    if args.json:
        print(json.dumps(report))
    else:
        state = f"LOST ({result.reason}), placeholder written" if result.lost else "received"
        model = f" ({report['model']})" if report["model"] else ""
        print(f"{state}: {args.rx_output}  {w}x{h}  codec {args.codec}{model} over {report['link']}, "
              f"{args.channel} {args.snr:g} dB")
        print(f"PSNR {report['psnr_db']:.2f} dB  MS-SSIM {report['ms_ssim']:.4f}  "
              f"{result.payload_bits} bits in {result.channel_uses} channel uses (cpp {report['cpp']:.4f})")
    return 0


if __name__ == "__main__":
    cli.run_main(main)
