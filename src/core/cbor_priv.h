/* SPDX-License-Identifier: Apache-2.0 */
/* Private to the CBOR codec (src/core/cbor_*.c): what its objects share. */
#ifndef TERN_CBOR_PRIV_H
#define TERN_CBOR_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* A frame's `kind` bit for an indefinite-length container or string. */
#define TERN_CBOR_KIND_INDEF 0x80u

/* A half (@p single false) or single precision value, given by its bits, as the bits of
 * the same double, exactly (NaN payloads kept). */
uint64_t tern_cbor_widen(uint32_t v, bool single);

/* The big-endian number in the @p n (1, 2, 4 or 8) bytes at @p p: one load each. */
static inline uint64_t tern_cbor_be(const uint8_t *p, unsigned n)
{
    if (n == 1) {
        return p[0];
    }
    if (n == 2) {
        return (uint64_t)p[0] << 8 | p[1];
    }
    uint32_t w[2];
    memcpy(w, p, n); /* 4 or 8 */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    uint64_t hi = w[0];
    return n == 4 ? hi : hi << 32 | w[1];
#else
    uint64_t hi = __builtin_bswap32(w[0]);
    return n == 4 ? hi : hi << 32 | __builtin_bswap32(w[1]);
#endif
}

/* Write @p v big-endian in the @p n (0, 1, 2, 4 or 8) bytes at @p w. */
static inline void tern_cbor_put_be(uint8_t *w, uint64_t v, unsigned n)
{
    if (n >= 4) {
        uint32_t x[2] = { (uint32_t)(v >> 32), (uint32_t)v };
#if !(defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__)
        x[0] = __builtin_bswap32(x[0]);
        x[1] = __builtin_bswap32(x[1]);
#endif
        memcpy(w, n == 8 ? x : x + 1, n);
        return;
    }
    for (; n > 0; n--) { /* 1 or 2 */
        w[n - 1] = (uint8_t)v;
        v >>= 8;
    }
}

#endif /* TERN_CBOR_PRIV_H */
