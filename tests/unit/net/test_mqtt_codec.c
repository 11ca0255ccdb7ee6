/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The MQTT codec against byte vectors written by hand from the MQTT 3.1.1 and
 * 5.0 specifications: every packet type in both versions, properties of
 * every type. Encoding a vector's packet must give exactly its bytes, and
 * decoding its bytes must give exactly its packet. Then: truncation at every
 * offset, a buffer too small at every size (with a canary), the framing
 * helper, and encode-side refusals. Built also with TERN_MQTT_V5=0, where the
 * MQTT 5 vectors must be refused.
 */
#include <string.h>

#include "tern/mqtt_codec.h"
#include "tern_mqtt_eq.h"
#include "tern_test.h"

#define V311 TERN_MQTT_PROTO_V311
#define V5   TERN_MQTT_PROTO_V5

/* A view of a string literal that can sit in a static initializer. */
#define S(lit)                                   \
    {                                            \
        (const uint8_t *)(lit), sizeof(lit) - 1u \
    }

#define USER(k, v)                                                    \
    {                                                                 \
        .id = TERN_MQTT_PROP_USER_PROPERTY, .str = S(k), .str2 = S(v) \
    }

static const tern_mqtt_sub_t k_subs_v311[] = { { S("a/+"), 1 }, { S("#"), 0 } };
static const tern_mqtt_sub_t k_unsubs[] = { { S("a/b"), 0 } };

/* ------------------------------------------------------ the vectors -- */

/* 3.1.1: CONNECT with will (QoS 1, retained), user name, password, clean session, keep alive 60. */
static const uint8_t v3_connect[] = {
    0x10, 0x21,                             /* CONNECT, remaining length 33 */
    0x00, 0x04, 'M', 'Q',  'T',  'T', 0x04, /* protocol name, level 4 */
    0xEE,                                   /* user, password, will retain, QoS 1 .. */
    0x00, 0x3C,                             /* keep alive 60 */
    0x00, 0x04, 't', 'e',  'r',  'n',       /* client id */
    0x00, 0x03, 'w', '/',  't',             /* will topic */
    0x00, 0x03, 'b', 'y',  'e',             /* will payload */
    0x00, 0x01, 'u', 0x00, 0x02, 'p', 'w',  /* user name, password */
};
static const uint8_t v3_connect_min[] = { 0x10, 0x0C, 0x00, 0x04, 'M',  'Q',  'T',
                                          'T',  0x04, 0x02, 0x00, 0x00, 0x00, 0x00 };
static const uint8_t v3_connack[] = { 0x20, 0x02, 0x01, 0x00 };
static const uint8_t v3_connack_refused[] = { 0x20, 0x02, 0x00, 0x05 }; /* not authorized */
static const uint8_t v3_publish_q0[] = { 0x30, 0x07, 0x00, 0x03, 'a', '/', 'b', 'h', 'i' };
static const uint8_t v3_publish_q1[] = {
    0x3B, 0x09, 0x00, 0x03, 'a', '/', 'b', 0x12, 0x34, 'h', 'i'
}; /* DUP, QoS 1, RETAIN */
static const uint8_t v3_publish_q2[] = { 0x34, 0x07, 0x00, 0x03, 'a', '/', 'b', 0x00, 0x02 };
static const uint8_t v3_puback[] = { 0x40, 0x02, 0x12, 0x34 };
static const uint8_t v3_pubrec[] = { 0x50, 0x02, 0x12, 0x34 };
static const uint8_t v3_pubrel[] = { 0x62, 0x02, 0x12, 0x34 };
static const uint8_t v3_pubcomp[] = { 0x70, 0x02, 0x12, 0x34 };
static const uint8_t v3_subscribe[] = { 0x82, 0x0C, 0x00, 0x0A, 0x00, 0x03, 'a',
                                        '/',  '+',  0x01, 0x00, 0x01, '#',  0x00 };
static const uint8_t v3_suback[] = { 0x90, 0x04, 0x00, 0x0A, 0x01, 0x80 };
static const uint8_t v3_unsubscribe[] = { 0xA2, 0x07, 0x00, 0x0B, 0x00, 0x03, 'a', '/', 'b' };
static const uint8_t v3_unsuback[] = { 0xB0, 0x02, 0x00, 0x0B };
static const uint8_t pingreq[] = { 0xC0, 0x00 };
static const uint8_t pingresp[] = { 0xD0, 0x00 };
static const uint8_t disconnect_empty[] = { 0xE0, 0x00 };

#if TERN_MQTT_V5
static const tern_mqtt_prop_t k_user_kv[] = { USER("k", "v") };
static const tern_mqtt_prop_t k_user_ab[] = { USER("a", "b") };
static const tern_mqtt_prop_t k_user_xy[] = { USER("x", "y") };
static const tern_mqtt_prop_t k_sub_id_2[] = { { .id = TERN_MQTT_PROP_SUBSCRIPTION_ID, .num = 2 } };
static const tern_mqtt_sub_t k_subs_v5[] = {
    { S("a/+"),
      1 | TERN_MQTT_SUB_NO_LOCAL | TERN_MQTT_SUB_RETAIN_AS_PUB | TERN_MQTT_SUB_RETAIN_HANDLING(2) },
    { S("$share/g/x"), 0 },
};

/* 5.0: the same CONNECT with CONNECT properties and Will Properties of every kind. */
static const uint8_t v5_connect[] = {
    0x10, 0x66,                                                 /* remaining length 102 */
    0x00, 0x04, 'M',  'Q',  'T',  'T',  0x05, 0xEE, 0x00, 0x3C, /* level 5 */
    0x24,                                                       /* properties: 36 bytes */
    0x11, 0x00, 0x00, 0x0E, 0x10,                               /* session expiry 3600 */
    0x15, 0x00, 0x01, 'm',                                      /* authentication method */
    0x16, 0x00, 0x02, 0x01, 0x02,                               /* authentication data */
    0x17, 0x00,                                                 /* request problem info 0 */
    0x19, 0x01,                                                 /* request response info 1 */
    0x21, 0x00, 0x14,                                           /* receive maximum 20 */
    0x22, 0x00, 0x0A,                                           /* topic alias maximum 10 */
    0x27, 0x00, 0x00, 0x04, 0x00,                               /* maximum packet size 1024 */
    0x26, 0x00, 0x01, 'k',  0x00, 0x01, 'v',                    /* user property k=v */
    0x00, 0x04, 't',  'e',  'r',  'n',                          /* client id */
    0x1F,                                                       /* will properties: 31 bytes */
    0x01, 0x01,                                                 /* payload format: UTF-8 */
    0x02, 0x00, 0x00, 0x00, 0x3C,                               /* message expiry 60 */
    0x03, 0x00, 0x01, 't',                                      /* content type */
    0x08, 0x00, 0x01, 'r',                                      /* response topic */
    0x09, 0x00, 0x01, 0xAA,                                     /* correlation data */
    0x18, 0x00, 0x00, 0x00, 0x05,                               /* will delay 5 */
    0x26, 0x00, 0x01, 'a',  0x00, 0x01, 'b',                    /* user property a=b */
    0x00, 0x03, 'w',  '/',  't',  0x00, 0x03, 'b',  'y',  'e',  /* will topic, payload */
    0x00, 0x01, 'u',  0x00, 0x02, 'p',  'w',                    /* user name, password */
};
static const uint8_t v5_connect_min[] = { 0x10, 0x0D, 0x00, 0x04, 'M',  'Q',  'T', 'T',
                                          0x05, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00 };
static const uint8_t v5_connack[] = {
    0x20, 0x3A, 0x00, 0x00, 0x37,            /* no session, success, 55 bytes */
    0x11, 0x00, 0x00, 0x00, 0x0A,            /* session expiry 10 */
    0x12, 0x00, 0x02, 'i',  'd',             /* assigned client id */
    0x13, 0x00, 0x1E,                        /* server keep alive 30 */
    0x1A, 0x00, 0x02, 'r',  'i',             /* response information */
    0x1C, 0x00, 0x01, 's',                   /* server reference */
    0x1F, 0x00, 0x02, 'o',  'k',             /* reason string */
    0x21, 0x00, 0x05,                        /* receive maximum 5 */
    0x22, 0x00, 0x03,                        /* topic alias maximum 3 */
    0x24, 0x01,                              /* maximum QoS 1 */
    0x25, 0x00,                              /* retain not available */
    0x27, 0x00, 0x01, 0x00, 0x00,            /* maximum packet size 65536 */
    0x28, 0x01,                              /* wildcard subscriptions available */
    0x29, 0x00,                              /* subscription ids not available */
    0x2A, 0x01,                              /* shared subscriptions available */
    0x26, 0x00, 0x01, 'x',  0x00, 0x01, 'y', /* user property */
};
static const uint8_t v5_connack_refused[] = { 0x20, 0x03, 0x00, 0x87, 0x00 };
static const uint8_t v5_publish[] = {
    0x32, 0x30,                               /* QoS 1, remaining length 48 */
    0x00, 0x03, 'a',  '/',  'b',  0x00, 0x01, /* topic, packet id 1 */
    0x26,                                     /* properties: 38 bytes */
    0x01, 0x01,                               /* payload format */
    0x02, 0x00, 0x00, 0x00, 0x64,             /* message expiry 100 */
    0x03, 0x00, 0x04, 'j',  's',  'o',  'n',  /* content type */
    0x08, 0x00, 0x03, 'r',  '/',  's',        /* response topic */
    0x09, 0x00, 0x02, 0xC0, 0xDE,             /* correlation data */
    0x0B, 0xAC, 0x02,                         /* subscription id 300 (2-byte varint) */
    0x23, 0x00, 0x02,                         /* topic alias 2 */
    0x26, 0x00, 0x01, 'k',  0x00, 0x01, 'v',  /* user property */
    '{',  '}',                                /* payload */
};
/* Empty topic with a Topic Alias, and two Subscription Identifiers. */
static const uint8_t v5_publish_alias[] = { 0x30, 0x0A, 0x00, 0x00, 0x07, 0x0B,
                                            0x01, 0x23, 0x00, 0x07, 0x0B, 0x02 };
static const uint8_t v5_puback[] = { 0x40, 0x02, 0x00, 0x01 };
static const uint8_t v5_puback_reason[] = { 0x40, 0x03, 0x00, 0x01, 0x10 };
static const uint8_t v5_puback_props[] = { 0x40, 0x10, 0x00, 0x01, 0x80, 0x0C, 0x1F, 0x00, 0x02,
                                           'n',  'o',  0x26, 0x00, 0x01, 'a',  0x00, 0x01, 'b' };
static const uint8_t v5_pubrec[] = { 0x50, 0x03, 0x00, 0x02, 0x91 };
static const uint8_t v5_pubrel[] = { 0x62, 0x03, 0x00, 0x03, 0x92 };
static const uint8_t v5_pubcomp[] = { 0x70, 0x02, 0x00, 0x03 };
static const uint8_t v5_subscribe[] = {
    0x82, 0x1F, 0x00, 0x0A,                                   /* packet id 10 */
    0x09, 0x0B, 0x07, 0x26, 0x00, 0x01, 'k', 0x00, 0x01, 'v', /* sub id 7, user prop */
    0x00, 0x03, 'a',  '/',  '+',  0x2D,                       /* QoS 1 NL RAP RH 2 */
    0x00, 0x0A, '$',  's',  'h',  'a',  'r', 'e',  '/',  'g', '/', 'x', 0x00,
};
static const uint8_t v5_suback[] = {
    0x90, 0x09, 0x00, 0x0A, 0x04, 0x1F, 0x00, 0x01, 'r', 0x01, 0x9E
};
static const uint8_t v5_unsubscribe[] = { 0xA2, 0x0F, 0x00, 0x0B, 0x07, 0x26, 0x00, 0x01, 'k',
                                          0x00, 0x01, 'v',  0x00, 0x03, 'a',  '/',  'b' };
static const uint8_t v5_unsuback[] = { 0xB0, 0x05, 0x00, 0x0B, 0x00, 0x00, 0x11 };
static const uint8_t v5_disconnect_will[] = { 0xE0, 0x01, 0x04 };
static const uint8_t v5_disconnect_props[] = { 0xE0, 0x12, 0x9C, 0x10, 0x11, 0x00, 0x00,
                                               0x00, 0x00, 0x1C, 0x00, 0x02, 's',  '2',
                                               0x1F, 0x00, 0x03, 'b',  'y',  'e' };
static const uint8_t v5_auth[] = { 0xF0, 0x15, 0x18, 0x13, 0x15, 0x00, 0x05, 'S',
                                   'C',  'R',  'A',  'M',  0x16, 0x00, 0x03, 0x01,
                                   0x02, 0x03, 0x1F, 0x00, 0x02, 'g',  'o' };
static const uint8_t v5_auth_empty[] = { 0xF0, 0x00 };
#endif

typedef struct vec {
    const char *name;
    tern_mqtt_version_t ver;
    const uint8_t *bytes;
    size_t len;
    tern_mqtt_packet_t pkt;
} vec_t;

#define VEC(ver, arr, ...)                           \
    {                                                \
#arr, (ver), (arr), sizeof(arr), __VA_ARGS__ \
    }

#define CONNECT_FIELDS                                                               \
    .client_id = S("tern"), .keep_alive = 60, .clean_start = true, .has_will = true, \
    .has_username = true, .has_password = true, .username = S("u"), .password = S("pw")

static const vec_t k_vectors[] = {
    VEC(V311, v3_connect,
        { .type = TERN_MQTT_CONNECT,
          .connect = { CONNECT_FIELDS, .will = { .topic = S("w/t"),
                                                 .payload = S("bye"),
                                                 .qos = 1,
                                                 .retain = true } } }),
    VEC(V311, v3_connect_min,
        { .type = TERN_MQTT_CONNECT, .connect = { .client_id = S(""), .clean_start = true } }),
    VEC(V311, v3_connack, { .type = TERN_MQTT_CONNACK, .connack = { .session_present = true } }),
    VEC(V311, v3_connack_refused, { .type = TERN_MQTT_CONNACK, .connack = { .reason = 0x87 } }),
    VEC(V311, v3_publish_q0,
        { .type = TERN_MQTT_PUBLISH, .publish = { .topic = S("a/b"), .payload = S("hi") } }),
    VEC(V311, v3_publish_q1,
        { .type = TERN_MQTT_PUBLISH,
          .publish = { .qos = 1,
                       .dup = true,
                       .retain = true,
                       .packet_id = 0x1234,
                       .topic = S("a/b"),
                       .payload = S("hi") } }),
    VEC(V311, v3_publish_q2,
        { .type = TERN_MQTT_PUBLISH, .publish = { .qos = 2, .packet_id = 2, .topic = S("a/b") } }),
    VEC(V311, v3_puback, { .type = TERN_MQTT_PUBACK, .ack = { .packet_id = 0x1234 } }),
    VEC(V311, v3_pubrec, { .type = TERN_MQTT_PUBREC, .ack = { .packet_id = 0x1234 } }),
    VEC(V311, v3_pubrel, { .type = TERN_MQTT_PUBREL, .ack = { .packet_id = 0x1234 } }),
    VEC(V311, v3_pubcomp, { .type = TERN_MQTT_PUBCOMP, .ack = { .packet_id = 0x1234 } }),
    VEC(V311, v3_subscribe,
        { .type = TERN_MQTT_SUBSCRIBE,
          .subscribe = { .packet_id = 10, .subs = k_subs_v311, .count = 2 } }),
    VEC(V311, v3_suback,
        { .type = TERN_MQTT_SUBACK, .suback = { .packet_id = 10, .reasons = S("\x01\x80") } }),
    VEC(V311, v3_unsubscribe,
        { .type = TERN_MQTT_UNSUBSCRIBE,
          .subscribe = { .packet_id = 11, .subs = k_unsubs, .count = 1 } }),
    VEC(V311, v3_unsuback, { .type = TERN_MQTT_UNSUBACK, .suback = { .packet_id = 11 } }),
    VEC(V311, pingreq, { .type = TERN_MQTT_PINGREQ }),
    VEC(V311, pingresp, { .type = TERN_MQTT_PINGRESP }),
    VEC(V311, disconnect_empty, { .type = TERN_MQTT_DISCONNECT }),
#if TERN_MQTT_V5
    VEC(V5, v5_connect,
        { .type = TERN_MQTT_CONNECT,
          .connect = { CONNECT_FIELDS,
                       .props = { .present = TERN_MQTT_HAS_SESSION_EXPIRY |
                                             TERN_MQTT_HAS_AUTH_METHOD | TERN_MQTT_HAS_AUTH_DATA |
                                             TERN_MQTT_HAS_REQUEST_PROBLEM_INFO |
                                             TERN_MQTT_HAS_REQUEST_RESPONSE_INFO |
                                             TERN_MQTT_HAS_RECEIVE_MAXIMUM |
                                             TERN_MQTT_HAS_TOPIC_ALIAS_MAXIMUM |
                                             TERN_MQTT_HAS_MAXIMUM_PACKET_SIZE,
                                  .session_expiry = 3600,
                                  .auth_method = S("m"),
                                  .auth_data = S("\x01\x02"),
                                  .request_response_info = 1,
                                  .receive_maximum = 20,
                                  .topic_alias_maximum = 10,
                                  .maximum_packet_size = 1024,
                                  .list = k_user_kv,
                                  .list_count = 1 },
                       .will = { .topic = S("w/t"),
                                 .payload = S("bye"),
                                 .qos = 1,
                                 .retain = true,
                                 .props = { .present = TERN_MQTT_HAS_PAYLOAD_FORMAT |
                                                       TERN_MQTT_HAS_MESSAGE_EXPIRY |
                                                       TERN_MQTT_HAS_CONTENT_TYPE |
                                                       TERN_MQTT_HAS_RESPONSE_TOPIC |
                                                       TERN_MQTT_HAS_CORRELATION_DATA |
                                                       TERN_MQTT_HAS_WILL_DELAY,
                                            .payload_format = 1,
                                            .message_expiry = 60,
                                            .content_type = S("t"),
                                            .response_topic = S("r"),
                                            .correlation_data = S("\xAA"),
                                            .will_delay = 5,
                                            .list = k_user_ab,
                                            .list_count = 1 } } } }),
    VEC(V5, v5_connect_min,
        { .type = TERN_MQTT_CONNECT, .connect = { .client_id = S(""), .clean_start = true } }),
    VEC(V5, v5_connack,
        { .type = TERN_MQTT_CONNACK,
          .connack = { .props = { .present =
                                      TERN_MQTT_HAS_SESSION_EXPIRY |
                                      TERN_MQTT_HAS_ASSIGNED_CLIENT_ID |
                                      TERN_MQTT_HAS_SERVER_KEEP_ALIVE |
                                      TERN_MQTT_HAS_RESPONSE_INFO | TERN_MQTT_HAS_SERVER_REFERENCE |
                                      TERN_MQTT_HAS_REASON_STRING | TERN_MQTT_HAS_RECEIVE_MAXIMUM |
                                      TERN_MQTT_HAS_TOPIC_ALIAS_MAXIMUM |
                                      TERN_MQTT_HAS_MAXIMUM_QOS | TERN_MQTT_HAS_RETAIN_AVAILABLE |
                                      TERN_MQTT_HAS_MAXIMUM_PACKET_SIZE |
                                      TERN_MQTT_HAS_WILDCARD_SUB_AVAILABLE |
                                      TERN_MQTT_HAS_SUB_ID_AVAILABLE |
                                      TERN_MQTT_HAS_SHARED_SUB_AVAILABLE,
                                  .session_expiry = 10,
                                  .assigned_client_id = S("id"),
                                  .server_keep_alive = 30,
                                  .response_info = S("ri"),
                                  .server_reference = S("s"),
                                  .reason_string = S("ok"),
                                  .receive_maximum = 5,
                                  .topic_alias_maximum = 3,
                                  .maximum_qos = 1,
                                  .maximum_packet_size = 65536,
                                  .wildcard_sub_available = 1,
                                  .shared_sub_available = 1,
                                  .list = k_user_xy,
                                  .list_count = 1 } } }),
    VEC(V5, v5_connack_refused, { .type = TERN_MQTT_CONNACK, .connack = { .reason = 0x87 } }),
    VEC(V5, v5_publish,
        { .type = TERN_MQTT_PUBLISH,
          .publish = { .qos = 1,
                       .packet_id = 1,
                       .topic = S("a/b"),
                       .payload = S("{}"),
                       .props = { .present =
                                      TERN_MQTT_HAS_PAYLOAD_FORMAT | TERN_MQTT_HAS_MESSAGE_EXPIRY |
                                      TERN_MQTT_HAS_CONTENT_TYPE | TERN_MQTT_HAS_RESPONSE_TOPIC |
                                      TERN_MQTT_HAS_CORRELATION_DATA |
                                      TERN_MQTT_HAS_SUBSCRIPTION_ID | TERN_MQTT_HAS_TOPIC_ALIAS,
                                  .payload_format = 1,
                                  .message_expiry = 100,
                                  .content_type = S("json"),
                                  .response_topic = S("r/s"),
                                  .correlation_data = S("\xC0\xDE"),
                                  .subscription_id = 300,
                                  .topic_alias = 2,
                                  .list = k_user_kv,
                                  .list_count = 1 } } }),
    VEC(V5, v5_publish_alias,
        { .type = TERN_MQTT_PUBLISH,
          .publish = { .props = { .present =
                                      TERN_MQTT_HAS_SUBSCRIPTION_ID | TERN_MQTT_HAS_TOPIC_ALIAS,
                                  .subscription_id = 1,
                                  .topic_alias = 7,
                                  .list = k_sub_id_2,
                                  .list_count = 1 } } }),
    VEC(V5, v5_puback, { .type = TERN_MQTT_PUBACK, .ack = { .packet_id = 1 } }),
    VEC(V5, v5_puback_reason,
        { .type = TERN_MQTT_PUBACK, .ack = { .packet_id = 1, .reason = 0x10 } }),
    VEC(V5, v5_puback_props,
        { .type = TERN_MQTT_PUBACK,
          .ack = { .packet_id = 1,
                   .reason = 0x80,
                   .props = { .present = TERN_MQTT_HAS_REASON_STRING,
                              .reason_string = S("no"),
                              .list = k_user_ab,
                              .list_count = 1 } } }),
    VEC(V5, v5_pubrec, { .type = TERN_MQTT_PUBREC, .ack = { .packet_id = 2, .reason = 0x91 } }),
    VEC(V5, v5_pubrel, { .type = TERN_MQTT_PUBREL, .ack = { .packet_id = 3, .reason = 0x92 } }),
    VEC(V5, v5_pubcomp, { .type = TERN_MQTT_PUBCOMP, .ack = { .packet_id = 3 } }),
    VEC(V5, v5_subscribe,
        { .type = TERN_MQTT_SUBSCRIBE,
          .subscribe = { .packet_id = 10,
                         .props = { .present = TERN_MQTT_HAS_SUBSCRIPTION_ID,
                                    .subscription_id = 7,
                                    .list = k_user_kv,
                                    .list_count = 1 },
                         .subs = k_subs_v5,
                         .count = 2 } }),
    VEC(V5, v5_suback,
        { .type = TERN_MQTT_SUBACK,
          .suback = { .packet_id = 10,
                      .props = { .present = TERN_MQTT_HAS_REASON_STRING, .reason_string = S("r") },
                      .reasons = S("\x01\x9E") } }),
    VEC(V5, v5_unsubscribe,
        { .type = TERN_MQTT_UNSUBSCRIBE,
          .subscribe = { .packet_id = 11,
                         .props = { .list = k_user_kv, .list_count = 1 },
                         .subs = k_unsubs,
                         .count = 1 } }),
    VEC(V5, v5_unsuback,
        { .type = TERN_MQTT_UNSUBACK, .suback = { .packet_id = 11, .reasons = S("\x00\x11") } }),
    VEC(V5, pingreq, { .type = TERN_MQTT_PINGREQ }),
    VEC(V5, pingresp, { .type = TERN_MQTT_PINGRESP }),
    VEC(V5, disconnect_empty, { .type = TERN_MQTT_DISCONNECT }),
    VEC(V5, v5_disconnect_will, { .type = TERN_MQTT_DISCONNECT, .disconnect = { .reason = 0x04 } }),
    VEC(V5, v5_disconnect_props,
        { .type = TERN_MQTT_DISCONNECT,
          .disconnect = { .reason = 0x9C,
                          .props = { .present = TERN_MQTT_HAS_SESSION_EXPIRY |
                                                TERN_MQTT_HAS_SERVER_REFERENCE |
                                                TERN_MQTT_HAS_REASON_STRING,
                                     .server_reference = S("s2"),
                                     .reason_string = S("bye") } } }),
    VEC(V5, v5_auth,
        { .type = TERN_MQTT_AUTH,
          .disconnect = { .reason = 0x18,
                          .props = { .present = TERN_MQTT_HAS_AUTH_METHOD |
                                                TERN_MQTT_HAS_AUTH_DATA |
                                                TERN_MQTT_HAS_REASON_STRING,
                                     .auth_method = S("SCRAM"),
                                     .auth_data = S("\x01\x02\x03"),
                                     .reason_string = S("go") } } }),
    VEC(V5, v5_auth_empty, { .type = TERN_MQTT_AUTH }),
#endif
};

#define N_VECTORS (sizeof k_vectors / sizeof k_vectors[0])

/* Every packet type appears in both versions (AUTH in 5.0 only). */
static void test_vectors_cover_every_packet_type(void **state)
{
    (void)state;
    uint32_t seen[6] = { 0 };
    for (size_t i = 0; i < N_VECTORS; i++) {
        seen[k_vectors[i].ver] |= 1u << k_vectors[i].pkt.type;
    }
    assert_int_equal(seen[V311], 0x7FFEu);
#if TERN_MQTT_V5
    assert_int_equal(seen[V5], 0xFFFEu);
#endif
}

static void test_vectors_encode_exactly(void **state)
{
    (void)state;
    uint8_t buf[160];
    for (size_t i = 0; i < N_VECTORS; i++) {
        const vec_t *v = &k_vectors[i];
        size_t n = 0;
        tern_err_t e = tern_mqtt_encode(v->ver, &v->pkt, buf, sizeof buf, &n);
        if (e != TERN_OK || n != v->len || memcmp(buf, v->bytes, n) != 0) {
            fail_msg("%s: encode gave %s, %u bytes (want %u)", v->name, tern_err_name(e),
                     (unsigned)n, (unsigned)v->len);
        }
    }
}

static void test_vectors_decode_exactly(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_VECTORS; i++) {
        const vec_t *v = &k_vectors[i];
        tern_mqtt_packet_t p;
        tern_err_t e = tern_mqtt_decode(v->ver, v->bytes, v->len, &p);
        if (e != TERN_OK) {
            fail_msg("%s: decode gave %s", v->name, tern_err_name(e));
        }
        if (!mqtt_eq_packet(&v->pkt, &p)) {
            fail_msg("%s: decoded fields differ", v->name);
        }
    }
}

/* A few decoded fields spelled out, so the comparator itself is held to the spec. */
static void test_decoded_fields_spelled_out(void **state)
{
    (void)state;
    tern_mqtt_packet_t p;
    assert_int_equal(tern_mqtt_decode(V311, v3_connect, sizeof v3_connect, &p), TERN_OK);
    assert_int_equal(p.type, TERN_MQTT_CONNECT);
    assert_int_equal(p.connect.keep_alive, 60);
    assert_true(p.connect.clean_start && p.connect.has_will);
    assert_int_equal(p.connect.will.qos, 1);
    assert_true(p.connect.will.retain);
    assert_int_equal(p.connect.client_id.len, 4);
    assert_memory_equal(p.connect.client_id.ptr, "tern", 4);
    assert_true(p.connect.client_id.ptr == v3_connect + 14); /* zero-copy: points into input */
    assert_memory_equal(p.connect.password.ptr, "pw", 2);

    assert_int_equal(tern_mqtt_decode(V311, v3_publish_q1, sizeof v3_publish_q1, &p), TERN_OK);
    assert_true(p.publish.dup && p.publish.retain);
    assert_int_equal(p.publish.qos, 1);
    assert_int_equal(p.publish.packet_id, 0x1234);
    assert_int_equal(p.publish.payload.len, 2);
    assert_true(p.publish.payload.ptr == v3_publish_q1 + 9);

    assert_int_equal(tern_mqtt_decode(V311, v3_subscribe, sizeof v3_subscribe, &p), TERN_OK);
    assert_int_equal(p.subscribe.count, 2);
    assert_null(p.subscribe.subs);
    size_t cur = 0;
    tern_mqtt_sub_t s;
    assert_int_equal(tern_mqtt_sub_next(&p, &cur, &s), TERN_OK);
    assert_int_equal(s.filter.len, 3);
    assert_memory_equal(s.filter.ptr, "a/+", 3);
    assert_int_equal(s.options, 1);
    assert_int_equal(tern_mqtt_sub_next(&p, &cur, &s), TERN_OK);
    assert_memory_equal(s.filter.ptr, "#", 1);
    assert_int_equal(tern_mqtt_sub_next(&p, &cur, &s), TERN_ERR_EMPTY);

    /* 3.1.1 CONNACK return codes come out as MQTT 5 reason codes. */
    static const uint8_t expect[6] = { 0x00, 0x84, 0x85, 0x88, 0x86, 0x87 };
    for (uint8_t rc = 0; rc < 6; rc++) {
        uint8_t b[4] = { 0x20, 0x02, 0x00, rc };
        assert_int_equal(tern_mqtt_decode(V311, b, 4, &p), TERN_OK);
        assert_int_equal(p.connack.reason, expect[rc]);
        uint8_t out[4];
        size_t n;
        assert_int_equal(tern_mqtt_encode(V311, &p, out, sizeof out, &n), TERN_OK);
        assert_memory_equal(out, b, 4);
    }
    assert_int_equal(tern_mqtt_reason_to_err(expect[5]), TERN_ERR_MQTT_NOT_AUTHORIZED);

#if TERN_MQTT_V5
    assert_int_equal(tern_mqtt_decode(V5, v5_publish, sizeof v5_publish, &p), TERN_OK);
    const tern_mqtt_props_t *pr = &p.publish.props;
    assert_int_equal(pr->subscription_id, 300);
    assert_int_equal(pr->message_expiry, 100);
    assert_int_equal(pr->topic_alias, 2);
    assert_int_equal(pr->content_type.len, 4);
    assert_memory_equal(pr->content_type.ptr, "json", 4);
    assert_true((pr->present & TERN_MQTT_HAS_USER_PROPERTY) != 0);
    assert_false((pr->present & TERN_MQTT_HAS_SESSION_EXPIRY) != 0);
    assert_int_equal(pr->raw.len, 38);
    /* The iterator walks the raw block in wire order; a filter picks one identifier. */
    static const uint8_t ids[] = { 0x01, 0x02, 0x03, 0x08, 0x09, 0x0B, 0x23, 0x26 };
    tern_mqtt_prop_t prop;
    cur = 0;
    for (size_t i = 0; i < sizeof ids; i++) {
        assert_int_equal(tern_mqtt_prop_next(pr, &cur, 0, &prop), TERN_OK);
        assert_int_equal(prop.id, ids[i]);
    }
    assert_int_equal(tern_mqtt_prop_next(pr, &cur, 0, &prop), TERN_ERR_EMPTY);
    cur = 0;
    assert_int_equal(tern_mqtt_prop_next(pr, &cur, TERN_MQTT_PROP_USER_PROPERTY, &prop), TERN_OK);
    assert_memory_equal(prop.str.ptr, "k", 1);
    assert_memory_equal(prop.str2.ptr, "v", 1);
    assert_int_equal(tern_mqtt_prop_next(pr, &cur, TERN_MQTT_PROP_USER_PROPERTY, &prop),
                     TERN_ERR_EMPTY);

    assert_int_equal(tern_mqtt_decode(V5, v5_publish_alias, sizeof v5_publish_alias, &p), TERN_OK);
    assert_int_equal(p.publish.topic.len, 0);
    assert_int_equal(p.publish.props.subscription_id, 1);
    cur = 0;
    for (uint32_t want = 1; want <= 2; want++) {
        assert_int_equal(
            tern_mqtt_prop_next(&p.publish.props, &cur, TERN_MQTT_PROP_SUBSCRIPTION_ID, &prop),
            TERN_OK);
        assert_int_equal(prop.num, want);
    }

    /* MQTT 5 may shorten acks: reason without properties, or an empty property block. */
    static const uint8_t pubrec_long[] = { 0x50, 0x04, 0x00, 0x02, 0x91, 0x00 };
    assert_int_equal(tern_mqtt_decode(V5, pubrec_long, sizeof pubrec_long, &p), TERN_OK);
    assert_int_equal(p.ack.reason, 0x91);
    static const uint8_t disconnect_long[] = { 0xE0, 0x02, 0x00, 0x00 };
    assert_int_equal(tern_mqtt_decode(V5, disconnect_long, sizeof disconnect_long, &p), TERN_OK);
    assert_int_equal(p.disconnect.reason, 0);
#else
    tern_mqtt_packet_t q = { .type = TERN_MQTT_PINGREQ };
    size_t n;
    assert_int_equal(tern_mqtt_decode(V5, pingreq, sizeof pingreq, &p), TERN_ERR_UNSUPPORTED);
    assert_int_equal(tern_mqtt_encode(V5, &q, NULL, 0, &n), TERN_ERR_UNSUPPORTED);
#endif
}

/* Every proper prefix of a vector is "not all there yet", for the frame helper and decode. */
static void test_truncated_at_every_offset(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_VECTORS; i++) {
        const vec_t *v = &k_vectors[i];
        size_t whole = 0;
        assert_int_equal(tern_mqtt_frame(v->bytes, v->len, &whole), TERN_OK);
        assert_int_equal(whole, v->len);
        for (size_t k = 0; k < v->len; k++) {
            tern_mqtt_packet_t p;
            size_t need = 99;
            if (tern_mqtt_frame(v->bytes, k, &need) != TERN_ERR_AGAIN ||
                tern_mqtt_decode(v->ver, v->bytes, k, &p) != TERN_ERR_AGAIN) {
                fail_msg("%s cut at %u: not TERN_ERR_AGAIN", v->name, (unsigned)k);
            }
            assert_int_equal(need, k < 2 ? 0 : v->len); /* the total, once the header is in */
        }
    }
}

/* Bytes after the packet are not part of it. */
static void test_decode_ignores_what_follows(void **state)
{
    (void)state;
    uint8_t two[sizeof v3_puback + sizeof pingreq];
    memcpy(two, v3_puback, sizeof v3_puback);
    memcpy(two + sizeof v3_puback, pingreq, sizeof pingreq);
    tern_mqtt_packet_t p;
    size_t n;
    assert_int_equal(tern_mqtt_frame(two, sizeof two, &n), TERN_OK);
    assert_int_equal(n, sizeof v3_puback);
    assert_int_equal(tern_mqtt_decode(V311, two, sizeof two, &p), TERN_OK);
    assert_int_equal(p.type, TERN_MQTT_PUBACK);
    assert_int_equal(tern_mqtt_decode(V311, two + n, sizeof two - n, &p), TERN_OK);
    assert_int_equal(p.type, TERN_MQTT_PINGREQ);
}

/* At every capacity below the size: TERN_ERR_TOO_SMALL, the size reported, nothing written. */
static void test_too_small_never_writes(void **state)
{
    (void)state;
    uint8_t buf[160 + 8];
    for (size_t i = 0; i < N_VECTORS; i++) {
        const vec_t *v = &k_vectors[i];
        for (size_t cap = 0; cap <= v->len; cap++) {
            memset(buf, 0xA5, sizeof buf);
            size_t n = 0;
            tern_err_t e = tern_mqtt_encode(v->ver, &v->pkt, buf, cap, &n);
            assert_int_equal(n, v->len);
            size_t untouched = cap;
            if (cap < v->len) {
                assert_int_equal(e, TERN_ERR_TOO_SMALL);
                untouched = 0;
            } else {
                assert_int_equal(e, TERN_OK);
                assert_memory_equal(buf, v->bytes, v->len);
            }
            for (size_t k = untouched; k < sizeof buf; k++) {
                if (buf[k] != 0xA5) {
                    fail_msg("%s cap %u: byte %u written", v->name, (unsigned)cap, (unsigned)k);
                }
            }
        }
        size_t n = 0; /* a NULL buffer measures */
        assert_int_equal(tern_mqtt_encode(v->ver, &v->pkt, NULL, 0, &n), TERN_ERR_TOO_SMALL);
        assert_int_equal(n, v->len);
    }
}

/* encode_head leaves a PUBLISH payload out but counts it in the remaining length. */
static void test_encode_head(void **state)
{
    (void)state;
    uint8_t buf[160];
    size_t n;
    for (size_t i = 0; i < N_VECTORS; i++) {
        const vec_t *v = &k_vectors[i];
        size_t payload = v->pkt.type == TERN_MQTT_PUBLISH ? v->pkt.publish.payload.len : 0;
        assert_int_equal(tern_mqtt_encode_head(v->ver, &v->pkt, buf, v->len - payload, &n),
                         TERN_OK);
        assert_int_equal(n, v->len - payload);
        assert_memory_equal(buf, v->bytes, n);
    }
}

static void test_frame_helper(void **state)
{
    (void)state;
    size_t n = 99;
    assert_int_equal(tern_mqtt_frame(NULL, 0, &n), TERN_ERR_AGAIN);
    assert_int_equal(n, 0);
    static const uint8_t partial_len[] = { 0x30, 0x80 };
    assert_int_equal(tern_mqtt_frame(partial_len, 2, &n), TERN_ERR_AGAIN);
    assert_int_equal(n, 0);
    static const uint8_t big[] = { 0x30, 0xFF, 0xFF, 0xFF, 0x7F, 0x00 };
    assert_int_equal(tern_mqtt_frame(big, sizeof big, &n), TERN_ERR_AGAIN);
    assert_int_equal(n, TERN_MQTT_MAX_PACKET);
    static const uint8_t five[] = { 0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01 };
    assert_int_equal(tern_mqtt_frame(five, sizeof five, &n), TERN_ERR_MQTT_BAD_VARINT);
    assert_int_equal(tern_mqtt_frame(five, 4, &n), TERN_ERR_AGAIN);
    /* A non-minimal length (0 in two bytes) is accepted. */
    static const uint8_t loose[] = { 0xC0, 0x80, 0x00 };
    tern_mqtt_packet_t p;
    assert_int_equal(tern_mqtt_frame(loose, sizeof loose, &n), TERN_OK);
    assert_int_equal(n, 3);
    assert_int_equal(tern_mqtt_decode(V311, loose, sizeof loose, &p), TERN_OK);
    assert_int_equal(p.type, TERN_MQTT_PINGREQ);
    assert_int_equal(tern_mqtt_frame(loose, 3, NULL), TERN_ERR_INVAL);
    assert_int_equal(tern_mqtt_decode(V311, loose, 3, NULL), TERN_ERR_INVAL);
    /* Remaining-length boundaries: 127 takes one byte, 128 two, 16384 three. */
    static const uint8_t one[1] = { 0 }; /* measuring never reads the payload */
    static const size_t sizes[] = { 127, 128, 16383, 16384 };
    static const size_t heads[] = { 2, 3, 3, 4 };
    for (size_t i = 0; i < 4; i++) {
        tern_mqtt_packet_t q = { .type = TERN_MQTT_PUBLISH };
        q.publish.topic = (tern_mqtt_view_t)S("t");
        q.publish.payload.ptr = one;
        q.publish.payload.len = sizes[i] - 3;
        assert_int_equal(tern_mqtt_encode(V311, &q, NULL, 0, &n), TERN_ERR_TOO_SMALL);
        assert_int_equal(n, heads[i] + sizes[i]);
    }
}

/* What the encoder refuses, each with its own error, writing nothing. */
static void test_encode_refusals(void **state)
{
    (void)state;
    static const uint8_t one[1] = { 'a' };
    const tern_mqtt_view_t huge = { one, 65536 };
    uint8_t buf[64];
    size_t n;
    tern_mqtt_packet_t p;

#define REFUSE(ver, err)                                                           \
    do {                                                                           \
        memset(buf, 0xA5, sizeof buf);                                             \
        assert_int_equal(tern_mqtt_encode((ver), &p, buf, sizeof buf, &n), (err)); \
        for (size_t k_ = 0; k_ < sizeof buf; k_++) {                               \
            assert_int_equal(buf[k_], 0xA5);                                       \
        }                                                                          \
    } while (0)

    p = (tern_mqtt_packet_t){ .type = TERN_MQTT_PUBLISH, .publish = { .topic = S("t") } };
    p.publish.topic = huge;
    REFUSE(V311, TERN_ERR_MQTT_TOO_LONG);
    p.publish.topic = (tern_mqtt_view_t)S("t");
    p.publish.payload = (tern_mqtt_view_t){ one, TERN_MQTT_MAX_REMAINING };
    REFUSE(V311, TERN_ERR_MQTT_TOO_LONG);
    p.publish.payload = (tern_mqtt_view_t)S("");
    p.publish.qos = 3;
    REFUSE(V311, TERN_ERR_MQTT_BAD_QOS);
    p.publish.qos = 1;
    REFUSE(V311, TERN_ERR_MQTT_BAD_PACKET_ID);
    p.publish.qos = 0;
    p.publish.dup = true;
    REFUSE(V311, TERN_ERR_MQTT_BAD_FLAGS);
    p.publish.dup = false;
    p.publish.topic = (tern_mqtt_view_t)S("a/#");
    REFUSE(V311, TERN_ERR_MQTT_BAD_TOPIC);
    p.publish.topic = (tern_mqtt_view_t)S("");
    REFUSE(V311, TERN_ERR_MQTT_BAD_TOPIC);
    p.publish.topic = (tern_mqtt_view_t)S("\xC0\xAF");
    REFUSE(V311, TERN_ERR_MQTT_BAD_UTF8);

    p = (tern_mqtt_packet_t){ .type = TERN_MQTT_CONNECT, .connect = { .client_id = S("c") } };
    p.connect.client_id = huge;
    REFUSE(V311, TERN_ERR_MQTT_TOO_LONG);
    p.connect.client_id = (tern_mqtt_view_t)S("c");
    p.connect.has_password = true;
    REFUSE(V311, TERN_ERR_MQTT_BAD_FLAGS); /* 3.1.1: a password needs a user name */
    p.connect.has_password = false;
    p.connect.has_will = true;
    p.connect.will.topic = (tern_mqtt_view_t)S("w");
    p.connect.will.qos = 3;
    REFUSE(V311, TERN_ERR_MQTT_BAD_QOS);
    p.connect.will.qos = 7;
    REFUSE(V311, TERN_ERR_MQTT_BAD_QOS);
    p.connect.will.qos = 0;
    p.connect.will.topic = (tern_mqtt_view_t)S("w/+");
    REFUSE(V311, TERN_ERR_MQTT_BAD_TOPIC);

    p = (tern_mqtt_packet_t){ .type = TERN_MQTT_PUBACK };
    REFUSE(V311, TERN_ERR_MQTT_BAD_PACKET_ID);
    p.ack.packet_id = 1;
    p.ack.reason = 0x10;
    REFUSE(V311, TERN_ERR_MQTT_BAD_REASON); /* 3.1.1 acks have no reason code */

    p = (tern_mqtt_packet_t){ .type = TERN_MQTT_CONNACK, .connack = { .reason = 0x8A } };
    REFUSE(V311, TERN_ERR_MQTT_BAD_REASON); /* "banned" has no 3.1.1 return code */
    p.connack.reason = 0;
    p.connack.session_present = true;
    assert_int_equal(tern_mqtt_encode(V311, &p, buf, sizeof buf, &n), TERN_OK);
    p.connack.reason = 0x87;
    REFUSE(V311, TERN_ERR_MQTT_BAD_FLAGS); /* no session on a refusal */

    p = (tern_mqtt_packet_t){ .type = TERN_MQTT_SUBSCRIBE, .subscribe = { .packet_id = 1 } };
    REFUSE(V311, TERN_ERR_MQTT_EMPTY_LIST);
    tern_mqtt_sub_t sub = { S("a/#"), 3 };
    p.subscribe.subs = &sub;
    p.subscribe.count = 1;
    REFUSE(V311, TERN_ERR_MQTT_BAD_QOS);
    sub.options = 0x04;
    REFUSE(V311, TERN_ERR_MQTT_BAD_FLAGS); /* No Local is MQTT 5 */
    sub.options = 0;
    sub.filter = (tern_mqtt_view_t)S("a/#/b");
    REFUSE(V311, TERN_ERR_MQTT_BAD_FILTER);

    p = (tern_mqtt_packet_t){ .type = TERN_MQTT_SUBACK, .suback = { .packet_id = 1 } };
    REFUSE(V311, TERN_ERR_MQTT_EMPTY_LIST);
    p.suback.reasons = (tern_mqtt_view_t)S("\x03");
    REFUSE(V311, TERN_ERR_MQTT_BAD_REASON);

    p = (tern_mqtt_packet_t){ .type = TERN_MQTT_AUTH };
    REFUSE(V311, TERN_ERR_MQTT_BAD_TYPE);
    p.type = 0;
    REFUSE(V311, TERN_ERR_MQTT_BAD_TYPE);
    p.type = TERN_MQTT_PINGREQ;
    REFUSE((tern_mqtt_version_t)3, TERN_ERR_UNSUPPORTED);
    assert_int_equal(tern_mqtt_encode(V311, NULL, buf, sizeof buf, &n), TERN_ERR_INVAL);
    assert_int_equal(tern_mqtt_encode(V311, &p, buf, sizeof buf, NULL), TERN_ERR_INVAL);
    assert_int_equal(tern_mqtt_encode(V311, &p, NULL, 4, &n), TERN_ERR_INVAL);

#if TERN_MQTT_V5
    /* Properties: unknown, not allowed here, given twice, out of range, too long. */
    p = (tern_mqtt_packet_t){ .type = TERN_MQTT_PUBLISH, .publish = { .topic = S("t") } };
    p.publish.props.present = TERN_MQTT_HAS_SESSION_EXPIRY;
    REFUSE(V5, TERN_ERR_MQTT_PROPERTY_NOT_ALLOWED);
    tern_mqtt_prop_t extra = { .id = 0x05 };
    p.publish.props = (tern_mqtt_props_t){ .list = &extra, .list_count = 1 };
    REFUSE(V5, TERN_ERR_MQTT_BAD_PROPERTY);
    extra = (tern_mqtt_prop_t){ .id = TERN_MQTT_PROP_PAYLOAD_FORMAT, .num = 1 };
    p.publish.props.present = TERN_MQTT_HAS_PAYLOAD_FORMAT;
    REFUSE(V5, TERN_ERR_MQTT_DUP_PROPERTY);
    p.publish.props =
        (tern_mqtt_props_t){ .present = TERN_MQTT_HAS_PAYLOAD_FORMAT, .payload_format = 2 };
    REFUSE(V5, TERN_ERR_MQTT_BAD_PROPERTY_VALUE);
    p.publish.props = (tern_mqtt_props_t){ .present = TERN_MQTT_HAS_TOPIC_ALIAS };
    REFUSE(V5, TERN_ERR_MQTT_BAD_PROPERTY_VALUE); /* alias 0 */
    extra = (tern_mqtt_prop_t){ .id = TERN_MQTT_PROP_SUBSCRIPTION_ID, .num = 1u << 28 };
    p.publish.props = (tern_mqtt_props_t){ .list = &extra, .list_count = 1 };
    REFUSE(V5, TERN_ERR_MQTT_BAD_VARINT); /* needs a fifth byte */
    extra = (tern_mqtt_prop_t){ .id = TERN_MQTT_PROP_USER_PROPERTY, .str = S("k"), .str2 = huge };
    REFUSE(V5, TERN_ERR_MQTT_TOO_LONG);
    extra.str2 = (tern_mqtt_view_t)S("\xED\xA0\x80");
    REFUSE(V5, TERN_ERR_MQTT_BAD_UTF8);
    p.publish.props =
        (tern_mqtt_props_t){ .present = TERN_MQTT_HAS_RESPONSE_TOPIC, .response_topic = S("r/#") };
    REFUSE(V5, TERN_ERR_MQTT_BAD_TOPIC);
    /* An empty topic needs a Topic Alias. */
    p.publish.props = (tern_mqtt_props_t){ 0 };
    p.publish.topic = (tern_mqtt_view_t)S("");
    REFUSE(V5, TERN_ERR_MQTT_BAD_TOPIC);
    p.publish.props.present = TERN_MQTT_HAS_TOPIC_ALIAS;
    p.publish.props.topic_alias = 1;
    assert_int_equal(tern_mqtt_encode(V5, &p, buf, sizeof buf, &n), TERN_OK);
    /* Will Delay belongs to the Will, not to CONNECT. */
    p = (tern_mqtt_packet_t){ .type = TERN_MQTT_CONNECT };
    p.connect.props.present = TERN_MQTT_HAS_WILL_DELAY;
    REFUSE(V5, TERN_ERR_MQTT_PROPERTY_NOT_ALLOWED);
    /* Reason codes must belong to the packet; No Local not on shared subscriptions. */
    p = (tern_mqtt_packet_t){ .type = TERN_MQTT_PUBACK, .ack = { .packet_id = 1, .reason = 0x84 } };
    REFUSE(V5, TERN_ERR_MQTT_BAD_REASON);
    p = (tern_mqtt_packet_t){ .type = TERN_MQTT_SUBSCRIBE, .subscribe = { .packet_id = 1 } };
    sub = (tern_mqtt_sub_t){ S("$share/g/a"), TERN_MQTT_SUB_NO_LOCAL };
    p.subscribe.subs = &sub;
    p.subscribe.count = 1;
    REFUSE(V5, TERN_ERR_MQTT_BAD_FLAGS);
    sub.options = TERN_MQTT_SUB_RETAIN_HANDLING(3);
    REFUSE(V5, TERN_ERR_MQTT_BAD_FLAGS);
#endif
#undef REFUSE
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vectors_cover_every_packet_type),
        cmocka_unit_test(test_vectors_encode_exactly),
        cmocka_unit_test(test_vectors_decode_exactly),
        cmocka_unit_test(test_decoded_fields_spelled_out),
        cmocka_unit_test(test_truncated_at_every_offset),
        cmocka_unit_test(test_decode_ignores_what_follows),
        cmocka_unit_test(test_too_small_never_writes),
        cmocka_unit_test(test_encode_head),
        cmocka_unit_test(test_frame_helper),
        cmocka_unit_test(test_encode_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
