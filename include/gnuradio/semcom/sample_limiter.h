/* -*- c++ -*- */
/*
 * gr-semcom: the burst receiver's input limiter.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#ifndef INCLUDED_SEMCOM_SAMPLE_LIMITER_H
#define INCLUDED_SEMCOM_SAMPLE_LIMITER_H

#include <gnuradio/sync_block.h>
#include <cstdint>

namespace gr {
namespace semcom {

/*!
 * \brief Complex stream in and out: non-finite samples become 0, and magnitudes above
 * \p limit times a reference level are scaled down to it.
 *
 * One corrupted sample (a flipped float in a recording, up to 1e38) would otherwise raise
 * corr_est_cc's dynamic threshold for a whole work call and hide real preambles. The
 * reference is the 90th percentile of |x| of each call (every 8th sample), held with a
 * half-life of \p hold samples (so it stays at the signal's level between bursts), and at
 * least \p floor; sparse corruption does not move a 90th percentile.
 */
class sample_limiter : virtual public gr::sync_block
{
public:
    typedef std::shared_ptr<sample_limiter> sptr;

    static sptr make(float limit, float floor, double hold);

    //! Samples zeroed or scaled down so far.
    virtual uint64_t limited() const = 0;
    //! The held reference level (|x| units).
    virtual double reference() const = 0;
};

} // namespace semcom
} // namespace gr

#endif /* INCLUDED_SEMCOM_SAMPLE_LIMITER_H */
