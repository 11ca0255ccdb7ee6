/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file ring.h
 * @brief A byte ring buffer (FIFO) over caller-owned storage of any size.
 *
 * Not thread- or interrupt-safe by itself: a ring shared with an interrupt
 * handler is accessed inside a HAL critical section. The span calls give
 * zero-copy access for drivers that DMA into or out of the ring.
 */
#ifndef TERN_RING_H
#define TERN_RING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tern/err.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Ring state; the caller owns it and the storage. Fields are private. */
typedef struct tern_ring {
    uint8_t *buf;
    size_t cap;
    size_t head; /* index of the oldest byte */
    size_t len;  /* bytes stored */
} tern_ring_t;

/** Use @p cap bytes at @p storage as an empty ring. TERN_ERR_INVAL if storage is NULL or cap is 0.
 */
tern_err_t tern_ring_init(tern_ring_t *r, void *storage, size_t cap);

/** Forget all stored bytes. */
void tern_ring_clear(tern_ring_t *r);

/** Bytes stored. */
size_t tern_ring_len(const tern_ring_t *r);

/** Bytes that can still be written. */
size_t tern_ring_space(const tern_ring_t *r);

/** Capacity given at init. */
size_t tern_ring_capacity(const tern_ring_t *r);

/** Append up to @p len bytes; returns how many were taken (fewer when the ring fills). */
size_t tern_ring_write(tern_ring_t *r, const void *data, size_t len);

/** Append all @p len bytes or none: TERN_ERR_FULL (ring unchanged) when they do not fit. */
tern_err_t tern_ring_write_all(tern_ring_t *r, const void *data, size_t len);

/** Remove up to @p len of the oldest bytes into @p out; returns how many. */
size_t tern_ring_read(tern_ring_t *r, void *out, size_t len);

/** Copy up to @p len bytes starting @p offset bytes after the oldest, without removing them;
 * returns how many. */
size_t tern_ring_peek(const tern_ring_t *r, size_t offset, void *out, size_t len);

/** Drop up to @p len of the oldest bytes; returns how many. */
size_t tern_ring_discard(tern_ring_t *r, size_t len);

/** The longest contiguous run of stored bytes, oldest first; *len gets its length (0 when empty).
 */
const uint8_t *tern_ring_read_span(const tern_ring_t *r, size_t *len);

/** The longest contiguous free run; fill it, then tern_ring_commit() what was written. */
uint8_t *tern_ring_write_span(tern_ring_t *r, size_t *len);

/** Mark @p n bytes of the last write span as written. TERN_ERR_RANGE if n exceeds the span. */
tern_err_t tern_ring_commit(tern_ring_t *r, size_t n);

#ifdef __cplusplus
}
#endif
#endif /* TERN_RING_H */
