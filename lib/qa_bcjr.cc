/* -*- c++ -*- */
/*
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "bcjr.h"
#include "qa_check.h"
#include <cmath>
#include <vector>

using gr::semcom::bcjr_llrs;
using cd = std::complex<double>;

int main()
{
    // BPSK (label 1 at +1) without interference: the AWGN LLR 4 y / N0, exact and max-log
    const std::vector<cd> y = { 0.3, -1.2, 0.05 };
    const std::vector<cd> taps = { 1.0, 0.0 };
    const std::vector<cd> points = { -1.0, 1.0, -1.0, 1.0, -1.0, 1.0 };
    const std::vector<cd> history = { 1.0 };
    const std::vector<uint8_t> labels = { 0, 1 };
    for (const bool exact : { true, false }) {
        std::vector<double> llr(3);
        bcjr_llrs(y.data(), 3, taps.data(), 1, 0.5, points.data(), 2, history.data(), labels.data(), 1, exact,
                  llr.data());
        for (size_t i = 0; i < 3; i++) {
            QA_CHECK(std::fabs(llr[i] - 4.0 * y[i].real() / 0.5) < 1e-9);
        }
    }

    // y = s[i] + 0.5 s[i-1], no noise to speak of: the signs give the sent symbols back
    const std::vector<cd> sent = { 1.0, -1.0, -1.0, 1.0 };
    const std::vector<cd> isi = { 1.0, 0.5 };
    std::vector<cd> rx(4);
    for (size_t i = 0; i < 4; i++) {
        rx[i] = sent[i] + 0.5 * (i ? sent[i - 1] : history[0]);
    }
    const std::vector<cd> alphabet = { -1.0, 1.0, -1.0, 1.0, -1.0, 1.0, -1.0, 1.0 };
    std::vector<double> llr(4);
    bcjr_llrs(rx.data(), 4, isi.data(), 1, 0.01, alphabet.data(), 2, history.data(), labels.data(), 1, true,
              llr.data());
    for (size_t i = 0; i < 4; i++) {
        QA_CHECK((llr[i] > 10) == (sent[i].real() > 0) && std::fabs(llr[i]) > 10);
    }
    return qa::failures ? 1 : 0;
}
