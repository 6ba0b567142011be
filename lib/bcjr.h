/* -*- c++ -*- */
/*
 * gr-semcom: soft-output sequence detection over a short intersymbol-interference channel
 * (BCJR), phy/trellis.py's arithmetic without numpy.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#ifndef INCLUDED_SEMCOM_BCJR_H
#define INCLUDED_SEMCOM_BCJR_H

#include <complex>
#include <cstddef>
#include <cstdint>

namespace gr {
namespace semcom {

/*!
 * Bit LLRs (positive means 1) of the \p n symbols behind \p y, where
 * y[i] = sum_l taps[l] s[i - l] + complex Gaussian noise of variance \p noise_var.
 * \p taps has \p memory + 1 entries (memory >= 1); s[i] is one of the \p m points
 * alphabet[i * m ... i * m + m - 1] (m equal points: a known symbol); the \p memory symbols
 * before y[0] are \p history (oldest first). \p label_bits (m x k, row-major) are each point's
 * bits. \p exact: log-sum-exp over paths and labels (its correction term tabulated, within
 * 2e-4 per addition), else max-log. \p llr: n x k, row-major.
 */
void bcjr_llrs(const std::complex<double>* y,
               size_t n,
               const std::complex<double>* taps,
               int memory,
               double noise_var,
               const std::complex<double>* alphabet,
               int m,
               const std::complex<double>* history,
               const uint8_t* label_bits,
               int k,
               bool exact,
               double* llr);

} // namespace semcom
} // namespace gr

#endif /* INCLUDED_SEMCOM_BCJR_H */
