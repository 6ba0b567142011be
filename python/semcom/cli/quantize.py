"""Make an int8 decoder (decoder.int8.onnx) for learned model folders, and measure it.

onnxruntime static quantisation (int8 weights per channel, uint8 activations),
calibrated on the encoder's bits of --calibration photos, error-free and after
QPSK over AWGN at 0, 5 and 10 dB. Then both decoders decode the --images photos
(error-free and at --snr): the mean PSNR of each and the decode time go into
card.json under "int8". Receivers run the int8 decoder with
rx_image.py --decoder int8 (or SEMCOM_DECODER=int8 for any app or flowgraph);
the float32 decoder stays the default, and what the transmitter sends is the same.

Examples:
  semcom-quantize models/bitsemcom-qpsk-cpp16                      # training photos of the data cache
  semcom-quantize models/* --calibration my_photos --images kodak
"""
import sys

from . import common as cli


def main():
    p = cli.parser(__doc__)
    p.add_argument("models", nargs="+", help="model folders (encoder.onnx, decoder.onnx, card.json)")
    p.add_argument("--calibration", default="", help="folder of calibration photos (default: the data cache's train split)")
    p.add_argument("--max-calibration", type=int, default=16, help="use at most this many calibration photos")
    p.add_argument("--images", default="", help="folder of photos to compare on (default: the data cache's test split)")
    p.add_argument("--snr", type=cli.snr_value, default=3.0, help="Es/N0 of the noisy comparison, dB")
    args = p.parse_args()

    from .. import data
    from ..codecs.neural import OnnxModel, update_card
    from ..training import quantize
    calibration = data.split_paths("train", folder=args.calibration or None)[:args.max_calibration]
    images = data.split_paths("test", folder=args.images or None)
    for folder in args.models:
        model = OnnxModel(folder)
        print(f"{model.name}: calibrating on {len(calibration)} photos ...", file=sys.stderr, flush=True)
        info = quantize.quantize_decoder(folder, calibration,
                                         calibration_source=args.calibration or "the data cache's train split")
        print(f"{model.name}: comparing on {len(images)} photos ...", file=sys.stderr, flush=True)
        info.update(quantize.compare(folder, images, args.snr))
        info["compared_on"] = args.images or "the data cache's test split"
        update_card(folder, "int8", info)
        d = info["int8_minus_float32_db"]
        print(f"{model.name}: wrote {quantize.DECODER_FILES['int8']}; int8 - float32 PSNR "
              + ", ".join(f"{k} {v:+.3f} dB" for k, v in d.items())
              + f"; decode {info['decode_ms']['float32']} -> {info['decode_ms']['int8']} ms "
              f"({info['speedup']}x)")
    return 0


def run():
    cli.run_main(main)


if __name__ == "__main__":
    run()
