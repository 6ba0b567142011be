"""Compare image codecs over the gr-semcom PHY: PSNR and MS-SSIM against SNR.

Every (codec, link) pair is run through the GNU Radio chain for each image and
SNR: conventional codecs over every --links entry (modulation/LDPC), learned
codecs uncoded over every --learned-links modulation. Outputs in --out:
results.csv (one row per point), results.json, summary.md (mean per series)
psnr_vs_snr.png and ms_ssim_vs_snr.png (an earlier run's folder is kept:
--append adds to it, --force replaces it). Series: each codec at its best link per image and SNR,
the SSCC envelope (best conventional codec x link), the learned envelope (best
learned model x modulation), bitsemcom@auto (at each SNR the rows of the model
and modulation the installed cards' measured curves pick: what
tx_image.py --modulation auto would send) and the ideal AVIF + capacity
reference, log2(1+SNR) bits per channel use. findings.md adds the learned
envelope against the SSCC envelope and its switch points.

--grid PATH draws the received images of the first image, one row per codec (its best link at
each SNR) and one column per SNR of the first channel, captioned with PSNR / MS-SSIM;
--save-images DIR writes every received image.

--jobs N runs the points in N worker processes (default: every core); --scheduler sends them to a
Dask cluster (tcp://HOST:8786, or local:N). Each point's channel seed comes from --seed and the
point itself, so the results do not depend on --jobs or --scheduler.

--append keeps the rows already in --out/results.csv for points (codec, link,
channel, image, SNR) this run does not evaluate, so a new codec or SNR joins
an earlier comparison without re-running it.

--sscc-profile PATH evaluates nothing: it writes the conventional codecs' rate profile that
tx_image.py --codec auto reads (models/sscc_profile.json) from --out/results.csv and a Monte
Carlo of every --links entry's LDPC codewords; findings.md then compares the auto series (the
codec x link that profile and the learned models' cards pick per image) with the envelopes.

Examples:
  semcom-eval --out docs/results/envelope --sscc-profile models/sscc_profile.json
  semcom-eval --images examples/images --snr 0 3 6 10 15 20 --out results
  semcom-eval --codecs bitsemcom bitsemcom-hard --append --out results
  semcom-eval --scheduler tcp://head:8786 --images /shared/photos --out results
  semcom-eval --codecs bitsemcom-qpsk-cpp16 avif --snr -3 0 3 10 --grid out/grid.jpg --out out/grid
"""
import os
import sys

from ..errors import SemcomError
from .. import options
from . import common as cli

# the SSCC envelope's staircase: about one step every 2-3 dB from -3 to 20 dB
DEFAULT_LINKS = ["bpsk/ldpc-1/2", "qpsk/ldpc-1/3", "qpsk/ldpc-1/2", "qpsk/ldpc-3/4", "16qam/ldpc-1/2", "16qam/ldpc-2/3",
                 "16qam/ldpc-3/4", "64qam/ldpc-2/3", "64qam/ldpc-3/4", "64qam/ldpc-5/6"]


def main():
    from .. import codecs
    p = cli.parser(__doc__)
    p.add_argument("--images", default="examples/images", help="folder of test images")
    p.add_argument("--max-images", type=int, default=0, help="use only the first N images (0 = all)")
    p.add_argument("--codecs", nargs="+", default=["bitsemcom", "avif", "jpeg2000", "webp"],
                   help=f"codecs to compare; available: {', '.join(codecs.available())}")
    p.add_argument("--links", nargs="+", default=DEFAULT_LINKS,
                   help="modulation/fec pairs for conventional codecs ('qpsk' = uncoded)")
    p.add_argument("--learned-links", nargs="+", default=["qpsk"],
                   help="modulations (uncoded) for learned codecs")
    p.add_argument("--append", action="store_true",
                   help="merge with --out/results.csv: keep its rows for points not re-run")
    p.add_argument("--no-reference", action="store_true", help="skip the AVIF + capacity reference")
    p.add_argument("--per-link", action="store_true", help="one series per codec and link (default: best link)")
    p.add_argument("--channels", nargs="+", default=["awgn"], choices=("awgn", "rayleigh", "mimo8x4"),
                   help="mimo8x4: the masked VQ-VAE paper's 8x4 MIMO Rayleigh channel with LMMSE detection "
                        "(--waveform ideal only; no capacity reference)")
    p.add_argument("--waveform", choices=("ideal", "sc", "ofdm"), default="ideal",
                   help="ideal: synchronised symbols; sc/ofdm: bursts through GNU Radio's channel_model, "
                        "the receiver estimating timing, CFO, channel and noise")
    p.add_argument("--impaired", action="store_true",
                   help="with sc/ofdm: CFO 0.005/sample, timing offset 0.37, clock 10 ppm, taps 1,0.4j,0.2")
    options.add(p, "sequence_detector")
    p.add_argument("--snr", nargs="+", type=cli.snr_value, default=[0, 3, 6, 10, 15, 20], help="Es/N0 points in dB")
    p.add_argument("--cpp", type=cli.cpp_value, default=1 / 16, help="channel uses per pixel")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="results", help="output folder")
    p.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                   help="worker processes on this machine (default: every core); the rows do not depend on it")
    p.add_argument("--scheduler", metavar="ADDRESS", help="run the points on a Dask cluster instead: "
                   "tcp://HOST:8786 (a running 'dask scheduler'), or local:N for N worker processes here")
    p.add_argument("--grid", metavar="PATH", help="picture of the received images of the first image "
                   "(codecs x SNRs; .png or .jpg)")
    p.add_argument("--save-images", metavar="DIR", help="write every received image into DIR")
    p.add_argument("--list-codecs", action="store_true", help="print the registered codecs (what each is, its "
                   "bits per pixel, and the SNRs where it leads on the measured profile at --cpp) and exit")
    p.add_argument("--force", action="store_true", help="replace the results of an earlier run in --out")
    p.add_argument("--rebuild", action="store_true",
                   help="evaluate nothing: rewrite --out's tables, findings and plot from its results.csv")
    p.add_argument("--sscc-profile", metavar="PATH", help="evaluate nothing: write the conventional rate "
                   "profile of --codec auto to PATH from --out/results.csv and the --links' LDPC thresholds")
    args = p.parse_args()
    if args.sscc_profile:
        from ..evaluation import sweep as evaluate
        from ..evaluation.sscc_profile import write_profile
        profile = write_profile(args.sscc_profile, evaluate.read_rows(os.path.join(args.out, "results.csv")),
                                args.cpp, args.links, seed=args.seed)
        for link, d in profile["links"].items():
            print(f"{link}: every codeword decodes from {d['threshold_db']:g} dB")
        print(f"wrote {args.sscc_profile}")
        return 0
    if args.list_codecs:
        print("\n".join(codec_lines(args.cpp)))
        return 0
    cli.output_folder(args.out)
    if args.rebuild:
        from ..evaluation import sweep as evaluate
        rows = evaluate.read_rows(os.path.join(args.out, "results.csv"))
        if not rows:
            raise SemcomError(f"{os.path.join(args.out, 'results.csv')} holds no rows: nothing to rebuild")
        print(evaluate.write_outputs(rows, args.out, args.cpp, len({r["image"] for r in rows}), args.per_link))
        return 0
    previous = os.path.join(args.out, "results.csv")
    if os.path.exists(previous) and not (args.append or args.force):
        raise SemcomError(f"{args.out} holds the results of an earlier run; give --append to add to them, --force "
                          "to replace them, or another --out")
    cli.quiet_gnuradio(args.verbose)
    from tqdm import tqdm
    from ..evaluation import sweep as evaluate
    from ..phy.link import LinkConfig

    if args.waveform != "ideal" and any(c.startswith("mimo") for c in args.channels):
        raise SemcomError("--channels mimo8x4 exists only with --waveform ideal (the burst waveform is single-antenna)")
    for name in args.codecs:
        codecs.get(name)
    for link in args.links + args.learned_links:
        LinkConfig.parse(link)
    images = evaluate.images_in(args.images, args.max_images)
    old = evaluate.read_rows(previous) if args.append and os.path.exists(previous) else []
    reference = not args.no_reference
    per_point = sum(len(evaluate.links_for(c, args.links, args.learned_links)) for c in args.codecs) + reference
    total = len(images) * len(args.snr) * len(args.channels) * per_point
    if args.save_images:
        cli.output_folder(args.save_images, "--save-images")
    kept = evaluate.ReceivedImages(args.save_images) if args.grid or args.save_images else None
    with tqdm(total=total, unit="pt", desc="semcom-eval", file=sys.stderr) as bar:
        rows = list(evaluate.sweep(images, args.codecs, args.links, args.channels, args.snr, args.cpp,
                                   progress=bar.update, seed=args.seed, learned_links=args.learned_links,
                                   reference=reference, waveform=args.waveform, impaired=args.impaired,
                                   received=kept, jobs=args.jobs, scheduler=args.scheduler,
                                   sequence=args.sequence_detector))
    if args.grid:
        kept.grid(args.grid, images[0], args.codecs, evaluate.channel_label(args.channels[0], args.waveform,
                                                                           args.impaired, args.sequence_detector),
                   args.snr)
        print(f"wrote {args.grid}")
    rows = evaluate.merge_rows(old, rows)
    if not rows:
        raise SemcomError("nothing was evaluated")
    print(evaluate.write_outputs(rows, args.out, args.cpp, len({r["image"] for r in rows}), args.per_link))
    print(f"wrote {args.out}/results.csv, results.json, summary.md, {', '.join(evaluate.METRICS)}")
    return 0


LISTING_PIXELS = 768 * 512  # the image size the "leads" column is predicted for
LISTING_SNRS = [x / 2 for x in range(-12, 51)]  # -6 .. 25 dB


def codec_lines(cpp: float) -> list[str]:
    """One line per registered codec: what it is, its bits per pixel, and where the measured rate
    table (--codec auto's) predicts it best for a 768x512 image."""
    from ..codecs import auto, neural, registry, sscc
    try:
        table = auto.RateTable.installed(cpp)
    except SemcomError:
        table = None
    leads = {}
    for snr in LISTING_SNRS if table else []:
        ranked = table.ranked(snr, LISTING_PIXELS)
        if ranked:
            leads.setdefault(ranked[0][0].codec, []).append(snr)
    folders = {os.path.basename(os.path.normpath(d)): d for d in neural.model_dirs()}
    width = max(len(n) for n in registry.available())
    lines = []
    for name in registry.available():
        base = name[:-5] if name.endswith("-hard") else name
        hard = " (hard-decision receiver)" if base != name else ""
        if base in folders:
            model = neural.OnnxModel(folders[base])
            what = (f"learned {model.card.get('variant') or model.card.get('codec')} model for "
                    f"{model.card.get('modulation', '?')}{hard}")
            bpp = f"{model.bits_per_image(512, 768) / LISTING_PIXELS:.3g} bpp"
        elif base == neural.FAMILY:
            what, bpp = f"the BitSemCom model the cards predict best for the budget{hard}", "any bpp (rate-matched)"
        elif base == "sscc":
            what, bpp = "the best of AVIF, JPEG 2000, WebP and JPEG over LDPC", "the link's payload"
        else:
            what, bpp = f"{sscc.FORMATS[base].pil} over LDPC (conventional)", "the link's payload"
        snrs = leads.get(base) if not hard else None
        where = f"leads at {min(snrs):g} to {max(snrs):g} dB" if snrs else "leads nowhere on the measured profile"
        lines.append(f"{name:<{width}}  {what}; {bpp}; {where}")
    return lines


def run():
    cli.run_main(main)


if __name__ == "__main__":
    run()
