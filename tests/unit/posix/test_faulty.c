/* SPDX-License-Identifier: Apache-2.0 */
/* The fault-injecting transport over an in-memory pair of streams, on virtual time. */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "tern/port/posix.h"
#include "tern/port/posix_faulty.h"

#include "tern_test.h"

/* ------------------------------------------------- an in-memory stream pair -- */

typedef struct pipe_buf {
    uint8_t buf[4096];
    size_t len;
    bool closed; /* the writer hung up */
} pipe_buf_t;

/* One end: writes go to `out`, reads come from `in`. */
typedef struct end {
    pipe_buf_t *out, *in;
} end_t;

static tern_err_t end_send(void *ctx, const uint8_t *buf, size_t len, size_t *sent)
{
    end_t *e = ctx;
    if (e->out->closed) {
        return TERN_ERR_CLOSED;
    }
    size_t room = sizeof e->out->buf - e->out->len;
    size_t n = len < room ? len : room;
    memcpy(e->out->buf + e->out->len, buf, n);
    e->out->len += n;
    *sent = n;
    return TERN_OK;
}

static tern_err_t end_recv(void *ctx, uint8_t *buf, size_t cap, size_t *got)
{
    end_t *e = ctx;
    size_t n = e->in->len < cap ? e->in->len : cap;
    *got = n;
    if (n == 0) {
        return e->in->closed ? TERN_ERR_CLOSED : TERN_OK;
    }
    memcpy(buf, e->in->buf, n);
    memmove(e->in->buf, e->in->buf + n, e->in->len - n);
    e->in->len -= n;
    return TERN_OK;
}

static const tern_transport_ops_t end_ops = { "mem", end_send, end_recv };

typedef struct fx {
    pipe_buf_t ab, ba;
    end_t a, b;
    tern_transport_t ta, tb, tf;
    tern_posix_vclock_t vc;
    tern_clock_t clock;
    tern_posix_faulty_t f;
} fx_t;

static void fx_init(fx_t *x)
{
    memset(x, 0, sizeof *x);
    x->a = (end_t){ &x->ab, &x->ba };
    x->b = (end_t){ &x->ba, &x->ab };
    x->ta = (tern_transport_t){ &end_ops, &x->a };
    x->tb = (tern_transport_t){ &end_ops, &x->b };
    tern_posix_vclock_init(&x->vc, 0xFFFFFF00u); /* near the wrap */
    x->clock = tern_posix_vclock_hal(&x->vc);
    tern_posix_faulty_init(&x->f, &x->ta, &x->clock);
    x->tf = tern_posix_faulty_transport(&x->f);
}

static void send_all(tern_transport_t *t, const char *s)
{
    size_t sent = 0;
    assert_int_equal(t->ops->send(t->ctx, (const uint8_t *)s, strlen(s), &sent), TERN_OK);
    assert_int_equal(sent, strlen(s));
}

/* Read everything there is now from @p t; its length, the error if any. */
static tern_err_t read_now(tern_transport_t *t, char *out, size_t cap, size_t *len)
{
    *len = 0;
    for (;;) {
        size_t got = 0;
        tern_err_t err = t->ops->recv(t->ctx, (uint8_t *)out + *len, cap - 1 - *len, &got);
        if (err != TERN_OK) {
            out[*len] = '\0';
            return err;
        }
        if (got == 0) {
            break;
        }
        *len += got;
    }
    out[*len] = '\0';
    return TERN_OK;
}

static void expect_read(tern_transport_t *t, const char *want)
{
    char buf[256];
    size_t len;
    assert_int_equal(read_now(t, buf, sizeof buf, &len), TERN_OK);
    assert_int_equal(len, strlen(want));
    assert_memory_equal(buf, want, len);
}

/* ----------------------------------------------------------------- tests -- */

static void test_pass(void **state)
{
    (void)state;
    fx_t x;
    fx_init(&x);
    assert_true(strcmp(x.tf.ops->name, "faulty") == 0);
    send_all(&x.tf, "hello");
    expect_read(&x.tb, "hello");
    send_all(&x.tb, "world");
    expect_read(&x.tf, "world");
    assert_int_equal(tern_posix_faulty_flush(&x.f), TERN_OK);
}

static void test_drop(void **state)
{
    (void)state;
    fx_t x;
    fx_init(&x);
    assert_int_equal(tern_posix_faulty_set_mode(&x.f, TERN_POSIX_FAULTY_DROP, 0), TERN_OK);
    send_all(&x.tf, "lost");
    expect_read(&x.tb, "");
    assert_int_equal(x.f.dropped, 4);
    send_all(&x.tb, "still arrives");
    expect_read(&x.tf, "still arrives");
    assert_int_equal(tern_posix_faulty_set_mode(&x.f, TERN_POSIX_FAULTY_PASS, 0), TERN_OK);
    send_all(&x.tf, "back");
    expect_read(&x.tb, "back");
}

static void test_blackhole(void **state)
{
    (void)state;
    fx_t x;
    fx_init(&x);
    assert_int_equal(tern_posix_faulty_set_mode(&x.f, TERN_POSIX_FAULTY_BLACKHOLE, 0), TERN_OK);
    send_all(&x.tf, "out");
    send_all(&x.tb, "in");
    expect_read(&x.tb, "");
    expect_read(&x.tf, ""); /* read from below and thrown away */
    assert_int_equal(x.f.dropped, 3);
    assert_int_equal(x.f.swallowed, 2);
    /* even the peer hanging up goes unnoticed: only a timeout can tell */
    x.ba.closed = true;
    expect_read(&x.tf, "");
    x.ba.closed = false;
    /* healed: what was sent before is gone, what comes after arrives */
    assert_int_equal(tern_posix_faulty_set_mode(&x.f, TERN_POSIX_FAULTY_PASS, 0), TERN_OK);
    send_all(&x.tb, "new");
    expect_read(&x.tf, "new");
    send_all(&x.tf, "up");
    expect_read(&x.tb, "up");
}

static void test_delay(void **state)
{
    (void)state;
    fx_t x;
    fx_init(&x);
    assert_int_equal(tern_posix_faulty_set_mode(&x.f, TERN_POSIX_FAULTY_DELAY, 100), TERN_OK);
    send_all(&x.tf, "abc");
    send_all(&x.tb, "xyz");
    assert_int_equal(tern_posix_faulty_flush(&x.f), TERN_ERR_AGAIN);
    expect_read(&x.tb, "");
    expect_read(&x.tf, ""); /* taken from below, held */
    tern_posix_vclock_advance(&x.vc, 50);
    send_all(&x.tf, "def"); /* due 50 ms after abc */
    tern_posix_vclock_advance(&x.vc, 49);
    assert_int_equal(tern_posix_faulty_flush(&x.f), TERN_ERR_AGAIN);
    expect_read(&x.tb, "");
    expect_read(&x.tf, "");
    tern_posix_vclock_advance(&x.vc, 1); /* 100 ms */
    expect_read(&x.tf, "xyz");           /* recv also releases held sends */
    expect_read(&x.tb, "abc");
    tern_posix_vclock_advance(&x.vc, 50);
    assert_int_equal(tern_posix_faulty_flush(&x.f), TERN_OK);
    expect_read(&x.tb, "def");
    /* back to pass: what is still held keeps its time and its place in line */
    send_all(&x.tf, "1");
    assert_int_equal(tern_posix_faulty_set_mode(&x.f, TERN_POSIX_FAULTY_PASS, 0), TERN_OK);
    send_all(&x.tf, "2");
    expect_read(&x.tb, "");
    tern_posix_vclock_advance(&x.vc, 100);
    assert_int_equal(tern_posix_faulty_flush(&x.f), TERN_OK);
    expect_read(&x.tb, "12");
    send_all(&x.tf, "3");
    expect_read(&x.tb, "3");
}

static void test_delay_then_close(void **state)
{
    (void)state;
    fx_t x;
    fx_init(&x);
    assert_int_equal(tern_posix_faulty_set_mode(&x.f, TERN_POSIX_FAULTY_DELAY, 10), TERN_OK);
    send_all(&x.tb, "last words");
    x.ba.closed = true;
    char buf[64];
    size_t len;
    assert_int_equal(read_now(&x.tf, buf, sizeof buf, &len), TERN_OK);
    assert_int_equal(len, 0);
    tern_posix_vclock_advance(&x.vc, 10);
    /* the data first, then the end of stream */
    assert_int_equal(read_now(&x.tf, buf, sizeof buf, &len), TERN_ERR_CLOSED);
    assert_int_equal(len, 10);
    assert_memory_equal(buf, "last words", 10);
}

static void test_cut(void **state)
{
    (void)state;
    fx_t x;
    fx_init(&x);
    send_all(&x.tb, "waiting");
    assert_int_equal(tern_posix_faulty_set_mode(&x.f, TERN_POSIX_FAULTY_CUT, 0), TERN_OK);
    uint8_t buf[16];
    size_t n = 99;
    assert_int_equal(x.tf.ops->send(x.tf.ctx, buf, 4, &n), TERN_ERR_IO);
    assert_int_equal(n, 0);
    n = 99;
    assert_int_equal(x.tf.ops->recv(x.tf.ctx, buf, sizeof buf, &n), TERN_ERR_IO);
    assert_int_equal(n, 0);
    assert_int_equal(tern_posix_faulty_flush(&x.f), TERN_ERR_IO);
    expect_read(&x.tb, "");
    /* restored: nothing was lost below */
    assert_int_equal(tern_posix_faulty_set_mode(&x.f, TERN_POSIX_FAULTY_PASS, 0), TERN_OK);
    expect_read(&x.tf, "waiting");
}

static void test_modes_checked(void **state)
{
    (void)state;
    fx_t x;
    fx_init(&x);
    assert_int_equal(tern_posix_faulty_set_mode(&x.f, (tern_posix_faulty_mode_t)99, 0),
                     TERN_ERR_INVAL);
    tern_posix_faulty_t noclock;
    tern_posix_faulty_init(&noclock, &x.ta, NULL);
    assert_int_equal(tern_posix_faulty_set_mode(&noclock, TERN_POSIX_FAULTY_DELAY, 5),
                     TERN_ERR_INVAL);
    assert_int_equal(tern_posix_faulty_set_mode(&noclock, TERN_POSIX_FAULTY_CUT, 0), TERN_OK);
    assert_true(strcmp(tern_posix_faulty_mode_name(TERN_POSIX_FAULTY_BLACKHOLE), "blackhole") == 0);
    assert_true(strcmp(tern_posix_faulty_mode_name(TERN_POSIX_FAULTY_DELAY), "delay") == 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pass),
        cmocka_unit_test(test_drop),
        cmocka_unit_test(test_blackhole),
        cmocka_unit_test(test_delay),
        cmocka_unit_test(test_delay_then_close),
        cmocka_unit_test(test_cut),
        cmocka_unit_test(test_modes_checked),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
