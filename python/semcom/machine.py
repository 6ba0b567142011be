"""This machine's CPU: its model name and the vector units that set ONNX Runtime's and PyTorch's
speed (read from /proc/cpuinfo; the platform's processor name where that cannot be read). For
benchmark tables and model cards: the same model runs 2 to 3 times slower on a CPU with AVX2
alone than on one with AVX-512 and AMX."""
from __future__ import annotations

import os
import platform

# (cpuinfo flag, name), fastest first; a summary names every one the CPU has
VECTOR_UNITS = (("amx_bf16", "AMX"), ("avx512_bf16", "AVX-512 BF16"), ("avx512_vnni", "AVX-512 VNNI"),
                ("avx512f", "AVX-512"), ("avx_vnni", "AVX-VNNI"), ("avx2", "AVX2"))


def _cpuinfo(path: str = "/proc/cpuinfo") -> tuple[str, set[str]]:
    name, flags = "", set()
    try:
        with open(path) as f:
            for line in f:
                key, _, value = line.partition(":")
                key = key.strip()
                if key == "model name" and not name:
                    name = value.strip()
                elif key == "flags" and not flags:
                    flags = set(value.split())
    except OSError:
        pass
    return name or platform.processor() or platform.machine() or "unknown CPU", flags


def cpu_name() -> str:
    return _cpuinfo()[0]


def cpu_flags() -> set[str]:
    return _cpuinfo()[1]


def cpu_summary(path: str = "/proc/cpuinfo") -> str:
    """e.g. 'AMD EPYC, 2 cores, AVX2' or 'Intel(R) Xeon(R) Processor, 2 cores, AMX / AVX-512 ...'."""
    name, flags = _cpuinfo(path)
    units = [label for flag, label in VECTOR_UNITS if flag in flags]
    return f"{name}, {os.cpu_count()} cores" + (f", {' / '.join(units)}" if units else "")
