"""Options and error handling shared by the command-line apps (one option model, like GRC)."""
from __future__ import annotations

import argparse
import signal
import sys

from .. import __version__
from ..errors import SemcomError
from ..phy.constellations import MODULATIONS
from ..phy.ldpc import CODES
from ..phy.link import FEC_NONE

RADIOS = ("sim", "zmq", "file", "uhd", "soapy")
WAVEFORMS = ("sc", "ofdm", "ideal")
DEFAULT_CODEC = "bitsemcom"


class Formatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    def _get_help_string(self, action):
        """Adds '(default: ...)' unless the help says it already or there is none (empty, off)."""
        if "default" in (action.help or "") or action.default is None or action.default is False \
                or action.default in ("", []):
            return action.help
        return super()._get_help_string(action)


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


def app_command(name: str) -> list[str]:
    """The command line that runs app ``name`` (a module of this package) in a new process."""
    return [sys.executable, "-m", f"{__package__}.{name}"]


def sample_image() -> str:
    """The bundled sample photo: the installed copy, else the source tree's."""
    import os
    here = os.path.dirname(os.path.abspath(__file__))
    for root in (os.path.join(sys.prefix, "share", "gr-semcom"), os.path.join(here, "..", "..", "..")):
        path = os.path.join(root, "examples", "images", "kodim23.png")
        if os.path.isfile(path):
            return os.path.normpath(path)
    raise SemcomError("the sample photo examples/images/kodim23.png is not installed; pass an image")


def parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description, formatter_class=Formatter)
    p.add_argument("--version", action="version", version=f"gr-semcom {__version__}")
    p.add_argument("-v", "--verbose", action="store_true", help="log GNU Radio block messages")
    return p


def add_radio_options(p: argparse.ArgumentParser, receiver: bool = False):
    from ..links.radios import KINDS, ZMQ_PATTERNS
    g = p.add_argument_group("radio")
    g.add_argument("--radio", choices=RADIOS, default="sim",
                   help="sim: both ends in this process through GNU Radio's channel_model; zmq: ZeroMQ "
                        "to/from another process; file: SigMF recording; uhd: USRP; soapy: SoapySDR device")
    g.add_argument("--waveform", choices=WAVEFORMS, default="sc",
                   help="sc: RRC single carrier, 2 samples/symbol; ofdm: 64 subcarriers, CP 16; ideal: "
                        "synchronised symbols, no waveform (sim only, the reference channel of semcom-eval)")
    g.add_argument("--burst-symbols", type=int, default=4096, help="payload channel uses per burst at most")
    s = p.add_argument_group("simulated channel (--radio sim)")
    s.add_argument("--channel", choices=("awgn", "rayleigh"), default="awgn",
                   help="rayleigh: flat fading (channels.fading_model; block fading with perfect CSI "
                        "for --waveform ideal)")
    s.add_argument("--snr", type=snr_value, default=10.0, help="Es/N0 in dB per data symbol")
    s.add_argument("--cfo", type=float, default=0.0,
                   help="carrier offset, cycles per sample (0.005 = 1%% of the sc symbol rate)")
    s.add_argument("--timing-offset", type=float, default=0.0, help="fractional timing offset in samples [0, 1)")
    s.add_argument("--clock-ppm", type=float, default=0.0, help="sample-clock offset between the radios")
    s.add_argument("--taps", default="1", help="multipath impulse response, sample spaced, e.g. 1,0.4j,0.2")
    s.add_argument("--impaired", action="store_true",
                   help="the acceptance channel: --cfo 0.005 --timing-offset 0.37 --clock-ppm 10 --taps 1,0.4j,0.2")
    s.add_argument("--seed", type=int, default=0, help="noise and fading seed")
    h = p.add_argument_group("radio hardware (--radio zmq/file/uhd/soapy)")
    h.add_argument("--args", default="", help="device arguments: uhd 'type=b200,serial=...', soapy 'driver=...'")
    h.add_argument("--freq", type=float, default=915e6, help="centre frequency, Hz")
    h.add_argument("--rate", type=float, default=1e6, help="sample rate, samples/s")
    h.add_argument("--gain", type=float, default=30.0, help="gain, dB")
    h.add_argument("--antenna", default="", help="antenna port (e.g. TX/RX, RX2); empty: the device default")
    h.add_argument("--address", default="tcp://127.0.0.1:5555",
                   help="ZeroMQ address: the transmitter binds, the receiver connects")
    h.add_argument("--zmq-pattern", choices=ZMQ_PATTERNS, default="pubsub",
                   help="pubsub: broadcast (drops while nobody listens); pushpull: lossless, waits for the "
                        "receiver; reqrep: the receiver asks")
    h.add_argument("--file", default="", help="IQ recording (complex64, SigMF metadata next to it)")
    if receiver:
        h.add_argument("--threshold", type=float, default=0.99,
                       help="preamble detector (corr_est_cc) threshold, 1 - false-alarm rate per sample")
        h.add_argument("--frame-timeout", type=float, default=2.0,
                       help="seconds without samples before a pending frame's missing bursts count as lost "
                            "(while samples flow: 16 bursts' worth of samples)")
    else:
        h.add_argument("--amplitude", type=float, default=0.0,
                       help="transmit scale (0: 1.0 for sim/zmq/file, 0.5 for uhd/soapy, which clip at 1)")
    assert set(KINDS) <= set(RADIOS)


def radio_config(args):
    """The RadioConfig of a non-sim --radio."""
    from ..links.radios import RadioConfig
    return RadioConfig(args.radio, args=args.args, freq=args.freq, rate=args.rate, gain=args.gain,
                       antenna=args.antenna, address=args.address, path=args.file, zmq_pattern=args.zmq_pattern)


def air_options(args):
    from ..links.air import AirOptions
    amplitude = getattr(args, "amplitude", 0.0) or (0.5 if args.radio in ("uhd", "soapy") else 1.0)
    return AirOptions(args.waveform, args.burst_symbols, amplitude, getattr(args, "threshold", 0.99),
                      getattr(args, "frame_timeout", 2.0))


def impairments(args):
    from ..links.air import ACCEPTANCE, Impairments, parse_taps
    given = dict(cfo=args.cfo, delay=args.timing_offset, clock_ppm=args.clock_ppm, taps=parse_taps(args.taps))
    if args.impaired:
        given = ACCEPTANCE
    if not 0 <= given["delay"] < 1:
        raise SemcomError(f"--timing-offset must be in [0, 1) samples, got {given['delay']}")
    return Impairments(args.snr, rayleigh=args.channel == "rayleigh", seed=args.seed, **given)


def check_waveform(args):
    if args.waveform == "ideal" and args.radio != "sim":
        raise SemcomError("--waveform ideal exists only with --radio sim; radios need sc or ofdm")


def add_link_options(p: argparse.ArgumentParser):
    from .. import codecs
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


def sim_link(args, output_dir: str = ""):
    """The in-process link of --radio sim: SimLink (--waveform ideal) or AirLink (sc, ofdm)."""
    if args.waveform == "ideal":
        from ..links.sim import SimLink
        return SimLink(args.codec, args.modulation, args.fec, args.cpp, args.channel, args.snr,
                       ldpc_backend=args.ldpc_backend, seed=args.seed, output_dir=output_dir)
    from ..links.air import AirLink
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
