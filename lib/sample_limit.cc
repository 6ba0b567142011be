/* -*- c++ -*- */
/*
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "sample_limit.h"
#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace gr {
namespace semcom {

namespace {
constexpr int SUBSAMPLE = 8;       // the reference level reads every 8th magnitude
constexpr double PERCENTILE = 0.9; // of these, the 90th percentile
} // namespace

sample_limit::sample_limit(float limit, float floor, double hold)
    : d_limit(limit), d_floor(floor), d_hold(hold)
{
    if (!(limit > 0.0f) || !(floor >= 0.0f) || !(hold > 0.0) || !std::isfinite(limit) ||
        !std::isfinite(floor) || !std::isfinite(hold)) {
        throw std::invalid_argument(
            "sample_limiter: limit and hold must be finite and positive, floor finite and >= 0");
    }
}

double sample_limit::run(const std::complex<float>* in,
                         std::complex<float>* out,
                         int n,
                         double reference,
                         uint64_t& changed)
{
    if (n <= 0) {
        return reference;
    }
    d_mag.resize(n);
    float* mag = d_mag.data();
    for (int i = 0; i < n; i++) {
        const float re = in[i].real(), im = in[i].imag();
        float m = std::sqrt(re * re + im * im);
        if (!std::isfinite(m)) {
            if (std::isfinite(re) && std::isfinite(im)) {
                m = std::hypot(re, im); // finite but huge: the square overflowed
            } else {
                m = -1.0f; // non-finite: marked, becomes 0
            }
        }
        mag[i] = m;
    }

    d_sub.clear();
    for (int i = 0; i < n; i += SUBSAMPLE) {
        d_sub.push_back(std::max(mag[i], 0.0f));
    }
    const auto k = static_cast<size_t>(PERCENTILE * static_cast<double>(d_sub.size() - 1));
    std::nth_element(d_sub.begin(), d_sub.begin() + k, d_sub.end());
    const double level = d_sub[k];
    reference = std::max(reference * std::exp2(-static_cast<double>(n) / d_hold), level);
    const float cap = static_cast<float>(d_limit * std::max(reference, static_cast<double>(d_floor)));

    for (int i = 0; i < n; i++) {
        const float m = mag[i];
        if (m > cap) {
            out[i] = in[i] * (cap / m);
            changed++;
        } else if (m < 0.0f) {
            out[i] = std::complex<float>(0.0f, 0.0f);
            changed++;
        } else {
            out[i] = in[i];
        }
    }
    return reference;
}

} // namespace semcom
} // namespace gr
