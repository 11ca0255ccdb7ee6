/* SPDX-License-Identifier: Apache-2.0 */
/* A transport wrapper that drops, swallows, delays or cuts on command (tests). */
#include <string.h>

#include "tern/port/posix_faulty.h"

/* ---------------------------------------------------------------- queue -- */

/* Take up to @p len bytes due at @p due; how many were taken. */
static size_t q_push(tern_posix_faulty_queue_t *q, const uint8_t *data, size_t len, tern_ms_t due)
{
    size_t room = sizeof q->buf - q->len;
    size_t n = len < room ? len : room;
    if (n == 0) {
        return 0;
    }
    if (q->nchunks > 0 && q->chunk[q->nchunks - 1].due == due) {
        q->chunk[q->nchunks - 1].len += n;
    } else if (q->nchunks < TERN_POSIX_FAULTY_CHUNKS) {
        q->chunk[q->nchunks].len = n;
        q->chunk[q->nchunks].due = due;
        q->nchunks++;
    } else {
        return 0;
    }
    memcpy(q->buf + q->len, data, n);
    q->len += n;
    return n;
}

/* Bytes at the front whose due time has come. */
static size_t q_ready(const tern_posix_faulty_queue_t *q, tern_ms_t now)
{
    size_t n = 0;
    for (size_t i = 0; i < q->nchunks && tern_deadline_passed(now, q->chunk[i].due); i++) {
        n += q->chunk[i].len;
    }
    return n;
}

static void q_pop(tern_posix_faulty_queue_t *q, size_t n)
{
    memmove(q->buf, q->buf + n, q->len - n);
    q->len -= n;
    size_t i = 0;
    while (n > 0) {
        size_t take = n < q->chunk[i].len ? n : q->chunk[i].len;
        q->chunk[i].len -= take;
        n -= take;
        if (q->chunk[i].len == 0) {
            i++;
        }
    }
    memmove(q->chunk, q->chunk + i, (q->nchunks - i) * sizeof q->chunk[0]);
    q->nchunks -= i;
}

/* -------------------------------------------------------------- wrapper -- */

static tern_ms_t now_of(const tern_posix_faulty_t *f)
{
    return f->clock.ops != NULL ? tern_clock_now(&f->clock) : 0;
}

tern_err_t tern_posix_faulty_flush(tern_posix_faulty_t *f)
{
    if (f->mode == TERN_POSIX_FAULTY_CUT) {
        return TERN_ERR_IO;
    }
    size_t ready = q_ready(&f->tx, now_of(f));
    while (ready > 0) {
        size_t sent = 0;
        tern_err_t err = f->lower.ops->send(f->lower.ctx, f->tx.buf, ready, &sent);
        if (err != TERN_OK) {
            return err;
        }
        if (sent == 0) {
            break;
        }
        q_pop(&f->tx, sent);
        ready -= sent;
    }
    return f->tx.len == 0 ? TERN_OK : TERN_ERR_AGAIN;
}

static tern_err_t faulty_send(void *ctx, const uint8_t *buf, size_t len, size_t *sent)
{
    tern_posix_faulty_t *f = ctx;
    *sent = 0;
    tern_err_t err = tern_posix_faulty_flush(f);
    if (err != TERN_OK && err != TERN_ERR_AGAIN) {
        return err;
    }
    switch (f->mode) {
    case TERN_POSIX_FAULTY_DROP:
    case TERN_POSIX_FAULTY_BLACKHOLE:
        f->dropped += len;
        *sent = len;
        return TERN_OK;
    case TERN_POSIX_FAULTY_DELAY:
        *sent = q_push(&f->tx, buf, len, tern_deadline_in(now_of(f), f->delay_ms));
        break;
    default:
        if (f->tx.len > 0) { /* behind what DELAY still holds, to keep the order */
            *sent = q_push(&f->tx, buf, len, now_of(f));
            break;
        }
        return f->lower.ops->send(f->lower.ctx, buf, len, sent);
    }
    err = tern_posix_faulty_flush(f);
    return err == TERN_ERR_AGAIN ? TERN_OK : err;
}

/* Read what the stream below has into the rx queue (or the bin), due at @p due. */
static void fill_rx(tern_posix_faulty_t *f, tern_ms_t due, bool swallow)
{
    uint8_t tmp[512];
    while (f->rx_err == TERN_OK) {
        size_t room = sizeof f->rx.buf - f->rx.len;
        size_t want = swallow ? sizeof tmp : (room < sizeof tmp ? room : sizeof tmp);
        if (want == 0 || (!swallow && f->rx.nchunks == TERN_POSIX_FAULTY_CHUNKS &&
                          f->rx.chunk[f->rx.nchunks - 1].due != due)) {
            return;
        }
        size_t got = 0;
        tern_err_t err = f->lower.ops->recv(f->lower.ctx, tmp, want, &got);
        if (err != TERN_OK) {
            if (!swallow) {
                f->rx_err = err;
            }
            return;
        }
        if (got == 0) {
            return;
        }
        if (swallow) {
            f->swallowed += got;
        } else {
            (void)q_push(&f->rx, tmp, got, due);
        }
    }
}

static tern_err_t faulty_recv(void *ctx, uint8_t *buf, size_t cap, size_t *got)
{
    tern_posix_faulty_t *f = ctx;
    *got = 0;
    tern_err_t err = tern_posix_faulty_flush(f);
    if (err != TERN_OK && err != TERN_ERR_AGAIN) {
        return err;
    }
    tern_ms_t now = now_of(f);
    if (f->mode == TERN_POSIX_FAULTY_BLACKHOLE) {
        fill_rx(f, now, true);
        return TERN_OK;
    }
    if (f->mode != TERN_POSIX_FAULTY_DELAY && f->rx.len == 0 && f->rx_err == TERN_OK) {
        return f->lower.ops->recv(f->lower.ctx, buf, cap, got);
    }
    fill_rx(f, f->mode == TERN_POSIX_FAULTY_DELAY ? tern_deadline_in(now, f->delay_ms) : now,
            false);
    size_t ready = q_ready(&f->rx, now);
    size_t n = ready < cap ? ready : cap;
    if (n > 0) {
        memcpy(buf, f->rx.buf, n);
        q_pop(&f->rx, n);
        *got = n;
        return TERN_OK;
    }
    if (f->rx.len == 0 && f->rx_err != TERN_OK) {
        return f->rx_err;
    }
    return TERN_OK;
}

static const tern_transport_ops_t faulty_ops = { "faulty", faulty_send, faulty_recv };

void tern_posix_faulty_init(tern_posix_faulty_t *f, const tern_transport_t *lower,
                            const tern_clock_t *clock)
{
    memset(f, 0, sizeof *f);
    f->lower = *lower;
    if (clock != NULL) {
        f->clock = *clock;
    }
    f->mode = TERN_POSIX_FAULTY_PASS;
}

tern_err_t tern_posix_faulty_set_mode(tern_posix_faulty_t *f, tern_posix_faulty_mode_t mode,
                                      uint32_t delay_ms)
{
    if ((unsigned)mode > (unsigned)TERN_POSIX_FAULTY_CUT ||
        (mode == TERN_POSIX_FAULTY_DELAY && f->clock.ops == NULL)) {
        return TERN_ERR_INVAL;
    }
    f->mode = mode;
    f->delay_ms = delay_ms;
    return TERN_OK;
}

tern_transport_t tern_posix_faulty_transport(tern_posix_faulty_t *f)
{
    tern_transport_t t = { &faulty_ops, f };
    return t;
}

const char *tern_posix_faulty_mode_name(tern_posix_faulty_mode_t mode)
{
    switch (mode) {
    case TERN_POSIX_FAULTY_PASS:
        return "pass";
    case TERN_POSIX_FAULTY_DROP:
        return "drop";
    case TERN_POSIX_FAULTY_BLACKHOLE:
        return "blackhole";
    case TERN_POSIX_FAULTY_DELAY:
        return "delay";
    case TERN_POSIX_FAULTY_CUT:
        return "cut";
    }
    return "unknown";
}
