/* -*- c++ -*- */
/*
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "llr_scaling.h"
#include "qa_check.h"
#include <cmath>
#include <limits>

using gr::semcom::scale_llrs;

int main()
{
    // one noise variance for all symbols: divided, then clipped
    const std::vector<float> one = scale_llrs({ 1.0f, -2.0f, 30.0f, -30.0f }, 4, 2, { 0.5 }, 20.0f);
    QA_CHECK(one == std::vector<float>({ 2.0f, -4.0f, 20.0f, -20.0f }));

    // one variance per symbol (2 bits each); only the first `coded` values come out
    const std::vector<float> per = scale_llrs({ 1.0f, 1.0f, 1.0f, 1.0f }, 3, 2, { 0.25, 0.5 }, 100.0f);
    QA_CHECK(per == std::vector<float>({ 4.0f, 4.0f, 2.0f }));

    // NaN becomes 0, a zero variance divides by MIN_NOISE_VAR (then clipped), infinities clip
    const float nan = std::numeric_limits<float>::quiet_NaN();
    const float inf = std::numeric_limits<float>::infinity();
    const std::vector<float> odd = scale_llrs({ nan, 1.0f, -inf }, 3, 1, { 0.0 }, 8.0f);
    QA_CHECK(odd == std::vector<float>({ 0.0f, 8.0f, -8.0f }));

    // a variance count that is neither 1 nor one per symbol, or coded beyond the values: empty
    QA_CHECK(scale_llrs({ 1.0f, 1.0f, 1.0f, 1.0f }, 4, 1, { 1.0, 1.0 }, 8.0f).empty());
    QA_CHECK(scale_llrs({ 1.0f, 1.0f }, 3, 1, { 1.0 }, 8.0f).empty());
    QA_CHECK(scale_llrs({ 1.0f, 1.0f }, 2, 1, {}, 8.0f).empty());
    return qa::failures ? 1 : 0;
}
