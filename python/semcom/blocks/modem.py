"""The one bits <-> symbols stack, made of GNU Radio objects; both the ideal link (``phy_tx`` /
``phy_rx``) and the burst chain (``burst``) use it.

* Constellations are ``digital.constellation`` objects: the project's Gray, unit-energy QPSK /
  16-QAM / 64-QAM by default, or any object a user passes (GRC's Constellation Object) whose
  points have unit average energy. Its labels are read back from the object itself
  (``map_to_points_v``), so mapping and demapping follow the object, not our tables.
* Soft decisions come from gr-digital's ``constellation_soft_decoder_cf`` reading a table:
  exact LLRs at one noise variance (a whole ideal-link frame), or, in a stream of bursts with
  different noise, the noise-free max-log table (``soft_lut.build_stream_table``) that the
  burst's 1/N0 turns into its LLRs.
* FEC: gr-fec's LDPC encoder objects (``ldpc_par_mtrx_encoder`` from the alist), and as
  decoder the project's vectorised min-sum or gr-fec's ``ldpc_decoder``.
"""
from __future__ import annotations

import threading

import numpy as np
from gnuradio import digital, fec, gr

from ..errors import SemcomError
from ..phy import ldpc, soft_lut
from ..phy.constellations import (BURST_MODULATIONS, MAX_BITS, Constellation, burst_modulation_of, constellation,
                                  labelled)
from ..phy.link import LLR_CLIP, LinkConfig
from ..options import check
from .stream_run import run_chain

GR_LDPC_SIGMA = 0.5  # fec.ldpc_decoder computes LLR = 2*x/sigma^2 from its input x
HARD_LLR = 20.0  # magnitude given to hard decisions of the gr-fec decoder
GR_FAILED_DISAGREEMENT = 0.25  # gr-fec output re-encoded disagrees with the channel's hard bits in more: failed
FEC_BACKENDS = ("minsum", "gnuradio")


def project_constellation(modulation: str) -> digital.constellation:
    """A new ``digital.constellation`` with the project's points, Gray labels and unit energy."""
    points = [complex(p) for p in constellation(modulation).points]
    return digital.constellation_calcdist(points, [], 1, 1, digital.constellation.NO_NORMALIZATION)


def as_constellation(obj) -> digital.constellation:
    """``obj`` itself when it is a ``digital.constellation``, else the project's one named ``obj``."""
    if isinstance(obj, str):
        return project_constellation(obj)
    if hasattr(obj, "base") and not hasattr(obj, "map_to_points_v"):
        obj = obj.base()  # the Python wrappers of digital.constellation_* expose the base object
    if not hasattr(obj, "map_to_points_v"):
        raise SemcomError(f"constellation must be a modulation name or a digital.constellation, got {obj!r}")
    return obj


def normalised(obj) -> digital.constellation:
    """A ``digital.constellation`` as a GRC user makes it, made usable: its points scaled to unit
    average energy and ordered by label (label ``s`` on point ``pre_diff_code[s]`` when the object
    applies its pre-diff code, as gr-digital's ``generic_mod`` maps it, else on point ``s``), so
    that label = index for the whole stack. Modulation names give the project's constellation."""
    obj = as_constellation(obj)
    const = _labelled(obj)
    current = np.array([complex(obj.map_to_points_v(label)[0]) for label in range(len(const.points))])
    if np.allclose(current, const.points, atol=1e-6):
        return obj
    return digital.constellation_calcdist([complex(p) for p in const.points], [], int(obj.rotational_symmetry()), 1,
                                          digital.constellation.NO_NORMALIZATION)


def _labelled(obj) -> Constellation:
    if obj.dimensionality() != 1:
        raise SemcomError("constellation must be one-dimensional (complex points)")
    code = np.argsort(obj.pre_diff_code()) if obj.apply_pre_diff_code() else None  # label of each point
    return labelled([complex(p) for p in obj.points()], code)


def plain(obj) -> Constellation:
    """The points of ``obj`` indexed by the label GNU Radio maps to them (unit energy checked)."""
    obj = as_constellation(obj)
    k = int(obj.bits_per_symbol())
    if obj.dimensionality() != 1 or not 1 <= k <= MAX_BITS:
        raise SemcomError(f"constellation must be one-dimensional with 2 to {1 << MAX_BITS} points")
    points = np.array([complex(obj.map_to_points_v(label)[0]) for label in range(1 << k)])
    energy = float(np.mean(np.abs(points) ** 2))
    if abs(energy - 1) > 0.01:
        raise SemcomError(f"constellation has average energy {energy:.3f}; give it unit energy "
                          f"(points / {np.sqrt(energy):.4f}) so that SNR = Es/N0 = 1/N0")
    return labelled(points)


def modulation_of(obj) -> str:
    """The burst modulation with as many points (what burst headers carry), or the name
    ``constellations.labelled`` registers for a size no burst modulation has (ideal link only)."""
    const = plain(normalised(obj))
    return burst_modulation_of(const) or const.name


def resolve(modulation, given=None) -> tuple[digital.constellation, str]:
    """(the stack's constellation object, the modulation name the link carries) for a block's
    ``modulation`` (a name or a ``digital.constellation``) and the ``digital.constellation``
    ``given`` instead of the project's."""
    if isinstance(modulation, str):
        modulation = check("modulation", modulation)
    obj = normalised(given if given is not None else modulation)
    name = modulation_of(obj)
    if isinstance(modulation, str) and name != modulation:
        raise SemcomError(f"constellation has {1 << obj.bits_per_symbol()} points; {modulation} has "
                          f"{1 << constellation(modulation).bits_per_symbol}")
    return obj, name


def burst_modulation(modulation) -> str:
    """The name a burst header carries for ``modulation`` (one of ``BURST_MODULATIONS`` or a
    ``digital.constellation``)."""
    if isinstance(modulation, str) and modulation in BURST_MODULATIONS:
        return modulation
    name = resolve(modulation)[1]
    if name not in BURST_MODULATIONS:
        raise SemcomError(f"burst headers carry {', '.join(BURST_MODULATIONS)}; this constellation has "
                          f"{len(constellation(name).points)} points (the ideal link takes it)")
    return name


def labels(bits: np.ndarray, k: int) -> np.ndarray:
    """Bits (one per byte, MSB first) -> k-bit symbol labels; zero-padded to whole symbols."""
    bits = np.asarray(bits, np.uint8)
    padded = np.zeros(-(-bits.size // k) * k, np.uint8)
    padded[:bits.size] = bits
    return padded.reshape(-1, k) @ (1 << np.arange(k - 1, -1, -1)).astype(np.uint8)


class SymbolMapper:
    """Bits -> symbols through a ``digital.constellation``: what ``constellation_encoder_bc``
    emits for the packed labels, as one vector operation on the object's own points."""

    def __init__(self, obj):
        self.obj = normalised(obj)
        self.const = plain(self.obj)
        self.modulation = modulation_of(self.obj)  # what burst headers of its bursts say

    @property
    def bits_per_symbol(self) -> int:
        return self.const.bits_per_symbol

    def map(self, bits: np.ndarray) -> np.ndarray:
        return self.const.points[labels(bits, self.bits_per_symbol)].astype(np.complex64)


_STREAM_TABLES: dict[int, tuple] = {}  # id(object) -> (object, input scale)
_PROJECT_STREAM: dict[str, digital.constellation] = {}
_STREAM_LOCK = threading.Lock()


def load_table(obj, table: np.ndarray, precision: int) -> None:
    """A soft-decision table into a ``digital.constellation``: as a float32 array, which crosses
    pybind11 about twice as fast as nested lists (0.15 s against 0.37 s for 16-QAM's stream table)."""
    obj.set_soft_dec_lut(np.asarray(table, np.float32), precision)


def install_stream_table(obj) -> float:
    """Loads the noise-free max-log table of ``obj`` scaled to unit energy into ``obj`` itself (once
    per object), so a soft decoder made of a stock object reads unit-energy symbols; returns the
    input scale that maps symbols onto the table's [-1, 1) square."""
    obj = as_constellation(obj)
    const = plain(normalised(obj))
    with _STREAM_LOCK:
        key = id(obj)
        if key not in _STREAM_TABLES or _STREAM_TABLES[key][0] is not obj:
            load_table(obj, soft_lut.build_stream_table(const), soft_lut.STREAM_PRECISION)
            _STREAM_TABLES[key] = (obj, 1.0 / soft_lut.stream_axis_limit(const))
        return _STREAM_TABLES[key][1]


def stream_constellation(modulation: str) -> digital.constellation:
    """The project's constellation for ``modulation``, one per process, with its stream table."""
    with _STREAM_LOCK:
        cached = _PROJECT_STREAM.get(modulation)
    if cached is None:
        cached = project_constellation(modulation)
        install_stream_table(cached)
        with _STREAM_LOCK:
            cached = _PROJECT_STREAM.setdefault(modulation, cached)
    return cached



def encoder_object(fec_code: str, given=None):
    """gr-fec's LDPC encoder object for a code name or user code (alist), or None when uncoded.
    ``given``: a gr-fec encoder definition to use instead, once checked against the code."""
    code = LinkConfig("qpsk", fec_code).code
    if code is None:
        if given is not None:
            raise SemcomError("an LDPC encoder definition was given, but the FEC is 'none'")
        return None
    if given is None:
        return fec.ldpc_par_mtrx_encoder.make_H(fec.ldpc_H_matrix(*code.encoder_alist()))
    given = check_fec_object(given, code, "encoder", code.k, code.n)
    word = np.random.default_rng(code.n).integers(0, 2, code.k).astype(np.uint8)
    out = run_chain(word, [lambda: fec.encoder(given, gr.sizeof_char, gr.sizeof_char)], np.uint8,
                    out_per_in=1 / code.rate, tail=0)
    if not np.array_equal(out, code.encode(word)[0]):
        raise SemcomError(f"the LDPC encoder definition does not encode {code.name} as [parity | information] "
                          "(gr-fec's ldpc_par_mtrx_encoder from that alist does); the receiver could not decode it")
    return given


def check_fec_object(obj, code: ldpc.LdpcCode, kind: str, size_in: int, size_out: int):
    """A gr-fec encoder/decoder definition (GRC's is a list when it has dimensions: its first),
    checked to take ``size_in`` and give ``size_out`` items per codeword of ``code``."""
    if isinstance(obj, (list, tuple)):
        obj = obj[0] if obj else None
        while isinstance(obj, (list, tuple)):
            obj = obj[0] if obj else None
    if not (hasattr(obj, "get_input_size") and hasattr(obj, "get_output_size")):
        raise SemcomError(f"LDPC {kind} definition must be a gr-fec {kind} object, got {obj!r}")
    sizes = (int(obj.get_input_size()), int(obj.get_output_size()))
    if sizes != (size_in, size_out):
        raise SemcomError(f"the LDPC {kind} definition maps {sizes[0]} to {sizes[1]} bits; {code.name} "
                          f"(n={code.n}, k={code.k}) needs {size_in} to {size_out}")
    return obj


class FecDecoder:
    """Channel LLRs of whole codewords -> payload LLRs and the number of failed codewords.

    ``minsum``: the project's vectorised normalised min-sum (``ldpc.LdpcCode.decode``), which
    knows which codewords failed. ``gnuradio``: gr-fec's ``ldpc_decoder`` in ``fec.decoder``, fed
    LLR*sigma^2/2 (the BPSK-like values it expects in 3.10.5); it outputs hard information bits
    only, so a codeword counts as failed when its re-encoding disagrees with the channel's hard
    decisions in more than ``GR_FAILED_DISAGREEMENT`` of its bits.
    """

    def __init__(self, backend: str = "minsum", max_iterations: int = 50, code: ldpc.LdpcCode | None = None,
                 decoder=None):
        if backend not in FEC_BACKENDS:
            raise SemcomError(f"unknown FEC decoder '{backend}'; choose one of {', '.join(FEC_BACKENDS)}")
        self.backend, self.max_iterations = backend, int(max_iterations)
        self.given = None  # (code, gr-fec decoder definition) the gnuradio backend uses for that code
        if decoder is not None:
            if code is None:
                raise SemcomError("an LDPC decoder definition needs its alist (the code it decodes)")
            self.given = (code, check_fec_object(decoder, code, "decoder", code.n, code.k))

    def decode(self, link: LinkConfig, llr: np.ndarray, payload_bits: int) -> tuple[np.ndarray, int]:
        if self.backend == "minsum" or link.code is None:
            return link.decode(llr, payload_bits, self.max_iterations)
        code: ldpc.LdpcCode = link.code
        coded = link.coded_bits(payload_bits)
        llr = np.clip(np.asarray(llr, np.float32)[:coded], -LLR_CLIP, LLR_CLIP)
        if llr.size < coded:
            raise ValueError(f"{llr.size} LLRs for {payload_bits} payload bits, which need {coded}")
        if self.given is not None and self.given[0].same_code(code):
            decoder = self.given[1]
        else:
            decoder = fec.ldpc_decoder.make(code.gnuradio_alist(), GR_LDPC_SIGMA, self.max_iterations)
        bits = run_chain(llr * (GR_LDPC_SIGMA ** 2 / 2), [lambda: fec.decoder(decoder, gr.sizeof_float, gr.sizeof_char)],
                         np.uint8, out_per_in=code.rate, tail=0)
        info = bits.reshape(-1, code.k)
        disagree = (code.encode(info) != (llr.reshape(-1, code.n) > 0)).mean(axis=1)
        failed = int((disagree > GR_FAILED_DISAGREEMENT).sum())
        return np.where(info.ravel()[:payload_bits] > 0, HARD_LLR, -HARD_LLR).astype(np.float32), failed
