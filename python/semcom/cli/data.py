"""Offline photo data set for training and testing (no internet needed).

fetch   downloads the photos into the cache: training photos from Debian
        packages (apt-get download; downscaled 2-4x with Lanczos, one in 8 held
        out as 'val'), the held-out "Kodak-like" test set from PyPI wheels (pip
        download). Idempotent: sources already cached with intact checksums are
        skipped. Writes manifest.json with sha256, size, source, licence and
        split of every image, and the data set hash that model cards cite.
list    prints image paths (of one split, or of any --folder of images).
verify  re-checks every checksum; exit status 2 and one line on a problem.

The cache is $SEMCOM_DATA, else ~/.cache/gr-semcom/data.

Examples:
  semcom-data fetch --quick
  semcom-data list --split val
  semcom-data list --folder ~/DIV2K_valid_HR
"""
import time

from . import common as cli


def main():
    from .. import data
    p = cli.parser(__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    commands = {name: sub.add_parser(name, help=text, formatter_class=cli.Formatter) for name, text in (
        ("fetch", "download the photos into the cache"),
        ("list", "print image paths"),
        ("verify", "re-check the checksums of the cache"))}
    for sp in commands.values():
        sp.add_argument("--cache", default=data.cache_dir(), help="data cache folder")
    f = commands["fetch"]
    f.add_argument("--only", choices=("train", "test"), help="fetch only the training (train+val) or test photos")
    f.add_argument("--quick", action="store_true", help="skip enlightenment-data (a 400 MB download)")
    f.add_argument("--keep-downloads", action="store_true", help="keep the wheels and .debs in CACHE/downloads")
    ls = commands["list"]
    ls.add_argument("--split", choices=data.SPLITS, help="only this split (default: all)")
    ls.add_argument("--folder", help="list this folder of images instead of the cache")
    args = p.parse_args()

    if args.command == "fetch":
        t0 = time.monotonic()
        manifest = data.fetch(args.cache, args.only, args.quick, args.keep_downloads)
        print(f"{data.summary(manifest, args.cache)} ({time.monotonic() - t0:.0f} s)")
    elif args.command == "list":
        print("\n".join(data.split_paths(args.split, args.cache, args.folder)))
    else:
        print(f"ok: {data.summary(data.verify(args.cache), args.cache)}")
    return 0


def run():
    cli.run_main(main)


if __name__ == "__main__":
    run()
