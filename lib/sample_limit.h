/* -*- c++ -*- */
/*
 * gr-semcom: sample_limiter's arithmetic, without GNU Radio.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#ifndef INCLUDED_SEMCOM_SAMPLE_LIMIT_H
#define INCLUDED_SEMCOM_SAMPLE_LIMIT_H

#include <complex>
#include <cstdint>
#include <vector>

namespace gr {
namespace semcom {

/*!
 * Non-finite samples become 0 and magnitudes above \p limit times a reference level are
 * scaled down to it. The reference is the 90th percentile of |x| of each call (every 8th
 * sample), held with a half-life of \p hold samples, and at least \p floor.
 */
class sample_limit
{
public:
    sample_limit(float limit, float floor, double hold);

    /*!
     * Limits \p n samples of \p in into \p out, given the held \p reference; returns the
     * new reference and adds the samples zeroed or scaled down to \p changed.
     */
    double run(const std::complex<float>* in,
               std::complex<float>* out,
               int n,
               double reference,
               uint64_t& changed);

private:
    const float d_limit;
    const float d_floor;
    const double d_hold;
    std::vector<float> d_mag;
    std::vector<float> d_sub;
};

} // namespace semcom
} // namespace gr

#endif /* INCLUDED_SEMCOM_SAMPLE_LIMIT_H */
