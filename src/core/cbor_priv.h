/* SPDX-License-Identifier: Apache-2.0 */
/* Private to the CBOR codec (src/core/cbor_*.c): what its objects share. */
#ifndef TERN_CBOR_PRIV_H
#define TERN_CBOR_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/*
 * The codec's hot paths: inlined into each caller when optimizing for speed,
 * so that constant arguments fold away; one shared copy under -Os.
 */
#if defined(__OPTIMIZE_SIZE__) || !defined(__GNUC__)
#define TERN_CBOR_HOT static
#else
#define TERN_CBOR_HOT static inline __attribute__((always_inline))
#endif

/* A slow path kept out of line, so that its caller stays leaf code that tail-calls it. */
#if defined(__GNUC__)
#define TERN_CBOR_COLD static __attribute__((noinline))
#else
#define TERN_CBOR_COLD static
#endif

/* A frame's `kind` bit for an indefinite-length container or string. */
#define TERN_CBOR_KIND_INDEF 0x80u

/* A half (@p single false) or single precision value, given by its bits, as the bits of
 * the same double, exactly (NaN payloads kept). */
uint64_t tern_cbor_widen(uint32_t v, bool single);

/* Big-endian <-> native order (the same operation both ways). */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define TERN_CBOR_BE32(x) (x)
#define TERN_CBOR_BE64(x) (x)
#else
#define TERN_CBOR_BE32(x) __builtin_bswap32(x)
#define TERN_CBOR_BE64(x) __builtin_bswap64(x)
#endif

/* The big-endian number in the @p n (1, 2, 4 or 8) bytes at @p p: one load each. */
static inline uint64_t tern_cbor_be(const uint8_t *p, unsigned n)
{
    if (n == 1) {
        return p[0];
    }
    if (n == 2) {
        return (uint64_t)p[0] << 8 | p[1];
    }
    if (n == 4) {
        uint32_t w;
        memcpy(&w, p, 4);
        return TERN_CBOR_BE32(w);
    }
    uint64_t w;
    memcpy(&w, p, 8);
    return TERN_CBOR_BE64(w);
}

/* Write @p v big-endian in the @p n (0, 1, 2, 4 or 8) bytes at @p w. */
static inline void tern_cbor_put_be(uint8_t *w, uint64_t v, unsigned n)
{
    uint64_t x8 = TERN_CBOR_BE64(v);
    uint32_t x4 = TERN_CBOR_BE32((uint32_t)v);
    if (n == 8) {
        memcpy(w, &x8, 8);
    } else if (n == 4) {
        memcpy(w, &x4, 4);
    } else if (n == 2) {
        w[0] = (uint8_t)(v >> 8);
        w[1] = (uint8_t)v;
    } else if (n == 1) {
        w[0] = (uint8_t)v;
    }
}

#endif /* TERN_CBOR_PRIV_H */
