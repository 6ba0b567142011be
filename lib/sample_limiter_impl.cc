/* -*- c++ -*- */
/*
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "sample_limiter_impl.h"
#include <gnuradio/io_signature.h>

namespace gr {
namespace semcom {

sample_limiter::sptr sample_limiter::make(float limit, float floor, double hold)
{
    return gnuradio::make_block_sptr<sample_limiter_impl>(limit, floor, hold);
}

sample_limiter_impl::sample_limiter_impl(float limit, float floor, double hold)
    : gr::sync_block("semcom_sample_limiter",
                     gr::io_signature::make(1, 1, sizeof(gr_complex)),
                     gr::io_signature::make(1, 1, sizeof(gr_complex))),
      d_limit(limit, floor, hold)
{
}

int sample_limiter_impl::work(int noutput_items,
                              gr_vector_const_void_star& input_items,
                              gr_vector_void_star& output_items)
{
    const auto* in = static_cast<const gr_complex*>(input_items[0]);
    auto* out = static_cast<gr_complex*>(output_items[0]);
    uint64_t changed = 0;
    d_reference.store(d_limit.run(in, out, noutput_items, d_reference.load(), changed));
    d_limited += changed;
    return noutput_items;
}

} // namespace semcom
} // namespace gr
