/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file tern_test_hex.h
 * @brief For unit tests that check encoders byte for byte: the bytes must equal
 * a lowercase hex string (the way RFCs and specifications print their examples).
 * Header only, so the portable tests use it on the Cortex-M4 too.
 */
#ifndef TERN_TEST_HEX_H
#define TERN_TEST_HEX_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "tern_test.h"

static inline unsigned tern_test_nibble(char c)
{
    return (unsigned)(c <= '9' ? c - '0' : c - 'a' + 10);
}

/** Fail the test unless @p b[0..n) is exactly the bytes written in @p hex. */
static inline void tern_test_expect_hex(const uint8_t *b, size_t n, const char *hex)
{
    size_t want = strlen(hex) / 2;
    if (n != want) {
        fail_msg("%u bytes, want %u (%s)", (unsigned)n, (unsigned)want, hex);
    }
    for (size_t i = 0; i < n; i++) {
        unsigned v = tern_test_nibble(hex[2 * i]) << 4 | tern_test_nibble(hex[2 * i + 1]);
        if (b[i] != v) {
            fail_msg("byte %u is %02x, want %02x (%s)", (unsigned)i, b[i], v, hex);
        }
    }
}

#endif /* TERN_TEST_HEX_H */
