"""The one option model: each option's default, choices, range and help, declared once.

The apps build their argparse options from it (``add``), the blocks take their constructor
defaults from it and validate with it (``check``), and a test checks every ``grc/*.block.yml``
against it. Plain Python: no GNU Radio, no torch.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import stat
from dataclasses import dataclass
from typing import Any, Callable

from .errors import SemcomError
from .phy.burst import DEFAULT_BURST_SYMBOLS
from .phy.burst import MAX_FRAME_BITS, MAX_PENDING_FRAMES, MAX_SIDE
from .phy.constellations import MODULATIONS
from .phy import waveform as wf_mod
from .phy import ldpc
from .phy.ldpc import CODES
from .phy.link import FEC_NONE


def fraction(text) -> float:
    """'1/16', '0.0625' or a number."""
    if isinstance(text, str):
        num, _, den = text.partition("/")
        return float(num) / float(den) if den else float(num)
    return float(text)


ZMQ_SCHEMES = ("tcp", "ipc", "inproc")
MAX_PORT = 65535


def zmq_address(text) -> str:
    """A ZeroMQ endpoint the transmitter binds and the receiver connects to: tcp://HOST:PORT
    (a port from 1 to 65535, never ZeroMQ's random '*' or 0), ipc://PATH or inproc://NAME;
    SemcomError (one line) otherwise."""
    text = str(text)
    shown = text if len(text) <= 60 else text[:40] + f"... ({len(text)} characters)"
    scheme, sep, rest = text.partition("://")
    if not sep or scheme not in ZMQ_SCHEMES or not rest or "\n" in text or "\r" in text:
        raise SemcomError(f"ZeroMQ address '{shown}' is not like tcp://127.0.0.1:5555 "
                          f"(schemes: {', '.join(ZMQ_SCHEMES)})")
    if scheme == "tcp":
        host, _, port = rest.rpartition(":")
        if not host:
            raise SemcomError(f"ZeroMQ address '{shown}' needs a host and a port, like tcp://127.0.0.1:5555")
        if not (port.isascii() and port.isdigit() and len(port) <= 5 and 1 <= int(port) <= MAX_PORT):
            port = port if len(port) <= 12 else port[:12] + "..."
            raise SemcomError(f"ZeroMQ address '{shown}': the port must be a number from 1 to {MAX_PORT}, "
                              f"got '{port}'")
    return text


FECS = tuple(CODES) + (FEC_NONE,)
CODEC_DEFAULT_FEC = ""  # the codec's choice: LDPC 1/2 for conventional codecs, none for learned ones


def fec_code(text) -> str:
    """A named LDPC code, 'none', '' (the codec's choice) or a user code 'alist:FILE' / 'FILE.alist'
    (its file is read where the code is used)."""
    text = str(text)
    if text in FECS + (CODEC_DEFAULT_FEC,) or ldpc.is_user_code(text):
        return ldpc.canonical(text)
    raise ValueError(text)


def taps(value) -> tuple:
    """'1,0.4j,0.2' or a sequence of numbers -> finite complex taps, at least one non-zero."""
    parts = str(value).split(",") if isinstance(value, str) else list(value)
    out = tuple(complex(t.replace(" ", "") if isinstance(t, str) else t) for t in parts if str(t).strip())
    if not out or not any(out) or not all(math.isfinite(abs(t)) for t in out):
        raise ValueError(value)
    return out


FEC_TEXT = ", ".join(CODES) + ", none or alist:FILE (an LDPC code from any alist file)"
KIND_TEXT = {float: "a number", int: "a whole number", fraction: "a number or a fraction like 1/16", fec_code: FEC_TEXT,
             taps: "comma-separated finite numbers like 1,0.4j,0.2, one of them non-zero"}


@dataclass(frozen=True)
class Option:
    name: str  # Python identifier; the flag is --name-with-dashes
    default: Any
    help: str
    kind: Callable = str  # str, int, float, bool, or a parser such as ``fraction``
    choices: tuple | None = None
    low: float | None = None  # range, closed unless low_open / high_open
    high: float | None = None
    low_open: bool = False
    high_open: bool = False

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    def range_text(self) -> str:
        def num(v):
            return str(int(v)) if float(v).is_integer() and abs(v) < 1e15 else f"{v:g}"
        lo = "" if self.low is None else ("(" if self.low_open else "[") + num(self.low)
        hi = "" if self.high is None else num(self.high) + (")" if self.high_open else "]")
        if lo and hi:
            return f"in {lo}, {hi}"
        return f"{'>' if self.low_open else '>='} {num(self.low)}" if lo else \
            f"{'<' if self.high_open else '<='} {num(self.high)}"

    def check(self, value):
        """``value`` converted to this option's kind; SemcomError naming the option when it is invalid."""
        try:
            value = self.kind(value)
        except (TypeError, ValueError, ZeroDivisionError, OverflowError):
            raise SemcomError(f"{self.flag} must be {KIND_TEXT.get(self.kind, self.kind.__name__)}, got '{value}'") from None
        if self.choices is not None and value not in self.choices:
            raise SemcomError(f"{self.flag} must be one of {', '.join(map(repr, self.choices))}, got {value!r}")
        if isinstance(value, float) and not math.isfinite(value):
            raise SemcomError(f"{self.flag} must be a finite number, got {value}")
        if (self.low is not None and (value < self.low or (self.low_open and value == self.low))) or \
                (self.high is not None and (value > self.high or (self.high_open and value == self.high))):
            raise SemcomError(f"{self.flag} must be {self.range_text()}, got {value:g}")
        return value


HARDWARE_RADIOS = ("zmq", "file", "uhd", "soapy")  # flowgraphs.radios builds each
RADIOS = ("sim", *HARDWARE_RADIOS)
WAVEFORMS = (*wf_mod.WAVEFORMS, "ideal")
AUTO_MODULATION = "auto"  # tx_image --modulation: the model and modulation the cards pick for --target-snr

_ALL = (
    # link: what the image codec sends over which PHY
    Option("codec", "bitsemcom", "image codec: bitsemcom = the learned BitSemCom model whose card predicts the best PSNR "
           "in the budget, rate-matched to any image size (-hard: hard-decision receiver), sscc = best of AVIF/JPEG 2000/WebP/JPEG, or a model folder"),
    Option("modulation", "qpsk", "Gray QAM, unit energy", choices=MODULATIONS),
    Option("fec", CODEC_DEFAULT_FEC, f"LDPC code: {FEC_TEXT}; default: the codec's choice, ldpc-1/2 for SSCC "
           "and none for learned codecs. Receivers read the code from each burst header; a user code (alist) must "
           "be given to both ends (the header carries its 7-bit hash)", kind=fec_code),
    Option("phy_fec", FEC_NONE, f"the PHY's LDPC code when the frame does not name one: {FEC_TEXT} "
           "(none: the default codec's choice)", kind=fec_code),
    Option("alist", "", "an LDPC code from an alist file that this receiver decodes besides the named ones "
           "(the transmitter's fec alist:FILE); '' none"),
    Option("cpp", 1 / 16, "channel uses (complex symbols) per pixel", kind=fraction, low=0, high=8, low_open=True),
    Option("ldpc_backend", "minsum", "minsum: fast vectorised decoder; gnuradio: fec.ldpc_decoder",
           choices=("minsum", "gnuradio")),
    # waveform and receiver
    Option("waveform", "sc", "sc: RRC single carrier, 2 samples/symbol; ofdm: 64 subcarriers, CP 16; ideal: "
           "synchronised symbols, no waveform (sim only, the reference channel of semcom-eval)", choices=WAVEFORMS),
    Option("burst_symbols", DEFAULT_BURST_SYMBOLS, "payload channel uses per burst at most", kind=int, low=64, high=32768),
    Option("threshold", 0.99, "preamble detector (corr_est_cc) threshold, 1 - false-alarm rate per sample",
           kind=float, low=0, high=1, low_open=True, high_open=True),
    Option("frame_timeout", 2.0, "seconds without samples before a pending frame's missing bursts count as lost "
           "(while samples flow: 16 bursts' worth of samples)", kind=float, low=0, high=3600, low_open=True),
    Option("sequence_detector", False, "sc receiver: a 16-QAM burst through multipath gets its LLRs from a BCJR "
           "sequence detector behind a channel-shortening filter (a little more effective SNR than the linear "
           "equaliser, several times its CPU per burst; docs/over-the-air.md)", kind=bool),
    Option("max_pixels", 8192 * 8192, "receiver limit: frames announcing larger images are dropped before "
           "decoding", kind=int, low=1, high=MAX_SIDE * MAX_SIDE),
    Option("max_frame_bits", MAX_FRAME_BITS, "receiver limit: frames announcing more payload bits are dropped "
           "before anything is allocated", kind=int, low=1, high=1 << 32),
    Option("max_pending_frames", MAX_PENDING_FRAMES, "receiver limit: frames reassembled at once (the oldest is "
           "finished, its missing bursts erasures, to make room)", kind=int, low=1, high=4096),
    Option("key", "", "pre-shared key (text, or @FILE for a file's bytes): every burst header carries an "
           "HMAC-SHA256 tag over the header (and a FEC-coded payload); a receiver given the key drops bursts "
           "without a valid one (forged or foreign). Uncoded payloads are not covered"),
    Option("amplitude", 0.0, "transmit scale (0: 1.0 for sim/zmq/file, 0.5 for uhd/soapy, which clip at 1)",
           kind=float, low=0, high=1e3),
    # simulated channel
    Option("channel", "awgn", "rayleigh: flat fading (channels.fading_model; block fading with perfect CSI "
           "for --waveform ideal)", choices=("awgn", "rayleigh")),
    Option("snr", 10.0, "Es/N0 in dB per data symbol", kind=float, low=-30, high=60),
    Option("target_snr", None, "with --modulation auto: the Es/N0 (dB) the receiver is expected to see, at which "
           "the BitSemCom cards' measured curves pick the model and modulation (default with --radio sim: --snr)",
           kind=float, low=-30, high=60),
    Option("auto_margin", 0.5, "--codec auto: a conventional codec x link is picked only where its LDPC code holds "
           "at the SNR minus this many dB (its cliff)", kind=float, low=0, high=20),
    Option("hysteresis", 1.0, "--codec auto with --feedback: the current pick is kept unless another predicts more "
           "PSNR at the estimate minus this many dB, or the current one no longer holds", kind=float, low=0, high=20),
    Option("feedback_wait", 5.0, "--codec auto with --feedback: seconds to wait for the receiver's estimate of the "
           "image just sent before picking the next (then the latest one)", kind=float, low=0, high=3600),
    Option("cfo", 0.0, "carrier offset, cycles per sample (0.005 = 1%% of the sc symbol rate)",
           kind=float, low=-0.5, high=0.5, low_open=True, high_open=True),
    Option("timing_offset", 0.0, "fractional timing offset in samples [0, 1)", kind=float, low=0, high=1,
           high_open=True),
    Option("clock_ppm", 0.0, "sample-clock offset between the radios", kind=float, low=-1000, high=1000),
    Option("taps", (1.0,), "multipath impulse response, sample spaced, e.g. 1,0.4j,0.2", kind=taps),
    Option("seed", 0, "noise and fading seed", kind=int, low=0, high=2**31 - 1),
    # apps
    Option("repeat", 1, "send the list of images this many times", kind=int, low=1, high=10**9),
    Option("fps", 0.0, "frames per second at most (0 = back to back, as fast as they are encoded)", kind=float,
           low=0, high=1000),
    Option("interval", 0.0, "seconds between images (pace a slow receiver)", kind=float, low=0, high=86400),
    Option("count", 0, "stop after this many images (0 = until Ctrl-C)", kind=int, low=0, high=10**12),
    Option("idle_exit", 0.0, "stop after this many seconds without an image (0 = never)", kind=float, low=0,
           high=86400 * 366),
    Option("status", 5.0, "with a radio: a status line (images, drops by stage, the last SNR estimate) at most "
           "this often in seconds, when something changed (0 = none)", kind=float, low=0, high=86400),
    # radio hardware
    Option("radio", "sim", "sim: both ends in this process through GNU Radio's channel_model; zmq: ZeroMQ "
           "to/from another process; file: SigMF recording; uhd: USRP; soapy: SoapySDR device", choices=RADIOS),
    Option("address", "tcp://127.0.0.1:5555", "ZeroMQ address: the transmitter binds, the receiver connects "
           "(tcp://HOST:PORT, ipc://PATH or inproc://NAME)", kind=zmq_address),
    Option("freq", 915e6, "centre frequency, Hz", kind=float, low=0, high=1e12, low_open=True),
    Option("rate", 1e6, "sample rate, samples/s", kind=float, low=0, high=1e11, low_open=True),
    Option("gain", 30.0, "gain, dB", kind=float, low=-100, high=200),
)
OPTIONS: dict[str, Option] = {o.name: o for o in _ALL}


def default(name: str):
    return OPTIONS[name].default


MAX_KEY_FILE_BYTES = 4096  # a key file holds a secret, not data


def key_bytes(text: str) -> bytes:
    """The bytes of a ``key`` option: the text itself, or with '@' the contents of that file, which
    must be a non-empty regular file of at most ``MAX_KEY_FILE_BYTES`` (``read_small``)."""
    text = str(text or "")
    if not text.startswith("@"):
        return text.encode()
    data = read_small(text[1:], f"--key {text}: the key file", MAX_KEY_FILE_BYTES)
    if not data:
        raise SemcomError(f"--key {text}: the key file is empty")
    return data


def check(name: str, value):
    """``value`` validated (and converted) as option ``name``."""
    return OPTIONS[name].check(value)


def argparse_type(option: Option) -> Callable:
    def parse(text):
        try:
            return option.check(text)
        except SemcomError as err:
            raise argparse.ArgumentTypeError(str(err).removeprefix(option.flag + " ")) from None
    parse.__name__ = option.kind.__name__
    return parse


def add(group, name: str, **overrides):
    """Adds option ``name`` to an argparse parser or group (``overrides``: help, default, ...)."""
    option = OPTIONS[name]
    kwargs = {"default": option.default, "help": option.help}
    if option.kind is bool:  # a switch: given means True
        kwargs.update(action="store_true", **overrides)
        return group.add_argument(option.flag, **kwargs)
    if option.choices is not None:
        kwargs["choices"] = option.choices
        if "" in option.choices:  # '' (automatic) is the default, not something to type
            kwargs["metavar"] = "{" + ",".join(c for c in option.choices if c) + "}"
    if option.kind is not str or option.low is not None:
        kwargs["type"] = argparse_type(option)
    kwargs.update(overrides)
    return group.add_argument(option.flag, **kwargs)


# ---------------------------------------------------------------- files, environment and model cards

MAX_IMAGE_PIXELS = OPTIONS["max_pixels"].default  # larger images are refused before decoding them
MAX_METADATA_BYTES = 1 << 20  # a JSON file beside data (SigMF metadata, card.json)
IMAGE_OUTPUTS = {".png": MAX_SIDE, ".bmp": MAX_SIDE, ".tif": MAX_SIDE, ".tiff": MAX_SIDE, ".jpg": MAX_SIDE,
                 ".jpeg": MAX_SIDE, ".webp": 16383, "": MAX_SIDE}  # extension: largest side ('': PNG)


def open_regular(path: str, what: str):
    """``path`` opened for binary reading, when it is a regular file (never a FIFO or a device:
    checked before opening, and opened without blocking); SemcomError '``what`` ...' otherwise."""
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            raise SemcomError(f"{what} must be a regular file")
        f = os.fdopen(os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY), "rb")
    except OSError as err:
        raise SemcomError(f"{what} cannot be read ({err.strerror})") from None
    if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):  # replaced since the check above
        f.close()
        raise SemcomError(f"{what} must be a regular file")
    return f


def read_small(path: str, what: str, limit: int = MAX_METADATA_BYTES) -> bytes:
    """The bytes of regular file ``path`` (``open_regular``) of at most ``limit`` bytes."""
    with open_regular(path, what) as f:
        try:
            data = f.read(limit + 1)
        except OSError as err:
            raise SemcomError(f"{what} cannot be read ({err.strerror})") from None
    if len(data) > limit:
        raise SemcomError(f"{what} is larger than {limit} bytes")
    return data


def image_size(height: int, width: int, what: str) -> None:
    """SemcomError unless a burst header can carry the size and it is at most MAX_IMAGE_PIXELS."""
    if not (1 <= height <= MAX_SIDE and 1 <= width <= MAX_SIDE):
        raise SemcomError(f"{what} is {width}x{height}: images are 1 to {MAX_SIDE} pixels a side")
    if height * width > MAX_IMAGE_PIXELS:
        raise SemcomError(f"{what} is {width}x{height}: images of more than {MAX_IMAGE_PIXELS} pixels are refused")


def image_output(path: str, height: int, width: int, what: str) -> None:
    """SemcomError unless the extension of ``path`` names a format that holds a height x width image whole."""
    ext = os.path.splitext(path)[1].lower()
    if ext not in IMAGE_OUTPUTS:
        raise SemcomError(f"{what} {path}: write {', '.join(e for e in IMAGE_OUTPUTS if e)}; {ext} cannot hold "
                          "every image whole")
    if max(height, width) > IMAGE_OUTPUTS[ext]:
        raise SemcomError(f"{what} {path}: {ext} holds at most {IMAGE_OUTPUTS[ext]} pixels a side, the image is "
                          f"{width}x{height}; write .png")


def folders(text) -> tuple:
    """'A:B' -> ('A', 'B'), every one an existing folder."""
    out = tuple(p for p in str(text).split(os.pathsep) if p)
    if not all(os.path.isdir(p) for p in out):
        raise ValueError(text)
    return out


def decoder_precision(text) -> str:
    if text not in ("float32", "int8"):
        raise ValueError(text)
    return text


KIND_TEXT.update({folders: f"existing folders separated by '{os.pathsep}'",
                  decoder_precision: "a decoder precision (choose one of float32, int8)"})


@dataclass(frozen=True)
class Variable(Option):
    """An environment variable, checked as an option is."""

    @property
    def flag(self) -> str:
        return "$" + self.name

    def value(self):
        text = os.environ.get(self.name, "")
        return self.check(text) if text else self.default


ENVIRONMENT: dict[str, Variable] = {v.name: v for v in (
    Variable("SEMCOM_ORT_THREADS", 0, "onnxruntime threads per session (0: onnxruntime's choice)", kind=int,
             low=0, high=4 * (os.cpu_count() or 1)),
    Variable("SEMCOM_DECODER", "float32", "which decoder file receivers run", kind=decoder_precision),
    Variable("SEMCOM_MODEL_PATH", (), "folders of model folders searched before the packaged ones", kind=folders),
)}


def environment(name: str):
    """The checked value of environment variable ``name`` (its default when unset or empty)."""
    return ENVIRONMENT[name].value()


def check_environment() -> None:
    """Every ENVIRONMENT variable, checked before anything starts."""
    for variable in ENVIRONMENT.values():
        variable.value()


CARD_WHOLE = {"latent_channels": (1, 4096), "stride": (1, 1024), "patch": (1, 1024), "tile": (1, 4096),
              "positions_per_tile": (1, 1 << 20), "codebook": (2, 1 << 24), "quantizer_bits": (1, 32)}
CARD_NUMBERS = ("snr_db", "fim_threshold")
CARD_TEXTS = ("codec", "variant", "modulation", "bit_order", "bit_decision")


def model_card(text, where: str) -> dict:
    """A model card's JSON text (or bytes) as a dict whose fields the runtime reads have their
    types and ranges; SemcomError naming ``where`` otherwise."""
    try:
        card = json.loads(text)
    except ValueError as err:
        raise SemcomError(f"{where} is not valid JSON ({err}); re-export the model") from None
    if not isinstance(card, dict):
        raise SemcomError(f"{where} is not a JSON object; re-export the model")
    for key, (low, high) in CARD_WHOLE.items():
        value = card.get(key, low)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise SemcomError(f"{where}: '{key}' must be a whole number in [{low}, {high}], got {value!r}; "
                              "re-export the model")
    for key in CARD_NUMBERS:
        value = card.get(key, 0.0)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise SemcomError(f"{where}: '{key}' must be a finite number, got {value!r}; re-export the model")
    for key in CARD_TEXTS:
        if not isinstance(card.get(key, ""), str):
            raise SemcomError(f"{where}: '{key}' must be text, got {card[key]!r}; re-export the model")
    return card
