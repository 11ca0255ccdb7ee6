/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The malformed-packet matrix: each row is a packet that is wrong in exactly
 * one way, and the specific error the decoder must give for it. Rows marked
 * MQTT 5 are skipped in a build without it (TERN_MQTT_V5 = 0).
 */
#include <string.h>

#include "tern/mqtt_codec.h"
#include "tern_test.h"

#define V311 TERN_MQTT_PROTO_V311
#define V5   TERN_MQTT_PROTO_V5

typedef struct bad {
    const char *what;
    tern_mqtt_version_t ver;
    tern_err_t err;
    uint8_t len;
    uint8_t bytes[32];
} bad_t;

#define BAD(what, ver, err, ...)                                  \
    {                                                             \
        what, ver, err, sizeof((const uint8_t[]){ __VA_ARGS__ }), \
        {                                                         \
            __VA_ARGS__                                           \
        }                                                         \
    }

#define MQTT_4 0x00, 0x04, 'M', 'Q', 'T', 'T'

static const bad_t k_bad[] = {
    /* fixed header */
    BAD("packet type 0", V311, TERN_ERR_MQTT_BAD_TYPE, 0x00, 0x00),
    BAD("AUTH in 3.1.1", V311, TERN_ERR_MQTT_BAD_TYPE, 0xF0, 0x00),
    BAD("remaining length in 5 bytes", V311, TERN_ERR_MQTT_BAD_VARINT, 0x30, 0xFF, 0xFF, 0xFF, 0xFF,
        0x01),
    BAD("PUBACK flags 1", V311, TERN_ERR_MQTT_BAD_FLAGS, 0x41, 0x02, 0x00, 0x01),
    BAD("PUBREL flags 0", V311, TERN_ERR_MQTT_BAD_FLAGS, 0x60, 0x02, 0x00, 0x01),
    BAD("SUBSCRIBE flags 0", V311, TERN_ERR_MQTT_BAD_FLAGS, 0x80, 0x06, 0x00, 0x01, 0x00, 0x01, 'a',
        0x00),
    BAD("UNSUBSCRIBE flags 3", V311, TERN_ERR_MQTT_BAD_FLAGS, 0xA3, 0x05, 0x00, 0x01, 0x00, 0x01,
        'a'),
    BAD("PINGREQ flags 8", V311, TERN_ERR_MQTT_BAD_FLAGS, 0xC8, 0x00),
    BAD("DISCONNECT flags 2", V5, TERN_ERR_MQTT_BAD_FLAGS, 0xE2, 0x00),
    /* lengths: fields past the end, bytes after the last field */
    BAD("topic longer than packet", V311, TERN_ERR_MQTT_SHORT, 0x30, 0x03, 0x00, 0x05, 'a'),
    BAD("packet id cut", V311, TERN_ERR_MQTT_SHORT, 0x40, 0x01, 0x00),
    BAD("CONNACK cut", V311, TERN_ERR_MQTT_SHORT, 0x20, 0x01, 0x00),
    BAD("v5 CONNACK without property length", V5, TERN_ERR_MQTT_SHORT, 0x20, 0x02, 0x00, 0x00),
    BAD("v5 PUBLISH without property length", V5, TERN_ERR_MQTT_SHORT, 0x30, 0x03, 0x00, 0x01, 'a'),
    BAD("SUBSCRIBE options missing", V311, TERN_ERR_MQTT_SHORT, 0x82, 0x05, 0x00, 0x01, 0x00, 0x01,
        'a'),
    BAD("CONNECT without client id", V311, TERN_ERR_MQTT_SHORT, 0x10, 0x0A, MQTT_4, 0x04, 0x02,
        0x00, 0x00),
    BAD("CONNECT will payload missing", V311, TERN_ERR_MQTT_SHORT, 0x10, 0x0F, MQTT_4, 0x04, 0x06,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 'w'),
    BAD("PINGREQ with a body", V311, TERN_ERR_MQTT_TRAILING, 0xC0, 0x01, 0x00),
    BAD("3.1.1 PUBACK with a reason", V311, TERN_ERR_MQTT_TRAILING, 0x40, 0x03, 0x00, 0x01, 0x00),
    BAD("3.1.1 DISCONNECT with a body", V311, TERN_ERR_MQTT_TRAILING, 0xE0, 0x01, 0x00),
    BAD("3.1.1 UNSUBACK with codes", V311, TERN_ERR_MQTT_TRAILING, 0xB0, 0x03, 0x00, 0x01, 0x00),
    BAD("CONNACK too long", V311, TERN_ERR_MQTT_TRAILING, 0x20, 0x03, 0x00, 0x00, 0x00),
    BAD("CONNECT password beyond flags", V311, TERN_ERR_MQTT_TRAILING, 0x10, 0x0E, MQTT_4, 0x04,
        0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00),
    /* QoS and packet identifiers */
    BAD("PUBLISH QoS 3", V311, TERN_ERR_MQTT_BAD_QOS, 0x36, 0x05, 0x00, 0x01, 'a', 0x00, 0x01),
    BAD("PUBLISH DUP at QoS 0", V311, TERN_ERR_MQTT_BAD_FLAGS, 0x38, 0x03, 0x00, 0x01, 'a'),
    BAD("PUBLISH packet id 0", V311, TERN_ERR_MQTT_BAD_PACKET_ID, 0x32, 0x05, 0x00, 0x01, 'a', 0x00,
        0x00),
    BAD("PUBACK packet id 0", V311, TERN_ERR_MQTT_BAD_PACKET_ID, 0x40, 0x02, 0x00, 0x00),
    BAD("PUBREL packet id 0", V5, TERN_ERR_MQTT_BAD_PACKET_ID, 0x62, 0x02, 0x00, 0x00),
    BAD("SUBSCRIBE packet id 0", V311, TERN_ERR_MQTT_BAD_PACKET_ID, 0x82, 0x06, 0x00, 0x00, 0x00,
        0x01, 'a', 0x00),
    BAD("UNSUBACK packet id 0", V311, TERN_ERR_MQTT_BAD_PACKET_ID, 0xB0, 0x02, 0x00, 0x00),
    BAD("SUBSCRIBE QoS 3", V311, TERN_ERR_MQTT_BAD_QOS, 0x82, 0x06, 0x00, 0x01, 0x00, 0x01, 'a',
        0x03),
    BAD("CONNECT will QoS 3", V311, TERN_ERR_MQTT_BAD_QOS, 0x10, 0x0C, MQTT_4, 0x04, 0x1E, 0x00,
        0x00, 0x00, 0x00),
    /* CONNECT */
    BAD("CONNECT reserved flag", V311, TERN_ERR_MQTT_BAD_FLAGS, 0x10, 0x0C, MQTT_4, 0x04, 0x03,
        0x00, 0x00, 0x00, 0x00),
    BAD("will QoS without will", V311, TERN_ERR_MQTT_BAD_FLAGS, 0x10, 0x0C, MQTT_4, 0x04, 0x0A,
        0x00, 0x00, 0x00, 0x00),
    BAD("will retain without will", V5, TERN_ERR_MQTT_BAD_FLAGS, 0x10, 0x0D, MQTT_4, 0x05, 0x22,
        0x00, 0x00, 0x00, 0x00, 0x00),
    BAD("3.1.1 password without user", V311, TERN_ERR_MQTT_BAD_FLAGS, 0x10, 0x0E, MQTT_4, 0x04,
        0x42, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00),
    BAD("protocol name MQIsdp", V311, TERN_ERR_MQTT_BAD_PROTOCOL, 0x10, 0x0E, 0x00, 0x06, 'M', 'Q',
        'I', 's', 'd', 'p', 0x03, 0x02, 0x00, 0x00, 0x00, 0x00),
    BAD("protocol name lower case", V311, TERN_ERR_MQTT_BAD_PROTOCOL, 0x10, 0x0C, 0x00, 0x04, 'm',
        'q', 't', 't', 0x04, 0x02, 0x00, 0x00, 0x00, 0x00),
    BAD("protocol level 3", V311, TERN_ERR_MQTT_UNSUPPORTED_VERSION, 0x10, 0x0C, MQTT_4, 0x03, 0x02,
        0x00, 0x00, 0x00, 0x00),
    BAD("level 5 read as 3.1.1", V311, TERN_ERR_MQTT_UNSUPPORTED_VERSION, 0x10, 0x0D, MQTT_4, 0x05,
        0x02, 0x00, 0x00, 0x00, 0x00, 0x00),
    BAD("level 4 read as 5", V5, TERN_ERR_MQTT_UNSUPPORTED_VERSION, 0x10, 0x0C, MQTT_4, 0x04, 0x02,
        0x00, 0x00, 0x00, 0x00),
    BAD("client id overlong UTF-8", V311, TERN_ERR_MQTT_BAD_UTF8, 0x10, 0x0E, MQTT_4, 0x04, 0x02,
        0x00, 0x00, 0x00, 0x02, 0xC0, 0xAF),
    BAD("user name U+0000", V311, TERN_ERR_MQTT_BAD_UTF8, 0x10, 0x0F, MQTT_4, 0x04, 0x82, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x01, 0x00),
    BAD("will topic with wildcard", V311, TERN_ERR_MQTT_BAD_TOPIC, 0x10, 0x11, MQTT_4, 0x04, 0x06,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x01, '#', 0x00, 0x00),
    /* CONNACK */
    BAD("CONNACK reserved ack flag", V311, TERN_ERR_MQTT_BAD_FLAGS, 0x20, 0x02, 0x02, 0x00),
    BAD("session present on refusal", V311, TERN_ERR_MQTT_BAD_FLAGS, 0x20, 0x02, 0x01, 0x05),
    BAD("3.1.1 return code 6", V311, TERN_ERR_MQTT_BAD_REASON, 0x20, 0x02, 0x00, 0x06),
    BAD("v5 CONNACK session taken over", V5, TERN_ERR_MQTT_BAD_REASON, 0x20, 0x03, 0x00, 0x8E,
        0x00),
    /* PUBLISH topics */
    BAD("topic with +", V311, TERN_ERR_MQTT_BAD_TOPIC, 0x30, 0x05, 0x00, 0x03, 'a', '/', '+'),
    BAD("topic with #", V5, TERN_ERR_MQTT_BAD_TOPIC, 0x30, 0x04, 0x00, 0x01, '#', 0x00),
    BAD("empty topic in 3.1.1", V311, TERN_ERR_MQTT_BAD_TOPIC, 0x30, 0x02, 0x00, 0x00),
    BAD("empty topic, no alias", V5, TERN_ERR_MQTT_BAD_TOPIC, 0x30, 0x03, 0x00, 0x00, 0x00),
    BAD("topic U+0000", V311, TERN_ERR_MQTT_BAD_UTF8, 0x30, 0x05, 0x00, 0x03, 'a', 0x00, 'b'),
    BAD("topic surrogate", V311, TERN_ERR_MQTT_BAD_UTF8, 0x30, 0x05, 0x00, 0x03, 0xED, 0xA0, 0x80),
    BAD("topic overlong 3 bytes", V311, TERN_ERR_MQTT_BAD_UTF8, 0x30, 0x05, 0x00, 0x03, 0xE0, 0x80,
        0xAF),
    BAD("topic above U+10FFFF", V311, TERN_ERR_MQTT_BAD_UTF8, 0x30, 0x06, 0x00, 0x04, 0xF4, 0x90,
        0x80, 0x80),
    BAD("topic cut sequence", V311, TERN_ERR_MQTT_BAD_UTF8, 0x30, 0x04, 0x00, 0x02, 0xE2, 0x82),
    BAD("topic lone continuation", V311, TERN_ERR_MQTT_BAD_UTF8, 0x30, 0x03, 0x00, 0x01, 0x80),
    BAD("topic byte F5", V311, TERN_ERR_MQTT_BAD_UTF8, 0x30, 0x06, 0x00, 0x04, 0xF5, 0x80, 0x80,
        0x80),
    /* SUBSCRIBE, UNSUBSCRIBE and their acks */
    BAD("SUBSCRIBE without filters", V311, TERN_ERR_MQTT_EMPTY_LIST, 0x82, 0x02, 0x00, 0x01),
    BAD("UNSUBSCRIBE without filters", V5, TERN_ERR_MQTT_EMPTY_LIST, 0xA2, 0x03, 0x00, 0x01, 0x00),
    BAD("SUBACK without codes", V311, TERN_ERR_MQTT_EMPTY_LIST, 0x90, 0x02, 0x00, 0x01),
    BAD("v5 UNSUBACK without codes", V5, TERN_ERR_MQTT_EMPTY_LIST, 0xB0, 0x03, 0x00, 0x01, 0x00),
    BAD("3.1.1 options with No Local", V311, TERN_ERR_MQTT_BAD_FLAGS, 0x82, 0x06, 0x00, 0x01, 0x00,
        0x01, 'a', 0x04),
    BAD("v5 options reserved bits", V5, TERN_ERR_MQTT_BAD_FLAGS, 0x82, 0x07, 0x00, 0x01, 0x00, 0x00,
        0x01, 'a', 0x40),
    BAD("v5 retain handling 3", V5, TERN_ERR_MQTT_BAD_FLAGS, 0x82, 0x07, 0x00, 0x01, 0x00, 0x00,
        0x01, 'a', 0x30),
    BAD("No Local on a shared subscription", V5, TERN_ERR_MQTT_BAD_FLAGS, 0x82, 0x10, 0x00, 0x01,
        0x00, 0x00, 0x0A, '$', 's', 'h', 'a', 'r', 'e', '/', 'g', '/', 'a', 0x04),
    BAD("filter a#b", V311, TERN_ERR_MQTT_BAD_FILTER, 0x82, 0x08, 0x00, 0x01, 0x00, 0x03, 'a', '#',
        'b', 0x00),
    BAD("unsubscribe filter #/", V311, TERN_ERR_MQTT_BAD_FILTER, 0xA2, 0x06, 0x00, 0x01, 0x00, 0x02,
        '#', '/'),
    BAD("empty filter", V311, TERN_ERR_MQTT_BAD_FILTER, 0x82, 0x05, 0x00, 0x01, 0x00, 0x00, 0x00),
    BAD("shared filter without a group", V5, TERN_ERR_MQTT_BAD_FILTER, 0x82, 0x0E, 0x00, 0x01, 0x00,
        0x00, 0x08, '$', 's', 'h', 'a', 'r', 'e', '/', '/', 0x00),
    BAD("SUBACK code 3", V311, TERN_ERR_MQTT_BAD_REASON, 0x90, 0x03, 0x00, 0x01, 0x03),
    BAD("v5 SUBACK code 0x92", V5, TERN_ERR_MQTT_BAD_REASON, 0x90, 0x04, 0x00, 0x01, 0x00, 0x92),
    BAD("v5 UNSUBACK code 0x01", V5, TERN_ERR_MQTT_BAD_REASON, 0xB0, 0x04, 0x00, 0x01, 0x00, 0x01),
    /* reason codes of acks, DISCONNECT and AUTH */
    BAD("v5 PUBACK reason 0x84", V5, TERN_ERR_MQTT_BAD_REASON, 0x40, 0x03, 0x00, 0x01, 0x84),
    BAD("v5 PUBREL reason 0x10", V5, TERN_ERR_MQTT_BAD_REASON, 0x62, 0x03, 0x00, 0x01, 0x10),
    BAD("v5 DISCONNECT reason 0x01", V5, TERN_ERR_MQTT_BAD_REASON, 0xE0, 0x01, 0x01),
    BAD("v5 AUTH reason 0x80", V5, TERN_ERR_MQTT_BAD_REASON, 0xF0, 0x01, 0x80),
    /* properties */
    BAD("unknown property 0x05", V5, TERN_ERR_MQTT_BAD_PROPERTY, 0x30, 0x06, 0x00, 0x01, 'a', 0x02,
        0x05, 0x00),
    BAD("property id 0x80 (multi-byte)", V5, TERN_ERR_MQTT_BAD_PROPERTY, 0x30, 0x06, 0x00, 0x01,
        'a', 0x02, 0x80, 0x01),
    BAD("session expiry in PUBLISH", V5, TERN_ERR_MQTT_PROPERTY_NOT_ALLOWED, 0x30, 0x09, 0x00, 0x01,
        'a', 0x05, 0x11, 0x00, 0x00, 0x00, 0x01),
    BAD("will delay in CONNECT", V5, TERN_ERR_MQTT_PROPERTY_NOT_ALLOWED, 0x10, 0x12, MQTT_4, 0x05,
        0x02, 0x00, 0x00, 0x05, 0x18, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00),
    BAD("session expiry in Will", V5, TERN_ERR_MQTT_PROPERTY_NOT_ALLOWED, 0x10, 0x18, MQTT_4, 0x05,
        0x06, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05, 0x11, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01, 'w',
        0x00, 0x00),
    BAD("user property in PINGREQ", V5, TERN_ERR_MQTT_TRAILING, 0xC0, 0x01, 0x00),
    BAD("reason string in PUBLISH", V5, TERN_ERR_MQTT_PROPERTY_NOT_ALLOWED, 0x30, 0x08, 0x00, 0x01,
        'a', 0x04, 0x1F, 0x00, 0x01, 'r'),
    BAD("topic alias in SUBSCRIBE", V5, TERN_ERR_MQTT_PROPERTY_NOT_ALLOWED, 0x82, 0x0A, 0x00, 0x01,
        0x03, 0x23, 0x00, 0x01, 0x00, 0x01, 'a', 0x00),
    BAD("payload format twice", V5, TERN_ERR_MQTT_DUP_PROPERTY, 0x30, 0x08, 0x00, 0x01, 'a', 0x04,
        0x01, 0x00, 0x01, 0x01),
    BAD("reason string twice", V5, TERN_ERR_MQTT_DUP_PROPERTY, 0x40, 0x0C, 0x00, 0x01, 0x80, 0x08,
        0x1F, 0x00, 0x01, 'a', 0x1F, 0x00, 0x01, 'b'),
    BAD("subscription id twice in SUBSCRIBE", V5, TERN_ERR_MQTT_DUP_PROPERTY, 0x82, 0x0B, 0x00,
        0x01, 0x04, 0x0B, 0x01, 0x0B, 0x02, 0x00, 0x01, 'a', 0x00),
    BAD("payload format 2", V5, TERN_ERR_MQTT_BAD_PROPERTY_VALUE, 0x30, 0x06, 0x00, 0x01, 'a', 0x02,
        0x01, 0x02),
    BAD("maximum QoS 2", V5, TERN_ERR_MQTT_BAD_PROPERTY_VALUE, 0x20, 0x05, 0x00, 0x00, 0x02, 0x24,
        0x02),
    BAD("receive maximum 0", V5, TERN_ERR_MQTT_BAD_PROPERTY_VALUE, 0x20, 0x06, 0x00, 0x00, 0x03,
        0x21, 0x00, 0x00),
    BAD("maximum packet size 0", V5, TERN_ERR_MQTT_BAD_PROPERTY_VALUE, 0x20, 0x08, 0x00, 0x00, 0x05,
        0x27, 0x00, 0x00, 0x00, 0x00),
    BAD("topic alias 0", V5, TERN_ERR_MQTT_BAD_PROPERTY_VALUE, 0x30, 0x07, 0x00, 0x01, 'a', 0x03,
        0x23, 0x00, 0x00),
    BAD("subscription id 0", V5, TERN_ERR_MQTT_BAD_PROPERTY_VALUE, 0x30, 0x06, 0x00, 0x01, 'a',
        0x02, 0x0B, 0x00),
    BAD("property block past the end", V5, TERN_ERR_MQTT_SHORT, 0x30, 0x05, 0x00, 0x01, 'a', 0x09,
        0x01),
    BAD("property value cut", V5, TERN_ERR_MQTT_SHORT, 0x30, 0x06, 0x00, 0x01, 'a', 0x02, 0x02,
        0x00),
    BAD("property string past its block", V5, TERN_ERR_MQTT_SHORT, 0x30, 0x08, 0x00, 0x01, 'a',
        0x02, 0x03, 0x00, 0x01, 'x'),
    BAD("property length in 5 bytes", V5, TERN_ERR_MQTT_BAD_VARINT, 0x30, 0x08, 0x00, 0x01, 'a',
        0xFF, 0xFF, 0xFF, 0xFF, 0x01),
    BAD("subscription id in 5 bytes", V5, TERN_ERR_MQTT_BAD_VARINT, 0x30, 0x0A, 0x00, 0x01, 'a',
        0x06, 0x0B, 0xFF, 0xFF, 0xFF, 0xFF, 0x01),
    BAD("user property value not UTF-8", V5, TERN_ERR_MQTT_BAD_UTF8, 0x30, 0x0B, 0x00, 0x01, 'a',
        0x07, 0x26, 0x00, 0x01, 'k', 0x00, 0x01, 0x80),
    BAD("user property name U+0000", V5, TERN_ERR_MQTT_BAD_UTF8, 0x30, 0x0B, 0x00, 0x01, 'a', 0x07,
        0x26, 0x00, 0x01, 0x00, 0x00, 0x01, 'v'),
    BAD("content type surrogate", V5, TERN_ERR_MQTT_BAD_UTF8, 0x30, 0x0A, 0x00, 0x01, 'a', 0x06,
        0x03, 0x00, 0x03, 0xED, 0xBF, 0xBF),
    BAD("response topic with wildcard", V5, TERN_ERR_MQTT_BAD_TOPIC, 0x30, 0x08, 0x00, 0x01, 'a',
        0x04, 0x08, 0x00, 0x01, '#'),
    BAD("reason string in DISCONNECT not UTF-8", V5, TERN_ERR_MQTT_BAD_UTF8, 0xE0, 0x06, 0x00, 0x04,
        0x1F, 0x00, 0x01, 0xFF),
};

static void test_each_malformed_packet_has_its_error(void **state)
{
    (void)state;
    size_t run = 0;
    for (size_t i = 0; i < sizeof k_bad / sizeof k_bad[0]; i++) {
        const bad_t *b = &k_bad[i];
        if (b->ver == V5 && !TERN_MQTT_V5) {
            continue;
        }
        tern_mqtt_packet_t p;
        size_t n;
        /* The rows are whole packets: framing accepts them (save a bad length). */
        tern_err_t f = tern_mqtt_frame(b->bytes, b->len, &n);
        if (b->err != TERN_ERR_MQTT_BAD_VARINT || b->bytes[1] != 0xFF) {
            if (f != TERN_OK || n != b->len) {
                fail_msg("row '%s': frame gave %s, %u of %u bytes", b->what, tern_err_name(f),
                         (unsigned)n, (unsigned)b->len);
            }
        }
        tern_err_t e = tern_mqtt_decode(b->ver, b->bytes, b->len, &p);
        if (e != b->err) {
            fail_msg("row '%s': got %s, want %s", b->what, tern_err_name(e), tern_err_name(b->err));
        }
        run++;
    }
    assert_true(run >= (TERN_MQTT_V5 ? 90u : 50u));
}

/*
 * Every error the matrix expects is an MQTT codec error or a reason-code
 * error, and each codec error appears in at least one row: none is untested.
 */
static void test_matrix_covers_every_codec_error(void **state)
{
    (void)state;
    for (int e = TERN_ERR_MQTT_BAD_VARINT; e >= TERN_ERR_MQTT_TOO_LONG; e--) {
        bool found = e == TERN_ERR_MQTT_TOO_LONG; /* encode only: see test_mqtt_codec */
        for (size_t i = 0; i < sizeof k_bad / sizeof k_bad[0]; i++) {
            found = found || (int)k_bad[i].err == e;
        }
        if (!found) {
            fail_msg("no malformed row gives %s", tern_err_name(e));
        }
    }
}

/* Decoding stops at the first flaw; the same row decoded twice gives the same answer. */
static void test_decode_is_deterministic_and_leaves_input(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof k_bad / sizeof k_bad[0]; i++) {
        const bad_t *b = &k_bad[i];
        uint8_t copy[sizeof b->bytes];
        memcpy(copy, b->bytes, sizeof copy);
        tern_mqtt_packet_t p;
        tern_err_t e1 = tern_mqtt_decode(b->ver, copy, b->len, &p);
        tern_err_t e2 = tern_mqtt_decode(b->ver, copy, b->len, &p);
        assert_int_equal(e1, e2);
        assert_memory_equal(copy, b->bytes, sizeof copy);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_each_malformed_packet_has_its_error),
        cmocka_unit_test(test_matrix_covers_every_codec_error),
        cmocka_unit_test(test_decode_is_deterministic_and_leaves_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
