/* -*- c++ -*- */
/*
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "llr_scaling.h"
#include <algorithm>
#include <cmath>

namespace gr {
namespace semcom {

std::vector<float> scale_llrs(const std::vector<float>& values,
                              size_t coded,
                              int bits_per_symbol,
                              const std::vector<double>& noise,
                              float clip)
{
    const size_t symbols = values.size() / static_cast<size_t>(bits_per_symbol);
    if (coded > values.size() || noise.empty() ||
        (noise.size() != 1 && noise.size() != symbols)) {
        return {};
    }
    std::vector<float> llr(coded);
    for (size_t i = 0; i < coded; i++) {
        const double var = noise.size() == 1 ? noise[0] : noise[i / bits_per_symbol];
        const float scaled = static_cast<float>(values[i] / std::max(var, MIN_NOISE_VAR));
        llr[i] = std::isnan(scaled) ? 0.0f : std::clamp(scaled, -clip, clip);
    }
    return llr;
}

} // namespace semcom
} // namespace gr
