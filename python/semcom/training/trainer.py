"""Recipe-driven training of the learned codecs (CPU or CUDA, optional torchrun/DDP).

A config's ``recipe`` (``recipe.py``) is an ordered list of stages: which modules train, the
channel, the loss, the steps and the learning rate. BitSemCom's recipe is two stages: error-free,
then AWGN, Rayleigh or both with the SNR drawn per image through the torch twin of the PHY
(``channels.Modem``: Gray QAM, exact LLRs; the decoder reads P(b=1) = sigmoid(LLR)). Configs with
``stage1_steps``/``stage2_steps`` instead of a recipe are translated to it.

Shared by every recipe: data (``prepared``: random crops of the prepared photos), Adam, float32 or
bf16 autocast (``precision``: fp32, bf16 or auto), validation (PSNR of the val centre crops,
error-free and at ``val.snrs`` over ``val.channel``), logs, checkpoints and DDP. A run directory
holds ``config.json``, ``log.csv`` (step, stage, loss, train/val PSNR, wall and training time),
``ckpt_<step>.pt`` (model, optimizer, step, RNG and data-sampler states: a resumed run, mid-stage
or not, continues exactly as an uninterrupted one; the last ``keep_checkpoints`` are kept),
``model.pt`` at the end (weights + card facts for ``export``) and TensorBoard events when
TensorBoard is installed.

``init_from`` (a model folder, as ``--init-from``) starts a run from a shipped model's weights;
``distill`` (``distill.py``) adds a shipped decoder's image of the same received bits as a target.

``ema`` (a decay such as 0.999; 0 or absent: off) keeps an exponential moving average of the
weights, updated after every step and kept in checkpoints. Validation, stage snapshots and
``model.pt`` then use the average (what ships); the log adds the raw weights' error-free PSNR.
"""
from __future__ import annotations

import copy
import csv
import glob
import json
import math
import os
import random
import time

import numpy as np
import torch
import torch.nn.functional as F

from .. import machine
from ..errors import SemcomError
from ..phy.constellations import MODULATIONS
from . import channels as tch
from . import adversarial, checkpoint, config_file, distill, losses, models, prepared, recipe, registry, schedules
from .config_file import merge as _merge
from .models import load_model  # noqa: F401 (the old import path)

DEFAULTS = {
    "name": "bitsemcom",
    "model": {"preset": "small", "variant": "bitsemcom", "latent_channels": None, "tau": 1.0},
    "modulation": "qpsk",
    "cpp": "1/16",
    "data": {"folder": None, "cache": None, "synthetic": 0, "crop": 128, "batch": 16, "workers": 0,
             "val_crop": 256, "val_images": 8, "prepared": True, "prepared_scale": 1.0, "jitter": None},
    "lr": 1e-4,
    "lr_decay": {"every": 0, "gamma": 0.9},  # legacy: a step schedule when lr_schedule is null
    "lr_schedule": None,
    "loss": "mse",
    "precision": "auto",  # bf16 where a probe finds it faster (bf16 matched fp32 within 0.02 dB here)
    "channels_last": True,
    "compile": False,  # torch.compile the model (train.py's --minutes jobs turn it on for CUDA)
    "recipe": None,  # null: stage1_steps error-free, then stage2_steps through channel
    "stage1_steps": 20000,
    "stage2_steps": 20000,
    "channel": {"kind": "awgn", "snr_range": [-3.0, 6.0], "block_len": 64},
    "val": {"every": 1000, "snrs": [-3.0, 0.0, 3.0, 6.0], "channel": None},
    "checkpoint_every": 500,
    "keep_checkpoints": 3,
    "log_every": 50,
    "ema": 0.0,
    "seed": 0,
    "threads": 2,
}


def parse_cpp(value) -> float:
    if isinstance(value, str):
        num, _, den = value.partition("/")
        return float(num) / float(den) if den else float(num)
    return float(value)


def load_config(path_or_dict, overrides: dict | None = None) -> dict:
    """Config from a JSON file (or dict) over ``DEFAULTS``; fills ``model.latent_channels`` from
    cpp, ``recipe`` from ``stage1_steps``/``stage2_steps`` when absent, and ``val.channel``."""
    if isinstance(path_or_dict, dict):
        user = path_or_dict
    else:
        user = config_file.read(path_or_dict)
    if not isinstance(user, dict):
        raise SemcomError(f"config {path_or_dict if not isinstance(path_or_dict, dict) else ''} must be a JSON "
                          f"object, not {type(user).__name__}")
    cfg = _merge(DEFAULTS, user)
    if overrides:
        cfg = _merge(cfg, overrides)
    config_file.check_numbers(cfg)
    crop = int(cfg["data"]["crop"])
    if crop % models.STRIDE:
        raise SemcomError(f"config data.crop = {crop} must be a multiple of {models.STRIDE}")
    if cfg["modulation"] not in MODULATIONS:
        raise SemcomError(f"config modulation {cfg['modulation']!r} must be one of {', '.join(MODULATIONS)}")
    k = tch.Modem(cfg["modulation"]).bits_per_symbol
    method = registry.of_config(cfg["model"])
    try:
        expected = method.latent_bits(cfg["model"], parse_cpp(cfg["cpp"]), k)
    except (TypeError, ValueError, ZeroDivisionError) as err:
        raise SemcomError(f"config cpp {cfg['cpp']!r}: {err}") from None
    if cfg["model"]["latent_channels"] is None:
        cfg["model"]["latent_channels"] = expected
    elif int(cfg["model"]["latent_channels"]) != expected:
        raise SemcomError(f"latent_channels {cfg['model']['latent_channels']} does not match cpp {cfg['cpp']} "
                          f"with {cfg['modulation']} (expected {expected})")
    if isinstance(cfg.get("recipe"), dict):  # a template (AMP and its baselines)
        from . import amp
        cfg["recipe_template"] = dict(cfg["recipe"])
        cfg["model"].update(amp.model_options(cfg["recipe"]))
        cfg["recipe"] = amp.expand(cfg["recipe"])
    if not cfg.get("recipe"):
        if cfg["channel"]["kind"] not in recipe.DIFFERENTIABLE:
            raise SemcomError(f"channel kind must be awgn, rayleigh or mixed, not {cfg['channel']['kind']}")
        cfg["recipe"] = recipe.from_legacy(cfg)
    cfg["recipe"] = recipe.check(cfg["recipe"])
    try:
        models.build(cfg["model"])  # a bad preset, variant or backbone option fails here, in one line
    except (ValueError, TypeError, KeyError) as err:
        raise SemcomError(f"config model: {err}") from None
    air_slots(cfg)  # a bad symbol_layout fails here, in one line
    if not cfg["val"].get("channel"):
        noisy = [s["channel"] for s in cfg["recipe"] if s["channel"]["kind"] in recipe.DIFFERENTIABLE]
        ch = dict(noisy[-1]) if noisy else {"kind": "awgn"}
        cfg["val"]["channel"] = {**ch, "kind": "awgn" if ch["kind"] == "mixed" else ch["kind"]}
    return cfg


def air_slots(cfg: dict):
    """The config's ``symbol_layout`` (``codecs.symbol_layout``) as a function: an L-bit latent ->
    the air slot of every bit, as the runtime places them at the model's own budget; None without one."""
    from ..codecs import symbol_layout
    c = int(cfg["model"]["latent_channels"])
    bits = registry.of_config(cfg["model"]).quantizer_bits(cfg["model"])
    layout = symbol_layout.parse(cfg.get("symbol_layout"), {"quantizer_bits": bits,
                                                            "latent_channels": c})
    if layout is None:
        return None
    return lambda n: layout.air_slots(np.arange(n), (c, n // c, 1))


def scale_to_steps(cfg: dict, n: int) -> dict:
    """The config with its recipe shrunk or stretched to ``n`` steps in all: every stage, step-LR
    interval, warm-up given in steps, validation and checkpoint interval scaled by the same factor
    (cosine schedules follow the totals by themselves)."""
    cfg = copy.deepcopy(cfg)
    total = recipe.total_steps(cfg["recipe"])
    f = n / total
    steps = [max(1, round(s["steps"] * f)) for s in cfg["recipe"]]
    steps[-1] = max(1, n - sum(steps[:-1]))
    for s, k in zip(cfg["recipe"], steps):
        s["steps"] = k

    def scale_schedule(spec):
        if spec and spec.get("kind") == "step" and spec.get("every"):
            spec["every"] = max(1, round(int(spec["every"]) * f))
        if spec and float(spec.get("warmup", 0)) >= 1:
            spec["warmup"] = max(1, round(float(spec["warmup"]) * f))
    for spec in [cfg.get("lr_schedule")] + [s.get("lr_schedule") for s in cfg["recipe"]]:
        scale_schedule(spec)
    if cfg["lr_decay"].get("every"):
        cfg["lr_decay"]["every"] = max(1, round(int(cfg["lr_decay"]["every"]) * f))
    cfg["val"]["every"] = max(1, round(int(cfg["val"]["every"]) * f))
    cfg["checkpoint_every"] = max(1, round(int(cfg["checkpoint_every"]) * f))
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
        c = prepared.centre_crop(im, crop)
        if c.size:
            out.append(torch.from_numpy(np.ascontiguousarray(c)).permute(2, 0, 1).float() / 255)
    return out


# ---------------------------------------------------------------- training

def psnr_from_mse(mse: float) -> float:
    return 10 * math.log10(1.0 / max(mse, 1e-10))


def _rng_state() -> dict:
    state = {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict) -> None:
    """``state`` as ``_rng_state`` made it (its tensors may come back on the training device)."""
    torch.set_rng_state(state["torch"].cpu())
    np.random.set_state(state["numpy"])
    random.setstate(state["python"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([t.cpu() for t in state["cuda"]])


def latest_checkpoint(run_dir: str) -> str | None:
    found = sorted(glob.glob(os.path.join(run_dir, "ckpt_*.pt")))
    return found[-1] if found else None


def hardware() -> str:
    if torch.cuda.is_available():
        return f"{torch.cuda.get_device_name(0)} x{torch.cuda.device_count()}"
    return f"CPU {machine.cpu_name()}, {torch.get_num_threads()} threads"


def training_device(device: str | None = None) -> torch.device:
    """``device`` (default: CUDA when there is one, else the CPU); a CUDA device always with an index
    (LOCAL_RANK's GPU when none is given), which torch.cuda.set_device needs. SemcomError for a
    name that is neither the CPU nor a CUDA device."""
    try:
        d = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    except RuntimeError:
        d = None
    if d is None or d.type not in ("cpu", "cuda"):
        raise SemcomError(f"--device {device}: not a device; use cpu, cuda or cuda:N")
    if d.type == "cuda" and d.index is None:
        d = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    return d


def check_present(device: torch.device, name: str | None = None) -> None:
    """SemcomError unless this machine has ``device`` (``name``: as the user gave it)."""
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SemcomError(f"--device {name or device}: this torch sees no CUDA device; use --device cpu")
    if device.type == "cuda" and device.index >= torch.cuda.device_count():
        raise SemcomError(f"--device {name or device}: there is no CUDA device {device.index} "
                          f"({torch.cuda.device_count()} here)")


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


def cpu_has_amx() -> bool:
    """Whether this CPU has AMX bf16 tiles (Linux /proc/cpuinfo; False where it cannot be read)."""
    return "amx_bf16" in machine.cpu_flags()


def resolve_precision(cfg: dict, model, device: torch.device) -> str:
    """``precision``: 'fp32', 'bf16', or 'auto' = bf16 where a timing probe finds it at least 10 %
    faster than float32 (CUDA with bf16 support, or a CPU with AMX: bf16 without probing)."""
    want = cfg.get("precision", "fp32")
    if want not in ("fp32", "bf16", "auto"):
        raise SemcomError(f"precision must be fp32, bf16 or auto, not {want}")
    if want != "auto":
        return want
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    if cpu_has_amx():  # bf16 matrix units: several times faster; a probe on a busy machine can say otherwise
        return "bf16"
    crop = min(int(cfg["data"]["crop"]), 128)
    fp32 = time_step(model, device, "fp32", crop=crop, channels_last=bool(cfg.get("channels_last")))
    bf16 = time_step(model, device, "bf16", crop=crop, channels_last=bool(cfg.get("channels_last")))
    return "bf16" if bf16 < 0.9 * fp32 else "fp32"


class Trainer:
    def __init__(self, cfg: dict, run_dir: str, device: str | None = None, progress: bool = True,
                 train_images: list[np.ndarray] | None = None, val_images: list[np.ndarray] | None = None):
        if not isinstance(cfg.get("recipe"), list) or not cfg["recipe"]:
            cfg = load_config(cfg)
        self.cfg, self.run_dir, self.progress = cfg, run_dir, progress
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        if self.world > 1 and not torch.distributed.is_initialized():
            torch.distributed.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
        self.device = training_device(device)
        check_present(self.device, device)
        if self.device.type == "cuda":
            torch.cuda.set_device(self.device)
        torch.set_num_threads(int(cfg.get("threads", 2)))
        seed = int(cfg["seed"]) + self.rank
        random.seed(seed)
        np.random.seed(seed)
        torch.manual_seed(seed)

        self.model = models.build(cfg["model"]).to(self.device)
        self.net, self._net_stage = self.model, None
        self.opt = torch.optim.Adam(self.model.parameters(), lr=float(cfg["lr"]))
        self.stages = cfg["recipe"]
        self.total_steps = recipe.total_steps(self.stages)
        slots = air_slots(cfg)
        self.channels = [recipe.Channel(s["channel"], cfg["modulation"], self.device, slots) for s in self.stages]
        self.losses = [losses.make(s.get("loss", cfg["loss"])) for s in self.stages]
        self.val_channel = recipe.Channel(cfg["val"]["channel"], cfg["modulation"], self.device, slots)
        self.step, self.wall_s, self.train_s, self.val_psnr = 0, 0.0, 0.0, {}
        self.ema_decay = float(cfg.get("ema") or 0.0)
        self.ema: dict | None = None  # name -> float32 average (fit starts it from the loaded weights)
        self.raw_val_error_free = None
        self.continued_from = None  # lineage of the model an --init-from run started from
        self._train_images, self._val_images = train_images, val_images
        self.sampler, self._sampler_state = None, None
        if cfg.get("channels_last") and not getattr(self.model, "channels_last_safe", True):
            cfg["channels_last"] = False  # see the model's channels_last_safe
        self.distiller = distill.Distiller(cfg["distill"], cfg["model"], self.model, self.device) \
            if cfg.get("distill") else None
        if cfg.get("channels_last"):
            self.model.to(memory_format=torch.channels_last)
            if self.distiller:
                self.distiller.to(memory_format=torch.channels_last)
        self.precision = resolve_precision(cfg, self.model, self.device)
        if self.world > 1:  # every rank takes rank 0's probe result
            choice = [self.precision]
            torch.distributed.broadcast_object_list(choice, src=0)
            self.precision = choice[0]

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
        checkpoint.save({"model": self.model.state_dict(), "optimizer": self.opt.state_dict(), **self.card_facts(),
                         "rng": _rng_state(), "ema": self.ema,
                         "sampler": self.sampler.state_dict() if self.sampler else self._sampler_state}, path)
        for old in sorted(glob.glob(os.path.join(self.run_dir, "ckpt_*.pt")))[:-int(self.cfg["keep_checkpoints"])]:
            os.remove(old)
        return path

    def load_checkpoint(self, path: str) -> None:
        """The run's state from checkpoint ``path``; SemcomError (one line naming it) when the file is
        damaged or belongs to another model."""
        ck = checkpoint.load(path, self.device)
        try:
            self.model.load_state_dict(ck["model"])
            self.opt.load_state_dict(ck["optimizer"])
            self.step, self.wall_s, self.val_psnr = int(ck["step"]), float(ck["wall_s"]), dict(ck["val_psnr"])
        except (RuntimeError, KeyError, TypeError, ValueError) as err:
            detail = (str(err).strip().splitlines() or [type(err).__name__])[0][:160]
            raise SemcomError(f"{path} is not a checkpoint of this run's model ({detail})") from None
        self.ema = ck.get("ema")
        self.train_s = float(ck.get("train_s", self.wall_s))
        self.precision = ck.get("precision", self.precision)
        self.continued_from = ck.get("continued_from")
        self._sampler_state = ck.get("sampler")
        if self.sampler is not None and self._sampler_state:
            self.sampler.load_state_dict(self._sampler_state)
        _set_rng_state(ck["rng"])
        if self.rank > 0:  # the checkpoint holds rank 0's RNG; other ranks must draw other crops
            torch.manual_seed(int(self.cfg["seed"]) + 1000 * self.rank + self.step)
            if self.sampler is not None:
                self.sampler.gen.manual_seed(int(self.cfg["seed"]) + 7919 * self.rank + self.step)
            self._sampler_state = None

    # -------------------------------------------------------- one step, validation
    def stage(self, step: int | None = None) -> int:
        """1-based index of the recipe stage that ``step`` (default: the current one) belongs to."""
        return recipe.locate(self.stages, self.step if step is None else step)[0] + 1

    def lr(self, step: int | None = None) -> float:
        """The stage's own schedule over its steps, else the config's over the whole recipe."""
        step = self.step if step is None else step
        index, local = recipe.locate(self.stages, step)
        st = self.stages[index]
        if "lr" in st or "lr_schedule" in st:
            return schedules.lr_at(st.get("lr_schedule"), float(st.get("lr", self.cfg["lr"])), local, st["steps"])
        spec = self.cfg["lr_schedule"] or {"kind": "step", **self.cfg["lr_decay"]}
        return schedules.lr_at(spec, float(self.cfg["lr"]), step, self.total_steps)

    def _enter_stage(self, index: int) -> None:
        """Freezes what the stage does not train; DDP is rebuilt for the new set of parameters."""
        if self._net_stage == index:
            return
        recipe.set_trainable(self.model, self.stages[index].get("train"))
        self.net = self.model
        if self.world > 1:
            self.net = torch.nn.parallel.DistributedDataParallel(
                self.model, device_ids=[self.device.index] if self.device.type == "cuda" else None)
        if self.cfg.get("compile"):
            self.net = torch.compile(self.net)
        self._net_stage = index

    def forward(self, inp: torch.Tensor, index: int) -> torch.Tensor:
        """The model's output for ``inp`` through recipe stage ``index``'s channel, in the run's precision."""
        channel = self.channels[index]
        with autocast(self.device, self.precision):
            return self.net(inp) if channel.kind == "error-free" else self.net(inp, channel=channel)

    def loss(self, inp: torch.Tensor, x: torch.Tensor, index: int) -> torch.Tensor:
        """Stage ``index``'s loss of the output for ``inp`` against the clean image ``x``, with the
        model's own terms."""
        with autocast(self.device, self.precision):
            out = self.forward(inp, index).float()
            loss = self.losses[index](out, x)
            if self.distiller:
                loss = loss + self.distiller.loss(out)
            extra = self.model.extra_loss() if hasattr(self.model, "extra_loss") else None
            return loss if extra is None else loss + extra

    def train_step(self, x: torch.Tensor) -> float:
        index = self.stage() - 1
        self._enter_stage(index)
        self.net.train()
        for group in self.opt.param_groups:
            group["lr"] = self.lr()
        if self.cfg.get("channels_last"):
            x = x.contiguous(memory_format=torch.channels_last)
        self.opt.zero_grad(set_to_none=True)
        adv = self.stages[index].get("adversarial")
        if adv:  # Algorithm 2: semantic noise with the weights fixed, then the weight perturbation
            with adversarial.codebook_paused(self.model):
                noisy = adversarial.transmitter_noise(lambda inp: self.forward(inp, index), self.losses[index], x,
                                                      adv["epsilon"], adv["steps"])
                trainable = [p for p in self.model.parameters() if p.requires_grad]
                loss = adversarial.perturbed_step(self.model, trainable, lambda: self.loss(noisy, x, index),
                                                  adv["gamma"])
        else:
            loss = self.loss(x, x, index)
            loss.backward()
        self.opt.step()
        self._update_ema()
        return float(loss.detach())

    # -------------------------------------------------------- weight average
    def _start_ema(self) -> None:
        if self.ema_decay and self.ema is None:
            self.ema = {k: v.detach().float().clone() for k, v in self.model.state_dict().items()
                        if v.is_floating_point()}

    @torch.no_grad()
    def _update_ema(self) -> None:
        if self.ema is None:
            return
        state = self.model.state_dict()
        keys = list(self.ema)
        # a from-scratch run's first steps would drag the average back to the initial weights
        weight = 1.0 - min(self.ema_decay, (1.0 + self.step) / (10.0 + self.step))
        torch._foreach_lerp_([self.ema[k] for k in keys], [state[k].float() for k in keys], weight)

    def averaged_state(self) -> dict:
        """The model's state with the weight average in place of the weights (the state itself
        without ``ema``)."""
        state = self.model.state_dict()
        if self.ema is None:
            return state
        return {k: (self.ema[k].to(v.dtype) if k in self.ema else v) for k, v in state.items()}

    @torch.no_grad()
    def validate(self) -> dict:
        """PSNR (dB, uint8 images as ``metrics.psnr``) of the val centre crops: error-free and per SNR."""
        if self.ema is not None:
            raw = {k: v.clone() for k, v in self.model.state_dict().items()}
            self.raw_val_error_free = self._validate(snrs=[])["error_free"]
            self.model.load_state_dict(self.averaged_state())
            try:
                return self._validate()
            finally:
                self.model.load_state_dict(raw)
        return self._validate()

    def _validate(self, snrs=None) -> dict:
        from .. import metrics
        if self._val_images is None:
            self._val_images = load_images(self.cfg, "val")
        crops = center_crops(self._val_images, int(self.cfg["data"]["val_crop"]),
                             int(self.cfg["data"]["val_images"]))
        self.model.eval()
        result = {}
        to8 = lambda t: (t[0].permute(1, 2, 0).clamp(0, 1) * 255).round().byte().cpu().numpy()  # noqa: E731
        with torch.random.fork_rng(devices=[self.device] if self.device.type == "cuda" else []):
            torch.manual_seed(1234)
            for snr in [None] + [float(s) for s in (self.cfg["val"]["snrs"] if snrs is None else snrs)]:
                values = []
                for x in crops:
                    x = x[None].to(self.device)
                    out = self.model(x) if snr is None else self.model(x, lambda b: self.val_channel(b, snr))
                    values.append(metrics.psnr(to8(x), to8(out)))
                result["error_free" if snr is None else f"{snr:g}"] = float(np.mean(values)) if values else float("nan")
        self.model.train()
        return result

    # -------------------------------------------------------- loop
    def _val_columns(self):
        return (["val_psnr_error_free"] + [f"val_psnr_snr{float(s):g}" for s in self.cfg["val"]["snrs"]]
                + (["val_psnr_raw_error_free"] if self.ema_decay else []))

    def _log_row(self, row: dict):
        if self.rank != 0:
            return
        path = os.path.join(self.run_dir, "log.csv")
        fields = (["step", "stage", "stage_name", "loss", "train_psnr", "val_psnr", "lr", "images_per_s", "wall_s",
                   "train_s"] + self._val_columns())
        new = not os.path.exists(path)
        with open(path, "a", newline="") as f:
            w = csv.DictWriter(f, fieldnames=fields)
            if new:
                w.writeheader()
            w.writerow({k: row.get(k, "") for k in fields})

    def _validate_row(self, row: dict | None, stage: int) -> dict:
        self.val_psnr = self.validate()
        row = row or {"step": self.step, "stage": stage, "wall_s": f"{self.wall_s:.1f}",
                      "train_s": f"{self.train_s:.1f}"}
        snrs = [v for k, v in self.val_psnr.items() if k != "error_free"]
        row["val_psnr"] = f"{np.mean(snrs) if snrs else self.val_psnr['error_free']:.3f}"
        row["val_psnr_error_free"] = f"{self.val_psnr['error_free']:.3f}"
        for s in self.cfg["val"]["snrs"]:
            row[f"val_psnr_snr{float(s):g}"] = f"{self.val_psnr[f'{float(s):g}']:.3f}"
        if self.raw_val_error_free is not None:
            row["val_psnr_raw_error_free"] = f"{self.raw_val_error_free:.3f}"
        return row

    def fit(self, resume: bool = False, max_steps: int | None = None, init_from: str | None = None,
            budget_s: float | None = None) -> dict:
        """Runs the recipe to its end (or ``max_steps`` more steps, or until ``budget_s`` seconds
        of training time, validation excluded); returns a summary. ``resume``: from the latest
        checkpoint. ``init_from``: an exported model folder whose weights start the run (fresh
        optimizer, step 0) when there is no checkpoint to resume."""
        os.makedirs(self.run_dir, exist_ok=True)
        self.sampler = self._sampler()
        ck = latest_checkpoint(self.run_dir) if resume else None
        init_from = init_from or self.cfg.get("init_from")
        if ck:
            try:
                self.load_checkpoint(ck)
            except SemcomError as err:
                raise SemcomError(f"cannot resume: {err}; remove {ck} to resume from an earlier checkpoint") from None
        elif init_from and init_from.endswith(".pt"):
            self.continued_from = self.load_snapshot(init_from)
        elif init_from:
            from .export import lineage, load_onnx_weights
            self.continued_from = lineage(load_onnx_weights(self.model, init_from))
        self._start_ema()
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
        bar = None
        if self.progress and self.rank == 0:
            from tqdm import tqdm
            bar = tqdm(total=end, initial=self.step, desc=self.cfg["name"], dynamic_ncols=True)
        losses_, t_last, n_last = [], time.time(), 0
        batch = int(self.cfg["data"]["batch"]) * self.world
        val_every, ck_every, log_every = (int(self.cfg["val"]["every"]), int(self.cfg["checkpoint_every"]),
                                          int(self.cfg["log_every"]))
        t_start, wall0 = time.time(), self.wall_s
        while self.step < end:
            stage = self.stage()
            t0 = time.perf_counter()
            loss = self.train_step(next(self.sampler))
            self.train_s += time.perf_counter() - t0
            losses_.append(loss)
            self.step += 1
            n_last += 1
            self._snapshot_at_stage_end()
            self.wall_s = wall0 + time.time() - t_start
            if bar:
                bar.update(1)
                bar.set_postfix(stage=stage, loss=f"{loss:.4f}", psnr=f"{psnr_from_mse(loss):.2f}")
            done = self.step == end or (budget_s is not None and self.train_s >= budget_s)
            row = None
            if self.step % log_every == 0 or done:
                mean = float(np.mean(losses_[-n_last:]))
                now = time.time()
                row = {"step": self.step, "stage": stage, "stage_name": self.stages[stage - 1]["name"],
                       "loss": f"{mean:.6f}", "train_psnr": f"{psnr_from_mse(mean):.3f}",
                       "lr": self.opt.param_groups[0]["lr"],
                       "images_per_s": f"{n_last * batch / max(now - t_last, 1e-9):.2f}",
                       "wall_s": f"{self.wall_s:.1f}", "train_s": f"{self.train_s:.1f}"}
                t_last, n_last = now, 0
            final = done and (self.step == self.total_steps or budget_s is not None)
            if self.rank == 0 and (self.step % val_every == 0 or final):
                row = self._validate_row(row, stage)
            if row:
                self._log_row(row)
                if writer:
                    for key in ("loss", "train_psnr", "val_psnr", "val_psnr_error_free", "val_psnr_raw_error_free"):
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
        return {"step": self.step, "first_loss": losses_[0] if losses_ else None,
                "last_loss": losses_[-1] if losses_ else None,
                "mean_loss_first": float(np.mean(losses_[:5])) if losses_ else None,
                "mean_loss_last": float(np.mean(losses_[-5:])) if losses_ else None,
                "wall_s": self.wall_s, "train_s": self.train_s, "val_psnr": self.val_psnr}

    def _snapshot_at_stage_end(self) -> None:
        """``snapshot_<name>.pt`` (model.pt format) when a stage with ``snapshot: name`` ends."""
        index, local = recipe.locate(self.stages, self.step - 1)
        name = self.stages[index].get("snapshot")
        if name and local == self.stages[index]["steps"] - 1 and self.rank == 0:
            # its own validation: the run's last one may be many steps old (a card shows this one)
            val = self.validate()
            checkpoint.save({"model": self.averaged_state(), **self.card_facts(), "val_psnr": val},
                            os.path.join(self.run_dir, f"snapshot_{name}.pt"))

    def load_snapshot(self, path: str) -> dict:
        """Weights of a ``model.pt``/snapshot/checkpoint of another run (those of modules this model
        lacks, e.g. IRSNet for a baseline without it, are skipped; a module it has that the file
        lacks keeps its fresh initialisation); returns the lineage a card records."""
        ck = checkpoint.load(path, self.device)
        own = self.model.state_dict()
        shared = {k: v for k, v in ck["model"].items() if k in own and own[k].shape == v.shape}
        if not shared:
            raise SemcomError(f"{path} holds no weights of this model")
        self.model.load_state_dict(shared, strict=False)
        return {"model_id": f"{ck['config'].get('name', '?')}:{os.path.basename(path)}",
                "exported": "", "cumulative_steps": int(ck.get("step", 0)),
                "cumulative_train_hours": round(float(ck.get("wall_s", 0.0)) / 3600, 3)}

    def card_facts(self) -> dict:
        """What the model card needs besides the weights (in model.pt and in every checkpoint, so
        that a checkpoint exports with a full card too)."""
        d = self.cfg["data"]
        if d.get("synthetic"):
            dataset_hash = "synthetic"
        elif d.get("prepared") not in (None, False, True):  # a named prepared folder: what made it
            dataset_hash = (prepared.read_index(str(d["prepared"])) or {}).get("source_hash")
        else:
            dataset_hash = prepared.source_hash(d)
        return {"config": self.cfg, "step": self.step, "wall_s": self.wall_s, "train_s": self.train_s,
                "val_psnr": self.val_psnr, "hardware": hardware(), "world_size": self.world,
                "dataset_hash": dataset_hash or "unknown (folder)", "precision": self.precision,
                "continued_from": self.continued_from, "torch": torch.__version__}

    def save_final(self) -> str:
        """``model.pt``: weights plus the facts the model card needs."""
        path = os.path.join(self.run_dir, "model.pt")
        checkpoint.save({"model": self.averaged_state(), **self.card_facts()}, path)
        return path
