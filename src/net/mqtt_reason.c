/* SPDX-License-Identifier: Apache-2.0 */
/*
 * MQTT 5 reason codes (tern/mqtt_codec.h). Each failure code (0x80..0xA2, all
 * of them defined) has its own tern_err_t, -(256 + code), whose message in
 * err.h doubles as the readable name here, so no string is stored twice.
 */
#include <string.h>

#include "tern/mqtt_codec.h"

/* The success codes (below 0x80); the failure codes are all of 0x80..LAST_FAILURE. */
static const uint8_t k_success[] = { 0x00, 0x01, 0x02, 0x04, 0x10, 0x11, 0x18, 0x19 };
#define LAST_FAILURE 0xA2u
#define N_REASONS    (sizeof k_success + LAST_FAILURE - 0x80u + 1u)

static const char *const k_success_names[sizeof k_success] = {
    "success",
    "granted QoS 1",
    "granted QoS 2",
    "disconnect with Will Message",
    "no matching subscribers",
    "no subscription existed",
    "continue authentication",
    "re-authenticate",
};

/* Position of @p code among the success codes then 0x80..0xA2; -1 if it is no reason code. */
static int reason_index(uint8_t code)
{
    if (code >= 0x80) {
        return code <= LAST_FAILURE ? (int)(sizeof k_success + code - 0x80u) : -1;
    }
    const uint8_t *s = memchr(k_success, code, sizeof k_success);
    return s != NULL ? (int)(s - k_success) : -1;
}

const char *tern_mqtt_reason_str(uint8_t code)
{
    int i = reason_index(code);
    if (i < 0) {
        return "unknown reason code";
    }
    if (code < 0x80) {
        return k_success_names[i];
    }
    return tern_strerror(-(256 + code)) + 6; /* past "MQTT: " */
}

tern_err_t tern_mqtt_reason_to_err(uint8_t code)
{
    if (code < 0x80) {
        return TERN_OK;
    }
    return code <= LAST_FAILURE ? (tern_err_t)(-(256 + code)) : TERN_ERR_MQTT_UNSPECIFIED;
}

/* Reason codes the codec reports its own errors as: index -100 - err. */
static const uint8_t k_codec_reasons[] = {
    0x81, /* BAD_VARINT */
    0x81, /* BAD_TYPE */
    0x81, /* BAD_FLAGS */
    0x81, /* SHORT */
    0x81, /* TRAILING */
    0x81, /* BAD_UTF8 */
    0x81, /* BAD_QOS */
    0x82, /* BAD_PACKET_ID */
    0x81, /* BAD_PROPERTY */
    0x81, /* PROPERTY_NOT_ALLOWED */
    0x82, /* DUP_PROPERTY */
    0x82, /* BAD_PROPERTY_VALUE */
    0x90, /* BAD_TOPIC */
    0x8F, /* BAD_FILTER */
    0x82, /* BAD_REASON */
    0x82, /* BAD_PROTOCOL */
    0x82, /* EMPTY_LIST */
    0x95, /* TOO_LONG */
};

_Static_assert(sizeof k_codec_reasons == 1 - 100 - TERN_ERR_MQTT_TOO_LONG,
               "one reason per codec error");

uint8_t tern_mqtt_err_to_reason(tern_err_t err)
{
    int e = (int)err;
    if (e == TERN_OK) {
        return 0;
    }
    if (e <= -(256 + 0x80) && e >= -(256 + (int)LAST_FAILURE)) {
        return (uint8_t)(-e - 256);
    }
    if (e <= -100 && e >= TERN_ERR_MQTT_TOO_LONG) {
        return k_codec_reasons[-100 - e];
    }
    return e == TERN_ERR_PROTOCOL ? 0x82 : e == TERN_ERR_MALFORMED ? 0x81 : 0x80;
}

#if TERN_MQTT_V5

#define P_(t)   (1u << TERN_MQTT_##t)
#define ACKS_   (P_(PUBACK) | P_(PUBREC)) /* the acks that carry publish errors */
#define SUBS_   (P_(SUBACK) | P_(UNSUBACK))
#define COMMON_ (P_(CONNACK) | ACKS_ | SUBS_ | P_(DISCONNECT)) /* 0x80, 0x83, 0x87 */
#define CD_     (P_(CONNACK) | P_(DISCONNECT))
#define D_      P_(DISCONNECT)

/* Spec table 2-6: the packets (bit = type) each reason code may be sent in, by reason_index(). */
static const uint16_t k_where[N_REASONS] = {
    /* 0x00 */ P_(CONNACK) | ACKS_ | P_(PUBREL) | P_(PUBCOMP) | SUBS_ | D_ | P_(AUTH),
    /* 0x01 */ P_(SUBACK),
    /* 0x02 */ P_(SUBACK),
    /* 0x04 */ D_,
    /* 0x10 */ ACKS_,
    /* 0x11 */ P_(UNSUBACK),
    /* 0x18 */ P_(AUTH),
    /* 0x19 */ P_(AUTH),
    /* 0x80 */ COMMON_,
    /* 0x81 */ CD_,
    /* 0x82 */ CD_,
    /* 0x83 */ COMMON_,
    /* 0x84 */ P_(CONNACK),
    /* 0x85 */ P_(CONNACK),
    /* 0x86 */ P_(CONNACK),
    /* 0x87 */ COMMON_,
    /* 0x88 */ P_(CONNACK),
    /* 0x89 */ CD_,
    /* 0x8A */ P_(CONNACK),
    /* 0x8B */ D_,
    /* 0x8C */ CD_,
    /* 0x8D */ D_,
    /* 0x8E */ D_,
    /* 0x8F */ SUBS_ | D_,
    /* 0x90 */ P_(CONNACK) | ACKS_ | D_,
    /* 0x91 */ ACKS_ | SUBS_,
    /* 0x92 */ P_(PUBREL) | P_(PUBCOMP),
    /* 0x93 */ D_,
    /* 0x94 */ D_,
    /* 0x95 */ CD_,
    /* 0x96 */ D_,
    /* 0x97 */ P_(CONNACK) | ACKS_ | P_(SUBACK) | D_,
    /* 0x98 */ D_,
    /* 0x99 */ P_(CONNACK) | ACKS_ | D_,
    /* 0x9A */ CD_,
    /* 0x9B */ CD_,
    /* 0x9C */ CD_,
    /* 0x9D */ CD_,
    /* 0x9E */ P_(SUBACK) | D_,
    /* 0x9F */ CD_,
    /* 0xA0 */ D_,
    /* 0xA1 */ P_(SUBACK) | D_,
    /* 0xA2 */ P_(SUBACK) | D_,
};

bool tern_mqtt_reason_allowed(uint8_t type, uint8_t code)
{
    int i = reason_index(code);
    return i >= 0 && type < 16 && ((k_where[i] >> type) & 1u);
}

#else /* MQTT 3.1.1 only: the table of MQTT 5 is not built */

bool tern_mqtt_reason_allowed(uint8_t type, uint8_t code)
{
    (void)type, (void)code;
    return false;
}

#endif
