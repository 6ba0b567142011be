"""Train a learned codec (PyTorch; CPU or CUDA) from a JSON config in configs/.

The config's recipe is an ordered list of stages, each naming the modules that
train, the channel (error-free; AWGN, Rayleigh or mixed with the SNR per image
drawn from a range, through the same constellations and exact LLRs as the GNU
Radio receiver; BSC; hard decisions; masking), the loss, the steps and the
learning-rate schedule. Old configs with stage1_steps / stage2_steps are the
two-stage BitSemCom recipe. Precision 'auto' trains in bfloat16 where it is
faster on this CPU or GPU. The run directory gets config.json, log.csv,
checkpoints (ckpt_<step>.pt, every checkpoint_every steps) and model.pt at the
end; semcom-export turns model.pt into ONNX. Data: the semcom-data cache
(train/val splits), or --folder.

Several GPUs: torchrun --nproc_per_node=N $(which semcom-train) CONFIG

Examples:
  semcom-train configs/smoke_synthetic.json --out runs/smoke
  semcom-train configs/bitsemcom_qpsk_cpp16_small.json --out runs/qpsk16
  semcom-train configs/bitsemcom_qpsk_cpp16_small.json --out runs/qpsk16 --resume
  semcom-train configs/my_finetune.json --out runs/more --init-from models/bitsemcom-qpsk-cpp16
"""
import os

# PyTorch's OpenMP threads spin while they wait; next to another busy process on a small CPU that
# makes a step several times slower (measured 6x on 2 cores). Must be set before torch loads.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from . import common as cli  # noqa: E402


def main():
    p = cli.parser(__doc__)
    p.add_argument("config", help="JSON training config (see configs/)")
    p.add_argument("--out", help="run directory (default runs/<config name>)")
    p.add_argument("--resume", action="store_true", help="continue from the latest checkpoint in --out")
    p.add_argument("--init-from", metavar="MODEL_FOLDER",
                   help="start from the weights of an exported model (e.g. models/bitsemcom-qpsk-cpp16) when "
                        "its checkpoints are gone; a fresh optimizer and step count")
    p.add_argument("--folder", help="train on every image in this folder instead of the data cache")
    p.add_argument("--device", help="cpu, cuda, cuda:1 ... (default: CUDA when available)")
    p.add_argument("--steps", type=cli.positive_int, help="stop after this many more steps (the schedule stays the config's)")
    p.add_argument("--threads", type=int, help="torch CPU threads (default: the config's, 2)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = p.parse_args()

    from ..errors import SemcomError
    from ..training import trainer
    overrides = {}
    if args.folder is not None:
        from ..imageio import list_images
        list_images(args.folder)  # SemcomError for no folder or one without images
        overrides["data"] = {"folder": args.folder, "synthetic": 0}
    if args.threads:
        overrides["threads"] = args.threads
    cfg = trainer.load_config(args.config, overrides)
    run_dir = cli.output_folder(args.out or os.path.join("runs", cfg["name"]))
    if not args.resume and trainer.latest_checkpoint(run_dir):
        raise SemcomError(f"{run_dir} already has checkpoints; pass --resume to continue or choose another --out")
    t = trainer.Trainer(cfg, run_dir, device=args.device, progress=not args.no_progress)
    summary = t.fit(resume=args.resume, max_steps=args.steps, init_from=args.init_from)
    import torch.distributed as dist
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
    if t.rank == 0:
        val = ", ".join(f"{k}: {v:.2f} dB" for k, v in summary["val_psnr"].items())
        print(f"{run_dir}: step {summary['step']}/{t.total_steps}, {summary['wall_s']:.0f} s"
              + (f", val PSNR {val}" if val else ""))


def run():
    cli.run_main(main)


if __name__ == "__main__":
    run()
