/* SPDX-License-Identifier: Apache-2.0 */
/* CBOR <-> JSON (cloud/ternd/cborjson.h): each CBOR type to JSON and back, the
 * deterministic encoding byte for byte, {"$bytes": ...}, the depth limit both
 * ways, malformed and JSON-less input refused with a reason, base64 vectors and
 * the JSON printer's short floats. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cborjson.h"
#include "tern_test.h"
#include "tern_test_hex.h"

/* The bytes of lowercase hex @p hex in @p buf; their count. */
static size_t unhex(const char *hex, uint8_t *buf, size_t cap)
{
    size_t n = strlen(hex) / 2;
    assert_true(n <= cap);
    for (size_t i = 0; i < n; i++) {
        buf[i] = (uint8_t)(tern_test_nibble(hex[2 * i]) << 4 | tern_test_nibble(hex[2 * i + 1]));
    }
    return n;
}

/* CBOR (hex) -> JSON text, which must be @p want. */
static void expect_json(const char *cbor_hex, const char *want)
{
    uint8_t buf[512];
    size_t n = unhex(cbor_hex, buf, sizeof buf);
    json_t *j = NULL;
    char err[200] = "";
    if (ternd_cbor_to_json(buf, n, &j, err, sizeof err) != 0) {
        fail_msg("%s: %s", cbor_hex, err);
    }
    char *text = ternd_json_dump(j, NULL);
    assert_non_null(text);
    assert_string_equal(text, want);
    free(text);
    json_decref(j);
}

/* CBOR (hex) refused, the reason containing @p why. */
static void expect_cbor_refused(const char *cbor_hex, const char *why)
{
    uint8_t buf[512];
    size_t n = unhex(cbor_hex, buf, sizeof buf);
    json_t *j = (json_t *)1;
    char err[200] = "";
    assert_int_equal(ternd_cbor_to_json(buf, n, &j, err, sizeof err), -1);
    assert_null(j);
    if (strstr(err, why) == NULL) {
        fail_msg("%s: \"%s\" does not say \"%s\"", cbor_hex, err, why);
    }
}

/* JSON text -> CBOR, which must be @p want_hex; and back to an equal JSON value. */
static void expect_cbor(const char *json, const char *want_hex)
{
    json_error_t jerr;
    json_t *j = json_loads(json, JSON_DECODE_ANY, &jerr);
    assert_non_null(j);
    uint8_t *cbor = NULL;
    size_t n = 0;
    char err[200] = "";
    if (ternd_json_to_cbor(j, &cbor, &n, err, sizeof err) != 0) {
        fail_msg("%s: %s", json, err);
    }
    tern_test_expect_hex(cbor, n, want_hex);
    json_t *back = NULL;
    assert_int_equal(ternd_cbor_to_json(cbor, n, &back, err, sizeof err), 0);
    assert_true(json_equal(j, back));
    json_decref(back);
    free(cbor);
    json_decref(j);
}

static void expect_json_refused(const char *json, const char *why)
{
    json_error_t jerr;
    json_t *j = json_loads(json, JSON_DECODE_ANY, &jerr);
    assert_non_null(j);
    uint8_t *cbor = (uint8_t *)1;
    size_t n = 1;
    char err[200] = "";
    assert_int_equal(ternd_json_to_cbor(j, &cbor, &n, err, sizeof err), -1);
    assert_null(cbor);
    if (strstr(err, why) == NULL) {
        fail_msg("%s: \"%s\" does not say \"%s\"", json, err, why);
    }
    json_decref(j);
}

static void test_cbor_to_json_types(void **state)
{
    (void)state;
    expect_json("00", "0");
    expect_json("1b7fffffffffffffff", "9223372036854775807");
    expect_json("1bffffffffffffffff", "1.8446744073709552e+19"); /* past int64: a double */
    expect_json("20", "-1");
    expect_json("3b7fffffffffffffff", "-9223372036854775808");
    expect_json("f93e00", "1.5");
    expect_json("fb3ff199999999999a", "1.1");
    expect_json("f94000", "2.0"); /* a float stays a float */
    expect_json("fa47c35000", "100000.0");
    expect_json("6449455446", "\"IETF\"");
    expect_json("62c3bc", "\"\xc3\xbc\"");
    expect_json("f4", "false");
    expect_json("f5", "true");
    expect_json("f6", "null");
    expect_json("f7", "null"); /* undefined */
    expect_json("8301820203820405", "[1,[2,3],[4,5]]");
    expect_json("80", "[]");
    expect_json("a0", "{}");
    expect_json("a26161016162820203", "{\"a\":1,\"b\":[2,3]}");
    expect_json("4401020304", "{\"$bytes\":\"AQIDBA==\"}");
    expect_json("40", "{\"$bytes\":\"\"}");
    expect_json("c11a514b67b0", "1363896240"); /* a tag: its content */
    expect_json("d82076687474703a2f2f7777772e6578616d706c652e636f6d", "\"http://www.example.com\"");
    /* indefinite lengths */
    expect_json("5f42010243030405ff", "{\"$bytes\":\"AQIDBAU=\"}");
    expect_json("7f657374726561646d696e67ff", "\"streaming\"");
    expect_json("9f018202039f0405ffff", "[1,[2,3],[4,5]]");
    expect_json("bf61610161629f0203ffff", "{\"a\":1,\"b\":[2,3]}");
    /* keys that are not text: their diagnostic notation */
    expect_json("a201020304", "{\"1\":2,\"3\":4}");
    expect_json("a1420102f5", "{\"h'0102'\":true}");
    expect_json("a18201026178", "{\"[1, 2]\":\"x\"}");
    /* text with characters JSON escapes */
    expect_json("65610a22085c", "\"a\\n\\\"\\b\\\\\"");
    expect_json("6101", "\"\\u0001\"");
}

static void test_cbor_refused(void **state)
{
    (void)state;
    expect_cbor_refused("", "empty");
    expect_cbor_refused("8201", "CBOR at byte");                /* truncated */
    expect_cbor_refused("0102", "bytes after the item");        /* trailing */
    expect_cbor_refused("61ff", "UTF-8");                       /* bad text */
    expect_cbor_refused("1c", "reserved");                      /* reserved info */
    expect_cbor_refused("ff", "break");                         /* stray break */
    expect_cbor_refused("f97e00", "NaN has no JSON form");      /* NaN */
    expect_cbor_refused("f97c00", "Infinity has no JSON form"); /* +Inf */
    expect_cbor_refused("f9fc00", "-Infinity");                 /* -Inf */
    expect_cbor_refused("f0", "simple(16)");                    /* simple value */
    expect_cbor_refused("a20101613102", "given twice");         /* 1 and "1" */
}

static void test_json_to_cbor(void **state)
{
    (void)state;
    expect_cbor("0", "00");
    expect_cbor("-1", "20");
    expect_cbor("1000000", "1a000f4240");
    expect_cbor("-9223372036854775808", "3b7fffffffffffffff");
    expect_cbor("1.5", "f93e00");
    expect_cbor("2.0", "f94000"); /* a JSON real stays a float */
    expect_cbor("0.1", "fb3fb999999999999a");
    expect_cbor("\"IETF\"", "6449455446");
    expect_cbor("true", "f5");
    expect_cbor("null", "f6");
    expect_cbor("[]", "80");
    expect_cbor("{}", "a0");
    /* deterministic: map keys sorted by their encoded bytes (shorter first) */
    expect_cbor("{\"bb\":1,\"a\":2,\"b\":[1.5,-2,\"x\",true,null,{\"$bytes\":\"AQID\"}]}",
                "a3"
                "616102"
                "6162"
                "86f93e002161"
                "78f5f6"
                "43010203"
                "62626201");
    expect_cbor("{\"interval\":30,\"led\":\"on\"}", "a2636c6564626f6e68696e74657276616c181e");
    /* nested objects are sorted too */
    expect_cbor("[{\"z\":{\"b\":1,\"a\":2}}]", "81a1617aa2616102616201");
}

static void test_bytes(void **state)
{
    (void)state;
    /* both alphabets, padding optional, back to a byte string */
    const char *ins[] = { "{\"$bytes\":\"+/8=\"}", "{\"$bytes\":\"-_8\"}",
                          "{\"$bytes\":\"-_8=\"}" };
    for (size_t i = 0; i < 3; i++) {
        json_t *j = json_loads(ins[i], 0, NULL);
        assert_non_null(j);
        uint8_t *cbor;
        size_t n;
        char err[200];
        assert_int_equal(ternd_json_to_cbor(j, &cbor, &n, err, sizeof err), 0);
        tern_test_expect_hex(cbor, n, "42fbff");
        free(cbor);
        json_decref(j);
    }
    expect_json_refused("{\"$bytes\":\"A\"}", "not base64");
    expect_json_refused("{\"$bytes\":\"AQ=I\"}", "not base64");
    expect_json_refused("{\"$bytes\":\"AQ I\"}", "not base64");
    expect_json_refused("{\"$bytes\":5}", "base64 string");
    /* "$bytes" beside other keys is an ordinary key */
    expect_cbor("{\"$bytes\":\"x\",\"a\":1}", "a2616101662462797465736178");
}

static void test_depth(void **state)
{
    (void)state;
    char json[128] = "", cbor_hex[128] = "";
    /* 16 nested arrays convert both ways */
    for (int i = 0; i < 16; i++) {
        strcat(json, "[");
        strcat(cbor_hex, "81");
    }
    strcat(json, "1");
    strcat(cbor_hex, "01");
    for (int i = 0; i < 16; i++) {
        strcat(json, "]");
    }
    expect_cbor(json, cbor_hex);
    /* 17 are refused both ways */
    char json17[128] = "[", hex17[128] = "81";
    strcat(json17, json);
    strcat(json17, "]");
    strcat(hex17, cbor_hex);
    expect_json_refused(json17, "deeper than 16");
    expect_cbor_refused(hex17, "deeper than 16");
    /* objects and tags count as containers too: one of them around 16 arrays */
    char jobj[128] = "{\"a\":", htag[128] = "c1";
    strcat(jobj, json);
    strcat(jobj, "}");
    strcat(htag, cbor_hex);
    expect_json_refused(jobj, "deeper than 16");
    expect_cbor_refused(htag, "deeper than 16");
}

static void test_round_trip_cbor(void **state)
{
    (void)state;
    /* deterministic CBOR -> JSON -> the same bytes */
    const char *items[] = {
        "a3616101616282f93e00fb3ff199999999999a6163a1616443010203",
        "83f5f4f6",
        "3903e7",
        "7818616161616161616161616161616161616161616161616161",
    };
    for (size_t i = 0; i < sizeof items / sizeof items[0]; i++) {
        uint8_t buf[256];
        size_t n = unhex(items[i], buf, sizeof buf);
        json_t *j;
        char err[200];
        assert_int_equal(ternd_cbor_to_json(buf, n, &j, err, sizeof err), 0);
        uint8_t *out;
        size_t len;
        assert_int_equal(ternd_json_to_cbor(j, &out, &len, err, sizeof err), 0);
        tern_test_expect_hex(out, len, items[i]);
        free(out);
        json_decref(j);
    }
    /* a large value grows the buffer */
    json_t *arr = json_array();
    for (int i = 0; i < 5000; i++) {
        json_array_append_new(arr, json_string("twenty characters..."));
    }
    uint8_t *out;
    size_t len;
    char err[200];
    assert_int_equal(ternd_json_to_cbor(arr, &out, &len, err, sizeof err), 0);
    assert_int_equal(len, 3 + 5000 * 21);
    json_t *back;
    assert_int_equal(ternd_cbor_to_json(out, len, &back, err, sizeof err), 0);
    assert_true(json_equal(arr, back));
    json_decref(back);
    free(out);
    json_decref(arr);
}

static void test_base64(void **state)
{
    (void)state;
    static const char *const plain[] = { "", "f", "fo", "foo", "foob", "fooba", "foobar" };
    static const char *const std[] = { "",         "Zg==",     "Zm8=",    "Zm9v",
                                       "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy" };
    static const char *const url[] = { "", "Zg", "Zm8", "Zm9v", "Zm9vYg", "Zm9vYmE", "Zm9vYmFy" };
    for (size_t i = 0; i < 7; i++) {
        size_t n = strlen(plain[i]);
        char *s = ternd_base64_encode((const uint8_t *)plain[i], n, false);
        assert_string_equal(s, std[i]);
        free(s);
        s = ternd_base64_encode((const uint8_t *)plain[i], n, true);
        assert_string_equal(s, url[i]);
        free(s);
        uint8_t *raw;
        size_t len;
        assert_int_equal(ternd_base64_decode(std[i], strlen(std[i]), &raw, &len), 0);
        assert_int_equal(len, n);
        assert_memory_equal(raw, plain[i], n);
        free(raw);
        assert_int_equal(ternd_base64_decode(url[i], strlen(url[i]), &raw, &len), 0);
        assert_int_equal(len, n);
        assert_memory_equal(raw, plain[i], n);
        free(raw);
    }
    uint8_t *raw;
    size_t len;
    assert_int_equal(ternd_base64_decode("Zg=", 3, &raw, &len), -1);
    assert_int_equal(ternd_base64_decode("Z===", 4, &raw, &len), -1);
    assert_int_equal(ternd_base64_decode("Zm9v!", 5, &raw, &len), -1);
    assert_null(raw);
}

static void test_dump(void **state)
{
    (void)state;
    json_t *j = json_pack("{s:f, s:f, s:f, s:f, s:f, s:I, s:s, s:[]}", "v", 21.53, "t",
                          1764300001.0, "small", 0.1, "third", 1.0 / 3.0, "big", 1e300, "i",
                          (json_int_t)-42, "s", "\xc3\xbc\"/\x7f", "a");
    assert_non_null(j);
    size_t len;
    char *s = ternd_json_dump(j, &len);
    assert_non_null(s);
    assert_string_equal(s, "{\"v\":21.53,\"t\":1764300001.0,\"small\":0.1,"
                           "\"third\":0.3333333333333333,\"big\":1e+300,\"i\":-42,"
                           "\"s\":\"\xc3\xbc\\\"/\x7f\",\"a\":[]}");
    assert_int_equal(len, strlen(s));
    /* what it prints reads back as the same value */
    json_t *back = json_loads(s, 0, NULL);
    assert_non_null(back);
    assert_true(json_equal(j, back));
    json_decref(back);
    free(s);
    json_decref(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cbor_to_json_types),
        cmocka_unit_test(test_cbor_refused),
        cmocka_unit_test(test_json_to_cbor),
        cmocka_unit_test(test_bytes),
        cmocka_unit_test(test_depth),
        cmocka_unit_test(test_round_trip_cbor),
        cmocka_unit_test(test_base64),
        cmocka_unit_test(test_dump),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
