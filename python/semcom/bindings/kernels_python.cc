/* -*- c++ -*- */
/*
 * gr-semcom's plain C++ kernels, as the Python module gnuradio.semcom.kernels: no GNU
 * Radio, so the plain modules (phy/) can use them.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include "bcjr.h"
#include "ldpc_decoder.h"

#include <cmath>
#include <complex>
#include <tuple>

namespace py = pybind11;
using gr::semcom::ldpc_decoder;

namespace {
using int_rows = py::array_t<int64_t, py::array::c_style | py::array::forcecast>;
using float_rows = py::array_t<float, py::array::c_style | py::array::forcecast>;
using complex_array = py::array_t<std::complex<double>, py::array::c_style | py::array::forcecast>;
using byte_rows = py::array_t<uint8_t, py::array::c_style | py::array::forcecast>;

ldpc_decoder make_ldpc_decoder(int n, const int_rows& check_vars)
{
    if (check_vars.ndim() != 2) {
        throw py::value_error("check_vars must be 2-D (checks x largest check degree)");
    }
    auto rows = check_vars.unchecked<2>();
    std::vector<std::vector<int>> checks(rows.shape(0));
    for (py::ssize_t c = 0; c < rows.shape(0); c++) {
        for (py::ssize_t j = 0; j < rows.shape(1); j++) {
            if (rows(c, j) != n) {
                checks[c].push_back(static_cast<int>(rows(c, j)));
            }
        }
    }
    return ldpc_decoder(n, checks);
}

py::tuple decode(const ldpc_decoder& self, const float_rows& llr, int max_iter, float alpha)
{
    if (llr.ndim() != 2 || llr.shape(1) != self.n()) {
        throw py::value_error("llr must be 2-D with n = " + std::to_string(self.n()) +
                              " columns");
    }
    if (max_iter < 0) {
        throw py::value_error("max_iter must be >= 0");
    }
    const auto count = static_cast<size_t>(llr.shape(0));
    py::array_t<float> posterior({ llr.shape(0), llr.shape(1) });
    py::array_t<bool> ok(llr.shape(0));
    py::array_t<int32_t> iterations(llr.shape(0));
    const float* in = llr.data();
    float* post = posterior.mutable_data();
    auto* flags = reinterpret_cast<uint8_t*>(ok.mutable_data());
    int32_t* iters = iterations.mutable_data();
    {
        py::gil_scoped_release release;
        self.decode(in, count, max_iter, alpha, post, flags, iters);
    }
    return py::make_tuple(posterior, ok, iterations);
}
py::array_t<double> bcjr_llrs(const complex_array& y,
                             const complex_array& taps,
                             double noise_var,
                             const complex_array& alphabet,
                             const complex_array& history,
                             const byte_rows& label_bits,
                             bool exact)
{
    const auto n = y.size();
    const int memory = static_cast<int>(taps.size()) - 1;
    if (y.ndim() != 1 || taps.ndim() != 1 || memory < 1 || history.size() < memory) {
        throw py::value_error("y and taps must be 1-D, with at least 2 taps and as many known "
                              "symbols before y as taps after the first");
    }
    if (alphabet.ndim() != 2 || alphabet.shape(0) != n || label_bits.ndim() != 2 ||
        label_bits.shape(0) != alphabet.shape(1)) {
        throw py::value_error("alphabet must be (len(y), M) and label_bits (M, k)");
    }
    const int m = static_cast<int>(alphabet.shape(1));
    const int k = static_cast<int>(label_bits.shape(1));
    double states = std::pow(static_cast<double>(m), memory);
    if (m < 2 || states * m > (1 << 20) || !(noise_var > 0)) {
        throw py::value_error("a trellis needs 2 or more points, at most 2**20 branches per "
                              "symbol, and a positive noise variance");
    }
    py::array_t<double> llr({ n, static_cast<py::ssize_t>(k) });
    const auto* known = history.data() + (history.size() - memory);
    double* out = llr.mutable_data();
    {
        py::gil_scoped_release release;
        gr::semcom::bcjr_llrs(y.data(), static_cast<size_t>(n), taps.data(), memory, noise_var,
                              alphabet.data(), m, known, label_bits.data(), k, exact, out);
    }
    return llr;
}
} // namespace

PYBIND11_MODULE(kernels, m)
{
    py::class_<ldpc_decoder>(
        m,
        "ldpc_decoder",
        "Layered normalised min-sum LDPC decoder, many codewords at once in SIMD lanes; each "
        "codeword stops when it satisfies every check. LLRs: positive = bit 1.")
        .def(py::init(&make_ldpc_decoder),
             py::arg("n"),
             py::arg("check_vars"),
             "check_vars: (m, largest check degree) variable indices per check, padded with n")
        .def_property_readonly("n", &ldpc_decoder::n)
        .def_property_readonly("m", &ldpc_decoder::m)
        .def("decode",
             &decode,
             py::arg("llr"),
             py::arg("max_iter"),
             py::arg("alpha"),
             "llr (codewords, n) -> (posterior LLRs (codewords, n) float32, ok (codewords,) "
             "bool: every check holds, iterations (codewords,) int32)");
    m.def("bcjr_llrs",
          &bcjr_llrs,
          py::arg("y"),
          py::arg("taps"),
          py::arg("noise_var"),
          py::arg("alphabet"),
          py::arg("history"),
          py::arg("label_bits"),
          py::arg("exact"),
          "Bit LLRs (len(y), k) of the symbols behind y[i] = sum_l taps[l] s[i - l] + noise: "
          "s[i] one of alphabet[i] (M points), history the symbols before y[0] (oldest first), "
          "label_bits (M, k); exact log-sum-exp or max-log (phy/trellis.py).");
}
