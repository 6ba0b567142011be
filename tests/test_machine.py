"""The CPU summary that benchmark tables carry, from a cpuinfo file."""
import os

from gnuradio.semcom import machine


def _cpuinfo(tmp_path, name, flags):
    path = tmp_path / "cpuinfo"
    block = f"processor\t: {{}}\nmodel name\t: {name}\nflags\t\t: {flags}\n\n"
    path.write_text(block.format(0) + block.format(1))
    return str(path)


def test_summary_names_the_cpu_and_its_vector_units_fastest_first(tmp_path):
    xeon = _cpuinfo(tmp_path, "Intel(R) Xeon(R) Platinum", "fpu sse avx2 avx512f avx512_vnni amx_bf16 amx_tile")
    assert machine.cpu_summary(xeon) == \
        f"Intel(R) Xeon(R) Platinum, {os.cpu_count()} cores, AMX / AVX-512 VNNI / AVX-512 / AVX2"
    epyc = _cpuinfo(tmp_path, "AMD EPYC", "fpu sse avx avx2 fma")
    assert machine.cpu_summary(epyc) == f"AMD EPYC, {os.cpu_count()} cores, AVX2"


def test_summary_without_cpuinfo_still_names_something(tmp_path):
    summary = machine.cpu_summary(str(tmp_path / "absent"))
    assert summary.endswith(f", {os.cpu_count()} cores") and not summary.startswith(",")
