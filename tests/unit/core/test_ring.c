/* SPDX-License-Identifier: Apache-2.0 */
#include <string.h>

#include "tern/ring.h"
#include "tern_test.h"

static void test_init_rejects_bad_arguments(void **state)
{
    (void)state;
    tern_ring_t r;
    uint8_t mem[4];
    assert_int_equal(tern_ring_init(&r, NULL, 4), TERN_ERR_INVAL);
    assert_int_equal(tern_ring_init(&r, mem, 0), TERN_ERR_INVAL);
    assert_int_equal(tern_ring_init(NULL, mem, 4), TERN_ERR_INVAL);
    assert_int_equal(tern_ring_init(&r, mem, 4), TERN_OK);
    assert_int_equal(tern_ring_len(&r), 0);
    assert_int_equal(tern_ring_space(&r), 4);
    assert_int_equal(tern_ring_capacity(&r), 4);
}

static void test_fifo_order_and_partial_write(void **state)
{
    (void)state;
    tern_ring_t r;
    uint8_t mem[5];
    uint8_t out[8];
    assert_int_equal(tern_ring_init(&r, mem, sizeof mem), TERN_OK);
    assert_int_equal(tern_ring_write(&r, "abc", 3), 3);
    assert_int_equal(tern_ring_write(&r, "defgh", 5), 2); /* only two fit */
    assert_int_equal(tern_ring_space(&r), 0);
    assert_int_equal(tern_ring_write(&r, "x", 1), 0);
    assert_int_equal(tern_ring_read(&r, out, 2), 2);
    assert_memory_equal(out, "ab", 2);
    assert_int_equal(tern_ring_write(&r, "XY", 2), 2); /* wraps around the end */
    assert_int_equal(tern_ring_read(&r, out, sizeof out), 5);
    assert_memory_equal(out, "cdeXY", 5);
    assert_int_equal(tern_ring_read(&r, out, sizeof out), 0);
}

static void test_write_all_is_all_or_nothing(void **state)
{
    (void)state;
    tern_ring_t r;
    uint8_t mem[4];
    uint8_t out[4];
    assert_int_equal(tern_ring_init(&r, mem, sizeof mem), TERN_OK);
    assert_int_equal(tern_ring_write_all(&r, "abc", 3), TERN_OK);
    assert_int_equal(tern_ring_write_all(&r, "de", 2), TERN_ERR_FULL);
    assert_int_equal(tern_ring_len(&r), 3); /* unchanged */
    assert_int_equal(tern_ring_write_all(&r, "d", 1), TERN_OK);
    assert_int_equal(tern_ring_read(&r, out, 4), 4);
    assert_memory_equal(out, "abcd", 4);
}

static void test_peek_and_discard(void **state)
{
    (void)state;
    tern_ring_t r;
    uint8_t mem[6];
    uint8_t out[6];
    assert_int_equal(tern_ring_init(&r, mem, sizeof mem), TERN_OK);
    assert_int_equal(tern_ring_write(&r, "0123", 4), 4);
    assert_int_equal(tern_ring_discard(&r, 3), 3);
    assert_int_equal(tern_ring_write(&r, "45678", 5), 5); /* head at 3: wraps */
    assert_int_equal(tern_ring_peek(&r, 2, out, 3), 3);
    assert_memory_equal(out, "567", 3);
    assert_int_equal(tern_ring_peek(&r, 5, out, 3), 1);
    assert_memory_equal(out, "8", 1);
    assert_int_equal(tern_ring_peek(&r, 6, out, 3), 0);
    assert_int_equal(tern_ring_len(&r), 6); /* peek removes nothing */
    assert_int_equal(tern_ring_discard(&r, 100), 6);
    assert_int_equal(tern_ring_len(&r), 0);
}

static void test_spans_for_zero_copy(void **state)
{
    (void)state;
    tern_ring_t r;
    uint8_t mem[8];
    size_t n;
    assert_int_equal(tern_ring_init(&r, mem, sizeof mem), TERN_OK);
    uint8_t *w = tern_ring_write_span(&r, &n);
    assert_int_equal(n, 8);
    memcpy(w, "abcdef", 6);
    assert_int_equal(tern_ring_commit(&r, 6), TERN_OK);
    assert_int_equal(tern_ring_discard(&r, 4), 4); /* "ef" left at index 4..5 */
    w = tern_ring_write_span(&r, &n);
    assert_int_equal(n, 2); /* up to the end of storage */
    assert_int_equal(tern_ring_commit(&r, 3), TERN_ERR_RANGE);
    memcpy(w, "gh", 2);
    assert_int_equal(tern_ring_commit(&r, 2), TERN_OK);
    w = tern_ring_write_span(&r, &n);
    assert_int_equal(n, 4); /* the wrapped part, up to the head */
    memcpy(w, "ij", 2);
    assert_int_equal(tern_ring_commit(&r, 2), TERN_OK);
    const uint8_t *rd = tern_ring_read_span(&r, &n);
    assert_int_equal(n, 4);
    assert_memory_equal(rd, "efgh", 4);
    assert_int_equal(tern_ring_discard(&r, n), 4);
    rd = tern_ring_read_span(&r, &n);
    assert_int_equal(n, 2);
    assert_memory_equal(rd, "ij", 2);
    tern_ring_clear(&r);
    rd = tern_ring_read_span(&r, &n);
    assert_int_equal(n, 0);
    (void)rd;
}

static void test_full_ring_spans(void **state)
{
    (void)state;
    tern_ring_t r;
    uint8_t mem[3];
    size_t n = 99;
    assert_int_equal(tern_ring_init(&r, mem, sizeof mem), TERN_OK);
    assert_int_equal(tern_ring_write(&r, "xyz", 3), 3);
    (void)tern_ring_write_span(&r, &n);
    assert_int_equal(n, 0);
    assert_int_equal(tern_ring_commit(&r, 1), TERN_ERR_RANGE);
    assert_int_equal(tern_ring_commit(&r, 0), TERN_OK);
    assert_int_equal(tern_ring_len(&r), 3);
}

/* A long random walk checked against a flat reference model, for odd capacities. */
static void test_random_walk_against_model(void **state)
{
    (void)state;
    static const size_t caps[] = { 1, 2, 7, 13, 64 };
    uint32_t seed = 0xC0FFEEu;
    for (size_t c = 0; c < sizeof caps / sizeof caps[0]; c++) {
        tern_ring_t r;
        uint8_t mem[64];
        uint8_t model[64];
        size_t model_len = 0;
        uint8_t next = 0;
        assert_int_equal(tern_ring_init(&r, mem, caps[c]), TERN_OK);
        for (int step = 0; step < 3000; step++) {
            seed = seed * 1664525u + 1013904223u;
            size_t n = (seed >> 8) % (caps[c] + 2);
            uint8_t buf[70];
            if ((seed >> 28) & 1u) {
                for (size_t i = 0; i < n; i++) {
                    buf[i] = (uint8_t)(next + i);
                }
                size_t w = tern_ring_write(&r, buf, n);
                size_t expect = n < caps[c] - model_len ? n : caps[c] - model_len;
                assert_int_equal(w, expect);
                memcpy(model + model_len, buf, w);
                model_len += w;
                next = (uint8_t)(next + w);
            } else {
                size_t got = tern_ring_read(&r, buf, n);
                size_t expect = n < model_len ? n : model_len;
                assert_int_equal(got, expect);
                assert_memory_equal(buf, model, got);
                memmove(model, model + got, model_len - got);
                model_len -= got;
            }
            assert_int_equal(tern_ring_len(&r), model_len);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init_rejects_bad_arguments),
        cmocka_unit_test(test_fifo_order_and_partial_write),
        cmocka_unit_test(test_write_all_is_all_or_nothing),
        cmocka_unit_test(test_peek_and_discard),
        cmocka_unit_test(test_spans_for_zero_copy),
        cmocka_unit_test(test_full_ring_spans),
        cmocka_unit_test(test_random_walk_against_model),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
