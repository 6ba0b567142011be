/* -*- c++ -*- */
/*
 * gr-semcom's compiled blocks, as the Python module gnuradio.semcom.semcom_python.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include <pybind11/pybind11.h>

#include <gnuradio/semcom/burst_llr.h>
#include <gnuradio/semcom/sample_limiter.h>

namespace py = pybind11;

PYBIND11_MODULE(semcom_python, m)
{
    // the base classes (sync_block, block, basic_block) are gnuradio.gr's
    py::module::import("gnuradio.gr");

    using gr::semcom::sample_limiter;
    py::class_<sample_limiter,
               gr::sync_block,
               gr::block,
               gr::basic_block,
               std::shared_ptr<sample_limiter>>(
        m,
        "sample_limiter",
        "Complex stream in and out: non-finite samples become 0, and magnitudes above "
        "``limit`` times a reference level are scaled down to it, so that one corrupted "
        "sample (a flipped float in a recording, up to 1e38) cannot raise corr_est_cc's "
        "dynamic threshold for a whole work call and hide real preambles. The reference is "
        "the 90th percentile of |x| of each call (every 8th sample), held with a half-life "
        "of ``hold`` samples, and at least ``floor``.")
        .def(py::init(&sample_limiter::make),
             py::arg("limit"),
             py::arg("floor"),
             py::arg("hold"))
        .def_property_readonly("limited",
                               &sample_limiter::limited,
                               "samples zeroed or scaled down so far")
        .def_property_readonly(
            "reference", &sample_limiter::reference, "the held reference level");

    using gr::semcom::burst_llr;
    py::class_<burst_llr, gr::sync_block, gr::block, gr::basic_block, std::shared_ptr<burst_llr>>(
        m,
        "burst_llr",
        py::dynamic_attr(),
        "The soft decoder's output (k values per symbol, from a noise-free max-log table) in, "
        "one LLR PDU per burst out on port 'out': the values times each symbol's 1/N0 from "
        "the burst tag, clipped to +-llr_clip, cut to the tag's coded_bits.")
        .def(py::init(&burst_llr::make), py::arg("bits_per_symbol"), py::arg("llr_clip"))
        .def_property_readonly("bursts_out", &burst_llr::bursts_out, "bursts published")
        .def_property_readonly(
            "dropped", &burst_llr::dropped, "bursts dropped (cut short or malformed tag)");
}
