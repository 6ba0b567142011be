/* -*- c++ -*- */
/*
 * gr-semcom: soft-decoder values to channel LLRs (burst_llr's arithmetic, without GNU Radio).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#ifndef INCLUDED_SEMCOM_LLR_SCALING_H
#define INCLUDED_SEMCOM_LLR_SCALING_H

#include <cstddef>
#include <vector>

namespace gr {
namespace semcom {

//! Noise variances below this count as this (no division by zero).
constexpr double MIN_NOISE_VAR = 1e-12;

/*!
 * The first \p coded of \p values (\p bits_per_symbol per symbol) divided by their symbol's
 * noise variance (\p noise: one for all symbols, or one per symbol), clipped to +-\p clip;
 * NaN becomes 0. Empty when \p noise has neither 1 nor values.size() / bits_per_symbol
 * entries, or \p coded exceeds values.size().
 */
std::vector<float> scale_llrs(const std::vector<float>& values,
                              size_t coded,
                              int bits_per_symbol,
                              const std::vector<double>& noise,
                              float clip);

} // namespace semcom
} // namespace gr

#endif /* INCLUDED_SEMCOM_LLR_SCALING_H */
