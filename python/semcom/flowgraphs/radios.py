"""Radio back-ends: complex-baseband (gr_complex) stream endpoints made of GNU Radio's own blocks.

``tx_sink(cfg)`` has one complex input, ``rx_source(cfg)`` one complex output.
Both are thin hier blocks around one block (``.block``): GNU Radio's own, but
for the ZeroMQ receiver, ``blocks.zmq_source`` (pyzmq), which drops a bad
message where GNU Radio's source would stop for good; ``.cfg`` is the
configuration in effect (for a file receiver: the rate and frequency read back
from its SigMF metadata).

Kinds and the options they use (``RadioConfig`` fields):

- ``zmq``:   address (the TX side binds, the RX side connects), zmq_pattern
  (``pubsub``: broadcast, drops while nobody listens; ``pushpull``: lossless,
  blocks while nobody listens; ``reqrep``: the receiver asks for samples),
  timeout_ms, pass_tags. freq and rate are only carried along.
- ``file``:  path of a SigMF recording; TX writes ``cf32_le`` samples and a
  validated ``.sigmf-meta`` next to them (rate, freq, description, datetime,
  hw); RX reads ``cf32_le``, ``ci16_le``, ``ci8`` or ``cu8`` samples, or a
  ``.sigmf`` archive, as complex floats, takes rate and freq from the metadata
  and, with resample, resamples the recording to ``rate``; repeat loops the
  recording. Runs as fast as the flowgraph allows.
- ``uhd``:   args (UHD device args, e.g. ``type=b200``), freq, rate, gain,
  antenna, len_tag (TX burst length tag). Fails with one line when no USRP
  matches the args.
- ``soapy``: args (SoapySDR device args, e.g. ``driver=rtlsdr``), freq, rate,
  gain, antenna, len_tag. Fails with one line when no device matches.

Importing this module does not import GNU Radio; the builders do.
"""
from __future__ import annotations

import json
import math
import os
import secrets
import tarfile
import time
from dataclasses import dataclass, replace
from fractions import Fraction

from ..errors import SemcomError
from .. import options
from ..options import HARDWARE_RADIOS, zmq_address

KINDS = HARDWARE_RADIOS
ZMQ_PATTERNS = ("pubsub", "pushpull", "reqrep")
SIGMF_DATA, SIGMF_META, SIGMF_ARCHIVE = ".sigmf-data", ".sigmf-meta", ".sigmf"
SIGMF_VERSION = "1.0.0"
SAMPLE_BYTES = {"cf32_le": 8, "ci16_le": 4, "ci8": 2, "cu8": 2}  # SigMF datatypes RX reads: bytes per sample
MAX_RESAMPLE_TERM = 64  # largest interpolation or decimation the file receiver resamples by
STALL_SECONDS = 30.0  # a transmitter whose radio takes no samples this long reports it and stops


@dataclass
class RadioConfig:
    """One radio endpoint; see the module docstring for which kind uses which field."""

    kind: str
    args: str = ""
    freq: float = 915e6
    rate: float = 1e6
    gain: float = 30.0
    antenna: str = ""
    address: str = "tcp://127.0.0.1:5555"
    path: str = ""
    zmq_pattern: str = "pubsub"
    timeout_ms: int = 100
    pass_tags: bool = False
    len_tag: str = ""
    repeat: bool = False
    description: str = ""
    resample: bool = False  # file RX: resample the recording from its own rate to ``rate``
    hw: str = ""  # SigMF core:hw of what the samples came from

    def stall_hint(self, seconds: float) -> str:
        """The line a transmitter prints when this radio took no samples for ``seconds``."""
        if self.kind == "zmq" and self.zmq_pattern == "pushpull":
            return (f"no receiver took samples from {self.address} for {seconds:g} s (a ZeroMQ PUSH waits for "
                    "one to connect): start rx_image.py --radio zmq --zmq-pattern pushpull at that address")
        if self.kind == "zmq" and self.zmq_pattern == "reqrep":
            return (f"no receiver asked for samples at {self.address} for {seconds:g} s (a ZeroMQ REP answers "
                    "requests): start rx_image.py --radio zmq --zmq-pattern reqrep at that address")
        return f"the {self.kind} radio took no samples for {seconds:g} s: check that it is connected and running"

    def __post_init__(self):
        if self.kind == "sim":
            raise SemcomError("radio 'sim' is the in-process simulated channel and has no stream endpoint; "
                              f"choose one of {', '.join(KINDS)}")
        if self.kind not in KINDS:
            raise SemcomError(f"unknown radio '{self.kind}'; choose one of {', '.join(KINDS)}")
        self.freq = _positive("frequency", self.freq, "Hz")
        self.rate = _positive("sample rate", self.rate, "samples/s")
        try:
            self.gain = float(self.gain)
        except (TypeError, ValueError):
            raise SemcomError(f"gain must be a number in dB, got '{self.gain}'") from None
        if not math.isfinite(self.gain):
            raise SemcomError(f"gain must be a finite number in dB, got {self.gain}")
        for name in ("args", "antenna", "address", "path", "len_tag", "description", "hw"):
            value = getattr(self, name)
            if not isinstance(value, str):
                raise SemcomError(f"radio {name} must be a string, got {value!r}")
            if name != "description" and ("\n" in value or "\r" in value):
                raise SemcomError(f"radio {name} must be one line, got {value!r}")
        if self.kind == "file" and not self.path:
            raise SemcomError("radio 'file' needs a path to a recording (e.g. capture.sigmf-data)")
        if self.kind == "zmq":
            zmq_address(self.address)
            if self.zmq_pattern not in ZMQ_PATTERNS:
                raise SemcomError(f"unknown ZeroMQ pattern '{self.zmq_pattern}'; "
                                  f"choose one of {', '.join(ZMQ_PATTERNS)}")
            if isinstance(self.timeout_ms, bool) or not isinstance(self.timeout_ms, int) or self.timeout_ms <= 0:
                raise SemcomError(f"ZeroMQ timeout must be a positive number of milliseconds, got {self.timeout_ms!r}")


def _positive(what: str, value, unit: str) -> float:
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise SemcomError(f"{what} must be a number in {unit}, got '{value}'") from None
    if not (math.isfinite(value) and value > 0):
        raise SemcomError(f"{what} must be a positive number in {unit}, got {value:g}")
    return value


def _one_line(err: BaseException) -> str:
    """A driver's (often multi-line) exception text on one line."""
    return " ".join(line.strip() for line in str(err).splitlines() if line.strip()) or type(err).__name__


# ---------------------------------------------------------------- builders

def tx_sink(cfg: RadioConfig):
    """A hier block with one gr_complex input that sends to the radio ``cfg`` describes."""
    block, cfg = _BUILDERS[cfg.kind](cfg, True)
    return _wrap([block], cfg, True)


def rx_source(cfg: RadioConfig):
    """A hier block with one gr_complex output that receives from the radio ``cfg`` describes.
    Keep a reference to it while the flowgraph runs (it may hold a Python block)."""
    chain, cfg = _BUILDERS[cfg.kind](cfg, False)
    return _wrap(chain if isinstance(chain, list) else [chain], cfg, False)


_ENDPOINT = None


def _wrap(chain: list, cfg: RadioConfig, is_tx: bool):
    global _ENDPOINT
    from gnuradio import gr

    if _ENDPOINT is None:
        class radio_endpoint(gr.hier_block2):
            """One complex stream port around a chain of stock blocks (``.block``: the radio's own, first);
            ``.cfg`` is the config in effect."""

            def __init__(self, chain, cfg, is_tx):
                port, none = gr.io_signature(1, 1, gr.sizeof_gr_complex), gr.io_signature(0, 0, 0)
                gr.hier_block2.__init__(self, f"semcom_radio_{cfg.kind}_{'tx' if is_tx else 'rx'}",
                                        port if is_tx else none, none if is_tx else port)
                self.block, self.chain, self.cfg = chain[0], chain, cfg
                self.connect(self, *chain) if is_tx else self.connect(*chain, self)

        _ENDPOINT = radio_endpoint
    return _ENDPOINT(chain, cfg, is_tx)


def _zmq(cfg: RadioConfig, is_tx: bool):
    from gnuradio import gr, zeromq

    if not is_tx and not cfg.pass_tags:  # GNU Radio's zmq sources die on a message of odd length
        from ..blocks.zmq_source import GAP_ZEROS, zmq_source
        return zmq_source(cfg.address, cfg.zmq_pattern, cfg.timeout_ms, gap_zeros=GAP_ZEROS), cfg
    common = (gr.sizeof_gr_complex, 1, cfg.address, cfg.timeout_ms, cfg.pass_tags, -1)
    make = {("pubsub", True): lambda: zeromq.pub_sink(*common, "", True),
            ("pubsub", False): lambda: zeromq.sub_source(*common, ""),
            ("pushpull", True): lambda: zeromq.push_sink(*common),
            ("pushpull", False): lambda: zeromq.pull_source(*common),
            ("reqrep", True): lambda: zeromq.rep_sink(*common),
            ("reqrep", False): lambda: zeromq.req_source(*common)}[cfg.zmq_pattern, is_tx]
    try:
        return make(), cfg
    except RuntimeError as err:  # zmq bind/connect errors: 'Address already in use', 'Invalid argument'
        side = "bind" if is_tx else "connect to"
        raise SemcomError(f"cannot {side} ZeroMQ address '{cfg.address}': {_one_line(err)}") from None


# ---------------------------------------------------------------- file / SigMF

def sigmf_paths(path: str) -> tuple[str, str]:
    """(data file, metadata file): x.sigmf-data <-> x.sigmf-meta; any other data name gets '.sigmf-meta' added."""
    if path.endswith(SIGMF_META):
        path = path[:-len(SIGMF_META)] + SIGMF_DATA
    base = path[:-len(SIGMF_DATA)] if path.endswith(SIGMF_DATA) else path
    return path, base + SIGMF_META


def sigmf_metadata(rate: float, freq: float, description: str = "", hw: str = "", dataset: str = "",
                   annotations: list | None = None, started: str = "") -> dict:
    """The SigMF metadata of a cf32_le recording started at ``started`` (ISO 8601 UTC; '': now), checked
    against the SigMF schema; ``annotations``: SigMF annotations (their ``semcom:`` fields declare the namespace)."""
    from .. import __version__

    glob = {"core:datatype": "cf32_le", "core:sample_rate": float(rate), "core:version": SIGMF_VERSION,
            "core:description": description or "gr-semcom complex baseband recording",
            "core:recorder": f"gr-semcom {__version__}", "core:hw": hw or "gr-semcom file radio (no hardware)"}
    if dataset:  # a non-conforming dataset name must be named in the metadata
        glob["core:dataset"] = dataset
    annotations = annotations or []
    if any(key.startswith("semcom:") for a in annotations for key in a):
        glob["core:extensions"] = [{"name": "semcom", "version": __version__, "optional": True}]
    started = started or time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    meta = {"global": glob, "captures": [{"core:sample_start": 0, "core:frequency": float(freq),
                                          "core:datetime": started}],
            "annotations": annotations}
    validate_sigmf(meta)
    return meta


def validate_sigmf(meta: dict) -> None:
    """SemcomError (one line) unless ``meta`` passes the sigmf library's validator."""
    import warnings

    from sigmf.validate import validate
    from jsonschema.exceptions import ValidationError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # an undeclared extension is an error here
            validate(meta)
    except (ValidationError, Warning) as err:
        raise SemcomError(f"SigMF metadata fails validation: {_one_line(getattr(err, 'message', err))}") from None


def write_sigmf(path: str, rate: float, freq: float, description: str = "", hw: str = "",
                annotations: list | None = None, started: str = "") -> str:
    """Writes the validated SigMF metadata of the cf32_le recording ``path`` atomically; returns its path."""
    data, meta_path = sigmf_paths(path)
    dataset = "" if data.endswith(SIGMF_DATA) else os.path.basename(data)
    meta = sigmf_metadata(rate, freq, description, hw, dataset, annotations, started)
    folder = os.path.dirname(os.path.abspath(meta_path))
    tmp = os.path.join(folder, f".tmp-{secrets.token_hex(4)}-{os.path.basename(meta_path)}")
    try:  # open's mode 0666 less the umask, as any file the user writes (mkstemp's is 0600)
        with open(tmp, "x") as f:
            json.dump(meta, f, indent=2)
            f.write("\n")
        os.replace(tmp, meta_path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return meta_path


def burst_annotations(bursts) -> list[dict]:
    """SigMF annotations of received bursts (``BurstInfo``), in sample order."""
    return [{"core:sample_start": int(b.position), "core:sample_count": max(1, int(b.samples)),
             "core:label": f"frame {b.header.frame} burst {b.header.segment}",
             "semcom:snr_db": round(float(b.snr_db), 2), "semcom:cfo": round(float(b.cfo), 8),
             "semcom:frame": int(b.header.frame), "semcom:segment": int(b.header.segment),
             "semcom:fec_ok": bool(b.fec_ok)}
            for b in sorted(bursts, key=lambda b: b.position)]


def recording_hw(cfg: RadioConfig) -> str:
    """SigMF core:hw for samples received from the radio ``cfg``."""
    where = {"zmq": cfg.address, "file": cfg.path}.get(cfg.kind, cfg.args)
    return f"gr-semcom {cfg.kind} radio{f' {where}' if where else ''}"


def _parse_sigmf(text, meta_path: str) -> dict:
    try:
        meta = json.loads(text)
        glob = meta["global"]
        captures = meta.get("captures") or [{}]
        out = {"rate": glob.get("core:sample_rate"), "freq": captures[0].get("core:frequency"),
               "datatype": glob["core:datatype"], "description": glob.get("core:description", ""),
               "meta_path": meta_path, "sigmf": meta}
        for key in ("rate", "freq"):
            if out[key] is not None:
                out[key] = float(out[key])
    except (ValueError, KeyError, TypeError, AttributeError, IndexError) as err:
        raise SemcomError(f"{meta_path} is not valid SigMF metadata ({type(err).__name__}: {_one_line(err)})") from None
    return out


def read_sigmf(path: str) -> dict:
    """Reads the SigMF metadata of ``path`` (data or meta file name).

    Returns {'rate': Hz or None, 'freq': Hz or None, 'datatype', 'description',
    'meta_path', 'sigmf': the whole JSON}.
    """
    _, meta_path = sigmf_paths(path)
    try:
        text = options.read_small(meta_path, f"SigMF metadata {meta_path}")
    except SemcomError:
        if not os.path.lexists(meta_path):
            raise SemcomError(f"no SigMF metadata file {meta_path}") from None
        raise
    except OSError as err:
        raise SemcomError(f"{meta_path} is not valid SigMF metadata ({type(err).__name__}: {_one_line(err)})") from None
    return _parse_sigmf(text, meta_path)


def _archive(path: str) -> tuple[dict, int, int]:
    """(metadata, byte offset, byte count) of the one recording in the SigMF archive ``path`` (a tar)."""
    try:
        with tarfile.open(path, "r:") as tar:  # samples are read in place: an uncompressed tar
            members = [m for m in tar.getmembers() if m.isfile()]
            metas = [m for m in members if m.name.endswith(SIGMF_META)]
            if len(metas) != 1:
                raise SemcomError(f"SigMF archive {path} holds {len(metas)} recordings; one is supported")
            data_name = metas[0].name[:-len(SIGMF_META)] + SIGMF_DATA
            datas = [m for m in members if m.name == data_name]
            if not datas:
                raise SemcomError(f"SigMF archive {path} has no {data_name} beside its metadata")
            if metas[0].size > options.MAX_METADATA_BYTES:
                raise SemcomError(f"SigMF archive {path}: metadata of {metas[0].size} bytes is too large")
            info = _parse_sigmf(tar.extractfile(metas[0]).read(), f"{path}:{metas[0].name}")
    except (tarfile.TarError, OSError) as err:
        raise SemcomError(f"cannot read SigMF archive {path}: {_one_line(err)} "
                          "(radio 'file' reads uncompressed tar archives)") from None
    return info, datas[0].offset_data, datas[0].size


def _converter(datatype: str) -> list:
    """Stock blocks from the datatype's items to gr_complex in [-1, 1] (nothing for cf32_le)."""
    from gnuradio import blocks

    if datatype == "ci16_le":
        return [blocks.interleaved_short_to_complex(False, False, 32768.0)]
    if datatype == "ci8":
        return [blocks.interleaved_char_to_complex(False, 128.0)]
    if datatype == "cu8":  # interleaved floats have gr_complex's layout: pairs of them are complex samples
        return [blocks.uchar_to_float(), blocks.add_const_ff(-127.5), blocks.multiply_const_ff(1 / 127.5),
                blocks.stream_to_vector(4, 2)]
    return []


def _resampler(data: str, recorded: float, wanted: float) -> list:
    """A rational resampler from ``recorded`` to ``wanted`` samples/s (nothing when they are equal)."""
    ratio = Fraction(wanted) / Fraction(recorded)
    if ratio == 1:
        return []
    if max(ratio.numerator, ratio.denominator) > MAX_RESAMPLE_TERM:
        raise SemcomError(f"recording {data} is at {recorded:g} samples/s and --rate is {wanted:g}: their ratio "
                          f"{ratio.numerator}/{ratio.denominator} has terms above {MAX_RESAMPLE_TERM}; "
                          "resample the recording to a rate closer to a small multiple of --rate")
    from gnuradio import filter as gr_filter

    return [gr_filter.rational_resampler_ccc(ratio.numerator, ratio.denominator)]


def _file(cfg: RadioConfig, is_tx: bool):
    from gnuradio import blocks, gr

    data, meta_path = sigmf_paths(cfg.path)
    if is_tx:
        try:
            os.makedirs(os.path.dirname(os.path.abspath(data)), exist_ok=True)
            sink = blocks.file_sink(gr.sizeof_gr_complex, data, False)
            sink.set_unbuffered(False)
            write_sigmf(data, cfg.rate, cfg.freq, cfg.description, cfg.hw)
        except (OSError, RuntimeError) as err:
            raise SemcomError(f"cannot write recording {data}: {_one_line(err)}") from None
        return sink, replace(cfg, path=data)
    info, offset, size = None, 0, 0
    if cfg.path.endswith(SIGMF_ARCHIVE) and os.path.isfile(cfg.path):
        data = cfg.path
        info, offset, size = _archive(data)
    elif not os.path.isfile(data):
        raise SemcomError(f"no recording {data} (radio 'file' reads SigMF recordings: x.sigmf-data beside "
                          "x.sigmf-meta, or a .sigmf archive)")
    else:
        size = os.path.getsize(data)
        if os.path.exists(meta_path):
            info = read_sigmf(meta_path)
    datatype = info["datatype"] if info else "cf32_le"
    if datatype not in SAMPLE_BYTES:
        raise SemcomError(f"recording {data} holds '{datatype}' samples; only {', '.join(SAMPLE_BYTES)} "
                          "are supported")
    item = SAMPLE_BYTES[datatype]
    if size == 0 or size % item:
        what = "complex64" if datatype == "cf32_le" else datatype
        raise SemcomError(f"recording {data} has {size} bytes, not a whole positive number of {what} samples "
                          f"({item} bytes each): truncated, or not {datatype}")
    rate = cfg.rate
    if info:
        cfg = replace(cfg, rate=info["rate"] or cfg.rate, freq=info["freq"] or cfg.freq,
                      description=info["description"] or cfg.description)
    cfg = replace(cfg, path=data)
    read = item if datatype == "cf32_le" else item // 2  # converters take I and Q as separate items
    try:  # an archive's samples: the data member's bytes (tar members start on 512-byte blocks)
        source = blocks.file_source(read, data, cfg.repeat, offset // read, size // read if offset else 0)
    except RuntimeError as err:
        raise SemcomError(f"cannot read recording {data}: {_one_line(err)}") from None
    chain = [source] + _converter(datatype)
    if cfg.resample:
        chain += _resampler(data, cfg.rate, rate)
        cfg = replace(cfg, rate=rate)
    return chain, cfg


# ---------------------------------------------------------------- UHD

def _no_usrp(args: str) -> SemcomError:
    return SemcomError(f"no USRP found for device args '{args}' "
                       "(uhd_find_devices lists what is attached; check USB/network and --args)")


def find_usrps(args: str = "") -> list[str]:
    """The USRPs that match ``args``, as UHD's device address strings."""
    # UHD logs an INFO banner on first use: keep the console to warnings unless the user chose a level.
    os.environ.setdefault("UHD_LOG_CONSOLE_LEVEL", "warning")
    from gnuradio import uhd
    from gnuradio.uhd import uhd_python

    # uhd.find_devices() is broken in GR 3.10.5 (it calls the missing find_devices_raw);
    # uhd_python.find is the binding of uhd::device::find.
    try:
        return [d.to_string() for d in uhd_python.find(uhd.device_addr(args))]
    except RuntimeError as err:
        raise SemcomError(f"UHD device search for '{args}' failed: {_one_line(err)}") from None


def _uhd(cfg: RadioConfig, is_tx: bool):
    if not find_usrps(cfg.args):
        raise _no_usrp(cfg.args)
    from gnuradio import uhd

    try:
        stream = uhd.stream_args(cpu_format="fc32", otw_format="sc16", channels=[0])
        addr = uhd.device_addr(cfg.args)
        block = uhd.usrp_sink(addr, stream, cfg.len_tag) if is_tx else uhd.usrp_source(addr, stream)
    except RuntimeError as err:  # e.g. found but busy, firmware/FPGA image missing
        if "No devices found" in str(err):
            raise _no_usrp(cfg.args) from None
        raise SemcomError(f"cannot open USRP '{cfg.args}': {_one_line(err)}") from None
    try:
        block.set_samp_rate(cfg.rate)
        block.set_center_freq(cfg.freq, 0)
        block.set_gain(cfg.gain, 0)
        if cfg.antenna:
            block.set_antenna(cfg.antenna, 0)
    except RuntimeError as err:
        raise SemcomError(f"USRP '{cfg.args}' rejected the settings "
                          f"(rate {cfg.rate:g}, freq {cfg.freq:g}, gain {cfg.gain:g}, antenna '{cfg.antenna}'): "
                          f"{_one_line(err)}") from None
    return block, cfg


# ---------------------------------------------------------------- SoapySDR

def _no_soapy(args: str) -> SemcomError:
    return SemcomError(f"no SoapySDR device found for '{args}' (SoapySDRUtil --find lists what is attached; "
                       "check the device, its SoapySDR driver module and --args)")


def find_soapy(args: str = "") -> list[str] | None:
    """The SoapySDR devices that match ``args``, or None when the SoapySDR Python module is missing."""
    try:
        import SoapySDR
    except ImportError:
        return None
    try:
        found = SoapySDR.Device.enumerate(args)
    except RuntimeError as err:
        raise SemcomError(f"SoapySDR device search for '{args}' failed: {_one_line(err)}") from None
    return [",".join(f"{k}={d[k]}" for k in d.keys()) for d in found]


def _soapy(cfg: RadioConfig, is_tx: bool):
    # Debian ships libsoapysdr without its Python module (python3-soapysdr); then a missing device
    # shows only as the constructor's RuntimeError 'SoapySDR::Device::make() no match'.
    if find_soapy(cfg.args) == []:
        raise _no_soapy(cfg.args)
    from gnuradio import soapy

    make = soapy.sink if is_tx else soapy.source
    try:
        block = make(cfg.args, "fc32", 1, "", "", [""], [""])
    except RuntimeError as err:
        if "no match" in str(err):
            raise _no_soapy(cfg.args) from None
        raise SemcomError(f"cannot open SoapySDR device '{cfg.args}': {_one_line(err)}") from None
    try:
        block.set_sample_rate(0, cfg.rate)
        block.set_frequency(0, cfg.freq)
        block.set_gain(0, cfg.gain)
        if cfg.antenna:
            block.set_antenna(0, cfg.antenna)
        if is_tx and cfg.len_tag:
            block.set_length_tag_name(cfg.len_tag)
    except (RuntimeError, ValueError) as err:
        raise SemcomError(f"SoapySDR device '{cfg.args}' rejected the settings "
                          f"(rate {cfg.rate:g}, freq {cfg.freq:g}, gain {cfg.gain:g}, antenna '{cfg.antenna}'): "
                          f"{_one_line(err)}") from None
    return block, cfg


_BUILDERS = {"zmq": _zmq, "file": _file, "uhd": _uhd, "soapy": _soapy}
