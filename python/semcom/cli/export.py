"""Export a trained BitSemCom model (model.pt from semcom-train) to ONNX.

Writes encoder.onnx and decoder.onnx (dynamic H and W, multiples of 16;
opset 17; weights rounded to and stored as float16 unless --fp32) and
card.json to --out. The model card (codec family, variant,
version, model id, bits-per-image rule, modulation and SNR range trained for,
data set hash, steps, wall time, hardware, validation PSNR) is also stored in
both files' ONNX metadata_props. Before writing the card the export runs both
files in onnxruntime against torch on a random 64x96 input and fails when they
differ by more than 1e-4.

Example:
  semcom-export runs/qpsk16/model.pt --out models/bitsemcom-qpsk-cpp16
"""
import json
import os

from . import common as cli


def main():
    p = cli.parser(__doc__)
    p.add_argument("model", help="model.pt (or a ckpt_*.pt checkpoint) written by semcom-train")
    p.add_argument("--out", required=True, help="output folder for encoder.onnx, decoder.onnx, card.json")
    p.add_argument("--model-id", help="model id for the card (default: the config's name)")
    p.add_argument("--opset", type=int, default=17, help="ONNX opset")
    p.add_argument("--fp32", action="store_true",
                   help="store float32 weights (default: weights rounded to float16, half the size)")
    p.add_argument("--continued-from", metavar="MODEL_FOLDER",
                   help="the model the run started from (--init-from; its folder or card.json), when model.pt does "
                        "not record it: its steps and hours join the card's cumulative ones")
    args = p.parse_args()

    from ..errors import SemcomError
    if not os.path.isfile(args.model):
        raise SemcomError(f"model file {args.model} does not exist; train one with semcom-train")
    cli.output_folder(args.out, make=False)  # export makes it once the model loads
    from ..training import export
    try:
        card = export.export_file(args.model, args.out, args.model_id, args.opset, fp16=not args.fp32,
                                  continued_from=args.continued_from)
    except RuntimeError as err:
        raise SemcomError(str(err)) from None
    print(json.dumps({k: card[k] for k in ("model_id", "variant", "modulation", "bits_per_image",
                                           "train_steps", "cumulative_steps", "val_psnr_db",
                                           "parity_max_abs_diff")}))
    print(f"wrote {os.path.join(args.out, 'encoder.onnx')}, {os.path.join(args.out, 'decoder.onnx')}, card.json")


def run():
    cli.run_main(main)


if __name__ == "__main__":
    run()
