/* SPDX-License-Identifier: Apache-2.0 */
/* The CBOR encoder: every encoding example of RFC 8949 appendix A (written in by
 * hand from the RFC), preferred floats at the half/single edges, deterministic maps,
 * sticky errors at every buffer size, and the misuse errors. Host and Cortex-M4. */
#include <string.h>

#include "tern/cbor.h"
#include "tern_test.h"
#include "tern_test_hex.h"

static uint8_t g_buf[512];
static tern_cbor_enc_t g_e;

static void start(unsigned flags)
{
    memset(g_buf, 0xAA, sizeof g_buf);
    tern_cbor_enc_init(&g_e, g_buf, sizeof g_buf, flags);
}

/* The encoder holds exactly the bytes @p hex. */
static void expect(const char *hex)
{
    size_t len = 0;
    assert_int_equal(tern_cbor_enc_finish(&g_e, &len), TERN_OK);
    tern_test_expect_hex(g_buf, len, hex);
}

static void test_integers(void **state)
{
    (void)state;
    static const struct {
        uint64_t v;
        const char *hex;
    } u[] = { { 0, "00" },
              { 1, "01" },
              { 10, "0a" },
              { 23, "17" },
              { 24, "1818" },
              { 25, "1819" },
              { 100, "1864" },
              { 1000, "1903e8" },
              { 1000000, "1a000f4240" },
              { 1000000000000ull, "1b000000e8d4a51000" },
              { 18446744073709551615ull, "1bffffffffffffffff" } };
    for (size_t i = 0; i < sizeof u / sizeof u[0]; i++) {
        start(0);
        assert_int_equal(tern_cbor_enc_uint(&g_e, u[i].v), TERN_OK);
        expect(u[i].hex);
    }
    static const struct {
        int64_t v;
        const char *hex;
    } s[] = { { -1, "20" },
              { -10, "29" },
              { -100, "3863" },
              { -1000, "3903e7" },
              { INT64_MIN, "3b7fffffffffffffff" },
              { INT64_MAX, "1b7fffffffffffffff" } };
    for (size_t i = 0; i < sizeof s / sizeof s[0]; i++) {
        start(0);
        assert_int_equal(tern_cbor_enc_int(&g_e, s[i].v), TERN_OK);
        expect(s[i].hex);
    }
    start(0);
    assert_int_equal(tern_cbor_enc_negative(&g_e, UINT64_MAX), TERN_OK); /* -2^64 */
    expect("3bffffffffffffffff");
    /* bignums, as tags 2 and 3 over byte strings */
    static const uint8_t big[9] = { 1, 0, 0, 0, 0, 0, 0, 0, 0 };
    start(0);
    tern_cbor_enc_tag(&g_e, 2);
    tern_cbor_enc_bytes(&g_e, big, sizeof big);
    expect("c249010000000000000000");
    start(0);
    tern_cbor_enc_tag(&g_e, 3);
    tern_cbor_enc_bytes(&g_e, big, sizeof big);
    expect("c349010000000000000000");
}

static void test_floats(void **state)
{
    (void)state;
    static const struct {
        double v;
        const char *hex;
    } f[] = {
        { 0.0, "f90000" },
        { -0.0, "f98000" },
        { 1.0, "f93c00" },
        { 1.1, "fb3ff199999999999a" },
        { 1.5, "f93e00" },
        { 65504.0, "f97bff" },
        { 100000.0, "fa47c35000" },
        { 3.4028234663852886e+38, "fa7f7fffff" },
        { 1.0e+300, "fb7e37e43c8800759c" },
        { 5.960464477539063e-8, "f90001" }, /* the smallest half subnormal */
        { 0.00006103515625, "f90400" },     /* the smallest half normal */
        { -4.0, "f9c400" },
        { -4.1, "fbc010666666666666" },
        { 1.0 / 0.0, "f97c00" },
        { -1.0 / 0.0, "f9fc00" },
        /* beyond the appendix: the edges of each width */
        { 3 * 5.960464477539063e-8, "f90003" },   /* a half subnormal other than the last bit */
        { 2.98023223876953125e-8, "fa33000000" }, /* 2^-25: below half, exact in single */
        { 65520.0, "fa477ff000" },                /* just above half's largest */
        { 1.0009765625, "f93c01" },               /* 1 + 2^-10: 10 mantissa bits */
        { 1.00048828125, "fa3f801000" },          /* 1 + 2^-11: needs single */
        { 1e-45, "fb3696d601ad376ab9" },          /* rounds to a single subnormal: not exact */
        { 1.401298464324817e-45, "fa00000001" },  /* the smallest single subnormal */
    };
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
        start(0);
        assert_int_equal(tern_cbor_enc_float(&g_e, f[i].v), TERN_OK);
        expect(f[i].hex);
    }
    volatile double zero = 0.0;
    start(0);
    assert_int_equal(tern_cbor_enc_float(&g_e, zero / zero), TERN_OK); /* any NaN */
    expect("f97e00");
}

static void test_simple_and_strings(void **state)
{
    (void)state;
    start(0);
    tern_cbor_enc_bool(&g_e, false);
    expect("f4");
    start(0);
    tern_cbor_enc_bool(&g_e, true);
    expect("f5");
    start(0);
    tern_cbor_enc_null(&g_e);
    expect("f6");
    start(0);
    tern_cbor_enc_undefined(&g_e);
    expect("f7");
    start(0);
    tern_cbor_enc_simple(&g_e, 16);
    expect("f0");
    start(0);
    tern_cbor_enc_simple(&g_e, 255);
    expect("f8ff");
    start(0);
    assert_int_equal(tern_cbor_enc_simple(&g_e, 24), TERN_ERR_INVAL); /* 24..31 do not exist */
    start(0);
    tern_cbor_enc_bytes(&g_e, NULL, 0);
    expect("40");
    start(0);
    tern_cbor_enc_bytes(&g_e, "\x01\x02\x03\x04", 4);
    expect("4401020304");
    start(0);
    tern_cbor_enc_str(&g_e, "");
    expect("60");
    start(0);
    tern_cbor_enc_str(&g_e, "a");
    expect("6161");
    start(0);
    tern_cbor_enc_str(&g_e, "IETF");
    expect("6449455446");
    start(0);
    tern_cbor_enc_str(&g_e, "\"\\");
    expect("62225c");
    start(0);
    tern_cbor_enc_str(&g_e, "\xc3\xbc"); /* u-umlaut */
    expect("62c3bc");
    start(0);
    tern_cbor_enc_str(&g_e, "\xe6\xb0\xb4"); /* water */
    expect("63e6b0b4");
    start(0);
    tern_cbor_enc_str(&g_e, "\xf0\x90\x85\x91"); /* U+10151 */
    expect("64f0908591");
}

static void test_tags(void **state)
{
    (void)state;
    start(0);
    tern_cbor_enc_tag(&g_e, 0);
    tern_cbor_enc_str(&g_e, "2013-03-21T20:04:00Z");
    expect("c074323031332d30332d32315432303a30343a30305a");
    start(0);
    tern_cbor_enc_tag(&g_e, 1);
    tern_cbor_enc_uint(&g_e, 1363896240);
    expect("c11a514b67b0");
    start(0);
    tern_cbor_enc_tag(&g_e, 1);
    tern_cbor_enc_float(&g_e, 1363896240.5);
    expect("c1fb41d452d9ec200000");
    start(0);
    tern_cbor_enc_tag(&g_e, 23);
    tern_cbor_enc_bytes(&g_e, "\x01\x02\x03\x04", 4);
    expect("d74401020304");
    start(0);
    tern_cbor_enc_tag(&g_e, 24);
    tern_cbor_enc_bytes(&g_e, "dIETF", 5);
    expect("d818456449455446");
    start(0);
    tern_cbor_enc_tag(&g_e, 32);
    tern_cbor_enc_str(&g_e, "http://www.example.com");
    expect("d82076687474703a2f2f7777772e6578616d706c652e636f6d");
    start(0); /* a tag is complete only with its content */
    tern_cbor_enc_tag(&g_e, 1);
    assert_int_equal(tern_cbor_enc_finish(&g_e, NULL), TERN_ERR_STATE);
}

static void test_containers(void **state)
{
    (void)state;
    start(0);
    tern_cbor_enc_array(&g_e, 0);
    expect("80");
    start(0);
    tern_cbor_enc_array(&g_e, 3);
    for (int i = 1; i <= 3; i++) {
        tern_cbor_enc_uint(&g_e, (uint64_t)i);
    }
    expect("83010203");
    start(0);
    tern_cbor_enc_array(&g_e, 3);
    tern_cbor_enc_uint(&g_e, 1);
    tern_cbor_enc_array(&g_e, 2);
    tern_cbor_enc_uint(&g_e, 2);
    tern_cbor_enc_uint(&g_e, 3);
    tern_cbor_enc_array(&g_e, 2);
    tern_cbor_enc_uint(&g_e, 4);
    tern_cbor_enc_uint(&g_e, 5);
    expect("8301820203820405");
    start(0);
    tern_cbor_enc_array(&g_e, 25);
    for (int i = 1; i <= 25; i++) {
        tern_cbor_enc_uint(&g_e, (uint64_t)i);
    }
    expect("98190102030405060708090a0b0c0d0e0f101112131415161718181819");
    start(0);
    tern_cbor_enc_map(&g_e, 0);
    expect("a0");
    start(0);
    tern_cbor_enc_map(&g_e, 2);
    tern_cbor_enc_uint(&g_e, 1);
    tern_cbor_enc_uint(&g_e, 2);
    tern_cbor_enc_uint(&g_e, 3);
    tern_cbor_enc_uint(&g_e, 4);
    expect("a201020304");
    start(0);
    tern_cbor_enc_map(&g_e, 2);
    tern_cbor_enc_str(&g_e, "a");
    tern_cbor_enc_uint(&g_e, 1);
    tern_cbor_enc_str(&g_e, "b");
    tern_cbor_enc_array(&g_e, 2);
    tern_cbor_enc_uint(&g_e, 2);
    tern_cbor_enc_uint(&g_e, 3);
    expect("a26161016162820203");
    start(0);
    tern_cbor_enc_array(&g_e, 2);
    tern_cbor_enc_str(&g_e, "a");
    tern_cbor_enc_map(&g_e, 1);
    tern_cbor_enc_str(&g_e, "b");
    tern_cbor_enc_str(&g_e, "c");
    expect("826161a161626163");
    start(0);
    tern_cbor_enc_map(&g_e, 5);
    for (char c = 'a'; c <= 'e'; c++) {
        char k[2] = { c, 0 }, v[2] = { (char)(c - 32), 0 };
        tern_cbor_enc_str(&g_e, k);
        tern_cbor_enc_str(&g_e, v);
    }
    expect("a56161614161626142616361436164614461656145");
    start(0); /* an incomplete container is not a finished item */
    tern_cbor_enc_map(&g_e, 1);
    tern_cbor_enc_uint(&g_e, 1);
    assert_int_equal(tern_cbor_enc_finish(&g_e, NULL), TERN_ERR_STATE);
}

static void test_indefinite(void **state)
{
    (void)state;
    start(0);
    tern_cbor_enc_bytes_indef(&g_e);
    tern_cbor_enc_bytes(&g_e, "\x01\x02", 2);
    tern_cbor_enc_bytes(&g_e, "\x03\x04\x05", 3);
    tern_cbor_enc_break(&g_e);
    expect("5f42010243030405ff");
    start(0);
    tern_cbor_enc_text_indef(&g_e);
    tern_cbor_enc_str(&g_e, "strea");
    tern_cbor_enc_str(&g_e, "ming");
    tern_cbor_enc_break(&g_e);
    expect("7f657374726561646d696e67ff");
    start(0);
    tern_cbor_enc_array_indef(&g_e);
    tern_cbor_enc_break(&g_e);
    expect("9fff");
    start(0);
    tern_cbor_enc_array_indef(&g_e);
    tern_cbor_enc_uint(&g_e, 1);
    tern_cbor_enc_array(&g_e, 2);
    tern_cbor_enc_uint(&g_e, 2);
    tern_cbor_enc_uint(&g_e, 3);
    tern_cbor_enc_array_indef(&g_e);
    tern_cbor_enc_uint(&g_e, 4);
    tern_cbor_enc_uint(&g_e, 5);
    tern_cbor_enc_break(&g_e);
    tern_cbor_enc_break(&g_e);
    expect("9f018202039f0405ffff");
    start(0);
    tern_cbor_enc_array(&g_e, 3);
    tern_cbor_enc_uint(&g_e, 1);
    tern_cbor_enc_array_indef(&g_e);
    tern_cbor_enc_uint(&g_e, 2);
    tern_cbor_enc_uint(&g_e, 3);
    tern_cbor_enc_break(&g_e);
    tern_cbor_enc_array(&g_e, 2);
    tern_cbor_enc_uint(&g_e, 4);
    tern_cbor_enc_uint(&g_e, 5);
    expect("83019f0203ff820405");
    start(0);
    tern_cbor_enc_map_indef(&g_e);
    tern_cbor_enc_str(&g_e, "a");
    tern_cbor_enc_uint(&g_e, 1);
    tern_cbor_enc_str(&g_e, "b");
    tern_cbor_enc_array_indef(&g_e);
    tern_cbor_enc_uint(&g_e, 2);
    tern_cbor_enc_uint(&g_e, 3);
    tern_cbor_enc_break(&g_e);
    tern_cbor_enc_break(&g_e);
    expect("bf61610161629f0203ffff");
    start(0);
    tern_cbor_enc_map_indef(&g_e);
    tern_cbor_enc_str(&g_e, "Fun");
    tern_cbor_enc_bool(&g_e, true);
    tern_cbor_enc_str(&g_e, "Amt");
    tern_cbor_enc_int(&g_e, -2);
    tern_cbor_enc_break(&g_e);
    expect("bf6346756ef563416d7421ff");
}

static void test_deterministic_maps(void **state)
{
    (void)state;
    /* keys in bytewise order of their encodings: 10 (0a), -1 (20), "a" (6161), "b"
     * (6162), [1] (8101); nested maps sorted too */
    start(TERN_CBOR_DETERMINISTIC);
    tern_cbor_enc_map(&g_e, 5);
    tern_cbor_enc_str(&g_e, "b");
    tern_cbor_enc_uint(&g_e, 1);
    tern_cbor_enc_array(&g_e, 1);
    tern_cbor_enc_uint(&g_e, 1);
    tern_cbor_enc_map(&g_e, 2);
    tern_cbor_enc_uint(&g_e, 2);
    tern_cbor_enc_str(&g_e, "x");
    tern_cbor_enc_uint(&g_e, 1);
    tern_cbor_enc_str(&g_e, "y");
    tern_cbor_enc_str(&g_e, "a");
    tern_cbor_enc_uint(&g_e, 2);
    tern_cbor_enc_int(&g_e, -1);
    tern_cbor_enc_uint(&g_e, 4);
    tern_cbor_enc_uint(&g_e, 10);
    tern_cbor_enc_uint(&g_e, 3);
    expect("a5"
           "0a03"
           "2004"
           "616102"
           "616201"
           "8101a2016179026178");
    /* a shorter key sorts before a longer one sharing its prefix bytes */
    start(TERN_CBOR_DETERMINISTIC);
    tern_cbor_enc_map(&g_e, 2);
    tern_cbor_enc_str(&g_e, "aa");
    tern_cbor_enc_uint(&g_e, 1);
    tern_cbor_enc_uint(&g_e, 1000);
    tern_cbor_enc_uint(&g_e, 2);
    expect("a21903e80262616101");
    /* without the flag the caller's order stays */
    start(0);
    tern_cbor_enc_map(&g_e, 2);
    tern_cbor_enc_str(&g_e, "b");
    tern_cbor_enc_uint(&g_e, 1);
    tern_cbor_enc_str(&g_e, "a");
    tern_cbor_enc_uint(&g_e, 2);
    expect("a2616201616102");
    /* items with multi-byte heads (24+ byte strings, 24+ element arrays) are measured
     * right when the pairs are moved: {"b": [0 x 24], "a": h'55' x 300} sorts to
     * "a" first, the values intact */
    static uint8_t big[300];
    memset(big, 0x55, sizeof big);
    start(TERN_CBOR_DETERMINISTIC);
    tern_cbor_enc_map(&g_e, 2);
    tern_cbor_enc_str(&g_e, "b");
    tern_cbor_enc_array(&g_e, 24);
    for (int i = 0; i < 24; i++) {
        tern_cbor_enc_uint(&g_e, 0);
    }
    tern_cbor_enc_str(&g_e, "a");
    tern_cbor_enc_bytes(&g_e, big, sizeof big);
    size_t len = 0;
    assert_int_equal(tern_cbor_enc_finish(&g_e, &len), TERN_OK);
    assert_int_equal(len, 1 + 2 + 3 + 300 + 2 + 2 + 24);
    static const uint8_t head_a[] = { 0xa2, 0x61, 'a', 0x59, 0x01, 0x2c };
    assert_memory_equal(g_buf, head_a, sizeof head_a);
    assert_int_equal(g_buf[6], 0x55);
    assert_int_equal(g_buf[305], 0x55);
    static const uint8_t tail_b[] = { 0x61, 'b', 0x98, 0x18, 0x00 };
    assert_memory_equal(g_buf + 306, tail_b, sizeof tail_b);
    /* a key twice is refused; indefinite lengths are not deterministic */
    start(TERN_CBOR_DETERMINISTIC);
    tern_cbor_enc_map(&g_e, 2);
    tern_cbor_enc_str(&g_e, "a");
    tern_cbor_enc_uint(&g_e, 1);
    tern_cbor_enc_str(&g_e, "a");
    assert_int_equal(tern_cbor_enc_uint(&g_e, 2), TERN_ERR_CBOR_DUPLICATE_KEY);
    start(TERN_CBOR_DETERMINISTIC);
    assert_int_equal(tern_cbor_enc_array_indef(&g_e), TERN_ERR_UNSUPPORTED);
    assert_int_equal(tern_cbor_enc_finish(&g_e, NULL), TERN_ERR_UNSUPPORTED); /* sticky */
    /* pairs are measured at any depth: a value given whole, nested deeper than the
     * decoder's limit (as ternctl cbor encode builds deep documents), moves as one */
    uint8_t deep[TERN_CBOR_MAX_DEPTH + 8];
    memset(deep, 0x81, sizeof deep - 1); /* [[[ ... [0] ... ]]] */
    deep[sizeof deep - 1] = 0x00;
    start(TERN_CBOR_DETERMINISTIC);
    tern_cbor_enc_map(&g_e, 2);
    tern_cbor_enc_str(&g_e, "b");
    tern_cbor_enc_raw(&g_e, deep, sizeof deep);
    tern_cbor_enc_str(&g_e, "a");
    tern_cbor_enc_uint(&g_e, 1);
    assert_int_equal(tern_cbor_enc_finish(&g_e, &len), TERN_OK);
    assert_int_equal(len, 1 + 2 + 1 + 2 + sizeof deep);
    static const uint8_t head[] = { 0xA2, 0x61, 'a', 0x01, 0x61, 'b' };
    assert_memory_equal(g_buf, head, sizeof head);
    assert_memory_equal(g_buf + sizeof head, deep, sizeof deep);
}

/* A message with every kind of item, into buffers of every size: short ones fail with
 * TERN_ERR_TOO_SMALL and never write past their end, the exact size succeeds. */
static tern_err_t message(tern_cbor_enc_t *e)
{
    tern_cbor_enc_map(e, 3);
    tern_cbor_enc_str(e, "n");
    tern_cbor_enc_array(e, 4);
    tern_cbor_enc_int(e, -100000);
    tern_cbor_enc_float(e, 21.53);
    tern_cbor_enc_float(e, 0.5);
    tern_cbor_enc_uint(e, 1ull << 40);
    tern_cbor_enc_str(e, "bytes");
    tern_cbor_enc_bytes_indef(e);
    tern_cbor_enc_bytes(e, "abc", 3);
    tern_cbor_enc_break(e);
    tern_cbor_enc_uint(e, 7);
    tern_cbor_enc_tag(e, 1);
    tern_cbor_enc_uint(e, 1700000000);
    return tern_cbor_enc_finish(e, NULL);
}

static void test_every_buffer_size(void **state)
{
    (void)state;
    start(0);
    assert_int_equal(message(&g_e), TERN_OK);
    size_t need = g_e.len;
    for (size_t cap = 0; cap < need; cap++) {
        memset(g_buf, 0xAA, sizeof g_buf);
        tern_cbor_enc_init(&g_e, g_buf, cap, 0);
        assert_int_equal(message(&g_e), TERN_ERR_TOO_SMALL);
        for (size_t i = cap; i < sizeof g_buf; i++) {
            assert_int_equal(g_buf[i], 0xAA);
        }
    }
    tern_cbor_enc_init(&g_e, g_buf, need, 0);
    assert_int_equal(message(&g_e), TERN_OK);
}

static void test_misuse(void **state)
{
    (void)state;
    start(0);
    assert_int_equal(tern_cbor_enc_break(&g_e), TERN_ERR_CBOR_UNEXPECTED_BREAK);
    start(0);
    tern_cbor_enc_array(&g_e, 1);
    assert_int_equal(tern_cbor_enc_break(&g_e), TERN_ERR_CBOR_UNEXPECTED_BREAK);
    start(0);
    tern_cbor_enc_text_indef(&g_e);
    assert_int_equal(tern_cbor_enc_bytes(&g_e, "x", 1), TERN_ERR_CBOR_BAD_CHUNK);
    start(0);
    tern_cbor_enc_bytes_indef(&g_e);
    assert_int_equal(tern_cbor_enc_bytes_indef(&g_e), TERN_ERR_CBOR_BAD_CHUNK);
    start(0);
    tern_cbor_enc_map_indef(&g_e);
    tern_cbor_enc_uint(&g_e, 1);
    assert_int_equal(tern_cbor_enc_break(&g_e), TERN_ERR_CBOR_ODD_MAP);
    start(0);
    for (int i = 0; i < TERN_CBOR_MAX_DEPTH; i++) {
        assert_int_equal(tern_cbor_enc_array(&g_e, 1), TERN_OK);
    }
    assert_int_equal(tern_cbor_enc_array(&g_e, 1), TERN_ERR_CBOR_TOO_DEEP);
    start(0);
    assert_int_equal(tern_cbor_enc_map(&g_e, UINT64_MAX / 2u), TERN_ERR_RANGE);
    start(0);
    assert_int_equal(tern_cbor_enc_bytes(&g_e, NULL, 1), TERN_ERR_INVAL);
    start(0); /* an encoded item passed whole counts as one */
    tern_cbor_enc_array(&g_e, 2);
    tern_cbor_enc_raw(&g_e, "\x82\x01\x02", 3);
    tern_cbor_enc_uint(&g_e, 3);
    expect("8282010203");
    /* top-level items in sequence (RFC 8742) */
    start(0);
    tern_cbor_enc_uint(&g_e, 1);
    tern_cbor_enc_uint(&g_e, 2);
    expect("0102");
}

/* rewind() takes back a top-level item that did not fit, and its error, in the middle of a
 * container too; the encoder goes on as if it had never been started. */
static void test_rewind(void **state)
{
    (void)state;
    tern_cbor_enc_init(&g_e, g_buf, 8, 0);
    tern_cbor_enc_uint(&g_e, 1);
    size_t mark = g_e.len;
    tern_cbor_enc_map(&g_e, 2);
    tern_cbor_enc_uint(&g_e, 1);
    assert_int_equal(tern_cbor_enc_str(&g_e, "too long to fit"), TERN_ERR_TOO_SMALL);
    assert_int_equal(tern_cbor_enc_uint(&g_e, 2), TERN_ERR_TOO_SMALL); /* sticky */
    tern_cbor_enc_rewind(&g_e, mark);
    assert_int_equal(tern_cbor_enc_finish(&g_e, NULL), TERN_OK);
    tern_cbor_enc_array(&g_e, 2);
    tern_cbor_enc_uint(&g_e, 2);
    assert_int_equal(tern_cbor_enc_finish(&g_e, NULL), TERN_ERR_STATE); /* open */
    tern_cbor_enc_uint(&g_e, 3);
    expect("01820203");
    /* To the start: a fresh encoder over the same buffer. */
    tern_cbor_enc_rewind(&g_e, 0);
    tern_cbor_enc_uint(&g_e, 24);
    expect("1818");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_integers),
        cmocka_unit_test(test_floats),
        cmocka_unit_test(test_simple_and_strings),
        cmocka_unit_test(test_tags),
        cmocka_unit_test(test_containers),
        cmocka_unit_test(test_indefinite),
        cmocka_unit_test(test_deterministic_maps),
        cmocka_unit_test(test_every_buffer_size),
        cmocka_unit_test(test_misuse),
        cmocka_unit_test(test_rewind),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
