/* -*- c++ -*- */
/*
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "ldpc_decoder.h"
#include "qa_check.h"
#include <cmath>
#include <limits>
#include <stdexcept>

using gr::semcom::ldpc_decoder;

namespace {
// Hamming (7, 4): check i sums the variables whose 1-based index has bit i set
const std::vector<std::vector<int>> HAMMING = { { 0, 2, 4, 6 }, { 1, 2, 5, 6 }, { 3, 4, 5, 6 } };
const int CODEWORD[7] = { 1, 1, 1, 0, 0, 0, 0 };

struct decoded {
    std::vector<float> posterior;
    std::vector<uint8_t> ok;
    std::vector<int32_t> iterations;
};

decoded run(const ldpc_decoder& dec, const std::vector<float>& llr, int max_iter)
{
    const size_t count = llr.size() / dec.n();
    decoded d{ std::vector<float>(llr.size()), std::vector<uint8_t>(count), std::vector<int32_t>(count) };
    dec.decode(llr.data(), count, max_iter, 0.8f, d.posterior.data(), d.ok.data(), d.iterations.data());
    return d;
}

/* The codeword's LLRs (positive = 1, magnitude 4) with variable `flip` pulled to +-1 the wrong way. */
std::vector<float> noisy(int flip)
{
    std::vector<float> llr(7);
    for (int v = 0; v < 7; v++) {
        llr[v] = CODEWORD[v] ? 4.0f : -4.0f;
    }
    if (flip >= 0) {
        llr[flip] = CODEWORD[flip] ? -1.0f : 1.0f;
    }
    return llr;
}

bool decisions_are_codeword(const float* posterior)
{
    for (int v = 0; v < 7; v++) {
        if ((posterior[v] > 0.0f) != (CODEWORD[v] == 1)) {
            return false;
        }
    }
    return true;
}
} // namespace

int main()
{
    const ldpc_decoder dec(7, HAMMING);
    QA_CHECK(dec.n() == 7 && dec.m() == 3);

    // a codeword as received: no iteration, the posterior is the channel's
    const decoded clean = run(dec, noisy(-1), 50);
    QA_CHECK(clean.ok[0] == 1 && clean.iterations[0] == 0 && clean.posterior == noisy(-1));

    // an LLR of exactly 0 decides 0, in the decisions and in the checks
    std::vector<float> erased = noisy(-1);
    erased[3] = 0.0f;
    const decoded zero = run(dec, erased, 50);
    QA_CHECK(zero.ok[0] == 1 && zero.iterations[0] == 0 && decisions_are_codeword(zero.posterior.data()));

    // one weak wrong bit, anywhere: corrected within an iteration or two, then one to settle
    for (int flip = 0; flip < 7; flip++) {
        const decoded d = run(dec, noisy(flip), 50);
        QA_CHECK(d.ok[0] == 1 && d.iterations[0] >= 2 && d.iterations[0] <= 3);
        QA_CHECK(decisions_are_codeword(d.posterior.data()));
    }

    // no iterations allowed: the channel's decisions, reported as failing
    const decoded none = run(dec, noisy(6), 0);
    QA_CHECK(none.ok[0] == 0 && none.iterations[0] == 0 && none.posterior == noisy(6));

    // more codewords than lanes, mixed: each as decoded alone, whatever lane it took
    std::vector<float> batch;
    for (int w = 0; w < 3 * ldpc_decoder::LANES + 5; w++) {
        const std::vector<float> one = noisy(w % 8 - 1);
        batch.insert(batch.end(), one.begin(), one.end());
    }
    const decoded all = run(dec, batch, 50);
    for (size_t w = 0; w < all.ok.size(); w++) {
        const decoded alone = run(dec, noisy(static_cast<int>(w % 8) - 1), 50);
        QA_CHECK(all.ok[w] == alone.ok[0] && all.iterations[w] == alone.iterations[0]);
        QA_CHECK(std::vector<float>(all.posterior.begin() + 7 * w, all.posterior.begin() + 7 * w + 7) ==
                 alone.posterior);
    }

    // hostile channel values: NaN counts as 0, infinities are clipped; results stay finite
    std::vector<float> odd = noisy(-1);
    odd[0] = std::numeric_limits<float>::infinity();
    odd[1] = std::numeric_limits<float>::quiet_NaN();
    const decoded hostile = run(dec, odd, 50);
    QA_CHECK(hostile.ok[0] == 1 && decisions_are_codeword(hostile.posterior.data()));
    for (const float x : hostile.posterior) {
        QA_CHECK(std::isfinite(x));
    }

    // a variable outside 0..n-1, or twice in a check: rejected
    for (const auto& bad : { std::vector<std::vector<int>>{ { 0, 7 } },
                             std::vector<std::vector<int>>{ { 1, 1 } } }) {
        bool threw = false;
        try {
            ldpc_decoder(7, bad);
        } catch (const std::invalid_argument&) {
            threw = true;
        }
        QA_CHECK(threw);
    }
    return qa::failures ? 1 : 0;
}
