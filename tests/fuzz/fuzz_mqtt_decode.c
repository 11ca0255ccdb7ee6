/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The MQTT decoder on arbitrary bytes, as every packet type in both versions.
 * Each input is tried 64 ways: for version 4 and 5 and each of the 16 type
 * nibbles, (a) as it is with its type nibble replaced, and (b) with the fixed
 * header rebuilt around the rest of the input (the right flags for the type,
 * a remaining length that fits), so that random bytes reach the packet
 * bodies. Whatever decodes must re-encode, frame to its size, and decode to
 * the same fields; the property and filter iterators must walk a decoded
 * packet to its end without an error. The topic helpers get the input split
 * in two. Every buffer is a heap block of exactly its size, so ASan sees any
 * read past the end.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"

#include "../support/tern_mqtt_eq.h"
#include "tern/mqtt_codec.h"

#define MAX_REPEATED 1024

static tern_mqtt_prop_t s_lists[2][MAX_REPEATED];
static tern_mqtt_sub_t s_subs[MAX_REPEATED];

/* Walk a decoded property block to its end; move its repeated properties into @p list. */
static bool props_to_list(tern_mqtt_props_t *p, tern_mqtt_prop_t *list)
{
    size_t n = 0, cursor = 0;
    bool first_sub_id = true;
    tern_mqtt_prop_t v;
    tern_err_t e;
    while ((e = tern_mqtt_prop_next(p, &cursor, 0, &v)) == TERN_OK) {
        if (v.id == TERN_MQTT_PROP_SUBSCRIPTION_ID && first_sub_id) {
            first_sub_id = false; /* the first one is in the member */
            CHECK(v.num == p->subscription_id);
            continue;
        }
        if (v.id != TERN_MQTT_PROP_USER_PROPERTY && v.id != TERN_MQTT_PROP_SUBSCRIPTION_ID) {
            continue;
        }
        if (n == MAX_REPEATED) {
            return false;
        }
        list[n++] = v;
    }
    CHECK(e == TERN_ERR_EMPTY && cursor <= p->raw.len);
    p->list = list;
    p->list_count = n;
    return true;
}

/* Turn a decoded packet into what an encoder takes: lists instead of raw blocks. */
static bool make_encodable(tern_mqtt_packet_t *q)
{
    tern_mqtt_props_t *blocks[2] = { NULL, NULL };
    switch (q->type) {
    case TERN_MQTT_CONNECT:
        blocks[0] = &q->connect.props;
        blocks[1] = q->connect.has_will ? &q->connect.will.props : NULL;
        break;
    case TERN_MQTT_CONNACK:
        blocks[0] = &q->connack.props;
        break;
    case TERN_MQTT_PUBLISH:
        blocks[0] = &q->publish.props;
        break;
    case TERN_MQTT_PUBACK:
    case TERN_MQTT_PUBREC:
    case TERN_MQTT_PUBREL:
    case TERN_MQTT_PUBCOMP:
        blocks[0] = &q->ack.props;
        break;
    case TERN_MQTT_SUBSCRIBE:
    case TERN_MQTT_UNSUBSCRIBE: {
        size_t n = 0, cursor = 0;
        tern_err_t e;
        while ((e = tern_mqtt_sub_next(q, &cursor, &s_subs[n])) == TERN_OK) {
            if (++n == MAX_REPEATED) {
                return false;
            }
        }
        CHECK(e == TERN_ERR_EMPTY && n == q->subscribe.count);
        q->subscribe.subs = s_subs;
        blocks[0] = &q->subscribe.props;
        break;
    }
    case TERN_MQTT_SUBACK:
    case TERN_MQTT_UNSUBACK:
        blocks[0] = &q->suback.props;
        break;
    case TERN_MQTT_DISCONNECT:
    case TERN_MQTT_AUTH:
        blocks[0] = &q->disconnect.props;
        break;
    default:
        break;
    }
    for (int i = 0; i < 2; i++) {
        if (blocks[i] != NULL && !props_to_list(blocks[i], s_lists[i])) {
            return false;
        }
    }
    return true;
}

static void round_trip(tern_mqtt_version_t ver, const tern_mqtt_packet_t *p)
{
    tern_mqtt_packet_t q = *p, r;
    if (!make_encodable(&q)) {
        return;
    }
    size_t n = 0, m = 0;
    CHECK(tern_mqtt_encode(ver, &q, NULL, 0, &n) == TERN_ERR_TOO_SMALL);
    uint8_t *buf = malloc(n);
    CHECK(buf != NULL);
    CHECK(tern_mqtt_encode(ver, &q, buf, n, &m) == TERN_OK && m == n);
    CHECK(tern_mqtt_frame(buf, n, &m) == TERN_OK && m == n);
    CHECK(tern_mqtt_decode(ver, buf, n, &r) == TERN_OK);
    CHECK(mqtt_eq_packet(p, &r));
    free(buf);
}

static void try_decode(tern_mqtt_version_t ver, const uint8_t *bytes, size_t len)
{
    tern_mqtt_packet_t p;
    size_t total = 0;
    tern_err_t f = tern_mqtt_frame(bytes, len, &total);
    tern_err_t e = tern_mqtt_decode(ver, bytes, len, &p);
    CHECK(f == TERN_OK || e == f); /* decode never gets further than framing */
    if (e == TERN_OK) {
        CHECK(total <= len);
        round_trip(ver, &p);
    }
}

static size_t put_varint(uint8_t *out, size_t v)
{
    size_t n = 0;
    do {
        out[n] = (uint8_t)((v & 0x7Fu) | (v > 0x7Fu ? 0x80u : 0u));
        v >>= 7;
        n++;
    } while (v != 0);
    return n;
}

static void fuzz_topics(const uint8_t *data, size_t size)
{
    size_t cut = size != 0 ? data[0] % (size + 1) : 0;
    const uint8_t *a = data, *b = data + cut;
    size_t alen = cut, blen = size - cut;
    uint8_t *fa = malloc(alen + 1), *tb = malloc(blen + 1); /* exact blocks (+1 for malloc(0)) */
    CHECK(fa != NULL && tb != NULL);
    memcpy(fa, a, alen);
    memcpy(tb, b, blen);
    tern_err_t u = tern_mqtt_utf8_check(tb, blen);
    tern_err_t t = tern_mqtt_topic_check(tb, blen);
    tern_err_t f = tern_mqtt_filter_check(fa, alen);
    CHECK(u == TERN_OK || t != TERN_OK);
    if (f == TERN_OK && t == TERN_OK) {
        (void)tern_mqtt_topic_match(fa, alen, tb, blen);
    }
    /* A topic name is a filter that matches itself (unless it reads as a shared filter). */
    if (t == TERN_OK && !(blen >= 7 && memcmp(tb, "$share/", 7) == 0)) {
        CHECK(tern_mqtt_filter_check(tb, blen) == TERN_OK);
        CHECK(tern_mqtt_topic_match(tb, blen, tb, blen));
    }
    free(fa);
    free(tb);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const tern_mqtt_version_t versions[2] = { TERN_MQTT_PROTO_V311, TERN_MQTT_PROTO_V5 };
    fuzz_topics(data, size);
    if (size == 0 || size > 65536) {
        return 0;
    }
    uint8_t *as_is = malloc(size);
    uint8_t *framed = malloc(size + 4);
    CHECK(as_is != NULL && framed != NULL);
    for (int v = 0; v < 2; v++) {
        for (unsigned type = 0; type < 16; type++) {
            memcpy(as_is, data, size);
            as_is[0] = (uint8_t)(type << 4 | (data[0] & 0x0Fu));
            try_decode(versions[v], as_is, size);

            uint8_t flags = (type == TERN_MQTT_PUBREL || type == TERN_MQTT_SUBSCRIBE ||
                             type == TERN_MQTT_UNSUBSCRIBE)
                                ? 2u
                                : (type == TERN_MQTT_PUBLISH ? (data[0] & 0x0Fu) : 0u);
            framed[0] = (uint8_t)(type << 4 | flags);
            size_t head = 1 + put_varint(framed + 1, size - 1);
            memcpy(framed + head, data + 1, size - 1);
            uint8_t *exact = malloc(head + size - 1);
            CHECK(exact != NULL);
            memcpy(exact, framed, head + size - 1);
            try_decode(versions[v], exact, head + size - 1);
            free(exact);
        }
    }
    free(as_is);
    free(framed);
    return 0;
}
