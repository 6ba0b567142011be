"""Options and error handling shared by the command-line apps (one option model, like GRC)."""
from __future__ import annotations

import argparse
import os
import shutil
import signal
import sys
import tempfile

from .. import __version__
from .. import options
from ..errors import SemcomError

DEFAULT_CODEC = options.default("codec")


class Formatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    def _get_help_string(self, action):
        """Adds '(default: ...)' unless the help says it already or there is none (empty, off)."""
        if "default" in (action.help or "") or action.default is None or action.default is False \
                or action.default in ("", []):
            return action.help
        return super()._get_help_string(action)


snr_value = options.argparse_type(options.OPTIONS["snr"])
cpp_value = options.argparse_type(options.OPTIONS["cpp"])


def app_command(name: str) -> list[str]:
    """The command line that runs app ``name`` (a module of this package) in a new process."""
    return [sys.executable, "-m", f"{__package__}.{name}"]


def installed(*parts: str) -> str | None:
    """The path ``parts`` under the prefix this package was installed into (a venv, /usr/local, any
    CMAKE_INSTALL_PREFIX: sys.prefix or a folder above the package), or None where none has it."""
    here = os.path.dirname(os.path.abspath(__file__))
    roots = [sys.prefix]
    while os.path.dirname(here) != here:
        here = os.path.dirname(here)
        roots.append(here)
    return next((os.path.join(r, *parts) for r in roots if os.path.exists(os.path.join(r, *parts))), None)


def sample_image() -> str:
    """The bundled sample photo: the installed copy, else the source tree's."""
    photo = ("examples", "images", "kodim23.png")
    source = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", *photo)
    path = installed("share", "gr-semcom", *photo) or (source if os.path.isfile(source) else None)
    if path is None:
        raise SemcomError("the sample photo examples/images/kodim23.png is not installed; pass an image")
    return os.path.normpath(path)


class Parser(argparse.ArgumentParser):
    def error(self, message):
        """A bad command line: one line on stderr, exit status 2 (as argparse)."""
        self.exit(2, f"error: {message}; see {self.prog} --help\n")


def positive_int(text) -> int:
    """argparse type: a whole number >= 1."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 1, not {text!r}")
    return value


def output_folder(path: str, flag: str = "--out", make: bool = True) -> str:
    """``path`` checked before any work starts, and made with its parents when ``make``; SemcomError
    (one line naming ``flag``) when it or a folder above it is a file, or it cannot be written."""
    existing = os.path.abspath(path)
    while not os.path.exists(existing):
        existing = os.path.dirname(existing)
    where = f"{flag} {path}" + (f": {existing}" if existing != os.path.abspath(path) else "")
    if not os.path.isdir(existing):
        raise SemcomError(f"{where} is a file, not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise SemcomError(f"{where} cannot be written (read-only)")
    if make:
        try:
            os.makedirs(path, exist_ok=True)
        except OSError as err:
            raise SemcomError(f"{flag} {path}: cannot make this folder ({err.strerror})") from None
    return path


def parser(description: str) -> argparse.ArgumentParser:
    p = Parser(description=description, formatter_class=Formatter)
    p.add_argument("--version", action="version", version=f"gr-semcom {__version__}")
    p.add_argument("-v", "--verbose", action="store_true", help="log GNU Radio block messages")
    return p


def add_radio_options(p: argparse.ArgumentParser, receiver: bool = False):
    from ..flowgraphs.radios import STALL_SECONDS, ZMQ_PATTERNS
    g = p.add_argument_group("radio")
    for name in ("radio", "waveform", "burst_symbols"):
        options.add(g, name)
    s = p.add_argument_group("simulated channel (--radio sim)")
    for name in ("channel", "snr", "cfo", "timing_offset", "clock_ppm"):
        options.add(s, name)
    options.add(s, "taps", default="1")
    s.add_argument("--impaired", action="store_true",
                   help="the acceptance channel: --cfo 0.005 --timing-offset 0.37 --clock-ppm 10 --taps 1,0.4j,0.2")
    options.add(s, "seed")
    h = p.add_argument_group("radio hardware (--radio zmq/file/uhd/soapy)")
    h.add_argument("--args", default="", help="device arguments: uhd 'type=b200,serial=...', soapy 'driver=...'")
    options.add(h, "freq")
    if receiver:  # None: a recording's own rate
        options.add(h, "rate", default=None, help=options.OPTIONS["rate"].help + " (default "
                    f"{options.default('rate'):g}); --radio file: the waveform's rate, to which a recording at "
                    "another core:sample_rate is resampled (default: the recording's rate)")
    else:
        options.add(h, "rate")
    options.add(h, "gain")
    h.add_argument("--antenna", default="", help="antenna port (e.g. TX/RX, RX2); empty: the device default")
    options.add(h, "address")
    h.add_argument("--zmq-pattern", choices=ZMQ_PATTERNS, default="pubsub",
                   help="pubsub: broadcast, drops while nobody listens (a transmitter cannot tell whether anyone "
                        "received: it says sent); pushpull: lossless, waits for the receiver; reqrep: the receiver "
                        "asks (with these two, a transmitter whose samples no receiver takes for "
                        f"{STALL_SECONDS:g} s stops with an error)")
    h.add_argument("--file", default="", help="SigMF recording: x.sigmf-data (TX writes cf32_le; RX reads cf32_le, "
                   "ci16_le, ci8 or cu8) beside x.sigmf-meta, or (RX) a .sigmf archive")
    for name in (("threshold", "frame_timeout", "sequence_detector") if receiver else ("amplitude",)):
        options.add(h, name)
    options.add(h, "key")
    if receiver:
        lim = p.add_argument_group("receiver limits (forged or huge headers are dropped before allocating)")
        for name in ("max_pixels", "max_frame_bits", "max_pending_frames"):
            options.add(lim, name)


def radio_config(args):
    """The RadioConfig of a non-sim --radio."""
    from ..flowgraphs.radios import RadioConfig
    rate = options.default("rate") if args.rate is None else args.rate
    return RadioConfig(args.radio, args=args.args, freq=args.freq, rate=rate, gain=args.gain,
                       antenna=args.antenna, address=args.address, path=args.file, zmq_pattern=args.zmq_pattern,
                       resample=args.rate is not None)


def air_options(args):
    from ..flowgraphs.air import AirOptions
    from ..phy.ldpc import is_user_code
    amplitude = getattr(args, "amplitude", 0.0) or (0.5 if args.radio in ("uhd", "soapy") else 1.0)
    given = {name: getattr(args, name) for name in ("threshold", "frame_timeout", "max_pixels", "max_frame_bits",
                                                    "max_pending_frames", "key", "sequence_detector")
             if hasattr(args, name)}
    if is_user_code(getattr(args, "fec", "")):  # receivers decode the user code --fec alist:FILE names
        given["alist"] = args.fec
    return AirOptions(args.waveform, args.burst_symbols, amplitude, **given)


def impairments(args):
    from ..flowgraphs.air import ACCEPTANCE, Impairments
    given = dict(cfo=args.cfo, delay=args.timing_offset, clock_ppm=args.clock_ppm, taps=args.taps)
    if args.impaired:
        given = ACCEPTANCE
    if not 0 <= given["delay"] < 1:
        raise SemcomError(f"--timing-offset must be in [0, 1) samples, got {given['delay']}")
    return Impairments(args.snr, rayleigh=args.channel == "rayleigh", seed=args.seed, **given)


def check_radio_options(args):
    """What the radio options need beyond their own ranges, checked before anything starts."""
    if args.waveform == "ideal" and args.radio != "sim":
        raise SemcomError("--waveform ideal exists only with --radio sim; radios need sc or ofdm")
    options.key_bytes(args.key)
    options.check_environment()


def add_link_options(p: argparse.ArgumentParser, auto: bool = False):
    """The link group; ``auto``: --modulation auto and --target-snr (a transmitter's choice)."""
    from .. import codecs
    g = p.add_argument_group("link")
    options.add(g, "codec", help=options.OPTIONS["codec"].help + f"; registered: {', '.join(codecs.available())}")
    if auto:
        options.add(g, "modulation", choices=options.OPTIONS["modulation"].choices + (options.AUTO_MODULATION,),
                    help=options.OPTIONS["modulation"].help + f"; {options.AUTO_MODULATION}: with --codec "
                    "bitsemcom, the model and modulation its cards' measured curves predict best at --target-snr")
        options.add(g, "target_snr")
    else:
        options.add(g, "modulation")
    for name in ("fec", "cpp", "ldpc_backend"):
        options.add(g, name)


# modules the apps import late -> the requirements file that installs them
REQUIREMENTS = {"torch": "requirements-train.txt", "onnx": "requirements-train.txt",
                "ml_dtypes": "requirements-train.txt", "sklearn": "requirements-train.txt",
                "matplotlib": "requirements.txt", "tqdm": "requirements.txt"}


class Terminated(SystemExit):
    """SIGTERM, raised in the main thread."""


def _terminate(*_):
    raise Terminated(143)


def _leave(status: int) -> None:
    """Exits now, once the app's own cleanup (its finally blocks) ran: the interpreter's shutdown
    can deadlock with GNU Radio threads still inside Python (a flowgraph that was running)."""
    if "multiprocessing.util" in sys.modules:  # what exit would do for worker pools: release their semaphores
        sys.modules["multiprocessing.util"]._run_finalizers(0)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


def writable_home() -> str:
    """Points $HOME at a new private folder when no file can be created in it (GNU Radio keeps its
    FFTW wisdom and that file's lock there, and fails without); returns that folder, '' otherwise."""
    home = os.environ.get("HOME")
    if home is None:  # GNU Radio then uses the temporary folder
        return ""
    try:
        with tempfile.TemporaryFile(dir=home):
            return ""
    except OSError:
        os.environ["HOME"] = tempfile.mkdtemp(prefix="gr-semcom-home-")
        return os.environ["HOME"]


def run_main(main) -> None:
    """Runs ``main(args)``: SemcomError -> one line on stderr and exit 2; Ctrl-C -> 'interrupted',
    exit 130; SIGTERM -> 'terminated', exit 143."""
    signal.signal(signal.SIGTERM, _terminate)
    # Ctrl-C stops cleanly even when the app was started with SIGINT ignored (a background job)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    home = writable_home()
    try:
        sys.exit(main() or 0)
    except SemcomError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)
    except ModuleNotFoundError as err:
        if err.name not in REQUIREMENTS:
            raise
        file = REQUIREMENTS[err.name]
        why = "which the runtime-only install leaves out" if file != "requirements.txt" else "which is not installed"
        print(f"error: {os.path.basename(sys.argv[0])} needs {err.name}, {why}: pip install -r {file} (in the venv)",
              file=sys.stderr)
        sys.exit(2)
    except Terminated:
        print("terminated", file=sys.stderr)
        status = 143
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        status = 130
    finally:
        if home:
            shutil.rmtree(home, ignore_errors=True)
    _leave(status)


def quiet_gnuradio(verbose: bool) -> None:
    """Block log lines (lost images, dropped PDUs) show only with --verbose; apps report them too."""
    from gnuradio import gr
    gr.logging().set_default_level(gr.log_levels.info if verbose else gr.log_levels.err)


def sim_link(args, output_dir: str = ""):
    """The in-process link of --radio sim: IdealLink (--waveform ideal) or AirLink (sc, ofdm)."""
    if args.waveform == "ideal":
        from ..flowgraphs.ideal import IdealLink
        return IdealLink(args.codec, args.modulation, args.fec, args.cpp, args.channel, args.snr,
                       ldpc_backend=args.ldpc_backend, seed=args.seed, output_dir=output_dir)
    from ..flowgraphs.air import AirLink
    return AirLink(args.codec, args.modulation, args.fec, args.cpp, impairments(args), air_options(args),
                   output_dir)


def link_text(args) -> str:
    """How the sim channel is described in reports."""
    if args.waveform == "ideal":
        return f"{args.channel} {args.snr:g} dB (ideal, synchronised)"
    imp = impairments(args)
    parts = [f"{args.channel} {args.snr:g} dB", args.waveform]
    if imp.cfo or imp.delay or imp.clock_ppm or len(imp.taps) > 1:
        parts.append(f"CFO {imp.cfo:g}/sample, timing {imp.delay:g}, clock {imp.clock_ppm:g} ppm, "
                     f"{len(imp.taps)} taps")
    return ", ".join(parts)
