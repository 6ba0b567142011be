/* -*- c++ -*- */
/*
 * gr-semcom: soft-decoder outputs to one LLR PDU per burst.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#ifndef INCLUDED_SEMCOM_BURST_LLR_H
#define INCLUDED_SEMCOM_BURST_LLR_H

#include <gnuradio/sync_block.h>
#include <cstdint>

namespace gr {
namespace semcom {

/*!
 * \brief The soft decoder's output (k values per symbol, from a noise-free max-log table)
 * in, one LLR PDU per burst out on port "out".
 *
 * A "burst" tag (a dict from burst_sync: "symbols", the burst's payload symbols;
 * "coded_bits", the LLRs its segment carries; "noise_var", one value or one per symbol;
 * the header and measurements) starts a burst. Its k * symbols values are multiplied by
 * each symbol's 1/N0, clipped to +-llr_clip and cut to coded_bits; the PDU's metadata is
 * the tag's dict with "noise_var" as the burst's mean and without the two counts.
 * An "expire" tag becomes a PDU {expire: value} with no LLRs. A burst cut short by the
 * next tag is dropped and counted.
 */
class burst_llr : virtual public gr::sync_block
{
public:
    typedef std::shared_ptr<burst_llr> sptr;

    static sptr make(int bits_per_symbol, float llr_clip);

    //! Bursts published.
    virtual uint64_t bursts_out() const = 0;
    //! Bursts dropped (cut short, or a tag without its counts).
    virtual uint64_t dropped() const = 0;
};

} // namespace semcom
} // namespace gr

#endif /* INCLUDED_SEMCOM_BURST_LLR_H */
