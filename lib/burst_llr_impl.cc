/* -*- c++ -*- */
/*
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "burst_llr_impl.h"
#include "llr_scaling.h"
#include <gnuradio/io_signature.h>
#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace gr {
namespace semcom {

namespace {
const pmt::pmt_t BURST = pmt::intern("burst");
const pmt::pmt_t EXPIRE = pmt::intern("expire");
const pmt::pmt_t SYMBOLS = pmt::intern("symbols");
const pmt::pmt_t CODED_BITS = pmt::intern("coded_bits");
const pmt::pmt_t NOISE_VAR = pmt::intern("noise_var");
const pmt::pmt_t OUT = pmt::intern("out");
// a tag cannot make this block hold more than this many values (64k symbols of 64-QAM)
constexpr long MAX_VALUES = 1L << 22;
} // namespace

burst_llr::sptr burst_llr::make(int bits_per_symbol, float llr_clip)
{
    return gnuradio::make_block_sptr<burst_llr_impl>(bits_per_symbol, llr_clip);
}

burst_llr_impl::burst_llr_impl(int bits_per_symbol, float llr_clip)
    : gr::sync_block("semcom_burst_llr",
                     gr::io_signature::make(1, 1, sizeof(float)),
                     gr::io_signature::make(0, 0, 0)),
      d_k(bits_per_symbol),
      d_clip(llr_clip)
{
    if (bits_per_symbol < 1 || bits_per_symbol > 16 || !(llr_clip > 0.0f) ||
        !std::isfinite(llr_clip)) {
        throw std::invalid_argument(
            "burst_llr: bits_per_symbol must be 1..16 and llr_clip finite and positive");
    }
    message_port_register_out(OUT);
}

void burst_llr_impl::abandon()
{
    if (d_active) {
        d_dropped++; // the stream lost part of a burst
        d_active = false;
    }
}

void burst_llr_impl::start(const pmt::pmt_t& meta)
{
    abandon();
    const pmt::pmt_t symbols = pmt::dict_ref(meta, SYMBOLS, pmt::PMT_NIL);
    const pmt::pmt_t coded = pmt::dict_ref(meta, CODED_BITS, pmt::PMT_NIL);
    const long n = pmt::is_integer(symbols) ? pmt::to_long(symbols) * d_k : -1;
    const long c = pmt::is_integer(coded) ? pmt::to_long(coded) : -1;
    if (n < 0 || n > MAX_VALUES || c < 0 || c > n) {
        d_dropped++;
        d_logger->warn("dropped a burst: its tag does not give symbols and coded_bits "
                       "(0 <= coded_bits <= bits per symbol x symbols <= {:d})",
                       MAX_VALUES);
        return;
    }
    d_meta = meta;
    d_total = static_cast<size_t>(n);
    d_coded = static_cast<size_t>(c);
    d_values.clear();
    d_values.reserve(d_total);
    d_active = true;
    if (d_total == 0) {
        finish();
    }
}

void burst_llr_impl::take(const float* values, size_t n)
{
    if (!d_active || n == 0) {
        return;
    }
    const size_t m = std::min(n, d_total - d_values.size());
    d_values.insert(d_values.end(), values, values + m);
    if (d_values.size() == d_total) {
        finish();
    }
}

void burst_llr_impl::finish()
{
    d_active = false;
    const size_t symbols = d_total / d_k;
    const pmt::pmt_t nv = pmt::dict_ref(d_meta, NOISE_VAR, pmt::PMT_NIL);
    std::vector<double> noise;
    if (pmt::is_f32vector(nv)) {
        const std::vector<float> v = pmt::f32vector_elements(nv);
        noise.assign(v.begin(), v.end());
    } else if (pmt::is_f64vector(nv)) {
        noise = pmt::f64vector_elements(nv);
    } else if (pmt::is_number(nv) && !pmt::is_complex(nv)) {
        noise.assign(1, pmt::to_double(nv));
    }
    if (noise.empty() || (noise.size() != 1 && noise.size() != symbols)) {
        d_dropped++;
        d_logger->warn("dropped a burst: its noise_var has {:d} values for {:d} symbols",
                       noise.size(),
                       symbols);
        return;
    }
    const std::vector<float> llr = scale_llrs(d_values, d_coded, d_k, noise, d_clip);
    double sum = 0.0;
    for (const double v : noise) {
        sum += v;
    }
    pmt::pmt_t meta = pmt::dict_delete(d_meta, SYMBOLS);
    meta = pmt::dict_delete(meta, CODED_BITS);
    meta = pmt::dict_add(meta, NOISE_VAR, pmt::from_double(sum / noise.size()));
    d_meta = pmt::PMT_NIL;
    d_bursts_out++;
    message_port_pub(OUT, pmt::cons(meta, pmt::init_f32vector(llr.size(), llr)));
}

int burst_llr_impl::work(int noutput_items,
                         gr_vector_const_void_star& input_items,
                         gr_vector_void_star& output_items)
{
    const auto* in = static_cast<const float*>(input_items[0]);
    const uint64_t first = nitems_read(0);
    std::vector<gr::tag_t> tags;
    get_tags_in_window(tags, 0, 0, noutput_items);
    std::sort(tags.begin(), tags.end(), gr::tag_t::offset_compare);
    size_t pos = 0;
    for (const auto& tag : tags) {
        const bool burst = pmt::eqv(tag.key, BURST);
        if (!burst && !pmt::eqv(tag.key, EXPIRE)) {
            continue;
        }
        const size_t rel = static_cast<size_t>(tag.offset - first);
        take(in + pos, rel - pos);
        pos = rel;
        if (!pmt::is_dict(tag.value)) {
            abandon();
            d_dropped++;
            d_logger->warn("dropped a burst: its tag's value is not a dict");
            continue;
        }
        if (burst) {
            start(tag.value);
        } else {
            abandon();
            const pmt::pmt_t key =
                pmt::dict_ref(tag.value, EXPIRE, pmt::PMT_NIL); // the frame's key
            message_port_pub(OUT,
                             pmt::cons(pmt::dict_add(pmt::make_dict(), EXPIRE, key),
                                       pmt::make_f32vector(0, 0.0f)));
        }
    }
    take(in + pos, static_cast<size_t>(noutput_items) - pos);
    return noutput_items;
}

} // namespace semcom
} // namespace gr
