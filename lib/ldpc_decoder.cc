/* -*- c++ -*- */
/*
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "ldpc_decoder.h"
#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <string>

// The per-iteration loops are plain loops over the lane dimension, which the compiler
// vectorises; on x86-64 they are built twice (AVX2 and baseline) and picked at run time.
#if defined(__x86_64__) && defined(__GNUC__) && defined(__has_attribute)
#if __has_attribute(target_clones)
#define SEMCOM_SIMD_CLONES __attribute__((target_clones("avx2", "default")))
#endif
#endif
#ifndef SEMCOM_SIMD_CLONES
#define SEMCOM_SIMD_CLONES
#endif

namespace gr {
namespace semcom {

namespace {
constexpr int W = ldpc_decoder::LANES;
constexpr float NO_MESSAGE = 1e30f; // the second minimum of a check with one variable

/* One layered iteration over every check, every lane: internally positive = bit 0. Lanes
 * whose `carried` is 0 start afresh: their check-to-variable messages count as 0. */
SEMCOM_SIMD_CLONES
void iterate(const int32_t* start,
             const int32_t* vars,
             int m,
             float alpha,
             const float* __restrict carried,
             float* __restrict total,
             float* __restrict msg,
             float* __restrict extrinsic)
{
    for (int c = 0; c < m; c++) {
        const int first = start[c], degree = start[c + 1] - first;
        float* __restrict r = msg + static_cast<size_t>(first) * W;
        float min1[W], min2[W], parity[W];
        int32_t at[W];
        for (int l = 0; l < W; l++) {
            min1[l] = NO_MESSAGE;
            min2[l] = NO_MESSAGE;
            parity[l] = 1.0f;
            at[l] = 0;
        }
        for (int j = 0; j < degree; j++) {
            const float* __restrict t = total + static_cast<size_t>(vars[first + j]) * W;
            float* __restrict q = extrinsic + j * W;
            for (int l = 0; l < W; l++) {
                const float v = t[l] - r[j * W + l] * carried[l];
                const float a = std::fabs(v);
                q[l] = v;
                parity[l] = v < 0.0f ? -parity[l] : parity[l];
                min2[l] = std::min(min2[l], std::max(a, min1[l]));
                at[l] = a < min1[l] ? j : at[l];
                min1[l] = std::min(min1[l], a);
            }
        }
        for (int l = 0; l < W; l++) {
            min1[l] *= alpha * parity[l];
            min2[l] *= alpha * parity[l];
        }
        for (int j = 0; j < degree; j++) {
            float* __restrict t = total + static_cast<size_t>(vars[first + j]) * W;
            const float* __restrict q = extrinsic + j * W;
            for (int l = 0; l < W; l++) {
                const float mag = at[l] == j ? min2[l] : min1[l];
                const float out = q[l] < 0.0f ? -mag : mag;
                r[j * W + l] = out;
                t[l] = (q[l] + out) + 0.0f; // never -0: the syndrome reads sign bits
            }
        }
    }
}

/* unsatisfied[l] != 0 where lane l's hard decisions (sign bits) break a check. */
SEMCOM_SIMD_CLONES
void syndrome(const int32_t* start,
              const int32_t* vars,
              int m,
              const float* __restrict total,
              uint32_t* __restrict unsatisfied)
{
    for (int l = 0; l < W; l++) {
        unsatisfied[l] = 0;
    }
    for (int c = 0; c < m; c++) {
        uint32_t x[W] = {};
        for (int e = start[c]; e < start[c + 1]; e++) {
            const float* __restrict t = total + static_cast<size_t>(vars[e]) * W;
            for (int l = 0; l < W; l++) {
                uint32_t bits;
                std::memcpy(&bits, t + l, sizeof bits);
                x[l] ^= bits;
            }
        }
        for (int l = 0; l < W; l++) {
            unsatisfied[l] |= x[l] >> 31;
        }
    }
}
} // namespace

ldpc_decoder::ldpc_decoder(int n, const std::vector<std::vector<int>>& checks)
    : d_n(n), d_max_degree(0)
{
    if (n < 1 || checks.empty()) {
        throw std::invalid_argument("ldpc_decoder: need n >= 1 and at least one check");
    }
    d_start.push_back(0);
    std::vector<int> seen(n, -1);
    for (size_t c = 0; c < checks.size(); c++) {
        for (const int v : checks[c]) {
            if (v < 0 || v >= n || seen[v] == static_cast<int>(c)) {
                throw std::invalid_argument("ldpc_decoder: check " + std::to_string(c) +
                                            " lists a variable outside 0.." +
                                            std::to_string(n - 1) + " or twice");
            }
            seen[v] = static_cast<int>(c);
            d_vars.push_back(v);
        }
        d_start.push_back(static_cast<int32_t>(d_vars.size()));
        d_max_degree = std::max(d_max_degree, static_cast<int>(checks[c].size()));
    }
}

void ldpc_decoder::decode(const float* llr,
                          size_t count,
                          int max_iter,
                          float alpha,
                          float* posterior,
                          uint8_t* ok,
                          int32_t* iterations) const
{
    if (count == 0) {
        return;
    }
    const size_t n = static_cast<size_t>(d_n);
    std::vector<float> total(n * W, 0.0f);
    std::vector<float> msg(d_vars.size() * W, 0.0f);
    std::vector<float> extrinsic(static_cast<size_t>(std::max(d_max_degree, 1)) * W);
    long lane_word[W];   // the codeword in each lane, -1 when idle
    int lane_iter[W] = {};
    int lane_held[W]; // the iteration after which the lane's checks first held, -1 while they do not
    float carried[W];
    uint32_t unsatisfied[W];
    size_t next = 0;

    auto load = [&](int l) {
        if (next == count) {
            lane_word[l] = -1;
            return;
        }
        lane_word[l] = static_cast<long>(next);
        lane_iter[l] = 0;
        lane_held[l] = -1;
        const float* in = llr + next * n;
        for (size_t v = 0; v < n; v++) {
            const float x = std::isnan(in[v]) ? 0.0f : std::clamp(in[v], -MAX_LLR, MAX_LLR);
            total[v * W + l] = 0.0f - x; // +0 for 0
        }
        carried[l] = 0.0f; // the lane's messages are the last codeword's
        next++;
    };
    for (int l = 0; l < W; l++) {
        load(l);
    }
    const int m = this->m();
    for (;;) {
        // retire the lanes that are done, refill them, and check the new codewords too
        bool loaded = true, active = false;
        while (loaded) {
            loaded = active = false;
            syndrome(d_start.data(), d_vars.data(), m, total.data(), unsatisfied);
            for (int l = 0; l < W; l++) {
                if (lane_word[l] < 0) {
                    continue;
                }
                const bool holds = unsatisfied[l] == 0;
                const bool settled = lane_iter[l] == 0 || (lane_held[l] >= 0 && lane_iter[l] > lane_held[l]);
                if (!(holds && settled) && lane_iter[l] < max_iter) {
                    lane_held[l] = holds ? (lane_held[l] < 0 ? lane_iter[l] : lane_held[l]) : -1;
                    active = true;
                    continue;
                }
                const size_t w = static_cast<size_t>(lane_word[l]);
                float* out = posterior + w * n;
                for (size_t v = 0; v < n; v++) {
                    out[v] = -total[v * W + l];
                }
                ok[w] = unsatisfied[l] ? 0 : 1;
                iterations[w] = lane_iter[l];
                load(l);
                loaded = loaded || lane_word[l] >= 0;
            }
        }
        if (!active) {
            break;
        }
        iterate(d_start.data(),
                d_vars.data(),
                m,
                alpha,
                carried,
                total.data(),
                msg.data(),
                extrinsic.data());
        for (int l = 0; l < W; l++) {
            lane_iter[l]++;
            carried[l] = 1.0f;
        }
    }
}

} // namespace semcom
} // namespace gr
