/* -*- c++ -*- */
/*
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#ifndef INCLUDED_SEMCOM_BURST_LLR_IMPL_H
#define INCLUDED_SEMCOM_BURST_LLR_IMPL_H

#include <gnuradio/semcom/burst_llr.h>
#include <pmt/pmt.h>
#include <atomic>
#include <vector>

namespace gr {
namespace semcom {

class burst_llr_impl : public burst_llr
{
private:
    const int d_k;
    const float d_clip;
    bool d_active = false;
    pmt::pmt_t d_meta;           // the burst's tag dict
    std::vector<float> d_values; // its soft values so far
    size_t d_total = 0;          // k * symbols
    size_t d_coded = 0;
    std::atomic<uint64_t> d_bursts_out{ 0 };
    std::atomic<uint64_t> d_dropped{ 0 };

    void start(const pmt::pmt_t& meta);
    void take(const float* values, size_t n);
    void finish();
    void abandon();

public:
    burst_llr_impl(int bits_per_symbol, float llr_clip);

    uint64_t bursts_out() const override { return d_bursts_out.load(); }
    uint64_t dropped() const override { return d_dropped.load(); }

    int work(int noutput_items,
             gr_vector_const_void_star& input_items,
             gr_vector_void_star& output_items) override;
};

} // namespace semcom
} // namespace gr

#endif /* INCLUDED_SEMCOM_BURST_LLR_IMPL_H */
