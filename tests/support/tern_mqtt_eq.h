/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Field-by-field equality of two MQTT packets, for the codec's unit tests and
 * its fuzz target. A packet is either in "encode form" (what a caller builds:
 * repeated properties in props.list, filters in subscribe.subs) or in "decode
 * form" (what tern_mqtt_decode() gives: props.raw, subscribe.list); the two
 * compare equal when they carry the same fields, so a hand-built packet can
 * be checked against the decoding of its bytes.
 */
#ifndef TERN_MQTT_EQ_H
#define TERN_MQTT_EQ_H

#include <stdbool.h>
#include <string.h>

#include "tern/mqtt_codec.h"

static inline bool mqtt_eq_view(tern_mqtt_view_t a, tern_mqtt_view_t b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

/* The n-th property @p id (User Property or Subscription Identifier) of @p p, in wire order. */
static inline bool mqtt_eq_repeated(const tern_mqtt_props_t *p, uint8_t id, size_t n,
                                    tern_mqtt_prop_t *out)
{
    memset(out, 0, sizeof *out);
    if (p->raw.ptr != NULL) {
        size_t cursor = 0;
        for (size_t i = 0; i <= n; i++) {
            if (tern_mqtt_prop_next(p, &cursor, id, out) != TERN_OK) {
                return false;
            }
        }
        return true;
    }
    if (id == TERN_MQTT_PROP_SUBSCRIPTION_ID && (p->present & TERN_MQTT_HAS_SUBSCRIPTION_ID)) {
        if (n == 0) {
            out->id = id;
            out->num = p->subscription_id;
            return true;
        }
        n--;
    }
    for (size_t j = 0; j < p->list_count; j++) {
        if (p->list[j].id == id && n-- == 0) {
            *out = p->list[j];
            return true;
        }
    }
    return false;
}

#define MQTT_EQ_BYTE(x, y)   ((x) == (y))
#define MQTT_EQ_U16(x, y)    ((x) == (y))
#define MQTT_EQ_U32(x, y)    ((x) == (y))
#define MQTT_EQ_VARINT(x, y) ((x) == (y))
#define MQTT_EQ_UTF8(x, y)   mqtt_eq_view((x), (y))
#define MQTT_EQ_BINARY(x, y) mqtt_eq_view((x), (y))
#define MQTT_EQ_PAIR(x, y)   true /* compared one by one below */

static inline bool mqtt_eq_props(const tern_mqtt_props_t *a, const tern_mqtt_props_t *b)
{
    /* The User Property bit is set by decoding only; the properties themselves are compared. */
    uint32_t mask = ~(uint32_t)TERN_MQTT_HAS_USER_PROPERTY;
    if ((a->present & mask) != (b->present & mask)) {
        return false;
    }
#define MQTT_EQ_ONE_(name, id, type, field)                                           \
    if ((a->present & TERN_MQTT_HAS_##name) && !MQTT_EQ_##type(a->field, b->field)) { \
        return false;                                                                 \
    }
    TERN_MQTT_PROP_LIST(MQTT_EQ_ONE_)
#undef MQTT_EQ_ONE_
    static const uint8_t repeated[] = { TERN_MQTT_PROP_USER_PROPERTY,
                                        TERN_MQTT_PROP_SUBSCRIPTION_ID };
    for (size_t r = 0; r < sizeof repeated; r++) {
        for (size_t n = 0;; n++) {
            tern_mqtt_prop_t x, y;
            bool hx = mqtt_eq_repeated(a, repeated[r], n, &x);
            bool hy = mqtt_eq_repeated(b, repeated[r], n, &y);
            if (hx != hy) {
                return false;
            }
            if (!hx) {
                break;
            }
            if (x.num != y.num || !mqtt_eq_view(x.str, y.str) || !mqtt_eq_view(x.str2, y.str2)) {
                return false;
            }
        }
    }
    return true;
}

/* The n-th topic filter of a SUBSCRIBE or UNSUBSCRIBE, either form. */
static inline bool mqtt_eq_sub_at(const tern_mqtt_packet_t *p, size_t n, tern_mqtt_sub_t *out)
{
    if (p->subscribe.subs != NULL) {
        if (n >= p->subscribe.count) {
            return false;
        }
        *out = p->subscribe.subs[n];
        if (p->type == TERN_MQTT_UNSUBSCRIBE) {
            out->options = 0;
        }
        return true;
    }
    size_t cursor = 0;
    for (size_t i = 0; i <= n; i++) {
        if (tern_mqtt_sub_next(p, &cursor, out) != TERN_OK) {
            return false;
        }
    }
    return true;
}

static inline bool mqtt_eq_packet(const tern_mqtt_packet_t *a, const tern_mqtt_packet_t *b)
{
    if (a->type != b->type) {
        return false;
    }
    switch (a->type) {
    case TERN_MQTT_CONNECT: {
        const tern_mqtt_connect_t *x = &a->connect, *y = &b->connect;
        if (!mqtt_eq_view(x->client_id, y->client_id) || x->keep_alive != y->keep_alive ||
            x->clean_start != y->clean_start || x->has_will != y->has_will ||
            x->has_username != y->has_username || x->has_password != y->has_password ||
            !mqtt_eq_props(&x->props, &y->props)) {
            return false;
        }
        if (x->has_will &&
            (!mqtt_eq_view(x->will.topic, y->will.topic) ||
             !mqtt_eq_view(x->will.payload, y->will.payload) || x->will.qos != y->will.qos ||
             x->will.retain != y->will.retain || !mqtt_eq_props(&x->will.props, &y->will.props))) {
            return false;
        }
        return (!x->has_username || mqtt_eq_view(x->username, y->username)) &&
               (!x->has_password || mqtt_eq_view(x->password, y->password));
    }
    case TERN_MQTT_CONNACK:
        return a->connack.session_present == b->connack.session_present &&
               a->connack.reason == b->connack.reason &&
               mqtt_eq_props(&a->connack.props, &b->connack.props);
    case TERN_MQTT_PUBLISH: {
        const tern_mqtt_publish_t *x = &a->publish, *y = &b->publish;
        return x->qos == y->qos && x->retain == y->retain && x->dup == y->dup &&
               (x->qos == 0 || x->packet_id == y->packet_id) && mqtt_eq_view(x->topic, y->topic) &&
               mqtt_eq_view(x->payload, y->payload) && mqtt_eq_props(&x->props, &y->props);
    }
    case TERN_MQTT_PUBACK:
    case TERN_MQTT_PUBREC:
    case TERN_MQTT_PUBREL:
    case TERN_MQTT_PUBCOMP:
        return a->ack.packet_id == b->ack.packet_id && a->ack.reason == b->ack.reason &&
               mqtt_eq_props(&a->ack.props, &b->ack.props);
    case TERN_MQTT_SUBSCRIBE:
    case TERN_MQTT_UNSUBSCRIBE: {
        if (a->subscribe.packet_id != b->subscribe.packet_id ||
            !mqtt_eq_props(&a->subscribe.props, &b->subscribe.props)) {
            return false;
        }
        for (size_t n = 0;; n++) {
            tern_mqtt_sub_t x, y;
            bool hx = mqtt_eq_sub_at(a, n, &x);
            bool hy = mqtt_eq_sub_at(b, n, &y);
            if (hx != hy) {
                return false;
            }
            if (!hx) {
                return true;
            }
            if (!mqtt_eq_view(x.filter, y.filter) || x.options != y.options) {
                return false;
            }
        }
    }
    case TERN_MQTT_SUBACK:
    case TERN_MQTT_UNSUBACK:
        return a->suback.packet_id == b->suback.packet_id &&
               mqtt_eq_view(a->suback.reasons, b->suback.reasons) &&
               mqtt_eq_props(&a->suback.props, &b->suback.props);
    case TERN_MQTT_DISCONNECT:
    case TERN_MQTT_AUTH:
        return a->disconnect.reason == b->disconnect.reason &&
               mqtt_eq_props(&a->disconnect.props, &b->disconnect.props);
    default:
        return true;
    }
}

#endif /* TERN_MQTT_EQ_H */
