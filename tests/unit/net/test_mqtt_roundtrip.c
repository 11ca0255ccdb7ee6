/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Randomised round trips: packets of every type and version with random valid
 * fields (strings with multi-byte UTF-8, every property a packet allows, user
 * properties, several subscription identifiers, shared filters) must encode,
 * decode to the same fields, frame to the same length, and at every smaller
 * buffer be refused without a byte written.
 */
#include <string.h>

#include "tern/mqtt_codec.h"
#include "tern_mqtt_eq.h"
#include "tern_test.h"

#define ROUNDS 1500

typedef struct gen {
    uint32_t seed;
    size_t used;
    uint8_t pool[1024];
    tern_mqtt_prop_t lists[2][6];
    tern_mqtt_sub_t subs[4];
    uint8_t reasons[5];
} gen_t;

static uint32_t rnd(gen_t *g)
{
    g->seed = g->seed * 1664525u + 1013904223u;
    return g->seed >> 8;
}

static uint32_t below(gen_t *g, uint32_t n)
{
    uint32_t r = (rnd(g) << 8) ^ rnd(g);
    return r % n;
}

enum { ANY_UTF8, TOPIC, BINARY };

/* A string of up to @p max bytes built from pieces that are each valid. */
static tern_mqtt_view_t gen_str(gen_t *g, int kind, size_t max)
{
    uint8_t *p = g->pool + g->used;
    size_t want = below(g, (uint32_t)max + 1);
    size_t n = 0;
    if (kind == TOPIC && want == 0) {
        want = 1;
    }
    assert_true(g->used + want <= sizeof g->pool);
    while (n < want) {
        uint32_t r = below(g, 10);
        if (kind == BINARY) {
            p[n++] = (uint8_t)rnd(g);
        } else if (r == 0 && n + 2 <= want) {
            p[n++] = 0xC3, p[n++] = 0xA9; /* U+00E9 */
        } else if (r == 1 && n + 4 <= want) {
            p[n++] = 0xF0, p[n++] = 0x9F, p[n++] = 0x90, p[n++] = 0xA6; /* U+1F426 */
        } else if (r == 2) {
            p[n++] = '/';
        } else {
            p[n++] = (uint8_t)('a' + below(g, 26));
        }
    }
    g->used += n;
    return (tern_mqtt_view_t){ p, n };
}

static tern_mqtt_view_t gen_filter(gen_t *g, bool shared)
{
    uint8_t *p = g->pool + g->used;
    size_t n = 0;
    assert_true(g->used + 40 <= sizeof g->pool);
    if (shared) {
        memcpy(p, "$share/grp/", 11);
        n = 11;
    }
    uint32_t levels = 1 + below(g, 4);
    for (uint32_t l = 0; l < levels; l++) {
        if (l != 0) {
            p[n++] = '/';
        }
        uint32_t r = below(g, 6);
        if (r == 0) {
            p[n++] = '+';
        } else if (r == 1 && l + 1 == levels) {
            p[n++] = '#';
        } else if (r != 2 || levels == 1) { /* r == 2: an empty level */
            for (uint32_t k = 1 + below(g, 5); k > 0; k--) {
                p[n++] = (uint8_t)('a' + below(g, 26));
            }
        }
    }
    g->used += n;
    return (tern_mqtt_view_t){ p, n };
}

static void set_BYTE(gen_t *g, uint8_t *v)
{
    *v = (uint8_t)(rnd(g) & 1u);
}

static void set_U16(gen_t *g, uint16_t *v)
{
    *v = (uint16_t)(1 + below(g, 0xFFFF)); /* 0 is invalid for some */
}

static void set_U32(gen_t *g, uint32_t *v)
{
    *v = 1 + ((rnd(g) << 8) ^ rnd(g)) % 0xFFFFFFFEu;
}

static void set_VARINT(gen_t *g, uint32_t *v)
{
    *v = 1 + below(g, TERN_MQTT_MAX_REMAINING);
}

static void set_UTF8(gen_t *g, tern_mqtt_view_t *v)
{
    *v = gen_str(g, TOPIC, 10); /* also a valid Response Topic */
}

static void set_BINARY(gen_t *g, tern_mqtt_view_t *v)
{
    *v = gen_str(g, BINARY, 8);
}

static void set_PAIR(gen_t *g, tern_mqtt_view_t *v)
{
    (void)g, (void)v; /* User Properties go to the list */
}

/* Random properties for a packet of @p where (0: a Will); @p list receives the repeated ones. */
static void gen_props(gen_t *g, uint8_t where, tern_mqtt_props_t *p, tern_mqtt_prop_t list[6])
{
    memset(p, 0, sizeof *p);
#define GEN_ONE_(name, id, type, field)                            \
    if (tern_mqtt_prop_allowed(where, (id)) && below(g, 3) == 0) { \
        p->present |= TERN_MQTT_HAS_##name;                        \
        set_##type(g, &p->field);                                  \
    }
    TERN_MQTT_PROP_LIST(GEN_ONE_)
#undef GEN_ONE_
    p->present &= ~(uint32_t)TERN_MQTT_HAS_USER_PROPERTY;
    size_t n = 0;
    if (tern_mqtt_prop_allowed(where, TERN_MQTT_PROP_USER_PROPERTY)) {
        for (uint32_t k = below(g, 4); k > 0; k--) {
            list[n] = (tern_mqtt_prop_t){ .id = TERN_MQTT_PROP_USER_PROPERTY };
            list[n].str = gen_str(g, ANY_UTF8, 6);
            list[n].str2 = gen_str(g, ANY_UTF8, 6);
            n++;
        }
    }
    if (where == TERN_MQTT_PUBLISH && (p->present & TERN_MQTT_HAS_SUBSCRIPTION_ID)) {
        for (uint32_t k = below(g, 3); k > 0; k--) {
            list[n] = (tern_mqtt_prop_t){ .id = TERN_MQTT_PROP_SUBSCRIPTION_ID };
            set_VARINT(g, &list[n].num);
            n++;
        }
    }
    p->list = list;
    p->list_count = n;
}

static uint8_t gen_reason(gen_t *g, bool v5, uint8_t type)
{
    static const uint8_t v311_suback[] = { 0x00, 0x01, 0x02, 0x80 };
    static const uint8_t v311_connack[] = { 0x00, 0x84, 0x85, 0x86, 0x87, 0x88 };
    if (!v5) {
        if (type == TERN_MQTT_SUBACK) {
            return v311_suback[below(g, 4)];
        }
        return type == TERN_MQTT_CONNACK ? v311_connack[below(g, 6)] : 0;
    }
    for (;;) {
        uint8_t c = (uint8_t)(below(g, 2) ? below(g, 256) : below(g, 0x20));
        if (tern_mqtt_reason_allowed(type, c)) {
            return c;
        }
    }
}

static void gen_packet(gen_t *g, bool v5, uint8_t type, tern_mqtt_packet_t *pkt)
{
    memset(pkt, 0, sizeof *pkt);
    g->used = 0;
    pkt->type = type;
    tern_mqtt_props_t *props = NULL;
    switch (type) {
    case TERN_MQTT_CONNECT: {
        tern_mqtt_connect_t *c = &pkt->connect;
        c->client_id = gen_str(g, ANY_UTF8, 23);
        c->keep_alive = (uint16_t)below(g, 0x10000);
        c->clean_start = below(g, 2);
        c->has_will = below(g, 2);
        if (c->has_will) {
            c->will.topic = gen_str(g, TOPIC, 12);
            c->will.payload = gen_str(g, BINARY, 12);
            c->will.qos = (uint8_t)below(g, 3);
            c->will.retain = below(g, 2);
            if (v5) {
                gen_props(g, 0, &c->will.props, g->lists[1]);
            }
        }
        c->has_username = below(g, 2);
        c->has_password = below(g, 2) && (v5 || c->has_username);
        c->username = c->has_username ? gen_str(g, ANY_UTF8, 8) : (tern_mqtt_view_t){ 0 };
        c->password = c->has_password ? gen_str(g, BINARY, 8) : (tern_mqtt_view_t){ 0 };
        props = &c->props;
        break;
    }
    case TERN_MQTT_CONNACK:
        pkt->connack.reason = gen_reason(g, v5, type);
        pkt->connack.session_present = pkt->connack.reason == 0 && below(g, 2);
        props = &pkt->connack.props;
        break;
    case TERN_MQTT_PUBLISH: {
        tern_mqtt_publish_t *p = &pkt->publish;
        p->qos = (uint8_t)below(g, 3);
        p->dup = p->qos != 0 && below(g, 2);
        p->retain = below(g, 2);
        p->packet_id = p->qos ? (uint16_t)(1 + below(g, 0xFFFF)) : 0;
        if (v5) {
            gen_props(g, type, &p->props, g->lists[0]);
        }
        bool aliased = (p->props.present & TERN_MQTT_HAS_TOPIC_ALIAS) && below(g, 2);
        p->topic = aliased ? (tern_mqtt_view_t){ 0 } : gen_str(g, TOPIC, 16);
        p->payload = gen_str(g, BINARY, 40);
        break;
    }
    case TERN_MQTT_PUBACK:
    case TERN_MQTT_PUBREC:
    case TERN_MQTT_PUBREL:
    case TERN_MQTT_PUBCOMP:
        pkt->ack.packet_id = (uint16_t)(1 + below(g, 0xFFFF));
        pkt->ack.reason = below(g, 2) ? gen_reason(g, v5, type) : 0;
        props = below(g, 2) ? &pkt->ack.props : NULL;
        break;
    case TERN_MQTT_SUBSCRIBE:
    case TERN_MQTT_UNSUBSCRIBE: {
        tern_mqtt_subscribe_t *s = &pkt->subscribe;
        s->packet_id = (uint16_t)(1 + below(g, 0xFFFF));
        s->count = 1 + below(g, 4);
        for (size_t i = 0; i < s->count; i++) {
            bool shared = below(g, 5) == 0;
            g->subs[i].filter = gen_filter(g, shared);
            g->subs[i].options = 0;
            if (type == TERN_MQTT_SUBSCRIBE) {
                g->subs[i].options = (uint8_t)below(g, 3);
                if (v5) {
                    g->subs[i].options |= (uint8_t)(below(g, 2) * TERN_MQTT_SUB_RETAIN_AS_PUB |
                                                    TERN_MQTT_SUB_RETAIN_HANDLING(below(g, 3)));
                    if (!shared && below(g, 2)) {
                        g->subs[i].options |= TERN_MQTT_SUB_NO_LOCAL;
                    }
                }
            }
        }
        s->subs = g->subs;
        props = &s->props;
        break;
    }
    case TERN_MQTT_SUBACK:
    case TERN_MQTT_UNSUBACK: {
        tern_mqtt_suback_t *s = &pkt->suback;
        s->packet_id = (uint16_t)(1 + below(g, 0xFFFF));
        if (v5 || type == TERN_MQTT_SUBACK) {
            size_t n = 1 + below(g, 5);
            for (size_t i = 0; i < n; i++) {
                g->reasons[i] = gen_reason(g, v5, type);
            }
            s->reasons = (tern_mqtt_view_t){ g->reasons, n };
        }
        props = &s->props;
        break;
    }
    case TERN_MQTT_DISCONNECT:
    case TERN_MQTT_AUTH:
        pkt->disconnect.reason = below(g, 2) ? gen_reason(g, v5, type) : 0;
        props = below(g, 2) ? &pkt->disconnect.props : NULL;
        break;
    default:
        break;
    }
    if (v5 && props != NULL) {
        gen_props(g, type, props, g->lists[0]);
    }
}

/* How many repeated properties (in props.list) the packet carries. */
static size_t extra_props(const tern_mqtt_packet_t *p)
{
    switch (p->type) {
    case TERN_MQTT_CONNECT:
        return p->connect.props.list_count +
               (p->connect.has_will ? p->connect.will.props.list_count : 0);
    case TERN_MQTT_CONNACK:
        return p->connack.props.list_count;
    case TERN_MQTT_PUBLISH:
        return p->publish.props.list_count;
    case TERN_MQTT_SUBACK:
    case TERN_MQTT_UNSUBACK:
        return p->suback.props.list_count;
    case TERN_MQTT_DISCONNECT:
    case TERN_MQTT_AUTH:
        return p->disconnect.props.list_count;
    default:
        return p->type >= TERN_MQTT_PUBACK && p->type <= TERN_MQTT_PUBCOMP ? p->ack.props.list_count
                                                                           : 0;
    }
}

static void test_random_round_trips(void **state)
{
    (void)state;
    gen_t g = { .seed = 0x7E27u };
    uint8_t buf[512 + 8];
    unsigned per_type[2][16] = { { 0 } };
    for (unsigned round = 0; round < ROUNDS; round++) {
        bool v5 = TERN_MQTT_V5 && (round & 1u);
        tern_mqtt_version_t ver = v5 ? TERN_MQTT_PROTO_V5 : TERN_MQTT_PROTO_V311;
        uint8_t type = (uint8_t)(1 + below(&g, v5 ? 15 : 14));
        tern_mqtt_packet_t pkt, back;
        gen_packet(&g, v5, type, &pkt);

        size_t n = 0, m = 0;
        tern_err_t e = tern_mqtt_encode(ver, &pkt, buf, 512, &n);
        if (e != TERN_OK) {
            fail_msg("round %u (type %u, v%u): encode gave %s", round, type, ver, tern_err_name(e));
        }
        assert_int_equal(tern_mqtt_frame(buf, n, &m), TERN_OK);
        assert_int_equal(m, n);
        e = tern_mqtt_decode(ver, buf, n, &back);
        if (e != TERN_OK || !mqtt_eq_packet(&pkt, &back)) {
            fail_msg("round %u (type %u, v%u): decode gave %s or other fields", round, type, ver,
                     tern_err_name(e));
        }
        /* Re-encoding what was decoded gives the same bytes, where nothing had to go to a list
         * (repeated properties and filters are read back through the iterators instead). */
        bool simple =
            type != TERN_MQTT_SUBSCRIBE && type != TERN_MQTT_UNSUBSCRIBE && extra_props(&pkt) == 0;
        if (simple) {
            uint8_t again[512];
            assert_int_equal(tern_mqtt_encode(ver, &back, again, sizeof again, &m), TERN_OK);
            assert_int_equal(m, n);
            assert_memory_equal(again, buf, n);
        }
        /* A random smaller capacity: refused, nothing written. */
        size_t cap = below(&g, (uint32_t)n);
        memset(buf, 0x5A, sizeof buf);
        assert_int_equal(tern_mqtt_encode(ver, &pkt, buf, cap, &m), TERN_ERR_TOO_SMALL);
        assert_int_equal(m, n);
        for (size_t k = 0; k < sizeof buf; k++) {
            assert_int_equal(buf[k], 0x5A);
        }
        per_type[v5][type]++;
    }
    for (uint8_t t = 1; t <= 15; t++) {
        assert_true(t == 15 || per_type[0][t] > 10);
        assert_true(!TERN_MQTT_V5 || per_type[1][t] > 10);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_random_round_trips),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
