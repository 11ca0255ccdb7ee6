/* SPDX-License-Identifier: Apache-2.0 */
/*
 * MQTT strings, topic names, topic filters (shared ones included), matching
 * with + and # and the $-topic rule, and the reason-code tables.
 */
#include <string.h>

#include "tern/mqtt_codec.h"
#include "tern_test.h"

typedef struct str_case {
    const char *s;
    size_t len; /* of s, which may hold NUL bytes */
    tern_err_t err;
} str_case_t;

#define CASE(lit, err)                 \
    {                                  \
        (lit), sizeof(lit) - 1u, (err) \
    }

static void test_utf8(void **state)
{
    (void)state;
    static const str_case_t cases[] = {
        CASE("", TERN_OK),
        CASE("plain ascii /+#$", TERN_OK),
        CASE("\xC3\xA9", TERN_OK),            /* U+00E9 */
        CASE("\xE2\x82\xAC", TERN_OK),        /* U+20AC */
        CASE("\xF0\x9D\x84\x9E", TERN_OK),    /* U+1D11E */
        CASE("\xEF\xBF\xBF", TERN_OK),        /* U+FFFF: a non-character, but well formed */
        CASE("\xF4\x8F\xBF\xBF", TERN_OK),    /* U+10FFFF, the last code point */
        CASE("\xED\x9F\xBF", TERN_OK),        /* U+D7FF, just below the surrogates */
        CASE("\xEE\x80\x80", TERN_OK),        /* U+E000, just above them */
        CASE("\x7F", TERN_OK),                /* control characters are allowed */
        CASE("\x00", TERN_ERR_MQTT_BAD_UTF8), /* U+0000 */
        CASE("a\x00z", TERN_ERR_MQTT_BAD_UTF8),
        CASE("\xC0\x80", TERN_ERR_MQTT_BAD_UTF8), /* overlong U+0000 */
        CASE("\xC1\xBF", TERN_ERR_MQTT_BAD_UTF8), /* overlong U+007F */
        CASE("\xE0\x80\x80", TERN_ERR_MQTT_BAD_UTF8),
        CASE("\xE0\x9F\xBF", TERN_ERR_MQTT_BAD_UTF8), /* overlong U+07FF */
        CASE("\xF0\x80\x80\x80", TERN_ERR_MQTT_BAD_UTF8),
        CASE("\xF0\x8F\xBF\xBF", TERN_ERR_MQTT_BAD_UTF8), /* overlong U+FFFF */
        CASE("\xED\xA0\x80", TERN_ERR_MQTT_BAD_UTF8),     /* U+D800 */
        CASE("\xED\xBF\xBF", TERN_ERR_MQTT_BAD_UTF8),     /* U+DFFF */
        CASE("\xF4\x90\x80\x80", TERN_ERR_MQTT_BAD_UTF8), /* U+110000 */
        CASE("\xF5\x80\x80\x80", TERN_ERR_MQTT_BAD_UTF8),
        CASE("\xF8\x88\x80\x80\x80", TERN_ERR_MQTT_BAD_UTF8), /* old 5-byte form */
        CASE("\xFE", TERN_ERR_MQTT_BAD_UTF8),
        CASE("\xFF", TERN_ERR_MQTT_BAD_UTF8),
        CASE("\x80", TERN_ERR_MQTT_BAD_UTF8), /* continuation without a lead */
        CASE("\xC3", TERN_ERR_MQTT_BAD_UTF8), /* cut */
        CASE("\xE2\x82", TERN_ERR_MQTT_BAD_UTF8),
        CASE("\xF0\x9D\x84", TERN_ERR_MQTT_BAD_UTF8),
        CASE("\xC3\x41", TERN_ERR_MQTT_BAD_UTF8), /* lead then ASCII */
        CASE("\xE2\xC3\xA9", TERN_ERR_MQTT_BAD_UTF8),
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        if (tern_mqtt_utf8_check(cases[i].s, cases[i].len) != cases[i].err) {
            fail_msg("utf8 case %u", (unsigned)i);
        }
    }
    assert_int_equal(tern_mqtt_utf8_check(NULL, 0), TERN_OK);
}

static void test_topic_names(void **state)
{
    (void)state;
    static const str_case_t cases[] = {
        CASE("a", TERN_OK),
        CASE("a/b/c", TERN_OK),
        CASE("/", TERN_OK),
        CASE("//", TERN_OK),
        CASE("/finance", TERN_OK),
        CASE("$SYS/broker/load", TERN_OK),
        CASE("sport tennis", TERN_OK),
        CASE("caf\xC3\xA9/\xE2\x82\xAC", TERN_OK),
        CASE("", TERN_ERR_MQTT_BAD_TOPIC),
        CASE("+", TERN_ERR_MQTT_BAD_TOPIC),
        CASE("#", TERN_ERR_MQTT_BAD_TOPIC),
        CASE("a/+/c", TERN_ERR_MQTT_BAD_TOPIC),
        CASE("a/#", TERN_ERR_MQTT_BAD_TOPIC),
        CASE("a+b", TERN_ERR_MQTT_BAD_TOPIC),
        CASE("a\x00", TERN_ERR_MQTT_BAD_UTF8),
        CASE("a/\xC0\xAF", TERN_ERR_MQTT_BAD_UTF8),
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        if (tern_mqtt_topic_check(cases[i].s, cases[i].len) != cases[i].err) {
            fail_msg("topic name '%s'", cases[i].s);
        }
    }
    /* 1..65535 bytes. Too long is refused before a byte is read, so 16 real bytes do. */
    static const char x16[16] = "xxxxxxxxxxxxxxx";
    assert_int_equal(tern_mqtt_topic_check(x16, 65536), TERN_ERR_MQTT_BAD_TOPIC);
    assert_int_equal(tern_mqtt_filter_check(x16, 65536), TERN_ERR_MQTT_BAD_FILTER);
#ifndef TERN_TEST_LITE /* 64 KiB is more than a test may take on the board */
    static char longest[65535];
    memset(longest, 'x', sizeof longest);
    assert_int_equal(tern_mqtt_topic_check(longest, sizeof longest), TERN_OK);
    assert_int_equal(tern_mqtt_filter_check(longest, sizeof longest), TERN_OK);
#endif
}

static void test_topic_filters(void **state)
{
    (void)state;
    static const str_case_t cases[] = {
        CASE("a", TERN_OK), CASE("#", TERN_OK), CASE("+", TERN_OK), CASE("a/#", TERN_OK),
        CASE("a/+", TERN_OK), CASE("+/+", TERN_OK), CASE("/+", TERN_OK), CASE("+/#", TERN_OK),
        CASE("a/+/c/#", TERN_OK), CASE("$SYS/#", TERN_OK), CASE("/", TERN_OK),
        CASE("", TERN_ERR_MQTT_BAD_FILTER), CASE("a#", TERN_ERR_MQTT_BAD_FILTER),
        CASE("a/#/b", TERN_ERR_MQTT_BAD_FILTER), CASE("#/", TERN_ERR_MQTT_BAD_FILTER),
        CASE("##", TERN_ERR_MQTT_BAD_FILTER), CASE("a+", TERN_ERR_MQTT_BAD_FILTER),
        CASE("+a", TERN_ERR_MQTT_BAD_FILTER), CASE("a/b+/c", TERN_ERR_MQTT_BAD_FILTER),
        CASE("++", TERN_ERR_MQTT_BAD_FILTER), CASE("a/\xED\xA0\x80", TERN_ERR_MQTT_BAD_UTF8),
        /* shared subscriptions: $share/<group>/<filter> */
        CASE("$share/g/a", TERN_OK), CASE("$share/group/a/+/#", TERN_OK),
        CASE("$share/g/#", TERN_OK), CASE("$share/g/+", TERN_OK), CASE("$share/g//", TERN_OK),
        CASE("$share/g/$SYS/x", TERN_OK), CASE("$share/g", TERN_ERR_MQTT_BAD_FILTER),
        CASE("$share/g/", TERN_ERR_MQTT_BAD_FILTER), CASE("$share//a", TERN_ERR_MQTT_BAD_FILTER),
        CASE("$share/", TERN_ERR_MQTT_BAD_FILTER), CASE("$share/+/a", TERN_ERR_MQTT_BAD_FILTER),
        CASE("$share/#/a", TERN_ERR_MQTT_BAD_FILTER), CASE("$share/g+/a", TERN_ERR_MQTT_BAD_FILTER),
        CASE("$share/g/a#", TERN_ERR_MQTT_BAD_FILTER),
        CASE("$share/\xC0\x80/a", TERN_ERR_MQTT_BAD_UTF8),
        CASE("$share", TERN_OK),    /* not shared: an ordinary one-level filter */
        CASE("$sharex/a", TERN_OK), /* likewise */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        if (tern_mqtt_filter_check(cases[i].s, cases[i].len) != cases[i].err) {
            fail_msg("topic filter '%s'", cases[i].s);
        }
    }
}

typedef struct match_case {
    const char *filter;
    const char *topic;
    bool match;
} match_case_t;

static void test_matching(void **state)
{
    (void)state;
    static const match_case_t cases[] = {
        /* the examples of the specification, 4.7.1 */
        { "sport/tennis/player1/#", "sport/tennis/player1", true },
        { "sport/tennis/player1/#", "sport/tennis/player1/ranking", true },
        { "sport/tennis/player1/#", "sport/tennis/player1/score/wimbledon", true },
        { "sport/#", "sport", true },
        { "#", "sport/tennis", true },
        { "sport/tennis/+", "sport/tennis/player1", true },
        { "sport/tennis/+", "sport/tennis/player1/ranking", false },
        { "sport/+", "sport", false },
        { "sport/+", "sport/", true },
        { "+/+", "/finance", true },
        { "/+", "/finance", true },
        { "+", "/finance", false },
        { "+/tennis/#", "sport/tennis/player1", true },
        /* exact, levels and empty levels */
        { "a/b", "a/b", true },
        { "a/b", "a/bc", false },
        { "a/b", "a", false },
        { "a", "a/b", false },
        { "a/+/c", "a//c", true },
        { "+", "", false },
        { "a/#", "a/", true },
        { "a/#", "ab", false },
        { "a/+/#", "a/b", true },
        { "+/+/+", "a/b", false },
        { "/", "/", true },
        /* $-topics: not matched by a filter that starts with a wildcard (4.7.2) */
        { "#", "$SYS/broker", false },
        { "+/monitor/Clients", "$SYS/monitor/Clients", false },
        { "$SYS/#", "$SYS/monitor/Clients", true },
        { "$SYS/monitor/+", "$SYS/monitor/Clients", true },
        { "+", "$SYS", false },
        { "a/#", "a/$SYS", true }, /* only the first level counts */
        /* shared subscriptions match by the filter after the group */
        { "$share/g/a/+", "a/b", true },
        { "$share/g/#", "x/y", true },
        { "$share/g/#", "$SYS/x", false },
        { "$share/g/a", "g/a", false },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const match_case_t *c = &cases[i];
        assert_int_equal(tern_mqtt_filter_check(c->filter, strlen(c->filter)), TERN_OK);
        bool m = tern_mqtt_topic_match(c->filter, strlen(c->filter), c->topic, strlen(c->topic));
        if (m != c->match) {
            fail_msg("'%s' vs '%s': got %d", c->filter, c->topic, (int)m);
        }
    }
}

static void test_reason_codes(void **state)
{
    (void)state;
    static const uint8_t success[] = { 0x00, 0x01, 0x02, 0x04, 0x10, 0x11, 0x18, 0x19 };
    const char *seen[43];
    size_t n = 0;
    for (unsigned c = 0; c < 256; c++) {
        const char *s = tern_mqtt_reason_str((uint8_t)c);
        bool known = memchr(success, (int)c, sizeof success) != NULL || (c >= 0x80 && c <= 0xA2);
        assert_non_null(s);
        if (!known) {
            assert_string_equal(s, "unknown reason code");
            if (c >= 0x80) {
                assert_int_equal(tern_mqtt_reason_to_err((uint8_t)c), TERN_ERR_MQTT_UNSPECIFIED);
            }
            continue;
        }
        assert_true(strcmp(s, "unknown reason code") != 0);
        for (size_t j = 0; j < n; j++) {
            assert_true(strcmp(s, seen[j]) != 0); /* every name its own */
        }
        seen[n++] = s;
        tern_err_t e = tern_mqtt_reason_to_err((uint8_t)c);
        if (c < 0x80) {
            assert_int_equal(e, TERN_OK);
            continue;
        }
        /* Failures: one error each, -(256 + code), reversible, with the same words. */
        assert_int_equal(e, -(256 + (int)c));
        assert_int_equal(tern_mqtt_err_to_reason(e), c);
        assert_true(strcmp(tern_strerror(e), "unknown error") != 0);
        assert_string_equal(tern_strerror(e) + 6, s);
    }
    assert_int_equal(n, 43);
    assert_string_equal(tern_mqtt_reason_str(0x00), "success");
    assert_string_equal(tern_mqtt_reason_str(0x87), "not authorized");
    assert_string_equal(tern_mqtt_reason_str(0x9E), "shared subscriptions not supported");
    assert_string_equal(tern_err_name(TERN_ERR_MQTT_QUOTA_EXCEEDED),
                        "TERN_ERR_MQTT_QUOTA_EXCEEDED");
    assert_int_equal(TERN_ERR_MQTT_QUOTA_EXCEEDED, -(256 + 0x97));

    /* The codec's own errors say malformed or protocol error; others say unspecified. */
    assert_int_equal(tern_mqtt_err_to_reason(TERN_OK), 0x00);
    assert_int_equal(tern_mqtt_err_to_reason(TERN_ERR_MQTT_BAD_UTF8), 0x81);
    assert_int_equal(tern_mqtt_err_to_reason(TERN_ERR_MQTT_SHORT), 0x81);
    assert_int_equal(tern_mqtt_err_to_reason(TERN_ERR_MQTT_DUP_PROPERTY), 0x82);
    assert_int_equal(tern_mqtt_err_to_reason(TERN_ERR_MQTT_BAD_TOPIC), 0x90);
    assert_int_equal(tern_mqtt_err_to_reason(TERN_ERR_MQTT_BAD_FILTER), 0x8F);
    assert_int_equal(tern_mqtt_err_to_reason(TERN_ERR_MALFORMED), 0x81);
    assert_int_equal(tern_mqtt_err_to_reason(TERN_ERR_PROTOCOL), 0x82);
    assert_int_equal(tern_mqtt_err_to_reason(TERN_ERR_IO), 0x80);
    assert_int_equal(tern_mqtt_err_to_reason((tern_err_t)(-(256 + 0xA3))), 0x80);
    for (int e = TERN_ERR_MQTT_BAD_VARINT; e >= TERN_ERR_MQTT_TOO_LONG; e--) {
        assert_true(tern_mqtt_err_to_reason((tern_err_t)e) >= 0x80);
    }
}

static void test_reason_code_packets(void **state)
{
    (void)state;
#if TERN_MQTT_V5
    /* Spot checks of table 2-6. */
    assert_true(tern_mqtt_reason_allowed(TERN_MQTT_CONNACK, 0x84));
    assert_false(tern_mqtt_reason_allowed(TERN_MQTT_PUBACK, 0x84));
    assert_true(tern_mqtt_reason_allowed(TERN_MQTT_SUBACK, 0x01));
    assert_false(tern_mqtt_reason_allowed(TERN_MQTT_UNSUBACK, 0x01));
    assert_true(tern_mqtt_reason_allowed(TERN_MQTT_UNSUBACK, 0x11));
    assert_true(tern_mqtt_reason_allowed(TERN_MQTT_AUTH, 0x18));
    assert_true(tern_mqtt_reason_allowed(TERN_MQTT_AUTH, 0x19));
    assert_false(tern_mqtt_reason_allowed(TERN_MQTT_AUTH, 0x80));
    assert_true(tern_mqtt_reason_allowed(TERN_MQTT_DISCONNECT, 0x04));
    assert_true(tern_mqtt_reason_allowed(TERN_MQTT_PUBREL, 0x92));
    assert_false(tern_mqtt_reason_allowed(TERN_MQTT_PUBREL, 0x91));
    assert_true(tern_mqtt_reason_allowed(TERN_MQTT_PUBREC, 0x10));
    assert_false(tern_mqtt_reason_allowed(TERN_MQTT_PUBCOMP, 0x10));
    assert_false(tern_mqtt_reason_allowed(TERN_MQTT_PUBLISH, 0x00));
    assert_false(tern_mqtt_reason_allowed(TERN_MQTT_CONNACK, 0x03));
    /* Every failure code is valid in DISCONNECT or CONNACK or an ack: none is orphaned. */
    for (unsigned c = 0x80; c <= 0xA2; c++) {
        bool somewhere = false;
        for (uint8_t t = TERN_MQTT_CONNACK; t <= TERN_MQTT_AUTH; t++) {
            somewhere = somewhere || tern_mqtt_reason_allowed(t, (uint8_t)c);
        }
        assert_true(somewhere);
    }
    /* And the property table, spot checks of table 2-4 (0 = Will Properties). */
    assert_true(tern_mqtt_prop_allowed(0, TERN_MQTT_PROP_WILL_DELAY));
    assert_false(tern_mqtt_prop_allowed(TERN_MQTT_CONNECT, TERN_MQTT_PROP_WILL_DELAY));
    assert_true(tern_mqtt_prop_allowed(TERN_MQTT_PUBLISH, TERN_MQTT_PROP_SUBSCRIPTION_ID));
    assert_true(tern_mqtt_prop_allowed(TERN_MQTT_SUBSCRIBE, TERN_MQTT_PROP_SUBSCRIPTION_ID));
    assert_false(tern_mqtt_prop_allowed(TERN_MQTT_UNSUBSCRIBE, TERN_MQTT_PROP_SUBSCRIPTION_ID));
    assert_true(tern_mqtt_prop_allowed(TERN_MQTT_AUTH, TERN_MQTT_PROP_USER_PROPERTY));
    assert_false(tern_mqtt_prop_allowed(TERN_MQTT_PINGREQ, TERN_MQTT_PROP_USER_PROPERTY));
    assert_false(tern_mqtt_prop_allowed(TERN_MQTT_PUBLISH, 0x05));
    assert_int_equal(TERN_MQTT_PROP_COUNT, 27);
#else
    assert_false(tern_mqtt_prop_allowed(TERN_MQTT_PUBLISH, TERN_MQTT_PROP_PAYLOAD_FORMAT));
#endif
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_utf8),          cmocka_unit_test(test_topic_names),
        cmocka_unit_test(test_topic_filters), cmocka_unit_test(test_matching),
        cmocka_unit_test(test_reason_codes),  cmocka_unit_test(test_reason_code_packets),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
