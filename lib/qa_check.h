/* -*- c++ -*- */
/*
 * gr-semcom: the qa_* programs' check macro (a failed check prints where and fails the run).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#ifndef INCLUDED_SEMCOM_QA_CHECK_H
#define INCLUDED_SEMCOM_QA_CHECK_H

#include <cstdio>

namespace qa {
inline int failures = 0;
}

#define QA_CHECK(cond)                                                                  \
    do {                                                                                \
        if (!(cond)) {                                                                  \
            std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
            qa::failures++;                                                             \
        }                                                                               \
    } while (0)

#endif /* INCLUDED_SEMCOM_QA_CHECK_H */
