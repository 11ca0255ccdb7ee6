/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Byte FIFO over caller storage. State is (head, len) rather than (head, tail)
 * so a full ring and an empty ring are never confused and every capacity works,
 * not just powers of two.
 */
#include "tern/ring.h"

#include <string.h>

tern_err_t tern_ring_init(tern_ring_t *r, void *storage, size_t cap)
{
    if (r == NULL || storage == NULL || cap == 0) {
        return TERN_ERR_INVAL;
    }
    r->buf = storage;
    r->cap = cap;
    r->head = 0;
    r->len = 0;
    return TERN_OK;
}

void tern_ring_clear(tern_ring_t *r)
{
    r->head = 0;
    r->len = 0;
}

size_t tern_ring_len(const tern_ring_t *r)
{
    return r->len;
}

size_t tern_ring_space(const tern_ring_t *r)
{
    return r->cap - r->len;
}

size_t tern_ring_capacity(const tern_ring_t *r)
{
    return r->cap;
}

/* Index of the byte @p offset places after the oldest; offset <= cap. */
static size_t ring_index(const tern_ring_t *r, size_t offset)
{
    size_t i = r->head + offset;
    return i >= r->cap ? i - r->cap : i;
}

/* Copy @p n bytes between the ring starting at index @p at and a flat buffer,
 * in at most two pieces around the end of storage. */
static void ring_copy_out(const tern_ring_t *r, size_t at, uint8_t *dst, size_t n)
{
    size_t first = r->cap - at < n ? r->cap - at : n;
    memcpy(dst, r->buf + at, first);
    memcpy(dst + first, r->buf, n - first);
}

static void ring_copy_in(tern_ring_t *r, size_t at, const uint8_t *src, size_t n)
{
    size_t first = r->cap - at < n ? r->cap - at : n;
    memcpy(r->buf + at, src, first);
    memcpy(r->buf, src + first, n - first);
}

size_t tern_ring_write(tern_ring_t *r, const void *data, size_t len)
{
    size_t n = len < tern_ring_space(r) ? len : tern_ring_space(r);
    if (n > 0) {
        ring_copy_in(r, ring_index(r, r->len), data, n);
        r->len += n;
    }
    return n;
}

tern_err_t tern_ring_write_all(tern_ring_t *r, const void *data, size_t len)
{
    if (len > tern_ring_space(r)) {
        return TERN_ERR_FULL;
    }
    (void)tern_ring_write(r, data, len);
    return TERN_OK;
}

size_t tern_ring_peek(const tern_ring_t *r, size_t offset, void *out, size_t len)
{
    if (offset >= r->len) {
        return 0;
    }
    size_t n = r->len - offset < len ? r->len - offset : len;
    if (n > 0) {
        ring_copy_out(r, ring_index(r, offset), out, n);
    }
    return n;
}

size_t tern_ring_discard(tern_ring_t *r, size_t len)
{
    size_t n = len < r->len ? len : r->len;
    r->head = ring_index(r, n);
    r->len -= n;
    if (r->len == 0) {
        r->head = 0; /* keeps the next write span as long as possible */
    }
    return n;
}

size_t tern_ring_read(tern_ring_t *r, void *out, size_t len)
{
    return tern_ring_discard(r, tern_ring_peek(r, 0, out, len));
}

const uint8_t *tern_ring_read_span(const tern_ring_t *r, size_t *len)
{
    size_t to_end = r->cap - r->head;
    *len = r->len < to_end ? r->len : to_end;
    return r->buf + r->head;
}

uint8_t *tern_ring_write_span(tern_ring_t *r, size_t *len)
{
    if (r->len == r->cap) {
        *len = 0;
        return r->buf + r->head;
    }
    size_t tail = ring_index(r, r->len);
    size_t to_end = r->cap - tail;
    size_t space = tern_ring_space(r);
    *len = space < to_end ? space : to_end;
    return r->buf + tail;
}

tern_err_t tern_ring_commit(tern_ring_t *r, size_t n)
{
    size_t span;
    (void)tern_ring_write_span(r, &span);
    if (n > span) {
        return TERN_ERR_RANGE;
    }
    r->len += n;
    return TERN_OK;
}
