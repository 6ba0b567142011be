/* -*- c++ -*- */
/*
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "qa_check.h"
#include "sample_limit.h"
#include <cmath>
#include <limits>
#include <stdexcept>

using gr::semcom::sample_limit;
using cf = std::complex<float>;

int main()
{
    const int n = 800;
    std::vector<cf> in(n, cf(0.6f, 0.8f)), out(n);
    in[3] = cf(1e30f, 1e30f);                                 // finite, its square overflows
    in[5] = cf(std::numeric_limits<float>::quiet_NaN(), 0.0f); // non-finite
    in[9] = cf(0.0f, 50.0f);                                   // 50 times the level
    sample_limit limiter(4.0f, 0.0f, 1000.0);
    uint64_t changed = 0;
    const double reference = limiter.run(in.data(), out.data(), n, 0.0, changed);

    QA_CHECK(std::fabs(reference - 1.0) < 1e-6); // the 90th percentile of |x|
    QA_CHECK(changed == 3);
    QA_CHECK(out[0] == in[0]);
    QA_CHECK(out[5] == cf(0.0f, 0.0f));
    QA_CHECK(std::fabs(std::abs(out[3]) - 4.0f) < 1e-4f); // scaled down to limit x reference
    QA_CHECK(std::fabs(out[9].imag() - 4.0f) < 1e-5f && out[9].real() == 0.0f);

    // quiet input: the reference decays with half-life `hold`, down to the new level
    std::vector<cf> quiet(n, cf(0.01f, 0.0f));
    changed = 0;
    const double held = limiter.run(quiet.data(), out.data(), n, 1.0, changed);
    QA_CHECK(std::fabs(held - std::exp2(-0.8)) < 1e-9);
    QA_CHECK(changed == 0);

    // the floor bounds the cap from below
    sample_limit floored(2.0f, 1.0f, 1000.0);
    const cf small[2] = { cf(0.1f, 0.0f), cf(2.5f, 0.0f) }; // level 0.1, floor 1
    cf limited[2];
    changed = 0;
    floored.run(small, limited, 2, 0.0, changed);
    QA_CHECK(limited[0] == small[0] && limited[1] == cf(2.0f, 0.0f) && changed == 1);

    bool threw = false;
    try {
        sample_limit bad(0.0f, 0.0f, 1.0);
    } catch (const std::invalid_argument&) {
        threw = true;
    }
    QA_CHECK(threw);
    return qa::failures ? 1 : 0;
}
