/* -*- c++ -*- */
/*
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "bcjr.h"
#include <algorithm>
#include <cmath>
#include <vector>

namespace gr {
namespace semcom {

namespace {
constexpr double NO_PATH = -1e30;

// log(1 + exp(-x)) for x >= 0 on a grid of STEP, linearly interpolated (0 beyond the grid):
// within 2e-4 of the exact value
constexpr double STEP = 1.0 / 16;
constexpr int CORRECTIONS = 16 * 16; // the grid reaches x = 16, where the correction is 1e-7

struct correction_table {
    double value[CORRECTIONS + 1];
    correction_table()
    {
        for (int i = 0; i <= CORRECTIONS; i++) {
            value[i] = std::log1p(std::exp(-i * STEP));
        }
    }
};

// log(exp(a) + exp(b)) (exact, through the table) or max(a, b)
inline double combine(double a, double b, bool exact)
{
    static const correction_table table;
    const double hi = std::max(a, b);
    if (!exact) {
        return hi;
    }
    const double x = std::fabs(a - b) / STEP;
    if (x >= CORRECTIONS) {
        return hi;
    }
    const int i = static_cast<int>(x);
    const double f = x - i;
    return hi + table.value[i] + f * (table.value[i + 1] - table.value[i]);
}

// Branch metrics of step i: gamma[p * m + c] for state p and new symbol c.
void branch_metrics(const std::complex<double>* y,
                    size_t i,
                    const std::complex<double>* taps,
                    int memory,
                    double noise_var,
                    const std::complex<double>* alphabet,
                    int m,
                    const std::complex<double>* history,
                    size_t states,
                    std::vector<std::complex<double>>& isi,
                    std::vector<double>& gamma)
{
    for (size_t p = 0; p < states; p++) {
        std::complex<double> sum = 0.0;
        size_t digits = p;
        for (int j = 0; j < memory; j++) { // digit j: the symbol j + 1 before this one
            const long back = static_cast<long>(i) - 1 - j;
            const size_t d = digits % m;
            digits /= m;
            sum += taps[j + 1] *
                   (back < 0 ? history[memory + back] : alphabet[static_cast<size_t>(back) * m + d]);
        }
        isi[p] = sum;
    }
    for (size_t p = 0; p < states; p++) {
        for (int c = 0; c < m; c++) {
            gamma[p * m + c] =
                -std::norm(y[i] - taps[0] * alphabet[i * m + c] - isi[p]) / noise_var;
        }
    }
}
} // namespace

void bcjr_llrs(const std::complex<double>* y,
               size_t n,
               const std::complex<double>* taps,
               int memory,
               double noise_var,
               const std::complex<double>* alphabet,
               int m,
               const std::complex<double>* history,
               const uint8_t* label_bits,
               int k,
               bool exact,
               double* llr)
{
    size_t states = 1;
    for (int j = 0; j < memory; j++) {
        states *= m;
    }
    const size_t rest = states / m; // state p = oldest digit * rest + r; next = c + m * r
    std::vector<double> alpha((n + 1) * states, NO_PATH);
    std::vector<double> beta(states, 0.0), before(states);
    std::vector<std::complex<double>> isi(states);
    std::vector<double> gamma(states * m), symbol(m);
    alpha[0] = 0.0; // the history: every digit's candidates are one known symbol
    for (size_t i = 0; i < n; i++) {
        branch_metrics(y, i, taps, memory, noise_var, alphabet, m, history, states, isi, gamma);
        double* next = &alpha[(i + 1) * states];
        const double* now = &alpha[i * states];
        for (size_t p = 0; p < states; p++) {
            const size_t base = m * (p % rest);
            for (int c = 0; c < m; c++) {
                next[base + c] = combine(next[base + c], now[p] + gamma[p * m + c], exact);
            }
        }
        const double top = *std::max_element(next, next + states);
        for (size_t s = 0; s < states; s++) {
            next[s] -= top;
        }
    }
    for (size_t i = n; i-- > 0;) {
        branch_metrics(y, i, taps, memory, noise_var, alphabet, m, history, states, isi, gamma);
        const double* now = &alpha[i * states];
        std::fill(symbol.begin(), symbol.end(), NO_PATH);
        for (size_t p = 0; p < states; p++) {
            const size_t base = m * (p % rest);
            double acc = NO_PATH;
            for (int c = 0; c < m; c++) {
                const double v = gamma[p * m + c] + beta[base + c];
                acc = combine(acc, v, exact);
                symbol[c] = combine(symbol[c], now[p] + v, exact);
            }
            before[p] = acc;
        }
        const double top = *std::max_element(before.begin(), before.end());
        for (size_t s = 0; s < states; s++) {
            beta[s] = before[s] - top;
        }
        for (int b = 0; b < k; b++) {
            double one = NO_PATH, zero = NO_PATH;
            for (int c = 0; c < m; c++) {
                double& side = label_bits[c * k + b] ? one : zero;
                side = combine(side, symbol[c], exact);
            }
            llr[i * k + b] = one - zero;
        }
    }
}

} // namespace semcom
} // namespace gr
