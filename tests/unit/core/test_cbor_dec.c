/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The strict CBOR decoder and diagnostic notation (tern/cbor.h): every example
 * of RFC 8949 Appendix A decodes and prints as the RFC writes it, every
 * not-well-formed example of Appendix F fails with its own error at its byte,
 * and the limits and flags (depth, duplicate keys, deterministic encoding)
 * hold exactly at their edges. Runs on the host and on the Cortex-M4.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "tern/cbor.h"
#include "tern_test.h"

#define DET TERN_CBOR_DETERMINISTIC
#define DUP TERN_CBOR_CHECK_DUPLICATES

/* Hex (spaces allowed) to bytes. */
static size_t unhex(const char *h, uint8_t *out, size_t cap)
{
    size_t n = 0;
    int hi = -1;
    for (; *h; h++) {
        int v = *h >= '0' && *h <= '9'   ? *h - '0'
                : *h >= 'a' && *h <= 'f' ? *h - 'a' + 10
                : *h >= 'A' && *h <= 'F' ? *h - 'A' + 10
                                         : -1;
        if (v < 0) {
            continue;
        }
        if (hi < 0) {
            hi = v;
        } else {
            assert_true(n < cap);
            out[n++] = (uint8_t)(hi << 4 | v);
            hi = -1;
        }
    }
    assert_true(hi < 0);
    return n;
}

static uint64_t bits_of(double f)
{
    uint64_t b;
    memcpy(&b, &f, sizeof b);
    return b;
}

/* Walk everything; the error at the end (TERN_ERR_EMPTY when well-formed). */
static tern_err_t walk(const uint8_t *b, size_t n, unsigned flags, size_t *items, size_t *off)
{
    tern_cbor_dec_t d;
    tern_cbor_item_t it;
    tern_err_t e;
    size_t count = 0;
    tern_cbor_dec_init(&d, b, n, flags);
    while ((e = tern_cbor_dec_next(&d, &it)) == TERN_OK) {
        count++;
    }
    /* Sticky: the same answer again, and the item says where it stopped. */
    assert_int_equal(tern_cbor_dec_next(&d, &it), e);
    assert_int_equal(it.offset, tern_cbor_dec_offset(&d));
    if (items) {
        *items = count;
    }
    if (off) {
        *off = tern_cbor_dec_offset(&d);
    }
    return e;
}

/* ------------------------------------------------ RFC 8949 Appendix A -- */

typedef struct {
    const char *hex;
    const char *diag;
} example_t;

static const example_t k_rfc[] = {
    { "00", "0" },
    { "01", "1" },
    { "0a", "10" },
    { "17", "23" },
    { "1818", "24" },
    { "1819", "25" },
    { "1864", "100" },
    { "1903e8", "1000" },
    { "1a000f4240", "1000000" },
    { "1b000000e8d4a51000", "1000000000000" },
    { "1bffffffffffffffff", "18446744073709551615" },
    { "c249010000000000000000", "2(h'010000000000000000')" },
    { "3bffffffffffffffff", "-18446744073709551616" },
    { "c349010000000000000000", "3(h'010000000000000000')" },
    { "20", "-1" },
    { "29", "-10" },
    { "3863", "-100" },
    { "3903e7", "-1000" },
    { "f90000", "0.0" },
    { "f98000", "-0.0" },
    { "f93c00", "1.0" },
    { "fb3ff199999999999a", "1.1" },
    { "f93e00", "1.5" },
    { "f97bff", "65504.0" },
    { "fa47c35000", "100000.0" },
    { "fa7f7fffff", "3.4028234663852886e+38" },
    { "fb7e37e43c8800759c", "1.0e+300" },
    { "f90001", "5.960464477539063e-8" },
    { "f90400", "0.00006103515625" },
    { "f9c400", "-4.0" },
    { "fbc010666666666666", "-4.1" },
    { "f97c00", "Infinity" },
    { "f97e00", "NaN" },
    { "f9fc00", "-Infinity" },
    { "fa7f800000", "Infinity" },
    { "fa7fc00000", "NaN" },
    { "faff800000", "-Infinity" },
    { "fb7ff0000000000000", "Infinity" },
    { "fb7ff8000000000000", "NaN" },
    { "fbfff0000000000000", "-Infinity" },
    { "f4", "false" },
    { "f5", "true" },
    { "f6", "null" },
    { "f7", "undefined" },
    { "f0", "simple(16)" },
    { "f8ff", "simple(255)" },
    { "c074323031332d30332d32315432303a30343a30305a", "0(\"2013-03-21T20:04:00Z\")" },
    { "c11a514b67b0", "1(1363896240)" },
    { "c1fb41d452d9ec200000", "1(1363896240.5)" },
    { "d74401020304", "23(h'01020304')" },
    { "d818456449455446", "24(h'6449455446')" },
    { "d82076687474703a2f2f7777772e6578616d706c652e636f6d", "32(\"http://www.example.com\")" },
    { "40", "h''" },
    { "4401020304", "h'01020304'" },
    { "60", "\"\"" },
    { "6161", "\"a\"" },
    { "6449455446", "\"IETF\"" },
    { "62225c", "\"\\\"\\\\\"" },
    { "62c3bc", "\"\\u00fc\"" },
    { "63e6b0b4", "\"\\u6c34\"" },
    { "64f0908591", "\"\\ud800\\udd51\"" },
    { "80", "[]" },
    { "83010203", "[1, 2, 3]" },
    { "8301820203820405", "[1, [2, 3], [4, 5]]" },
    { "98190102030405060708090a0b0c0d0e0f101112131415161718181819",
      "[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, "
      "25]" },
    { "a0", "{}" },
    { "a201020304", "{1: 2, 3: 4}" },
    { "a26161016162820203", "{\"a\": 1, \"b\": [2, 3]}" },
    { "826161a161626163", "[\"a\", {\"b\": \"c\"}]" },
    { "a56161614161626142616361436164614461656145",
      "{\"a\": \"A\", \"b\": \"B\", \"c\": \"C\", \"d\": \"D\", \"e\": \"E\"}" },
    { "5f42010243030405ff", "(_ h'0102', h'030405')" },
    { "7f657374726561646d696e67ff", "(_ \"strea\", \"ming\")" },
    { "9fff", "[_ ]" },
    { "9f018202039f0405ffff", "[_ 1, [2, 3], [_ 4, 5]]" },
    { "9f01820203820405ff", "[_ 1, [2, 3], [4, 5]]" },
    { "83018202039f0405ff", "[1, [2, 3], [_ 4, 5]]" },
    { "83019f0203ff820405", "[1, [_ 2, 3], [4, 5]]" },
    { "9f0102030405060708090a0b0c0d0e0f101112131415161718181819ff",
      "[_ 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, "
      "25]" },
    { "bf61610161629f0203ffff", "{_ \"a\": 1, \"b\": [_ 2, 3]}" },
    { "826161bf61626163ff", "[\"a\", {_ \"b\": \"c\"}]" },
    { "bf6346756ef563416d7421ff", "{_ \"Fun\": true, \"Amt\": -2}" },
};

static void test_rfc_examples_print(void **state)
{
    (void)state;
    uint8_t b[64];
    char out[160];
    for (size_t i = 0; i < sizeof k_rfc / sizeof k_rfc[0]; i++) {
        size_t n = unhex(k_rfc[i].hex, b, sizeof b), len = 0, off = 99;
        memset(out, 'x', sizeof out);
        tern_err_t e = tern_cbor_diag(b, n, out, sizeof out, &len);
        if (e != TERN_OK || strcmp(out, k_rfc[i].diag) != 0) {
            fail_msg("%s: got %d \"%s\", want \"%s\"", k_rfc[i].hex, (int)e, out, k_rfc[i].diag);
        }
        assert_int_equal(len, strlen(k_rfc[i].diag));
        /* Well-formed and valid; with duplicate checks too (no example repeats a key). */
        assert_int_equal(tern_cbor_validate(b, n, 0, &off), TERN_OK);
        assert_int_equal(off, n);
        assert_int_equal(tern_cbor_validate(b, n, DUP, NULL), TERN_OK);
        assert_int_equal(walk(b, n, 0, NULL, NULL), TERN_ERR_EMPTY);
    }
}

/* Which Appendix A examples are deterministic (preferred serialization, no indefinite). */
static void test_rfc_examples_deterministic(void **state)
{
    (void)state;
    uint8_t b[64];
    for (size_t i = 0; i < sizeof k_rfc / sizeof k_rfc[0]; i++) {
        size_t n = unhex(k_rfc[i].hex, b, sizeof b), off = 0;
        /* Not deterministic: indefinite lengths, and the 32- and 64-bit forms of
         * values a half holds (infinities and NaN). */
        bool indefinite = strchr(k_rfc[i].diag, '_') != NULL;
        bool long_special = (b[0] == 0xFA || b[0] == 0xFB) &&
                            (k_rfc[i].diag[0] == 'N' || strstr(k_rfc[i].diag, "Inf"));
        tern_err_t want = indefinite || long_special ? TERN_ERR_CBOR_NOT_DETERMINISTIC : TERN_OK;
        tern_err_t e = tern_cbor_validate(b, n, DET | DUP, &off);
        if (e != want) {
            fail_msg("%s: got %d, want %d", k_rfc[i].hex, (int)e, (int)want);
        }
        if (e) { /* at the first indefinite header, or at the float */
            tern_cbor_dec_t d;
            tern_cbor_item_t it;
            tern_cbor_dec_init(&d, b, n, 0);
            do {
                assert_int_equal(tern_cbor_dec_next(&d, &it), TERN_OK);
            } while (!it.indefinite && it.type != TERN_CBOR_FLOAT);
            assert_int_equal(off, it.offset);
        }
    }
}

static void expect(tern_cbor_dec_t *d, tern_cbor_type_t type, uint64_t u, size_t offset)
{
    tern_cbor_item_t it;
    assert_int_equal(tern_cbor_dec_next(d, &it), TERN_OK);
    assert_int_equal(it.type, type);
    assert_int_equal(it.u, u);
    assert_int_equal(it.offset, offset);
}

static void test_rfc_examples_values(void **state)
{
    (void)state;
    uint8_t b[64];
    size_t n;
    tern_cbor_dec_t d;
    tern_cbor_item_t it;

    static const struct {
        const char *hex;
        tern_cbor_type_t type;
        uint64_t u;
    } ints[] = {
        { "00", TERN_CBOR_UINT, 0 },
        { "17", TERN_CBOR_UINT, 23 },
        { "1818", TERN_CBOR_UINT, 24 },
        { "1903e8", TERN_CBOR_UINT, 1000 },
        { "1a000f4240", TERN_CBOR_UINT, 1000000 },
        { "1b000000e8d4a51000", TERN_CBOR_UINT, 1000000000000u },
        { "1bffffffffffffffff", TERN_CBOR_UINT, UINT64_MAX },
        { "3bffffffffffffffff", TERN_CBOR_NEGINT, UINT64_MAX },
        { "20", TERN_CBOR_NEGINT, 0 },
        { "3903e7", TERN_CBOR_NEGINT, 999 },
        { "f4", TERN_CBOR_SIMPLE, TERN_CBOR_FALSE },
        { "f5", TERN_CBOR_SIMPLE, TERN_CBOR_TRUE },
        { "f6", TERN_CBOR_SIMPLE, TERN_CBOR_NULL },
        { "f7", TERN_CBOR_SIMPLE, TERN_CBOR_UNDEFINED },
        { "f0", TERN_CBOR_SIMPLE, 16 },
        { "f8ff", TERN_CBOR_SIMPLE, 255 },
    };
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
        n = unhex(ints[i].hex, b, sizeof b);
        tern_cbor_dec_init(&d, b, n, 0);
        expect(&d, ints[i].type, ints[i].u, 0);
        assert_int_equal(tern_cbor_dec_offset(&d), n);
        assert_int_equal(tern_cbor_dec_next(&d, &it), TERN_ERR_EMPTY);
        assert_int_equal(tern_cbor_dec_next(&d, &it), TERN_ERR_EMPTY);
    }

    static const struct {
        const char *hex;
        double f;
        uint8_t bits;
    } floats[] = {
        { "f90000", 0.0, 16 },
        { "f98000", -0.0, 16 },
        { "f93c00", 1.0, 16 },
        { "fb3ff199999999999a", 1.1, 64 },
        { "f97bff", 65504.0, 16 },
        { "fa47c35000", 100000.0, 32 },
        { "fa7f7fffff", 3.4028234663852886e+38, 32 },
        { "fb7e37e43c8800759c", 1.0e+300, 64 },
        { "f90001", 5.9604644775390625e-8, 16 }, /* 2^-24, the least half subnormal */
        { "f903ff", 6.097555160522461e-05, 16 }, /* the greatest half subnormal */
        { "f90400", 0.00006103515625, 16 },      /* 2^-14, the least normal half */
        { "f98001", -5.9604644775390625e-8, 16 },
        { "f9c400", -4.0, 16 },
        { "fa00000001", 1.401298464324817e-45, 32 }, /* 2^-149 */
        { "c1fb41d452d9ec200000", 0, 0 },            /* tagged: below */
    };
    for (size_t i = 0; i < sizeof floats / sizeof floats[0] - 1; i++) {
        n = unhex(floats[i].hex, b, sizeof b);
        tern_cbor_dec_init(&d, b, n, 0);
        assert_int_equal(tern_cbor_dec_next(&d, &it), TERN_OK);
        assert_int_equal(it.type, TERN_CBOR_FLOAT);
        assert_int_equal(it.bits, floats[i].bits);
        assert_int_equal(bits_of(it.f), bits_of(floats[i].f));
    }
    static const char *const specials[] = { "f97c00", "fa7f800000", "fb7ff0000000000000",
                                            "f9fc00", "faff800000", "fbfff0000000000000",
                                            "f97e00", "fa7fc00000", "fb7ff8000000000000" };
    for (size_t i = 0; i < 9; i++) {
        n = unhex(specials[i], b, sizeof b);
        tern_cbor_dec_init(&d, b, n, 0);
        assert_int_equal(tern_cbor_dec_next(&d, &it), TERN_OK);
        assert_int_equal(it.type, TERN_CBOR_FLOAT);
        assert_int_equal(it.bits, 16u << (i % 3));
        if (i < 6) {
            assert_int_equal(bits_of(it.f), i < 3 ? 0x7FF0000000000000u : 0xFFF0000000000000u);
        } else {
            assert_true(it.f != it.f); /* NaN, quiet */
            assert_int_equal(bits_of(it.f), 0x7FF8000000000000u);
        }
    }
    /* A half NaN keeps its payload; a half subnormal with all bits. */
    n = unhex("f97e01", b, sizeof b);
    tern_cbor_dec_init(&d, b, n, 0);
    assert_int_equal(tern_cbor_dec_next(&d, &it), TERN_OK);
    assert_int_equal(bits_of(it.f), 0x7FF8040000000000u);

    /* 1(1363896240.5) */
    n = unhex(floats[sizeof floats / sizeof floats[0] - 1].hex, b, sizeof b);
    tern_cbor_dec_init(&d, b, n, 0);
    expect(&d, TERN_CBOR_TAG, 1, 0);
    assert_int_equal(tern_cbor_dec_next(&d, &it), TERN_OK);
    assert_int_equal(it.type, TERN_CBOR_FLOAT);
    assert_int_equal(it.bits, 64);
    assert_int_equal(bits_of(it.f), bits_of(1363896240.5));
    assert_int_equal(it.offset, 1);
    assert_int_equal(tern_cbor_dec_next(&d, &it), TERN_ERR_EMPTY);

    /* Strings are views into the buffer. */
    n = unhex("6449455446", b, sizeof b);
    tern_cbor_dec_init(&d, b, n, 0);
    assert_int_equal(tern_cbor_dec_next(&d, &it), TERN_OK);
    assert_int_equal(it.type, TERN_CBOR_TEXT);
    assert_false(it.indefinite);
    assert_ptr_equal(it.ptr, b + 1);
    assert_int_equal(it.len, 4);
    assert_memory_equal(it.ptr, "IETF", 4);
    n = unhex("40", b, sizeof b);
    tern_cbor_dec_init(&d, b, n, 0);
    assert_int_equal(tern_cbor_dec_next(&d, &it), TERN_OK);
    assert_int_equal(it.type, TERN_CBOR_BYTES);
    assert_int_equal(it.len, 0);
    assert_ptr_equal(it.ptr, b + 1);

    /* (_ h'0102', h'030405'): a header, its chunks, END. */
    n = unhex("5f42010243030405ff", b, sizeof b);
    tern_cbor_dec_init(&d, b, n, 0);
    assert_int_equal(tern_cbor_dec_next(&d, &it), TERN_OK);
    assert_int_equal(it.type, TERN_CBOR_BYTES);
    assert_true(it.indefinite);
    assert_int_equal(tern_cbor_dec_next(&d, &it), TERN_OK);
    assert_int_equal(it.type, TERN_CBOR_BYTES);
    assert_false(it.indefinite);
    assert_int_equal(it.len, 2);
    assert_ptr_equal(it.ptr, b + 2);
    assert_int_equal(tern_cbor_dec_next(&d, &it), TERN_OK);
    assert_int_equal(it.len, 3);
    assert_ptr_equal(it.ptr, b + 5);
    expect(&d, TERN_CBOR_END, 0, 8);
    assert_int_equal(tern_cbor_dec_next(&d, &it), TERN_ERR_EMPTY);
}

/* [_ 1, [2, 3], [_ 4, 5]] and {_ "a": 1, "b": [_ 2, 3]} item by item. */
static void test_preorder_with_ends(void **state)
{
    (void)state;
    uint8_t b[32];
    size_t n = unhex("9f018202039f0405ffff", b, sizeof b);
    tern_cbor_dec_t d;
    tern_cbor_item_t it;
    tern_cbor_dec_init(&d, b, n, 0);
    assert_int_equal(tern_cbor_dec_next(&d, &it), TERN_OK);
    assert_int_equal(it.type, TERN_CBOR_ARRAY);
    assert_true(it.indefinite);
    expect(&d, TERN_CBOR_UINT, 1, 1);
    expect(&d, TERN_CBOR_ARRAY, 2, 2);
    expect(&d, TERN_CBOR_UINT, 2, 3);
    expect(&d, TERN_CBOR_UINT, 3, 4);
    expect(&d, TERN_CBOR_END, 0, 5); /* definite: no byte of its own */
    expect(&d, TERN_CBOR_ARRAY, 0, 5);
    expect(&d, TERN_CBOR_UINT, 4, 6);
    expect(&d, TERN_CBOR_UINT, 5, 7);
    expect(&d, TERN_CBOR_END, 0, 8); /* its break */
    expect(&d, TERN_CBOR_END, 0, 9);
    assert_int_equal(tern_cbor_dec_offset(&d), 10);
    assert_int_equal(tern_cbor_dec_next(&d, &it), TERN_ERR_EMPTY);

    n = unhex("bf61610161629f0203ffff", b, sizeof b);
    tern_cbor_dec_init(&d, b, n, DUP);
    expect(&d, TERN_CBOR_MAP, 0, 0);
    expect(&d, TERN_CBOR_TEXT, 1, 1); /* u: the length */
    expect(&d, TERN_CBOR_UINT, 1, 3);
    expect(&d, TERN_CBOR_TEXT, 1, 4);
    expect(&d, TERN_CBOR_ARRAY, 0, 6);
    expect(&d, TERN_CBOR_UINT, 2, 7);
    expect(&d, TERN_CBOR_UINT, 3, 8);
    expect(&d, TERN_CBOR_END, 0, 9);
    expect(&d, TERN_CBOR_END, 0, 10);
    assert_int_equal(tern_cbor_dec_next(&d, &it), TERN_ERR_EMPTY);

    /* Empty containers close at once; tags have no END. */
    n = unhex("83a080c1c2f6", b, sizeof b);
    tern_cbor_dec_init(&d, b, n, 0);
    expect(&d, TERN_CBOR_ARRAY, 3, 0);
    expect(&d, TERN_CBOR_MAP, 0, 1);
    expect(&d, TERN_CBOR_END, 0, 2);
    expect(&d, TERN_CBOR_ARRAY, 0, 2);
    expect(&d, TERN_CBOR_END, 0, 3);
    expect(&d, TERN_CBOR_TAG, 1, 3);
    expect(&d, TERN_CBOR_TAG, 2, 4);
    expect(&d, TERN_CBOR_SIMPLE, TERN_CBOR_NULL, 5);
    expect(&d, TERN_CBOR_END, 0, 6);
    assert_int_equal(tern_cbor_dec_next(&d, &it), TERN_ERR_EMPTY);
}

/* ---------------------------------------------------- malformed input -- */

typedef struct {
    const char *hex;
    unsigned flags;
    tern_err_t err;
    size_t offset;
} bad_t;

static void check_bad(const bad_t *t, size_t count)
{
    uint8_t b[64];
    char out[96];
    for (size_t i = 0; i < count; i++) {
        size_t n = unhex(t[i].hex, b, sizeof b), off = 12345, items = 0;
        tern_err_t e = tern_cbor_validate(b, n, t[i].flags, &off);
        if (e != t[i].err || off != t[i].offset) {
            fail_msg("%s (flags %u): got %d at %u, want %d at %u", t[i].hex, t[i].flags, (int)e,
                     (unsigned)off, (int)t[i].err, (unsigned)t[i].offset);
        }
        assert_int_equal(walk(b, n, t[i].flags, &items, &off), t[i].err);
        assert_int_equal(off, t[i].offset);
        if (t[i].flags == 0) { /* diag walks without flags: the same error */
            assert_int_equal(tern_cbor_diag(b, n, out, sizeof out, NULL), t[i].err);
            assert_true(strlen(out) < sizeof out);
        }
    }
}

/* At least one input per error, each with its byte. */
static void test_error_matrix(void **state)
{
    (void)state;
    static const bad_t t[] = {
        { "", 0, TERN_ERR_CBOR_TRUNCATED, 0 },
        { "1901", 0, TERN_ERR_CBOR_TRUNCATED, 0 },
        { "8201", 0, TERN_ERR_CBOR_TRUNCATED, 2 },
        { "82016261", 0, TERN_ERR_CBOR_TRUNCATED, 2 },
        { "811c", 0, TERN_ERR_CBOR_RESERVED, 1 },
        { "82003f", 0, TERN_ERR_CBOR_BAD_INDEFINITE, 2 },
        { "5f41006100ff", 0, TERN_ERR_CBOR_BAD_CHUNK, 3 },
        { "7f61007f6100ffff", 0, TERN_ERR_CBOR_BAD_CHUNK, 3 },
        { "8200ff", 0, TERN_ERR_CBOR_UNEXPECTED_BREAK, 2 },
        { "81f81f", 0, TERN_ERR_CBOR_BAD_SIMPLE, 1 },
        { "820062c080", 0, TERN_ERR_CBOR_BAD_UTF8, 2 },
        { "bf00ff", 0, TERN_ERR_CBOR_ODD_MAP, 2 },
        { "a3010002000100", DUP, TERN_ERR_CBOR_DUPLICATE_KEY, 5 },
        { "82001817", DET, TERN_ERR_CBOR_NOT_DETERMINISTIC, 2 },
        { "0000", 0, TERN_ERR_CBOR_TRAILING, 1 },
        { "8100ff", 0, TERN_ERR_CBOR_TRAILING, 2 },
        { "9fff00", 0, TERN_ERR_CBOR_TRAILING, 2 },
    };
    check_bad(t, sizeof t / sizeof t[0]);
    /* TERN_ERR_CBOR_TOO_DEEP: test_depth_limit; TERN_ERR_CBOR_TOO_LONG: test_appendix_f. */
}

/* RFC 8949 Appendix F.1: examples of CBOR data items that are not well-formed. */
static void test_appendix_f(void **state)
{
    (void)state;
    static const bad_t t[] = {
        /* End of input in a head */
        { "18", 0, TERN_ERR_CBOR_TRUNCATED, 0 },
        { "19", 0, TERN_ERR_CBOR_TRUNCATED, 0 },
        { "1a", 0, TERN_ERR_CBOR_TRUNCATED, 0 },
        { "1b", 0, TERN_ERR_CBOR_TRUNCATED, 0 },
        { "1901", 0, TERN_ERR_CBOR_TRUNCATED, 0 },
        { "1a0102", 0, TERN_ERR_CBOR_TRUNCATED, 0 },
        { "1b01020304050607", 0, TERN_ERR_CBOR_TRUNCATED, 0 },
        { "38", 0, TERN_ERR_CBOR_TRUNCATED, 0 },
        { "58", 0, TERN_ERR_CBOR_TRUNCATED, 0 },
        { "78", 0, TERN_ERR_CBOR_TRUNCATED, 0 },
        { "98", 0, TERN_ERR_CBOR_TRUNCATED, 0 },
        { "9a01ff00", 0, TERN_ERR_CBOR_TRUNCATED, 0 },
        { "b8", 0, TERN_ERR_CBOR_TRUNCATED, 0 },
        { "d8", 0, TERN_ERR_CBOR_TRUNCATED, 0 },
        { "f8", 0, TERN_ERR_CBOR_TRUNCATED, 0 },
        { "f900", 0, TERN_ERR_CBOR_TRUNCATED, 0 },
        { "fa0000", 0, TERN_ERR_CBOR_TRUNCATED, 0 },
        { "fb000000", 0, TERN_ERR_CBOR_TRUNCATED, 0 },
        /* Definite-length strings with short data (the two longest: below) */
        { "41", 0, TERN_ERR_CBOR_TRUNCATED, 0 },
        { "61", 0, TERN_ERR_CBOR_TRUNCATED, 0 },
        { "5affffffff00", 0, TERN_ERR_CBOR_TRUNCATED, 0 },
        { "7affffffff00", 0, TERN_ERR_CBOR_TRUNCATED, 0 },
        /* Definite-length maps and arrays not closed with enough items */
        { "81", 0, TERN_ERR_CBOR_TRUNCATED, 1 },
        { "818181818181818181", 0, TERN_ERR_CBOR_TRUNCATED, 9 },
        { "8200", 0, TERN_ERR_CBOR_TRUNCATED, 2 },
        { "a1", 0, TERN_ERR_CBOR_TRUNCATED, 1 },
        { "a20102", 0, TERN_ERR_CBOR_TRUNCATED, 3 },
        { "a100", 0, TERN_ERR_CBOR_TRUNCATED, 2 },
        { "a2000000", 0, TERN_ERR_CBOR_TRUNCATED, 4 },
        /* Tag number not followed by tag content */
        { "c0", 0, TERN_ERR_CBOR_TRUNCATED, 1 },
        /* Indefinite-length strings not closed by a break stop code */
        { "5f4100", 0, TERN_ERR_CBOR_TRUNCATED, 3 },
        { "7f6100", 0, TERN_ERR_CBOR_TRUNCATED, 3 },
        /* Indefinite-length maps and arrays not closed by a break stop code */
        { "9f", 0, TERN_ERR_CBOR_TRUNCATED, 1 },
        { "9f0102", 0, TERN_ERR_CBOR_TRUNCATED, 3 },
        { "bf", 0, TERN_ERR_CBOR_TRUNCATED, 1 },
        { "bf01020102", 0, TERN_ERR_CBOR_TRUNCATED, 5 },
        { "819f", 0, TERN_ERR_CBOR_TRUNCATED, 2 },
        { "9f8000", 0, TERN_ERR_CBOR_TRUNCATED, 3 },
        { "9f9f9f9f9fffffffff", 0, TERN_ERR_CBOR_TRUNCATED, 9 },
        { "9f819f819f9fffffff", 0, TERN_ERR_CBOR_TRUNCATED, 9 },
        /* Reserved additional information values */
        { "1c", 0, TERN_ERR_CBOR_RESERVED, 0 },
        { "1d", 0, TERN_ERR_CBOR_RESERVED, 0 },
        { "1e", 0, TERN_ERR_CBOR_RESERVED, 0 },
        { "3c", 0, TERN_ERR_CBOR_RESERVED, 0 },
        { "3d", 0, TERN_ERR_CBOR_RESERVED, 0 },
        { "3e", 0, TERN_ERR_CBOR_RESERVED, 0 },
        { "5c", 0, TERN_ERR_CBOR_RESERVED, 0 },
        { "5d", 0, TERN_ERR_CBOR_RESERVED, 0 },
        { "5e", 0, TERN_ERR_CBOR_RESERVED, 0 },
        { "7c", 0, TERN_ERR_CBOR_RESERVED, 0 },
        { "7d", 0, TERN_ERR_CBOR_RESERVED, 0 },
        { "7e", 0, TERN_ERR_CBOR_RESERVED, 0 },
        { "9c", 0, TERN_ERR_CBOR_RESERVED, 0 },
        { "9d", 0, TERN_ERR_CBOR_RESERVED, 0 },
        { "9e", 0, TERN_ERR_CBOR_RESERVED, 0 },
        { "bc", 0, TERN_ERR_CBOR_RESERVED, 0 },
        { "bd", 0, TERN_ERR_CBOR_RESERVED, 0 },
        { "be", 0, TERN_ERR_CBOR_RESERVED, 0 },
        { "dc", 0, TERN_ERR_CBOR_RESERVED, 0 },
        { "dd", 0, TERN_ERR_CBOR_RESERVED, 0 },
        { "de", 0, TERN_ERR_CBOR_RESERVED, 0 },
        { "fc", 0, TERN_ERR_CBOR_RESERVED, 0 },
        { "fd", 0, TERN_ERR_CBOR_RESERVED, 0 },
        { "fe", 0, TERN_ERR_CBOR_RESERVED, 0 },
        /* Reserved two-byte encodings of simple values */
        { "f800", 0, TERN_ERR_CBOR_BAD_SIMPLE, 0 },
        { "f801", 0, TERN_ERR_CBOR_BAD_SIMPLE, 0 },
        { "f818", 0, TERN_ERR_CBOR_BAD_SIMPLE, 0 },
        { "f81f", 0, TERN_ERR_CBOR_BAD_SIMPLE, 0 },
        /* Indefinite-length string chunks not of the correct type */
        { "5f00ff", 0, TERN_ERR_CBOR_BAD_CHUNK, 1 },
        { "5f21ff", 0, TERN_ERR_CBOR_BAD_CHUNK, 1 },
        { "5f6100ff", 0, TERN_ERR_CBOR_BAD_CHUNK, 1 },
        { "5f80ff", 0, TERN_ERR_CBOR_BAD_CHUNK, 1 },
        { "5fa0ff", 0, TERN_ERR_CBOR_BAD_CHUNK, 1 },
        { "5fc000ff", 0, TERN_ERR_CBOR_BAD_CHUNK, 1 },
        { "5fe0ff", 0, TERN_ERR_CBOR_BAD_CHUNK, 1 },
        { "7f4100ff", 0, TERN_ERR_CBOR_BAD_CHUNK, 1 },
        /* Indefinite-length string chunks not definite length */
        { "5f5f4100ffff", 0, TERN_ERR_CBOR_BAD_CHUNK, 1 },
        { "7f7f6100ffff", 0, TERN_ERR_CBOR_BAD_CHUNK, 1 },
        /* Break occurring on its own outside of an indefinite-length item */
        { "ff", 0, TERN_ERR_CBOR_UNEXPECTED_BREAK, 0 },
        /* Break occurring in a definite-length array or map or a tag */
        { "81ff", 0, TERN_ERR_CBOR_UNEXPECTED_BREAK, 1 },
        { "8200ff", 0, TERN_ERR_CBOR_UNEXPECTED_BREAK, 2 },
        { "a1ff", 0, TERN_ERR_CBOR_UNEXPECTED_BREAK, 1 },
        { "a1ff00", 0, TERN_ERR_CBOR_UNEXPECTED_BREAK, 1 },
        { "a100ff", 0, TERN_ERR_CBOR_UNEXPECTED_BREAK, 2 },
        { "a20000ff", 0, TERN_ERR_CBOR_UNEXPECTED_BREAK, 3 },
        { "9f81ff", 0, TERN_ERR_CBOR_UNEXPECTED_BREAK, 2 },
        { "9f829f819f9fffffffff", 0, TERN_ERR_CBOR_UNEXPECTED_BREAK, 9 },
        { "c0ff", 0, TERN_ERR_CBOR_UNEXPECTED_BREAK, 1 },
        { "9fc0ff", 0, TERN_ERR_CBOR_UNEXPECTED_BREAK, 2 },
        /* Break in an indefinite-length map that would lead to an odd number of items */
        { "bf00ff", 0, TERN_ERR_CBOR_ODD_MAP, 2 },
        { "bf000000ff", 0, TERN_ERR_CBOR_ODD_MAP, 4 },
        /* Major type 0, 1, 6 with additional information 31 */
        { "1f", 0, TERN_ERR_CBOR_BAD_INDEFINITE, 0 },
        { "3f", 0, TERN_ERR_CBOR_BAD_INDEFINITE, 0 },
        { "df", 0, TERN_ERR_CBOR_BAD_INDEFINITE, 0 },
    };
    check_bad(t, sizeof t / sizeof t[0]);

    /* Lengths beyond what the machine addresses: TOO_LONG where size_t is 32 bits,
     * else simply more than the buffer holds. */
    bool narrow = SIZE_MAX < UINT64_MAX;
    const bad_t l[] = {
        { "5bffffffffffffffff010203", 0, narrow ? TERN_ERR_CBOR_TOO_LONG : TERN_ERR_CBOR_TRUNCATED,
          0 },
        { "7b7fffffffffffffff010203", 0, narrow ? TERN_ERR_CBOR_TOO_LONG : TERN_ERR_CBOR_TRUNCATED,
          0 },
        { "815b0000000100000000", 0, narrow ? TERN_ERR_CBOR_TOO_LONG : TERN_ERR_CBOR_TRUNCATED, 1 },
        { "5b00000000ffffffff00", 0, TERN_ERR_CBOR_TRUNCATED, 0 },
        /* Counts far beyond the input: the walk runs out of bytes. */
        { "9bffffffffffffffff00", 0, TERN_ERR_CBOR_TRUNCATED, 10 },
        { "bbffffffffffffffff0000", 0, TERN_ERR_CBOR_TRUNCATED, 11 },
        { "bb7fffffffffffffff00ff", 0, TERN_ERR_CBOR_UNEXPECTED_BREAK, 10 },
    };
    check_bad(l, sizeof l / sizeof l[0]);
}

static void test_utf8(void **state)
{
    (void)state;
    static const char *const good[] = {
        "617f",       /* U+007F */
        "62c280",     /* U+0080 */
        "62dfbf",     /* U+07FF */
        "63e0a080",   /* U+0800 */
        "63ed9fbf",   /* U+D7FF */
        "63ee8080",   /* U+E000 */
        "63efbfbf",   /* U+FFFF */
        "64f0908080", /* U+10000 */
        "64f48fbfbf", /* U+10FFFF */
        "7f62c3bc6161ff",
    };
    static const char *const bad[] = {
        "6180",       /* a lone continuation byte */
        "61bf",       /* another */
        "62c080",     /* overlong U+0000 */
        "62c1bf",     /* overlong U+007F */
        "63e080bf",   /* overlong 3 bytes */
        "63e09fbf",   /* overlong U+07FF */
        "64f08fbfbf", /* overlong U+FFFF */
        "63eda080",   /* surrogate U+D800 */
        "63edbfbf",   /* surrogate U+DFFF */
        "64f4908080", /* U+110000 */
        "64f5808080", /* lead byte beyond U+10FFFF */
        "61f8",       /* 5-byte lead */
        "61fe",       /* never in UTF-8 */
        "61ff",       /* never in UTF-8 */
        "62e282",     /* ends inside a character */
        "63e228a1",   /* bad continuation */
        "6261c3",     /* ends inside a character */
        "62c3c3",     /* continuation expected */
    };
    uint8_t b[16];
    char out[48];
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        size_t n = unhex(good[i], b, sizeof b);
        assert_int_equal(tern_cbor_validate(b, n, 0, NULL), TERN_OK);
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        size_t n = unhex(bad[i], b, sizeof b), off = 9;
        if (tern_cbor_validate(b, n, 0, &off) != TERN_ERR_CBOR_BAD_UTF8 || off != 0) {
            fail_msg("%s: not refused as UTF-8", bad[i]);
        }
    }
    /* In chunks: each chunk is checked on its own, so a character may not span two. */
    static const bad_t chunked[] = {
        { "7f61c361bcff", 0, TERN_ERR_CBOR_BAD_UTF8, 1 },
        { "7f616162eda0ff", 0, TERN_ERR_CBOR_BAD_UTF8, 3 },
        { "a162c080f6", 0, TERN_ERR_CBOR_BAD_UTF8, 1 },
    };
    check_bad(chunked, sizeof chunked / sizeof chunked[0]);
    /* And what diag makes of them. */
    size_t n = unhex("7f62c3bc64f0908591ff", b, sizeof b);
    assert_int_equal(tern_cbor_diag(b, n, out, sizeof out, NULL), TERN_OK);
    assert_string_equal(out, "(_ \"\\u00fc\", \"\\ud800\\udd51\")");
    n = unhex("6500091f7f41", b, sizeof b);
    assert_int_equal(tern_cbor_diag(b, n, out, sizeof out, NULL), TERN_OK);
    assert_string_equal(out, "\"\\u0000\\u0009\\u001f\\u007fA\"");
    n = unhex("64f48fbfbf", b, sizeof b);
    assert_int_equal(tern_cbor_diag(b, n, out, sizeof out, NULL), TERN_OK);
    assert_string_equal(out, "\"\\udbff\\udfff\"");
}

/* --------------------------------------------------------------- depth -- */

/* @p levels nested containers of @p kind ("81", "9f", "c1", ...) around 0. */
static size_t nest(uint8_t *b, size_t cap, unsigned levels, uint8_t head, bool indef_close)
{
    size_t n = 0;
    assert_true(2u * levels + 1u <= cap);
    for (unsigned i = 0; i < levels; i++) {
        b[n++] = head;
    }
    b[n++] = 0x00;
    for (unsigned i = 0; indef_close && i < levels; i++) {
        b[n++] = 0xFF;
    }
    return n;
}

static void test_depth_limit(void **state)
{
    (void)state;
    uint8_t b[2 * TERN_CBOR_MAX_DEPTH + 8];
    static const struct {
        uint8_t head;
        bool indef;
    } kinds[] = { { 0x81, false }, { 0x9F, true }, { 0xC1, false }, { 0xA1, false } };
    for (size_t k = 0; k < 4; k++) {
        size_t off = 0, n;
        if (kinds[k].head == 0xA1) { /* maps: {0: {0: ... 0}} built by hand */
            n = 0;
            for (unsigned i = 0; i < TERN_CBOR_MAX_DEPTH; i++) {
                b[n++] = 0xA1;
                b[n++] = 0x00;
            }
            b[n++] = 0x00;
        } else {
            n = nest(b, sizeof b, TERN_CBOR_MAX_DEPTH, kinds[k].head, kinds[k].indef);
        }
        assert_int_equal(tern_cbor_validate(b, n, 0, &off), TERN_OK);
        /* One more level fails, at the head of the level too many. */
        if (kinds[k].head == 0xA1) {
            memmove(b + 2, b, n);
            b[0] = 0xA1;
            b[1] = 0x00;
            n += 2;
            assert_int_equal(tern_cbor_validate(b, n, 0, &off), TERN_ERR_CBOR_TOO_DEEP);
            assert_int_equal(off, 2u * TERN_CBOR_MAX_DEPTH);
        } else {
            n = nest(b, sizeof b, TERN_CBOR_MAX_DEPTH + 1, kinds[k].head, kinds[k].indef);
            assert_int_equal(tern_cbor_validate(b, n, 0, &off), TERN_ERR_CBOR_TOO_DEEP);
            assert_int_equal(off, TERN_CBOR_MAX_DEPTH);
        }
    }
    /* An indefinite string counts as a level; its chunks do not. */
    size_t n = 0;
    for (unsigned i = 0; i < TERN_CBOR_MAX_DEPTH - 1; i++) {
        b[n++] = 0x81;
    }
    b[n++] = 0x5F;
    b[n++] = 0x41;
    b[n++] = 0x00;
    b[n++] = 0xFF;
    assert_int_equal(tern_cbor_validate(b, n, 0, NULL), TERN_OK);
    memmove(b + 1, b, n++);
    size_t off = 0;
    assert_int_equal(tern_cbor_validate(b, n, 0, &off), TERN_ERR_CBOR_TOO_DEEP);
    assert_int_equal(off, TERN_CBOR_MAX_DEPTH);
    /* diag handles the deepest input the decoder takes. */
    char out[8 * TERN_CBOR_MAX_DEPTH];
    n = nest(b, sizeof b, TERN_CBOR_MAX_DEPTH, 0xC1, false);
    assert_int_equal(tern_cbor_diag(b, n, out, sizeof out, NULL), TERN_OK);
    assert_int_equal(strlen(out), 3u * TERN_CBOR_MAX_DEPTH + 1u);
    n = nest(b, sizeof b, TERN_CBOR_MAX_DEPTH + 1, 0x9F, true);
    assert_int_equal(tern_cbor_diag(b, n, out, sizeof out, NULL), TERN_ERR_CBOR_TOO_DEEP);
}

/* ------------------------------------------------------------- flags -- */

static void test_duplicate_keys(void **state)
{
    (void)state;
    static const bad_t t[] = {
        { "a201000100", DUP, TERN_ERR_CBOR_DUPLICATE_KEY, 3 },
        { "a201000100", 0, TERN_ERR_EMPTY, 5 },
        { "a3010002000100", DUP, TERN_ERR_CBOR_DUPLICATE_KEY, 5 }, /* not adjacent */
        { "bf616100616200616100ff", DUP, TERN_ERR_CBOR_DUPLICATE_KEY, 7 },
        /* Containers as keys: their whole encoding is the key. */
        { "a2820102008201020f", DUP, TERN_ERR_CBOR_DUPLICATE_KEY, 5 },
        { "a2a10102f6a10102f6", DUP, TERN_ERR_CBOR_DUPLICATE_KEY, 5 },
        { "a2c10100c10101", DUP, TERN_ERR_CBOR_DUPLICATE_KEY, 4 },
        /* Same value, other encoding: not the same key bytes. */
        { "a201001801f6", DUP, TERN_ERR_EMPTY, 6 },
        { "a2820102008201030f", DUP, TERN_ERR_EMPTY, 9 },
        { "a2c10100c20100", DUP, TERN_ERR_EMPTY, 7 },
        /* A prefix is not the same key. */
        { "a2820102008101f6", DUP, TERN_ERR_EMPTY, 8 },
        /* Each map on its own: the same key in two maps, and in a map inside a key. */
        { "82a10100a10100", DUP, TERN_ERR_EMPTY, 7 },
        { "a2a10100010102", DUP, TERN_ERR_EMPTY, 7 },
        { "a1a2010001000f", DUP, TERN_ERR_CBOR_DUPLICATE_KEY, 4 },
        { "a2a10100f6a10100f6", DUP, TERN_ERR_CBOR_DUPLICATE_KEY, 5 },
        /* Values may repeat. */
        { "a3010002000300", DUP, TERN_ERR_EMPTY, 7 },
        /* A malformed key is reported as what it is. */
        { "a20100621c", DUP, TERN_ERR_CBOR_TRUNCATED, 3 },
        { "a20100ff", DUP, TERN_ERR_CBOR_UNEXPECTED_BREAK, 3 },
        { "a201008201ff", DUP, TERN_ERR_CBOR_UNEXPECTED_BREAK, 5 },
        { "a201008201ff", DET, TERN_ERR_CBOR_UNEXPECTED_BREAK, 5 },
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        uint8_t b[32];
        size_t n = unhex(t[i].hex, b, sizeof b), off = 0;
        tern_err_t want = t[i].err == TERN_ERR_EMPTY ? TERN_OK : t[i].err;
        tern_err_t e = tern_cbor_validate(b, n, t[i].flags, &off);
        if (e != want || off != t[i].offset) {
            fail_msg("%s: got %d at %u, want %d at %u", t[i].hex, (int)e, (unsigned)off, (int)want,
                     (unsigned)t[i].offset);
        }
    }
}

static void test_deterministic(void **state)
{
    (void)state;
    static const bad_t t[] = {
        /* Shortest arguments: integers, lengths, tags, counts. */
        { "17", DET, TERN_OK, 1 },
        { "1817", DET, TERN_ERR_CBOR_NOT_DETERMINISTIC, 0 },
        { "1818", DET, TERN_OK, 2 },
        { "1900ff", DET, TERN_ERR_CBOR_NOT_DETERMINISTIC, 0 },
        { "190100", DET, TERN_OK, 3 },
        { "1a0000ffff", DET, TERN_ERR_CBOR_NOT_DETERMINISTIC, 0 },
        { "1a00010000", DET, TERN_OK, 5 },
        { "1b00000000ffffffff", DET, TERN_ERR_CBOR_NOT_DETERMINISTIC, 0 },
        { "1b0000000100000000", DET, TERN_OK, 9 },
        { "3817", DET, TERN_ERR_CBOR_NOT_DETERMINISTIC, 0 },
        { "5801ff", DET, TERN_ERR_CBOR_NOT_DETERMINISTIC, 0 },
        { "7800", DET, TERN_ERR_CBOR_NOT_DETERMINISTIC, 0 },
        { "8200980100", DET, TERN_ERR_CBOR_NOT_DETERMINISTIC, 2 },
        { "b800", DET, TERN_ERR_CBOR_NOT_DETERMINISTIC, 0 },
        { "d80100", DET, TERN_ERR_CBOR_NOT_DETERMINISTIC, 0 },
        { "d81800", DET, TERN_OK, 3 },
        { "f820", DET, TERN_OK, 2 }, /* simple(32): the two-byte form is its only one */
        /* No indefinite lengths. */
        { "5fff", DET, TERN_ERR_CBOR_NOT_DETERMINISTIC, 0 },
        { "7fff", DET, TERN_ERR_CBOR_NOT_DETERMINISTIC, 0 },
        { "819fff", DET, TERN_ERR_CBOR_NOT_DETERMINISTIC, 1 },
        { "bfff", DET, TERN_ERR_CBOR_NOT_DETERMINISTIC, 0 },
        /* Floats: the shortest width that keeps the value (and a NaN's payload). */
        { "f93c00", DET, TERN_OK, 3 },
        { "fa3f800000", DET, TERN_ERR_CBOR_NOT_DETERMINISTIC, 0 }, /* 1.0 */
        { "fa3f800001", DET, TERN_OK, 5 },                         /* 1.0000001 */
        { "fa47c35000", DET, TERN_OK, 5 },                         /* 100000.0 */
        { "fa477fe000", DET, TERN_ERR_CBOR_NOT_DETERMINISTIC, 0 }, /* 65504.0 */
        { "fa47800000", DET, TERN_OK, 5 },                         /* 65536.0 */
        { "fa33800000", DET, TERN_ERR_CBOR_NOT_DETERMINISTIC, 0 }, /* 2^-24 */
        { "fa387fc000", DET, TERN_ERR_CBOR_NOT_DETERMINISTIC, 0 }, /* half subnormal */
        { "fa38c00000", DET, TERN_ERR_CBOR_NOT_DETERMINISTIC, 0 }, /* 1.5 * 2^-14 */
        { "fa33000000", DET, TERN_OK, 5 },                         /* 2^-25 */
        { "fa33c00000", DET, TERN_OK, 5 },                         /* 1.5 * 2^-24 */
        { "fa80000000", DET, TERN_ERR_CBOR_NOT_DETERMINISTIC, 0 }, /* -0.0 */
        { "fa7f800000", DET, TERN_ERR_CBOR_NOT_DETERMINISTIC, 0 }, /* Infinity */
        { "fa7fc00000", DET, TERN_ERR_CBOR_NOT_DETERMINISTIC, 0 }, /* NaN */
        { "fa7fc00001", DET, TERN_OK, 5 },                         /* NaN, payload */
        { "fa7f802000", DET, TERN_ERR_CBOR_NOT_DETERMINISTIC, 0 }, /* payload fits */
        { "fa00000001", DET, TERN_OK, 5 },                         /* 2^-149 */
        { "fb3ff0000000000000", DET, TERN_ERR_CBOR_NOT_DETERMINISTIC, 0 },
        { "fb3ff199999999999a", DET, TERN_OK, 9 },
        { "fb36a0000000000000", DET, TERN_ERR_CBOR_NOT_DETERMINISTIC, 0 }, /* 2^-149 */
        { "fb3690000000000000", DET, TERN_OK, 9 },                         /* 2^-150 */
        { "fb3810000000000000", DET, TERN_ERR_CBOR_NOT_DETERMINISTIC, 0 }, /* 2^-126 */
        { "fb47efffffe0000000", DET, TERN_ERR_CBOR_NOT_DETERMINISTIC, 0 }, /* FLT_MAX */
        { "fb47f0000000000000", DET, TERN_OK, 9 },                         /* 2^128 */
        { "fb0000000000000001", DET, TERN_OK, 9 },
        { "fb8000000000000000", DET, TERN_ERR_CBOR_NOT_DETERMINISTIC, 0 },
        { "fb7ff8000000000001", DET, TERN_OK, 9 },
        { "fb7ff8000020000000", DET, TERN_ERR_CBOR_NOT_DETERMINISTIC, 0 },
        /* Map keys in strictly increasing bytewise order of their encodings. */
        { "a2010002f6", DET, TERN_OK, 5 },
        { "a2020001f6", DET, TERN_ERR_CBOR_NOT_DETERMINISTIC, 3 },
        { "a201000100", DET, TERN_ERR_CBOR_NOT_DETERMINISTIC, 3 },
        { "a201000100", DET | DUP, TERN_ERR_CBOR_DUPLICATE_KEY, 3 },
        { "a20a00186400", DET, TERN_OK, 6 },                         /* 10 (0a) < 100 (1864) */
        { "a2186400200a", DET, TERN_OK, 6 },                         /* 100 (1864) < -1 (20) */
        { "a2200a186400", DET, TERN_ERR_CBOR_NOT_DETERMINISTIC, 3 }, /* not length-first */
        { "a2616200616100", DET, TERN_ERR_CBOR_NOT_DETERMINISTIC, 4 },
        { "a2616100616200", DET, TERN_OK, 7 },
        { "a2616100626161f6", DET, TERN_OK, 8 }, /* "a" (6161) < "aa" (626161) */
        { "a2626161f6616100", DET, TERN_ERR_CBOR_NOT_DETERMINISTIC, 5 },
        { "a28101008100f6", DET, TERN_ERR_CBOR_NOT_DETERMINISTIC, 4 },
        { "a28100008101f6", DET, TERN_OK, 7 },
        { "a38100008101f68100f6", DET, TERN_ERR_CBOR_NOT_DETERMINISTIC, 7 },
        /* Order is per map. */
        { "82a10200a10100", DET, TERN_OK, 7 },
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        uint8_t b[32];
        size_t n = unhex(t[i].hex, b, sizeof b), off = 0;
        tern_err_t e = tern_cbor_validate(b, n, t[i].flags, &off);
        if (e != t[i].err || off != t[i].offset) {
            fail_msg("%s: got %d at %u, want %d at %u", t[i].hex, (int)e, (unsigned)off,
                     (int)t[i].err, (unsigned)t[i].offset);
        }
        /* Without the flag every one of them is fine (the duplicates too). */
        assert_int_equal(tern_cbor_validate(b, n, 0, &off), TERN_OK);
        assert_int_equal(off, n);
    }
}

/* The optional checks judge only well-formed heads: the walk's own errors win. */
static void test_checks_leave_malformed_to_the_walk(void **state)
{
    (void)state;
    static const struct {
        const char *hex;
        tern_err_t err;
        size_t offset;
    } t[] = {
        { "a1011c", TERN_ERR_CBOR_RESERVED, 2 },         /* a reserved value */
        { "a10119", TERN_ERR_CBOR_TRUNCATED, 2 },        /* a head cut short */
        { "a1011901", TERN_ERR_CBOR_TRUNCATED, 2 },      /* its argument cut short */
        { "a1011f", TERN_ERR_CBOR_BAD_INDEFINITE, 2 },   /* indefinite integer */
        { "a101ff", TERN_ERR_CBOR_UNEXPECTED_BREAK, 2 }, /* a break where a value goes */
        { "a11c00", TERN_ERR_CBOR_RESERVED, 1 },         /* a reserved key */
        { "a119", TERN_ERR_CBOR_TRUNCATED, 1 },          /* a key cut short */
        { "a1817c00", TERN_ERR_CBOR_RESERVED, 2 },       /* inside a key */
        { "a11801f6", TERN_ERR_CBOR_NOT_DETERMINISTIC, 1 },
        { "a2810101810101", TERN_ERR_CBOR_DUPLICATE_KEY, 4 },
        { "a281010181001c", TERN_ERR_CBOR_NOT_DETERMINISTIC, 4 },
        { "bf01f6ff", TERN_ERR_CBOR_NOT_DETERMINISTIC, 0 },
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        uint8_t b[16];
        size_t n = unhex(t[i].hex, b, sizeof b), off = 0;
        tern_err_t e = tern_cbor_validate(b, n, DET | DUP, &off);
        if (e != t[i].err || off != t[i].offset) {
            fail_msg("%s: got %d at %u, want %d at %u", t[i].hex, (int)e, (unsigned)off,
                     (int)t[i].err, (unsigned)t[i].offset);
        }
    }
}

/* ---------------------------------------------- skip, validate, misc -- */

static void test_skip(void **state)
{
    (void)state;
    uint8_t b[64];
    /* [1, {"a": [2, {3: 4}]}, 6(7([8])), (_ "ab", "c"), [_ [_ ]], 5(9), 10] */
    size_t n =
        unhex("87 01 a1 6161 82 02 a1 03 04 c6 c7 81 08 7f 626162 6163 ff 9f 9f ff ff c5 09 0a", b,
              sizeof b);
    tern_cbor_dec_t d;
    tern_cbor_item_t it;
    tern_cbor_dec_init(&d, b, n, DUP);
    expect(&d, TERN_CBOR_ARRAY, 7, 0);
    expect(&d, TERN_CBOR_UINT, 1, 1);
    /* The map, whole. */
    assert_int_equal(tern_cbor_dec_next(&d, &it), TERN_OK);
    assert_int_equal(it.type, TERN_CBOR_MAP);
    assert_int_equal(tern_cbor_dec_skip(&d, &it), TERN_OK);
    assert_int_equal(tern_cbor_dec_offset(&d), 10);
    /* A tag of a tag of an array: skipping the outer tag skips all. */
    assert_int_equal(tern_cbor_dec_next(&d, &it), TERN_OK);
    assert_int_equal(it.type, TERN_CBOR_TAG);
    assert_int_equal(it.u, 6);
    assert_int_equal(tern_cbor_dec_skip(&d, &it), TERN_OK);
    assert_int_equal(tern_cbor_dec_offset(&d), 14);
    /* An indefinite string: chunks and break. */
    assert_int_equal(tern_cbor_dec_next(&d, &it), TERN_OK);
    assert_int_equal(it.type, TERN_CBOR_TEXT);
    assert_true(it.indefinite);
    assert_int_equal(tern_cbor_dec_skip(&d, &it), TERN_OK);
    assert_int_equal(tern_cbor_dec_offset(&d), 21);
    /* Nested indefinite arrays. */
    assert_int_equal(tern_cbor_dec_next(&d, &it), TERN_OK);
    assert_int_equal(it.type, TERN_CBOR_ARRAY);
    assert_int_equal(tern_cbor_dec_skip(&d, &it), TERN_OK);
    assert_int_equal(tern_cbor_dec_offset(&d), 25);
    /* A tag of a scalar. */
    assert_int_equal(tern_cbor_dec_next(&d, &it), TERN_OK);
    assert_int_equal(it.type, TERN_CBOR_TAG);
    assert_int_equal(tern_cbor_dec_skip(&d, &it), TERN_OK);
    assert_int_equal(tern_cbor_dec_offset(&d), 27);
    /* A scalar: nothing to skip. */
    assert_int_equal(tern_cbor_dec_next(&d, &it), TERN_OK);
    assert_int_equal(it.u, 10);
    assert_int_equal(tern_cbor_dec_skip(&d, &it), TERN_OK);
    assert_int_equal(tern_cbor_dec_offset(&d), 28);
    expect(&d, TERN_CBOR_END, 0, 28);
    assert_int_equal(tern_cbor_dec_next(&d, &it), TERN_ERR_EMPTY);

    /* Skipping the top-level item finishes the input. */
    tern_cbor_dec_init(&d, b, n, 0);
    assert_int_equal(tern_cbor_dec_next(&d, &it), TERN_OK);
    assert_int_equal(tern_cbor_dec_skip(&d, &it), TERN_OK);
    assert_int_equal(tern_cbor_dec_offset(&d), n);
    assert_int_equal(tern_cbor_dec_next(&d, &it), TERN_ERR_EMPTY);

    /* An error inside what is skipped comes out of skip(), sticky. */
    n = unhex("8282010281ff", b, sizeof b);
    tern_cbor_dec_init(&d, b, n, 0);
    assert_int_equal(tern_cbor_dec_next(&d, &it), TERN_OK);
    assert_int_equal(tern_cbor_dec_skip(&d, &it), TERN_ERR_CBOR_UNEXPECTED_BREAK);
    assert_int_equal(tern_cbor_dec_offset(&d), 5);
    assert_int_equal(tern_cbor_dec_skip(&d, &it), TERN_ERR_CBOR_UNEXPECTED_BREAK);
    assert_int_equal(tern_cbor_dec_next(&d, &it), TERN_ERR_CBOR_UNEXPECTED_BREAK);
    /* And the flags hold inside a skip. */
    n = unhex("81a201000100", b, sizeof b);
    tern_cbor_dec_init(&d, b, n, DUP);
    assert_int_equal(tern_cbor_dec_next(&d, &it), TERN_OK);
    assert_int_equal(tern_cbor_dec_skip(&d, &it), TERN_ERR_CBOR_DUPLICATE_KEY);
    assert_int_equal(tern_cbor_dec_offset(&d), 4);
}

static void test_validate_and_trailing(void **state)
{
    (void)state;
    uint8_t b[16] = { 0 };
    size_t off = 77;
    assert_int_equal(tern_cbor_validate(b, 0, 0, &off), TERN_ERR_CBOR_TRUNCATED);
    assert_int_equal(off, 0);
    assert_int_equal(tern_cbor_validate(b, 0, 0, NULL), TERN_ERR_CBOR_TRUNCATED);
    size_t n = unhex("a1616101", b, sizeof b);
    assert_int_equal(tern_cbor_validate(b, n, 0, &off), TERN_OK);
    assert_int_equal(off, n);
    assert_int_equal(tern_cbor_validate(b, n, DET | DUP, NULL), TERN_OK);
    /* Every strict prefix of an item is truncated. */
    for (size_t k = 0; k < n; k++) {
        assert_int_equal(tern_cbor_validate(b, k, 0, NULL), TERN_ERR_CBOR_TRUNCATED);
    }
    /* Bytes after the item, even well-formed ones. */
    n = unhex("a16161010102", b, sizeof b);
    assert_int_equal(tern_cbor_validate(b, n, 0, &off), TERN_ERR_CBOR_TRAILING);
    assert_int_equal(off, 4);
    /* next(): the item, then TRAILING (sticky), where EMPTY would have been. */
    tern_cbor_dec_t d;
    tern_cbor_item_t it;
    tern_cbor_dec_init(&d, b, n, 0);
    assert_int_equal(tern_cbor_dec_next(&d, &it), TERN_OK);
    assert_int_equal(tern_cbor_dec_skip(&d, &it), TERN_OK);
    assert_int_equal(tern_cbor_dec_next(&d, &it), TERN_ERR_CBOR_TRAILING);
    assert_int_equal(it.offset, 4);
    assert_int_equal(tern_cbor_dec_offset(&d), 4);
    assert_int_equal(tern_cbor_dec_next(&d, &it), TERN_ERR_CBOR_TRAILING);
    /* A decoder over only the item stops with EMPTY, repeatedly. */
    tern_cbor_dec_init(&d, b, 4, 0);
    assert_int_equal(tern_cbor_dec_next(&d, &it), TERN_OK);
    assert_int_equal(tern_cbor_dec_skip(&d, &it), TERN_OK);
    assert_int_equal(tern_cbor_dec_next(&d, &it), TERN_ERR_EMPTY);
    assert_int_equal(tern_cbor_dec_next(&d, &it), TERN_ERR_EMPTY);
    assert_int_equal(tern_cbor_dec_offset(&d), 4);
}

/* A CBOR sequence (RFC 8742): items back to back, none included; EMPTY where the input ends
 * between two of them, TRUNCATED inside one; errors as in one item. */
static void test_sequence(void **state)
{
    (void)state;
    uint8_t b[32] = { 0 };
    tern_cbor_dec_t d;
    tern_cbor_item_t it;
    size_t off = 77;
    assert_int_equal(tern_cbor_validate(b, 0, TERN_CBOR_SEQUENCE, &off), TERN_OK);
    assert_int_equal(off, 0);
    size_t n = unhex("01a1616101c1187b8200f9", b, sizeof b); /* 1, {"a": 1}, 1(123), [0, (cut) */
    assert_int_equal(tern_cbor_validate(b, 8, TERN_CBOR_SEQUENCE, &off), TERN_OK);
    assert_int_equal(off, 8);
    assert_int_equal(tern_cbor_validate(b, n, TERN_CBOR_SEQUENCE, &off), TERN_ERR_CBOR_TRUNCATED);
    assert_int_equal(off, 10);
    assert_int_equal(tern_cbor_validate(b, 9, TERN_CBOR_SEQUENCE, &off), TERN_ERR_CBOR_TRUNCATED);
    assert_int_equal(off, 9); /* the array's item that never comes */
    assert_int_equal(tern_cbor_validate(b, 8, 0, &off), TERN_ERR_CBOR_TRAILING);
    assert_int_equal(off, 1);
    tern_cbor_dec_init(&d, b, 8, TERN_CBOR_SEQUENCE);
    expect(&d, TERN_CBOR_UINT, 1, 0);
    expect(&d, TERN_CBOR_MAP, 1, 1);
    expect(&d, TERN_CBOR_TEXT, 1, 2);
    expect(&d, TERN_CBOR_UINT, 1, 4);
    expect(&d, TERN_CBOR_END, 0, 5);
    expect(&d, TERN_CBOR_TAG, 1, 5);
    expect(&d, TERN_CBOR_UINT, 123, 6);
    assert_int_equal(tern_cbor_dec_next(&d, &it), TERN_ERR_EMPTY);
    assert_int_equal(tern_cbor_dec_next(&d, &it), TERN_ERR_EMPTY); /* again */
    assert_int_equal(tern_cbor_dec_offset(&d), 8);
    /* With the checks as well: each item of the sequence is checked. */
    n = unhex("a2010102020a21a201010101", b, sizeof b); /* {1: 1, 2: 2}, 10, -2, {1: 1, 1: 1} */
    assert_int_equal(tern_cbor_validate(b, n, TERN_CBOR_SEQUENCE | DUP, &off),
                     TERN_ERR_CBOR_DUPLICATE_KEY);
    assert_int_equal(off, 10);
    assert_int_equal(tern_cbor_validate(b, n, TERN_CBOR_SEQUENCE, &off), TERN_OK);
    /* A malformed item in the middle stops it there. */
    n = unhex("0102ff03", b, sizeof b);
    assert_int_equal(tern_cbor_validate(b, n, TERN_CBOR_SEQUENCE, &off),
                     TERN_ERR_CBOR_UNEXPECTED_BREAK);
    assert_int_equal(off, 2);
}

/* --------------------------------------------------------------- diag -- */

static void test_diag_more(void **state)
{
    (void)state;
    static const example_t t[] = {
        { "5fff", "''_" },
        { "7fff", "\"\"_" },
        { "5f40ff", "(_ h'')" },
        { "7f60ff", "(_ \"\")" },
        { "5f4100ff", "(_ h'00')" },
        { "c1c2c3f6", "1(2(3(null)))" },
        { "82c10ac20b", "[1(10), 2(11)]" },
        { "a1c101c202", "{1(1): 2(2)}" },
        { "d9d9f7a0", "55799({})" },
        { "dbffffffffffffffff00", "18446744073709551615(0)" },
        { "e0", "simple(0)" },
        { "f3", "simple(19)" },
        { "f820", "simple(32)" },
        { "bfff", "{_ }" },
        { "9f9fffff", "[_ [_ ]]" },
        { "a2a0a08080", "{{}: {}, []: []}" },
        { "3a7fffffff", "-2147483648" },
        { "3b7fffffffffffffff", "-9223372036854775808" },
        { "3b8000000000000000", "-9223372036854775809" },
        /* Floats: positional for decimal exponents -5..20, else with an exponent. */
        { "fb444b1ae4d6e2ef50", "1.0e+21" },
        { "fb4415af1d78b58c40", "100000000000000000000.0" },
        { "fb3ee4f8b588e368f1", "0.00001" },
        { "fb3eb0c6f7a0b5ed8d", "1.0e-6" },
        { "fb0000000000000001", "5.0e-324" },
        { "fb0010000000000000", "2.2250738585072014e-308" },
        { "fb7fefffffffffffff", "1.7976931348623157e+308" },
        { "fb3fb999999999999a", "0.1" },
        { "fb405edd2f1a9fbe77", "123.456" },
        { "fa3dcccccd", "0.10000000149011612" },
        { "fa00000001", "1.401298464324817e-45" },
        { "f903ff", "0.00006097555160522461" },
        { "f98001", "-5.960464477539063e-8" },
        { "f97e01", "NaN" },
        { "fbfff8000000000000", "NaN" },
        { "f93555", "0.333251953125" },
        { "fb4340000000000001", "9007199254740994.0" },
        { "fb4330000000000001", "4503599627370497.0" },
        { "fa4b800000", "16777216.0" },
    };
    uint8_t b[32];
    char out[64];
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        size_t n = unhex(t[i].hex, b, sizeof b);
        tern_err_t e = tern_cbor_diag(b, n, out, sizeof out, NULL);
        if (e != TERN_OK || strcmp(out, t[i].diag) != 0) {
            fail_msg("%s: got %d \"%s\", want \"%s\"", t[i].hex, (int)e, out, t[i].diag);
        }
    }
}

static void test_diag_too_small(void **state)
{
    (void)state;
    uint8_t b[16];
    char out[32];
    size_t n = unhex("83010203", b, sizeof b), len = 0;
    const char *want = "[1, 2, 3]"; /* 9 characters */
    /* Exactly enough: 10 bytes with the NUL. */
    assert_int_equal(tern_cbor_diag(b, n, out, 10, &len), TERN_OK);
    assert_string_equal(out, want);
    assert_int_equal(len, 9);
    for (size_t cap = 0; cap < 10; cap++) {
        memset(out, 'x', sizeof out);
        len = 0;
        assert_int_equal(tern_cbor_diag(b, n, out, cap, &len), TERN_ERR_TOO_SMALL);
        assert_int_equal(len, 9); /* what it would need */
        if (cap) {                /* the prefix that fits, NUL-terminated */
            assert_int_equal(strlen(out), cap - 1);
            assert_memory_equal(out, want, cap - 1);
        } else {
            assert_int_equal(out[0], 'x'); /* nothing written */
        }
        assert_int_equal(out[cap], 'x');
    }
    assert_int_equal(tern_cbor_diag(b, n, NULL, 0, NULL), TERN_ERR_TOO_SMALL);
    /* Malformed input wins over a small buffer. */
    n = unhex("830102", b, sizeof b);
    assert_int_equal(tern_cbor_diag(b, n, out, 2, NULL), TERN_ERR_CBOR_TRUNCATED);
    assert_int_equal(tern_cbor_diag(b, n, out, sizeof out, &len), TERN_ERR_CBOR_TRUNCATED);
    assert_string_equal(out, "[1, 2"); /* what came before the fault */
    n = unhex("0000", b, sizeof b);
    assert_int_equal(tern_cbor_diag(b, n, out, sizeof out, NULL), TERN_ERR_CBOR_TRAILING);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc_examples_print),
        cmocka_unit_test(test_rfc_examples_deterministic),
        cmocka_unit_test(test_rfc_examples_values),
        cmocka_unit_test(test_preorder_with_ends),
        cmocka_unit_test(test_error_matrix),
        cmocka_unit_test(test_appendix_f),
        cmocka_unit_test(test_utf8),
        cmocka_unit_test(test_depth_limit),
        cmocka_unit_test(test_duplicate_keys),
        cmocka_unit_test(test_deterministic),
        cmocka_unit_test(test_checks_leave_malformed_to_the_walk),
        cmocka_unit_test(test_skip),
        cmocka_unit_test(test_validate_and_trailing),
        cmocka_unit_test(test_sequence),
        cmocka_unit_test(test_diag_more),
        cmocka_unit_test(test_diag_too_small),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
