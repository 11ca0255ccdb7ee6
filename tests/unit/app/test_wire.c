/* SPDX-License-Identifier: Apache-2.0 */
/* The wire contract's helpers: topics built and parsed both ways, ids that are refused,
 * a message's body and its sequence number (MQTT 5 property, MQTT 3.1.1 prefix). Host and
 * Cortex-M4. */
#include <string.h>

#include "tern/wire.h"
#include "tern_test.h"

static void test_topics_both_ways(void **state)
{
    (void)state;
    char buf[TERN_WIRE_TOPIC_MAX];
    size_t len = 0;
    for (unsigned k = 0; k < TERN_WIRE_KIND_COUNT; k++) {
        assert_int_equal(tern_wire_topic(buf, sizeof buf, "dev-7.a_B", (tern_wire_kind_t)k, &len),
                         TERN_OK);
        assert_int_equal(len, strlen(buf));
        const char *id = NULL;
        size_t id_len = 0;
        tern_wire_kind_t kind = TERN_WIRE_KIND_COUNT;
        assert_int_equal(tern_wire_topic_parse(buf, len, &id, &id_len, &kind), TERN_OK);
        assert_int_equal(kind, k);
        assert_int_equal(id_len, 9);
        assert_memory_equal(id, "dev-7.a_B", 9);
    }
    assert_int_equal(tern_wire_topic(buf, sizeof buf, "d1", TERN_WIRE_TWIN_DESIRED, NULL), TERN_OK);
    assert_string_equal(buf, "tern/d1/twin/desired");
    /* Exactly the room it needs, NUL included; one byte less is too small. */
    assert_int_equal(tern_wire_topic(buf, 18, "d1", TERN_WIRE_TELEMETRY, &len), TERN_OK);
    assert_int_equal(tern_wire_topic(buf, 17, "d1", TERN_WIRE_TELEMETRY, &len), TERN_ERR_TOO_SMALL);
    assert_int_equal(tern_wire_topic(buf, sizeof buf, "d1", TERN_WIRE_KIND_COUNT, NULL),
                     TERN_ERR_INVAL);
}

static void test_ids_and_topics_refused(void **state)
{
    (void)state;
    char buf[TERN_WIRE_TOPIC_MAX];
    char long_id[TERN_WIRE_ID_MAX + 2];
    memset(long_id, 'a', sizeof long_id - 1);
    long_id[sizeof long_id - 1] = '\0';
    assert_true(tern_wire_id_ok(long_id, TERN_WIRE_ID_MAX));
    assert_false(tern_wire_id_ok(long_id, TERN_WIRE_ID_MAX + 1));
    static const char *const bad[] = { "", "a/b", "a+", "#", "$SYS", "a b", "caf\xc3\xa9" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_false(tern_wire_id_ok(bad[i], strlen(bad[i])));
        assert_int_equal(tern_wire_topic(buf, sizeof buf, bad[i], TERN_WIRE_CMD, NULL),
                         TERN_ERR_INVAL);
    }
    assert_int_equal(tern_wire_topic(buf, sizeof buf, NULL, TERN_WIRE_CMD, NULL), TERN_ERR_INVAL);
    static const char *const topics[] = {
        "tern/d1",      "tern/d1/",          "tern//telemetry", "tern/d1/telemetry/x",
        "tern/d1/twin", "tern/d+/telemetry", "ternx/d1/cmd",    "/tern/d1/cmd",
        "tern/d1/Cmd",
    };
    for (size_t i = 0; i < sizeof topics / sizeof topics[0]; i++) {
        const char *id;
        size_t id_len;
        tern_wire_kind_t kind;
        assert_int_equal(tern_wire_topic_parse(topics[i], strlen(topics[i]), &id, &id_len, &kind),
                         TERN_ERR_INVAL);
    }
    assert_string_equal(tern_wire_reject_name(TERN_WIRE_REJECT_CBOR), "cbor");
    assert_string_equal(tern_wire_reject_name((tern_wire_reject_t)99), "unknown");
}

/* The sequence number: from the MQTT 5 property, or the 3.1.1 prefix, or none. */
static void test_body_and_seq(void **state)
{
    (void)state;
    static const uint8_t pack[] = { 0x81, 0xa1, 0x00, 0x61, 0x78 }; /* [{0: "x"}] */
    static const uint8_t v311[] = { 0x00, 0x01, 0x11, 0x70, 0x81, 0xa1, 0x00, 0x61, 0x78 };
    bool has;
    uint32_t seq;
    const uint8_t *body;
    size_t blen;
    /* MQTT 5: the property, the payload whole. */
    assert_int_equal(tern_wire_body(pack, sizeof pack, "70000", 5, &has, &seq, &body, &blen),
                     TERN_OK);
    assert_true(has);
    assert_int_equal(seq, 70000);
    assert_ptr_equal(body, pack);
    assert_int_equal(blen, sizeof pack);
    assert_int_equal(tern_wire_body(pack, sizeof pack, "4294967295", 10, &has, &seq, &body, &blen),
                     TERN_OK);
    assert_true(seq == 4294967295u);
    /* MQTT 3.1.1: the first 4 bytes, big-endian. */
    assert_int_equal(tern_wire_body(v311, sizeof v311, NULL, 0, &has, &seq, &body, &blen), TERN_OK);
    assert_true(has);
    assert_int_equal(seq, 70000);
    assert_ptr_equal(body, v311 + 4);
    assert_int_equal(blen, sizeof pack);
    /* No number: CBOR from the first byte (a will, a message from another client). */
    assert_int_equal(tern_wire_body(pack, sizeof pack, NULL, 0, &has, &seq, &body, &blen), TERN_OK);
    assert_false(has);
    assert_ptr_equal(body, pack);
    assert_int_equal(tern_wire_body(pack, 0, NULL, 0, &has, &seq, &body, &blen), TERN_OK);
    assert_false(has);
    /* Refused: a property that is no decimal below 2^32, a prefix cut short. */
    static const char *const bad[] = { "", "-1", "1x", "4294967296", "12345678901", " 1" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(
            tern_wire_body(pack, sizeof pack, bad[i], strlen(bad[i]), &has, &seq, &body, &blen),
            TERN_ERR_INVAL);
    }
    assert_int_equal(tern_wire_body(v311, 3, NULL, 0, &has, &seq, &body, &blen), TERN_ERR_INVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_topics_both_ways),
        cmocka_unit_test(test_ids_and_topics_refused),
        cmocka_unit_test(test_body_and_seq),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
