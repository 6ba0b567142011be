"""Options and error handling shared by the command-line apps (one option model, like GRC)."""
from __future__ import annotations

import argparse
import signal
import sys

from . import __version__
from .errors import SemcomError
from .phy.constellations import MODULATIONS
from .phy.ldpc import CODES
from .phy.link import FEC_NONE

RADIOS = ("sim",)
DEFAULT_CODEC = "bitsemcom"


class Formatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    pass


def snr_value(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"SNR must be a number in dB, got '{text}'") from None
    if not -30 <= value <= 60:
        raise argparse.ArgumentTypeError(f"SNR {value} dB is outside -30..60 dB")
    return value


def cpp_value(text: str) -> float:
    """'1/16' or '0.0625'."""
    try:
        num, _, den = text.partition("/")
        value = float(num) / float(den) if den else float(num)
    except (ValueError, ZeroDivisionError):
        raise argparse.ArgumentTypeError(f"cpp must be a fraction like 1/16 or a number, got '{text}'") from None
    if not 0 < value <= 8:
        raise argparse.ArgumentTypeError(f"cpp {value} is outside (0, 8]")
    return value


def parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description, formatter_class=Formatter)
    p.add_argument("--version", action="version", version=f"gr-semcom {__version__}")
    p.add_argument("-v", "--verbose", action="store_true", help="log GNU Radio block messages")
    return p


def add_radio_options(p: argparse.ArgumentParser):
    g = p.add_argument_group("radio")
    g.add_argument("--radio", choices=RADIOS, default="sim",
                   help="sim: in-process simulated channel (ZeroMQ, file and UHD radios come with the burst waveform)")
    g.add_argument("--channel", choices=("awgn", "rayleigh"), default="awgn",
                   help="simulated channel; rayleigh is block fading with perfect CSI")
    g.add_argument("--snr", type=snr_value, default=10.0, help="Es/N0 in dB of the simulated channel")
    g.add_argument("--seed", type=int, default=0, help="noise and fading seed")


def add_link_options(p: argparse.ArgumentParser):
    from . import codecs
    g = p.add_argument_group("link")
    g.add_argument("--codec", default=DEFAULT_CODEC,
                   help="image codec: bitsemcom = the learned BitSemCom model that fits the budget "
                        "(-hard: hard-decision receiver), sscc = best of AVIF/JPEG 2000/WebP/JPEG, or a "
                        f"model folder; registered: {', '.join(codecs.available())}")
    g.add_argument("--modulation", choices=MODULATIONS, default="qpsk", help="Gray QAM, unit energy")
    g.add_argument("--fec", choices=tuple(CODES) + (FEC_NONE,), default="",
                   help="LDPC code from GNU Radio's alist files, or none (default: the codec's choice, "
                        "ldpc-1/2 for SSCC and none for learned codecs)")
    g.add_argument("--cpp", type=cpp_value, default=1 / 16, help="channel uses (complex symbols) per pixel")
    g.add_argument("--ldpc-backend", choices=("minsum", "gnuradio"), default="minsum",
                   help="minsum: fast vectorised decoder; gnuradio: fec.ldpc_decoder")


def run_main(main) -> None:
    """Runs ``main(args)``: SemcomError -> one line on stderr and exit 2; Ctrl-C -> exit 130."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    # Ctrl-C stops cleanly even when the app was started with SIGINT ignored (a background job)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        sys.exit(main() or 0)
    except SemcomError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)


def quiet_gnuradio(verbose: bool) -> None:
    """Block log lines (lost images, dropped PDUs) show only with --verbose; apps report them too."""
    from gnuradio import gr
    gr.logging().set_default_level(gr.log_levels.info if verbose else gr.log_levels.err)
