/* SPDX-License-Identifier: Apache-2.0 */
/* SenML in CBOR: the writer's compression (base name and time once, relative times,
 * integers where exact, shortest floats), byte for byte; the reader's resolution of
 * base fields; packs that break RFC 8428, each refused. Host and Cortex-M4. */
#include <string.h>

#include "tern/senml.h"
#include "tern_test.h"
#include "tern_test_hex.h"

#define S(x) ((tern_senml_str_t){ (x), sizeof(x) - 1 })

static uint8_t g_buf[512];

static void test_writer_compresses(void **state)
{
    (void)state;
    tern_senml_writer_t w;
    tern_senml_begin(&w, g_buf, sizeof g_buf, "dev1:", 1700000000.0);
    tern_senml_rec_t r = {
        .name = S("temp"), .unit = S("Cel"), .kind = TERN_SENML_NUM, .v = 21.5, .t = 1700000000.0
    };
    assert_int_equal(tern_senml_add(&w, &r), TERN_OK);
    r = (tern_senml_rec_t){ .name = S("temp"), .kind = TERN_SENML_NUM, .v = 22, .t = 1700000001.0 };
    assert_int_equal(tern_senml_add(&w, &r), TERN_OK);
    r = (tern_senml_rec_t){
        .name = S("door"), .kind = TERN_SENML_BOOL, .vb = true, .t = 1700000001.5
    };
    assert_int_equal(tern_senml_add(&w, &r), TERN_OK);
    const uint8_t *out;
    size_t len;
    assert_int_equal(tern_senml_finish(&w, &out, &len), TERN_OK);
    assert_int_equal(len, tern_senml_size(&w));
    /* [{-2: "dev1:", -3: 1700000000, 0: "temp", 1: "Cel", 2: 21.5},
     *  {0: "temp", 2: 22, 6: 1}, {0: "door", 4: true, 6: 1.5}] */
    tern_test_expect_hex(out, len,
                         "83"
                         "a5"
                         "21"
                         "656465763"
                         "13a"
                         "22"
                         "1a6553f100"
                         "00"
                         "6474656d70"
                         "01"
                         "6343656c"
                         "02"
                         "f94d60"
                         "a3"
                         "00"
                         "6474656d70"
                         "02"
                         "16"
                         "06"
                         "01"
                         "a3"
                         "00"
                         "64646f6f72"
                         "04"
                         "f5"
                         "06"
                         "f93e00");
}

static void test_round_trip(void **state)
{
    (void)state;
    static const uint8_t blob[3] = { 1, 2, 3 };
    tern_senml_rec_t in[5] = {
        { .name = S("temp"), .unit = S("Cel"), .kind = TERN_SENML_NUM, .v = 21.53, .t = 100.0 },
        { .name = S("rssi"), .unit = S("dBm"), .kind = TERN_SENML_NUM, .v = -71, .t = 100.25 },
        { .name = S("state"), .kind = TERN_SENML_STR, .vs = S("idle"), .t = 99.0 },
        { .name = S("raw"), .kind = TERN_SENML_DATA, .vd = blob, .vd_len = 3, .t = 100.0 },
        { .name = S("door"), .kind = TERN_SENML_BOOL, .vb = false, .t = 1e9 },
    };
    tern_senml_writer_t w;
    tern_senml_begin(&w, g_buf, sizeof g_buf, "urn:dev:tern:d1:", 100.0);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(tern_senml_add(&w, &in[i]), TERN_OK);
    }
    const uint8_t *out;
    size_t len;
    assert_int_equal(tern_senml_finish(&w, &out, &len), TERN_OK);
    tern_senml_reader_t rd;
    tern_senml_read_begin(&rd, out, len);
    for (int i = 0; i < 5; i++) {
        tern_senml_rec_t r;
        assert_int_equal(tern_senml_read_next(&rd, &r), TERN_OK);
        assert_int_equal(r.base_name.len, 16);
        assert_memory_equal(r.base_name.ptr, "urn:dev:tern:d1:", 16);
        assert_int_equal(r.name.len, in[i].name.len);
        assert_memory_equal(r.name.ptr, in[i].name.ptr, r.name.len);
        assert_int_equal(r.unit.len, in[i].unit.len);
        assert_int_equal(r.kind, in[i].kind);
        assert_true(r.t == in[i].t);
        assert_true(r.v == in[i].v);
        assert_int_equal(r.vb, in[i].vb);
        assert_int_equal(r.vs.len, in[i].vs.len);
        assert_int_equal(r.vd_len, in[i].vd_len);
    }
    tern_senml_rec_t r;
    assert_int_equal(tern_senml_read_next(&rd, &r), TERN_ERR_EMPTY);
}

static void test_full_buffer_keeps_pack(void **state)
{
    (void)state;
    tern_senml_writer_t w;
    uint8_t small[40];
    tern_senml_begin(&w, small, sizeof small, "d:", 0);
    tern_senml_rec_t r = { .name = S("x"), .kind = TERN_SENML_NUM, .v = 1.5, .t = 0 };
    int added = 0;
    while (tern_senml_add(&w, &r) == TERN_OK) {
        added++;
    }
    assert_true(added >= 2);
    const uint8_t *out;
    size_t len;
    assert_int_equal(tern_senml_finish(&w, &out, &len), TERN_OK); /* what fitted is intact */
    tern_senml_reader_t rd;
    tern_senml_read_begin(&rd, out, len);
    for (int i = 0; i < added; i++) {
        assert_int_equal(tern_senml_read_next(&rd, &r), TERN_OK);
        assert_true(r.v == 1.5);
    }
    assert_int_equal(tern_senml_read_next(&rd, &r), TERN_ERR_EMPTY);
    tern_senml_begin(&w, small, sizeof small, NULL, 0);
    assert_int_equal(tern_senml_finish(&w, &out, &len), TERN_ERR_EMPTY);
}

/* Base fields carry over to later records; base value adds; base unit falls back. */
static void test_reader_resolves_base_fields(void **state)
{
    (void)state;
    /* [{-2: "a:", -3: 10, -4: "V", -5: 100, 0: "x", 2: 1},
     *  {0: "y", 2: 2.5, 6: -1, 1: "mV"}] */
    static const uint8_t pack[] = { 0x82, 0xa6, 0x21, 0x62, 'a',  ':',  0x22, 0x0a, 0x23,
                                    0x61, 'V',  0x24, 0x18, 0x64, 0x00, 0x61, 'x',  0x02,
                                    0x01, 0xa4, 0x00, 0x61, 'y',  0x02, 0xf9, 0x41, 0x00,
                                    0x06, 0x20, 0x01, 0x62, 'm',  'V' };
    tern_senml_reader_t rd;
    tern_senml_rec_t r;
    tern_senml_read_begin(&rd, pack, sizeof pack);
    assert_int_equal(tern_senml_read_next(&rd, &r), TERN_OK);
    assert_true(r.v == 101 && r.t == 10);
    assert_int_equal(r.unit.len, 1);
    assert_int_equal(tern_senml_read_next(&rd, &r), TERN_OK);
    assert_true(r.v == 102.5 && r.t == 9);
    assert_memory_equal(r.base_name.ptr, "a:", 2);
    assert_memory_equal(r.unit.ptr, "mV", 2);
    assert_int_equal(tern_senml_read_next(&rd, &r), TERN_ERR_EMPTY);
}

static void expect_refused(const uint8_t *pack, size_t len, tern_err_t want)
{
    tern_senml_reader_t rd;
    tern_senml_rec_t r;
    tern_err_t err;
    tern_senml_read_begin(&rd, pack, len);
    while ((err = tern_senml_read_next(&rd, &r)) == TERN_OK) {
    }
    assert_int_equal(err, want);
}

static void test_reader_refuses(void **state)
{
    (void)state;
    static const uint8_t not_array[] = { 0xa1, 0x00, 0x61, 'x' };
    expect_refused(not_array, sizeof not_array, TERN_ERR_MALFORMED);
    static const uint8_t no_name[] = { 0x81, 0xa1, 0x02, 0x01 };
    expect_refused(no_name, sizeof no_name, TERN_ERR_MALFORMED);
    static const uint8_t two_values[] = { 0x81, 0xa3, 0x00, 0x61, 'x', 0x02, 0x01, 0x04, 0xf5 };
    expect_refused(two_values, sizeof two_values, TERN_ERR_MALFORMED);
    static const uint8_t bad_name[] = { 0x81, 0xa1, 0x00, 0x62, '-', 'x' };
    expect_refused(bad_name, sizeof bad_name, TERN_ERR_MALFORMED);
    static const uint8_t space_name[] = { 0x81, 0xa1, 0x00, 0x62, 'x', ' ' };
    expect_refused(space_name, sizeof space_name, TERN_ERR_MALFORMED);
    static const uint8_t must_understand[] = { 0x81, 0xa2, 0x00, 0x61, 'x', 0x62, 'k', '_', 0x01 };
    expect_refused(must_understand, sizeof must_understand, TERN_ERR_MALFORMED);
    static const uint8_t bver11[] = { 0x81, 0xa2, 0x20, 0x0b, 0x00, 0x61, 'x' };
    expect_refused(bver11, sizeof bver11, TERN_ERR_UNSUPPORTED);
    static const uint8_t v_text[] = { 0x81, 0xa2, 0x00, 0x61, 'x', 0x02, 0x61, '1' };
    expect_refused(v_text, sizeof v_text, TERN_ERR_MALFORMED);
    static const uint8_t truncated[] = { 0x81, 0xa2, 0x00, 0x61, 'x', 0x02 };
    expect_refused(truncated, sizeof truncated, TERN_ERR_CBOR_TRUNCATED);
    static const uint8_t trailing[] = { 0x81, 0xa1, 0x00, 0x61, 'x', 0x00 };
    expect_refused(trailing, sizeof trailing, TERN_ERR_CBOR_TRAILING);
    /* an unknown label without "_" is skipped, whatever its value */
    static const uint8_t ext[] = { 0x81, 0xa2, 0x00, 0x61, 'x',  0x63,
                                   'e',  'x',  't',  0x82, 0x01, 0x02 };
    expect_refused(ext, sizeof ext, TERN_ERR_EMPTY);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_writer_compresses),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_full_buffer_keeps_pack),
        cmocka_unit_test(test_reader_resolves_base_fields),
        cmocka_unit_test(test_reader_refuses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
