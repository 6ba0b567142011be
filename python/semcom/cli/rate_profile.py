"""Measure learned models' rate-matching profiles and write them into card.json ("rate_matching").

For each model folder: the PSNR drop when each latent channel is erased (the importance order that
puncturing and repetition follow), error-free PSNR against the fraction of the latent sent at
scales 1, 2 and 4 (the curves from which transmitters choose to downscale very small budgets),
and the measured order against random orders at 25 % and 50 % puncturing on the test photos.

The profile decides where every bit goes, so it is part of the model's fingerprint: a receiver
needs the same card.json as the transmitter (a mismatch is refused, not mis-decoded).

Examples:
  semcom-rate-profile models/bitsemcom-qpsk-cpp16
  semcom-rate-profile models/* --val my_val_photos --images kodak
"""
import json
import sys

from . import common as cli


def main():
    p = cli.parser(__doc__)
    p.add_argument("models", nargs="+", help="model folders (encoder.onnx, decoder.onnx, card.json)")
    p.add_argument("--val", default="", help="folder of photos to measure importance and curves on "
                                             "(importance on their 256x256 centre crops, curves on the whole photos; "
                                             "default: the data cache's val split)")
    p.add_argument("--images", default="", help="folder of photos for the order-against-random check "
                                                "(default: the data cache's test split)")
    p.add_argument("--keep-order", action="store_true", help="reuse the channel order already in card.json "
                   "(the slow part: greedy elimination) and measure the curves and comparison again")
    args = p.parse_args()

    from .. import data
    from ..codecs.neural import OnnxModel, update_card
    from ..codecs.rate_match import CARD_KEY
    from ..evaluation import rate_profile
    val = data.split_paths("val", folder=args.val or None)
    test = data.split_paths("test", folder=args.images or None)
    for folder in args.models:
        model = OnnxModel(folder)
        profile = rate_profile.measure(model, val, test,
                                       lambda text: print(f"{model.name}: {text} ...", file=sys.stderr, flush=True),
                                       keep_order=args.keep_order)
        update_card(folder, CARD_KEY, profile)
        vs = profile.get("order_against_random", {})
        print(json.dumps({"model": model.name, "channel_order": profile["channel_order"][:8],
                          **{k: v["measured_minus_random_db"] for k, v in vs.items()}}))
    return 0


def run():
    cli.run_main(main)
