/* -*- c++ -*- */
/*
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#ifndef INCLUDED_SEMCOM_SAMPLE_LIMITER_IMPL_H
#define INCLUDED_SEMCOM_SAMPLE_LIMITER_IMPL_H

#include "sample_limit.h"
#include <gnuradio/semcom/sample_limiter.h>
#include <atomic>

namespace gr {
namespace semcom {

class sample_limiter_impl : public sample_limiter
{
private:
    sample_limit d_limit;
    std::atomic<double> d_reference{ 0.0 }; // read by reference() from other threads
    std::atomic<uint64_t> d_limited{ 0 };

public:
    sample_limiter_impl(float limit, float floor, double hold);

    uint64_t limited() const override { return d_limited.load(); }
    double reference() const override { return d_reference.load(); }

    int work(int noutput_items,
             gr_vector_const_void_star& input_items,
             gr_vector_void_star& output_items) override;
};

} // namespace semcom
} // namespace gr

#endif /* INCLUDED_SEMCOM_SAMPLE_LIMITER_IMPL_H */
