/* -*- c++ -*- */
/*
 * gr-semcom's plain C++ kernels, as the Python module gnuradio.semcom.kernels: no GNU
 * Radio, so the plain modules (phy/) can use them.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include "ldpc_decoder.h"

#include <tuple>

namespace py = pybind11;
using gr::semcom::ldpc_decoder;

namespace {
using int_rows = py::array_t<int64_t, py::array::c_style | py::array::forcecast>;
using float_rows = py::array_t<float, py::array::c_style | py::array::forcecast>;

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
}
