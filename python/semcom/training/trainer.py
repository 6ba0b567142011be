"""Config-driven two-stage BitSemCom training (CPU or CUDA, optional torchrun/DDP).

Stage 1 (``stage1_steps``): error-free channel, the decoder reads the bits themselves.
Stage 2 (``stage2_steps``): noisy channel; per image an SNR is drawn uniformly from ``snr_range``
(dB) and the bits go through the torch twin of the PHY (``channels.Modem``: Gray QAM, AWGN or
Rayleigh block fading with perfect CSI, exact LLRs); the decoder reads P(b=1) = sigmoid(LLR).

A run directory holds ``config.json``, ``log.csv`` (step, stage, loss, train/val PSNR),
``ckpt_<step>.pt`` (model, optimizer, step, RNG states; the last ``keep_checkpoints`` are kept),
``model.pt`` at the end (weights + card facts for ``export``) and TensorBoard events when
TensorBoard is installed. ``resume=True`` continues from the latest checkpoint.
"""
from __future__ import annotations

import copy
import csv
import glob
import json
import math
import os
import platform
import random
import time

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import SemcomError
from . import channels as tch
from . import losses, models, prepared, schedules
from .models import load_model  # noqa: F401 (the old import path)

DEFAULTS = {
    "name": "bitsemcom",
    "model": {"preset": "small", "variant": "bitsemcom", "latent_channels": None, "tau": 1.0},
    "modulation": "qpsk",
    "cpp": "1/16",
    "data": {"folder": None, "cache": None, "synthetic": 0, "crop": 128, "batch": 16, "workers": 0,
             "val_crop": 256, "val_images": 8, "prepared": True, "prepared_scale": 1.0, "jitter": None},
    "lr": 1e-4,
    "lr_decay": {"every": 0, "gamma": 0.9},
    "lr_schedule": None,
    "loss": "mse",
    "precision": "fp32",
    "channels_last": False,
    "stage1_steps": 20000,
    "stage2_steps": 20000,
    "channel": {"kind": "awgn", "snr_range": [-3.0, 6.0], "block_len": 64},
    "val": {"every": 1000, "snrs": [-3.0, 0.0, 3.0, 6.0]},
    "checkpoint_every": 500,
    "keep_checkpoints": 3,
    "log_every": 50,
    "seed": 0,
    "threads": 2,
}


def _merge(base: dict, over: dict) -> dict:
    out = copy.deepcopy(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def parse_cpp(value) -> float:
    if isinstance(value, str):
        num, _, den = value.partition("/")
        return float(num) / float(den) if den else float(num)
    return float(value)


def load_config(path_or_dict, overrides: dict | None = None) -> dict:
    """Config from a JSON file (or dict) over ``DEFAULTS``; fills ``model.latent_channels`` from cpp."""
    if isinstance(path_or_dict, dict):
        user = path_or_dict
    else:
        try:
            with open(path_or_dict) as f:
                user = json.load(f)
        except (OSError, ValueError) as err:
            raise SemcomError(f"cannot read config {path_or_dict} ({err})") from None
    cfg = _merge(DEFAULTS, user)
    if overrides:
        cfg = _merge(cfg, overrides)
    k = tch.Modem(cfg["modulation"]).bits_per_symbol
    expected = models.latent_channels_for(parse_cpp(cfg["cpp"]), k)
    if cfg["model"]["latent_channels"] is None:
        cfg["model"]["latent_channels"] = expected
    elif int(cfg["model"]["latent_channels"]) != expected:
        raise SemcomError(f"latent_channels {cfg['model']['latent_channels']} does not match cpp {cfg['cpp']} "
                          f"with {cfg['modulation']} (expected {expected})")
    if cfg["channel"]["kind"] not in ("awgn", "rayleigh", "mixed"):
        raise SemcomError(f"channel kind must be awgn, rayleigh or mixed, not {cfg['channel']['kind']}")
    return cfg


# ---------------------------------------------------------------- data

def synthetic_images(n: int, size: int = 192, seed: int = 0) -> list[np.ndarray]:
    """Smooth random uint8 images for smoke tests: a dark per-image colour (mean about 0.25) plus
    bilinear upsampled 6x6 noise and a horizontal gradient."""
    g = torch.Generator().manual_seed(seed)
    base = torch.rand(n, 3, 1, 1, generator=g) * 0.3
    coarse = torch.rand(n, 3, 6, 6, generator=g) * 0.4
    img = base + F.interpolate(coarse, size=(size, size), mode="bilinear", align_corners=False)
    img = (img + 0.2 * torch.linspace(0, 1, size)[None, None, None, :]).clamp(0, 1)
    return [(a.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8) for a in img]


def prepared_folder(cfg: dict) -> str | None:
    """The prepared data folder a config trains from (made on first use), or None to decode the
    photos directly (``data.prepared`` false, or synthetic data)."""
    d = cfg["data"]
    if d.get("synthetic") or not d.get("prepared"):
        return None
    return prepared.prepare(d, None if d["prepared"] is True else str(d["prepared"]))


def load_split(cfg: dict, split: str) -> prepared.Images:
    d = cfg["data"]
    if d.get("synthetic"):
        return prepared.Images.from_arrays(synthetic_images(int(d["synthetic"]), seed=0 if split == "train" else 1))
    folder = prepared_folder(cfg)
    if folder:
        return prepared.Images.load(folder, split)
    from .. import imageio
    return prepared.Images.from_arrays([imageio.load_image(p) for p in prepared.split_paths(d, split)])


def load_images(cfg: dict, split: str) -> list[np.ndarray]:
    return load_split(cfg, split).arrays()


def center_crops(images: list[np.ndarray], crop: int, count: int) -> list[torch.Tensor]:
    out = []
    for im in images[:count]:
        h, w = im.shape[:2]
        ch = min(crop, h) // models.STRIDE * models.STRIDE
        cw = min(crop, w) // models.STRIDE * models.STRIDE
        if ch == 0 or cw == 0:
            continue
        y, x = (h - ch) // 2, (w - cw) // 2
        out.append(torch.from_numpy(np.ascontiguousarray(im[y:y + ch, x:x + cw])).permute(2, 0, 1).float() / 255)
    return out


# ---------------------------------------------------------------- channel

class BitChannel:
    """bits (B, L) -> P(b=1) (B, L) through modulation + AWGN/Rayleigh + exact LLR."""

    def __init__(self, modulation: str, kind: str = "awgn", block_len: int = 64, device="cpu"):
        self.modem = tch.Modem(modulation).to(device)
        self.kind, self.block_len = kind, block_len

    def __call__(self, bits: torch.Tensor, snr_db) -> torch.Tensor:
        return torch.sigmoid(self.llr(bits, snr_db))

    def fp32(self, bits: torch.Tensor, snr_db) -> torch.Tensor:
        """``self(bits, snr_db)`` in float32 inside a bf16 autocast region (exact LLRs need it)."""
        with torch.autocast(bits.device.type, enabled=False):
            return self(bits.float(), snr_db)

    def llr(self, bits: torch.Tensor, snr_db) -> torch.Tensor:
        s = self.modem.modulate(bits)
        snr = torch.as_tensor(snr_db, dtype=torch.float32, device=bits.device).reshape(-1)
        if snr.numel() == 1:
            snr = snr.expand(bits.shape[0])
        kind = self.kind
        if kind == "mixed":
            kind = "rayleigh" if torch.rand(()) < 0.5 else "awgn"
        if kind == "rayleigh":
            y, nv = tch.rayleigh_block(s, snr, self.block_len)
        else:
            y, nv = tch.awgn(s, snr)
        return self.modem.llr(y, nv)


# ---------------------------------------------------------------- training

def psnr_from_mse(mse: float) -> float:
    return 10 * math.log10(1.0 / max(mse, 1e-10))


def _rng_state() -> dict:
    state = {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    np.random.set_state(state["numpy"])
    random.setstate(state["python"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def latest_checkpoint(run_dir: str) -> str | None:
    found = sorted(glob.glob(os.path.join(run_dir, "ckpt_*.pt")))
    return found[-1] if found else None


def hardware() -> str:
    if torch.cuda.is_available():
        return f"{torch.cuda.get_device_name(0)} x{torch.cuda.device_count()}"
    name = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            name = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), name)
    except OSError:
        pass
    return f"CPU {name}, {torch.get_num_threads()} threads"


def autocast(device: torch.device, precision: str):
    """bf16 autocast on ``device`` for ``precision == 'bf16'``, else a no-op context."""
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bf16")


def time_step(model, device, precision: str, batch: int = 4, crop: int = 128, repeats: int = 5,
              channels_last: bool = False) -> float:
    """Median seconds of one forward + backward of ``model`` (not stepped; RNG restored)."""
    x = torch.rand(batch, 3, crop, crop, device=device)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    times = []
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        for i in range(repeats + 1):
            t0 = time.perf_counter()
            with autocast(device, precision):
                loss = F.mse_loss(model(x).float(), x)
            loss.backward()
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            if i:
                times.append(time.perf_counter() - t0)
    model.zero_grad(set_to_none=True)
    return float(np.median(times))


def resolve_precision(cfg: dict, model, device: torch.device) -> str:
    """``precision``: 'fp32', 'bf16', or 'auto' = bf16 where a timing probe finds it at least 10 %
    faster than float32 (CUDA with bf16 support: bf16 without probing)."""
    want = cfg.get("precision", "fp32")
    if want not in ("fp32", "bf16", "auto"):
        raise SemcomError(f"precision must be fp32, bf16 or auto, not {want}")
    if want != "auto":
        return want
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    crop = min(int(cfg["data"]["crop"]), 128)
    fp32 = time_step(model, device, "fp32", crop=crop, channels_last=bool(cfg.get("channels_last")))
    bf16 = time_step(model, device, "bf16", crop=crop, channels_last=bool(cfg.get("channels_last")))
    return "bf16" if bf16 < 0.9 * fp32 else "fp32"


class Trainer:
    def __init__(self, cfg: dict, run_dir: str, device: str | None = None, progress: bool = True,
                 train_images: list[np.ndarray] | None = None, val_images: list[np.ndarray] | None = None):
        self.cfg, self.run_dir, self.progress = cfg, run_dir, progress
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        if self.world > 1 and not torch.distributed.is_initialized():
            torch.distributed.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
        if device is None:
            if torch.cuda.is_available():
                device = f"cuda:{int(os.environ.get('LOCAL_RANK', '0'))}"
            else:
                device = "cpu"
        self.device = torch.device(device)
        if self.device.type == "cuda":
            torch.cuda.set_device(self.device)
        torch.set_num_threads(int(cfg.get("threads", 2)))
        seed = int(cfg["seed"]) + self.rank
        random.seed(seed)
        np.random.seed(seed)
        torch.manual_seed(seed)

        self.model = models.build(cfg["model"]).to(self.device)
        self.net = self.model
        if self.world > 1:
            self.net = torch.nn.parallel.DistributedDataParallel(
                self.model, device_ids=[self.device.index] if self.device.type == "cuda" else None)
        self.opt = torch.optim.Adam(self.model.parameters(), lr=float(cfg["lr"]))
        ch = cfg["channel"]
        self.channel = BitChannel(cfg["modulation"], ch["kind"], int(ch["block_len"]), self.device)
        self.val_channel = BitChannel(cfg["modulation"], "awgn" if ch["kind"] == "mixed" else ch["kind"],
                                      int(ch["block_len"]), self.device)
        self.step, self.wall_s, self.train_s, self.val_psnr = 0, 0.0, 0.0, {}
        self._train_images, self._val_images = train_images, val_images
        self.sampler, self._sampler_state = None, None
        self.loss_fn = losses.make(cfg["loss"])
        self.precision = resolve_precision(cfg, self.model, self.device)
        if cfg.get("channels_last"):
            self.model.to(memory_format=torch.channels_last)
        self.total_steps = int(cfg["stage1_steps"]) + int(cfg["stage2_steps"])

    # -------------------------------------------------------- data
    def _sampler(self) -> prepared.CropSampler:
        """Each rank draws its own crops (seed + rank); the state travels in checkpoints."""
        d = self.cfg["data"]
        images = (prepared.Images.from_arrays(self._train_images) if self._train_images is not None
                  else load_split(self.cfg, "train"))
        return prepared.CropSampler(images, int(d["crop"]), int(d["batch"]), int(self.cfg["seed"]) + 7919 * self.rank,
                                    d.get("jitter"), self.device)

    # -------------------------------------------------------- checkpoints
    def save_checkpoint(self) -> str | None:
        if self.rank != 0:
            return None
        os.makedirs(self.run_dir, exist_ok=True)
        path = os.path.join(self.run_dir, f"ckpt_{self.step:08d}.pt")
        torch.save({"model": self.model.state_dict(), "optimizer": self.opt.state_dict(), "step": self.step,
                    "wall_s": self.wall_s, "train_s": self.train_s, "val_psnr": self.val_psnr, "config": self.cfg,
                    "rng": _rng_state(), "precision": self.precision,
                    "sampler": self.sampler.state_dict() if self.sampler else self._sampler_state},
                   path + ".tmp")
        os.replace(path + ".tmp", path)
        for old in sorted(glob.glob(os.path.join(self.run_dir, "ckpt_*.pt")))[:-int(self.cfg["keep_checkpoints"])]:
            os.remove(old)
        return path

    def load_checkpoint(self, path: str) -> None:
        ck = torch.load(path, map_location=self.device, weights_only=False)
        self.model.load_state_dict(ck["model"])
        self.opt.load_state_dict(ck["optimizer"])
        self.step, self.wall_s, self.val_psnr = int(ck["step"]), float(ck["wall_s"]), dict(ck["val_psnr"])
        self.train_s = float(ck.get("train_s", self.wall_s))
        self.precision = ck.get("precision", self.precision)
        self._sampler_state = ck.get("sampler")
        if self.sampler is not None and self._sampler_state:
            self.sampler.load_state_dict(self._sampler_state)
        _set_rng_state(ck["rng"])
        if self.rank > 0:  # the checkpoint holds rank 0's RNG; other ranks must draw other crops
            torch.manual_seed(int(self.cfg["seed"]) + 1000 * self.rank + self.step)

    # -------------------------------------------------------- one step, validation
    def stage(self, step: int | None = None) -> int:
        return 1 if (self.step if step is None else step) < int(self.cfg["stage1_steps"]) else 2

    def lr(self, step: int | None = None) -> float:
        spec = self.cfg["lr_schedule"] or {"kind": "step", **self.cfg["lr_decay"]}
        return schedules.lr_at(spec, float(self.cfg["lr"]), self.step if step is None else step, self.total_steps)

    def train_step(self, x: torch.Tensor) -> float:
        self.net.train()
        for group in self.opt.param_groups:
            group["lr"] = self.lr()
        if self.cfg.get("channels_last"):
            x = x.contiguous(memory_format=torch.channels_last)
        with autocast(self.device, self.precision):
            if self.stage() == 1:
                out = self.net(x)
            else:
                lo, hi = self.cfg["channel"]["snr_range"]
                snr = torch.empty(x.shape[0], device=self.device).uniform_(float(lo), float(hi))
                out = self.net(x, channel=lambda bits: self.channel.fp32(bits, snr))
            loss = self.loss_fn(out.float(), x)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        return float(loss.detach())

    @torch.no_grad()
    def validate(self) -> dict:
        """PSNR (dB, uint8 images as ``metrics.psnr``) of the val centre crops: error-free and per SNR."""
        from .. import metrics
        if self._val_images is None:
            self._val_images = load_images(self.cfg, "val")
        crops = center_crops(self._val_images, int(self.cfg["data"]["val_crop"]),
                             int(self.cfg["data"]["val_images"]))
        self.model.eval()
        result = {}
        with torch.random.fork_rng(devices=[self.device] if self.device.type == "cuda" else []):
            torch.manual_seed(1234)
            for snr in [None] + [float(s) for s in self.cfg["val"]["snrs"]]:
                values = []
                for x in crops:
                    x = x[None].to(self.device)
                    out = self.model(x) if snr is None else self.model(x, lambda b: self.val_channel(b, snr))
                    to8 = lambda t: (t[0].permute(1, 2, 0).clamp(0, 1) * 255).round().byte().cpu().numpy()  # noqa: E731
                    values.append(metrics.psnr(to8(x), to8(out)))
                result["error_free" if snr is None else f"{snr:g}"] = float(np.mean(values)) if values else float("nan")
        self.model.train()
        return result

    # -------------------------------------------------------- loop
    def _val_columns(self):
        return ["val_psnr_error_free"] + [f"val_psnr_snr{float(s):g}" for s in self.cfg["val"]["snrs"]]

    def _log_row(self, row: dict):
        if self.rank != 0:
            return
        path = os.path.join(self.run_dir, "log.csv")
        fields = (["step", "stage", "loss", "train_psnr", "val_psnr", "lr", "images_per_s", "wall_s", "train_s"]
                  + self._val_columns())
        new = not os.path.exists(path)
        with open(path, "a", newline="") as f:
            w = csv.DictWriter(f, fieldnames=fields)
            if new:
                w.writeheader()
            w.writerow({k: row.get(k, "") for k in fields})

    def fit(self, resume: bool = False, max_steps: int | None = None, init_from: str | None = None,
            budget_s: float | None = None) -> dict:
        """Train up to the configured total (or ``max_steps`` more steps, or until ``budget_s``
        seconds of training time, validation excluded); returns a summary.
        ``init_from``: an exported model folder whose weights start the run (fresh optimizer, step 0)
        when there is no checkpoint to resume."""
        os.makedirs(self.run_dir, exist_ok=True)
        ck = latest_checkpoint(self.run_dir) if resume else None
        if ck:
            self.load_checkpoint(ck)
        elif init_from:
            from .export import load_onnx_weights
            load_onnx_weights(self.model, init_from)
        if self.rank == 0:
            with open(os.path.join(self.run_dir, "config.json"), "w") as f:
                json.dump(self.cfg, f, indent=2)
        writer = None
        if self.rank == 0:
            try:
                from torch.utils.tensorboard import SummaryWriter
                writer = SummaryWriter(os.path.join(self.run_dir, "tb"))
            except Exception:  # noqa: BLE001 (TensorBoard not installed)
                writer = None
        end = self.total_steps if max_steps is None else min(self.total_steps, self.step + max_steps)
        self.sampler = self._sampler()
        if self._sampler_state:
            self.sampler.load_state_dict(self._sampler_state)
        batches = self.sampler
        bar = None
        if self.progress and self.rank == 0:
            from tqdm import tqdm
            bar = tqdm(total=end, initial=self.step, desc=self.cfg["name"], dynamic_ncols=True)
        losses, t_last, n_last, first_loss = [], time.time(), 0, None
        batch = int(self.cfg["data"]["batch"]) * self.world
        val_every, ck_every, log_every = (int(self.cfg["val"]["every"]), int(self.cfg["checkpoint_every"]),
                                          int(self.cfg["log_every"]))
        t_start = time.time()
        wall0 = self.wall_s
        while self.step < end:
            stage = self.stage()
            t0 = time.perf_counter()
            loss = self.train_step(next(batches))
            self.train_s += time.perf_counter() - t0
            first_loss = loss if first_loss is None else first_loss
            losses.append(loss)
            self.step += 1
            n_last += 1
            self.wall_s = wall0 + time.time() - t_start
            if bar:
                bar.update(1)
                bar.set_postfix(stage=stage, loss=f"{loss:.4f}", psnr=f"{psnr_from_mse(loss):.2f}")
            done = self.step == end or (budget_s is not None and self.train_s >= budget_s)
            row = None
            if self.step % log_every == 0 or done:
                mean = float(np.mean(losses[-n_last:]))
                now = time.time()
                row = {"step": self.step, "stage": stage, "loss": f"{mean:.6f}",
                       "train_psnr": f"{psnr_from_mse(mean):.3f}", "lr": self.opt.param_groups[0]["lr"],
                       "images_per_s": f"{n_last * batch / max(now - t_last, 1e-9):.2f}",
                       "wall_s": f"{self.wall_s:.1f}", "train_s": f"{self.train_s:.1f}"}
                t_last, n_last = now, 0
            if self.rank == 0 and (self.step % val_every == 0 or (done and (self.step == self.total_steps or budget_s))):
                self.val_psnr = self.validate()
                row = row or {"step": self.step, "stage": stage, "wall_s": f"{self.wall_s:.1f}",
                              "train_s": f"{self.train_s:.1f}"}
                snrs = [v for k, v in self.val_psnr.items() if k != "error_free"]
                row["val_psnr"] = f"{np.mean(snrs) if snrs else self.val_psnr['error_free']:.3f}"
                row["val_psnr_error_free"] = f"{self.val_psnr['error_free']:.3f}"
                for s in self.cfg["val"]["snrs"]:
                    row[f"val_psnr_snr{float(s):g}"] = f"{self.val_psnr[f'{float(s):g}']:.3f}"
            if row:
                self._log_row(row)
                if writer:
                    for key in ("loss", "train_psnr", "val_psnr"):
                        if row.get(key) not in (None, ""):
                            writer.add_scalar(key, float(row[key]), self.step)
            if self.step % ck_every == 0 or done:
                self.save_checkpoint()
            if done:
                break
        if bar:
            bar.close()
        if writer:
            writer.close()
        if self.rank == 0 and self.step >= self.total_steps:
            self.save_final()
        return {"step": self.step, "first_loss": first_loss, "last_loss": losses[-1] if losses else None,
                "mean_loss_first": float(np.mean(losses[:5])) if losses else None,
                "mean_loss_last": float(np.mean(losses[-5:])) if losses else None,
                "wall_s": self.wall_s, "train_s": self.train_s, "val_psnr": self.val_psnr}

    def save_final(self) -> str:
        """``model.pt``: weights plus the facts the model card needs."""
        path = os.path.join(self.run_dir, "model.pt")
        dataset_hash = "synthetic" if self.cfg["data"].get("synthetic") else None
        if dataset_hash is None and not self.cfg["data"].get("folder"):
            try:
                from .. import data
                dataset_hash = data.load_manifest(self.cfg["data"].get("cache"))["hash"]
            except SemcomError:
                dataset_hash = None
        torch.save({"model": self.model.state_dict(), "config": self.cfg, "step": self.step,
                    "wall_s": self.wall_s, "val_psnr": self.val_psnr, "hardware": hardware(),
                    "world_size": self.world, "dataset_hash": dataset_hash or "unknown (folder)",
                    "precision": self.precision, "train_s": self.train_s,
                    "torch": torch.__version__}, path)
        return path
