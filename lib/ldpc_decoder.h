/* -*- c++ -*- */
/*
 * gr-semcom: layered normalised min-sum LDPC decoding, many codewords at once.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#ifndef INCLUDED_SEMCOM_LDPC_DECODER_H
#define INCLUDED_SEMCOM_LDPC_DECODER_H

#include <cstddef>
#include <cstdint>
#include <vector>

namespace gr {
namespace semcom {

/*!
 * \brief Layered normalised min-sum decoder for a parity-check matrix given by its rows.
 *
 * Codewords occupy the lanes of SIMD vectors (LANES at a time); a lane whose codeword is
 * done takes the next codeword, so each codeword stops as soon as it is decoded. A codeword
 * is done when its channel decisions satisfy every check, or after one more iteration than
 * the first that makes them hold (so that its posteriors settle), or after \p max_iter
 * iterations. LLRs use the project convention (positive = bit 1); channel LLRs are clipped
 * to +-MAX_LLR.
 */
class ldpc_decoder
{
public:
    static constexpr int LANES = 16;
    static constexpr float MAX_LLR = 1e6f;

    //! \p checks: for each check, the variables (0..n-1, each once) it sums.
    ldpc_decoder(int n, const std::vector<std::vector<int>>& checks);

    int n() const { return d_n; }
    int m() const { return static_cast<int>(d_start.size()) - 1; }

    /*!
     * Decodes \p count codewords of channel LLRs \p llr (count x n, row major) into
     * \p posterior (count x n), \p ok (1 where every check holds) and \p iterations
     * (layered iterations run; 0 when the channel decisions already form a codeword).
     */
    void decode(const float* llr,
                size_t count,
                int max_iter,
                float alpha,
                float* posterior,
                uint8_t* ok,
                int32_t* iterations) const;

private:
    int d_n;
    std::vector<int32_t> d_start; // check c's edges are d_start[c] .. d_start[c + 1] - 1
    std::vector<int32_t> d_vars;  // the variable of each edge
    int d_max_degree;
};

} // namespace semcom
} // namespace gr

#endif /* INCLUDED_SEMCOM_LDPC_DECODER_H */
