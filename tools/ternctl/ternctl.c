/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ternctl: the command-line companion of a tern fleet. `pub` and `sub` are an
 * MQTT client built on the SDK itself (the same codec, session and POSIX
 * transports a device runs), like mosquitto_pub and mosquitto_sub: the first
 * thing to run to check that a device's broker is reachable. `cbor diag` prints
 * a CBOR item in diagnostic notation and `cbor encode` turns JSON into
 * deterministic CBOR, with the SDK's own decoder and encoder. `devices`,
 * `device`, `twin` and `telemetry` are the operator's view of the fleet, a
 * client of ternd's HTTP API (api_client.c).
 */
#define _POSIX_C_SOURCE 200809L
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tern/backoff.h"
#include "tern/cbor.h"
#include "tern/link.h"
#include "tern/mqtt.h"
#include "tern/outbox.h"
#include "tern/port/posix.h"
#include "tern/port/posix_conn.h"
#include "tern/port/posix_link.h"
#include "tern/senml.h"
#include "tern/tsbatch.h"
#include "tern/uplink.h"
#include "tern/wire.h"

#include "api_client.h"
#include "json2cbor.h"

/* In-flight tables: the client announces half of one as its Receive Maximum; the other
 * half absorbs a broker that sends past it (mosquitto 2.0.11 does with QoS 2 once PUBRECs
 * come back), which would otherwise end `sub -q 2` with receive-maximum-exceeded. The
 * outbox run keeps the uplink's usual size. */
enum { MAX_USER_PROPS = 16, MAX_TOPICS = 16, INFLIGHT = 128, INFLIGHT_OUTBOX = 32 };

/* The outbox file of `pub --outbox`: 1 MiB of simulated NOR in 16 KiB sectors,
 * records (2 + topic + message) up to 512 bytes: room for about 1,800 waiting
 * messages. */
enum { OUTBOX_SIZE = 1u << 20, OUTBOX_SECTOR = 16u << 10, OUTBOX_MAX_PAYLOAD = 512 };

typedef struct {
    /* connection */
    const char *host, *cafile, *cert, *key, *tls_host, *alpn;
    uint16_t port;
    tern_mqtt_version_t ver;
    const char *id, *user, *pass;
    uint16_t keepalive;
    bool no_clean;
    uint32_t session_expiry;
    uint32_t timeout_s;
    tern_mqtt_prop_t uprops[MAX_USER_PROPS];
    size_t n_uprops;
    /* pub / sub */
    const char *topics[MAX_TOPICS];
    size_t n_topics;
    uint8_t qos;
    bool retain, verbose, no_local, have_msg, hex;
    const char *outbox;          /* pub --outbox FILE: store-and-forward through a flash file */
    tern_outbox_prio_t priority; /* --priority */
    tern_mqtt_view_t message;
    uint8_t *owned; /* message bytes read from a file or stdin */
    long repeat, count;
} opts_t;

typedef struct {
    const opts_t *o;
    tern_mqtt_publish_t msg; /* pub: the message, for reproduce */
    bool connected, ended, subacked;
    tern_err_t end_err;
    long published, received;
    size_t suback_failures;
} app_t;

static void usage(FILE *f)
{
    fprintf(f,
            "usage: ternctl pub -t TOPIC (-m MSG | -f FILE | -s | -n) [options]\n"
            "       ternctl sub -t FILTER [-t FILTER...] [-C COUNT] [-v] [options]\n"
            "       ternctl cbor diag [--hex] [--seq] [FILE]\n"
            "       ternctl cbor encode [--hex] [FILE]\n"
            "       ternctl cbor senml [--hex] [FILE]\n"
            "       ternctl devices | device ID | twin get|set ID ... | twin set --all ... |\n"
            "               telemetry ID ... | trust ID FILE | fleet\n"
            "connection: -h HOST (localhost)  -p PORT (1883, 8883 with TLS)  -V 311|5 (5)\n"
            "  -i CLIENT_ID  -u USER  -P PASSWORD  -k KEEPALIVE_S (60)  -c (no clean start)\n"
            "  -x SESSION_EXPIRY_S  -D KEY=VALUE (MQTT 5 user property, repeatable)\n"
            "  -W TIMEOUT_S (pub 30, sub forever)  --cafile F [--cert F --key F]\n"
            "  --tls-hostname NAME  --alpn PROTO\n"
            "pub: -q QOS  -r (retain)  --repeat N\n"
            "     --outbox FILE [--priority critical|normal|bulk]: queue the messages in a\n"
            "     persistent outbox on FILE first, then send them, reconnecting with\n"
            "     backoff until -W; run again on the same FILE (with or without -m) to\n"
            "     resume after a crash. Each message carries its outbox sequence number\n"
            "     (MQTT 5 user property \"seq\"; MQTT 3.1.1: the payload's first 4 bytes).\n"
            "sub: -q QOS  -C COUNT (exit after COUNT messages)  -v (print the topic)\n"
            "     --hex (payloads as hex, for binary ones: ternctl cbor senml --hex reads them)\n"
            "     --no-local (MQTT 5)\n"
            "cbor diag: print the CBOR item in FILE (or stdin; --hex: as hex text) in\n"
            "     RFC 8949 diagnostic notation; --seq: a CBOR sequence, one line per item\n"
            "cbor senml: a compact time-series batch (docs/compact-batch.md) or a\n"
            "     SenML-CBOR pack from FILE (or stdin) as SenML-JSON, a record a line\n"
            "cbor encode: JSON from FILE (or stdin) to deterministic CBOR on stdout\n"
            "     (--hex: as hex text)\n");
    ternctl_api_usage(f);
}

static int fail(const char *what, tern_err_t err)
{
    fprintf(stderr, "ternctl: %s: %s\n", what, tern_strerror(err));
    return 1;
}

static bool parse_u32(const char *s, uint32_t max, uint32_t *out)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || *s == '\0' || *end != '\0' || v > max) {
        return false;
    }
    *out = (uint32_t)v;
    return true;
}

static tern_mqtt_view_t view(const char *s)
{
    tern_mqtt_view_t v = { (const uint8_t *)s, s ? strlen(s) : 0 };
    return v;
}

static bool read_all(FILE *f, tern_mqtt_view_t *out)
{
    size_t cap = 4096, len = 0;
    uint8_t *buf = malloc(cap);
    while (buf) {
        len += fread(buf + len, 1, cap - len, f);
        if (len < cap) {
            break;
        }
        uint8_t *bigger = realloc(buf, cap *= 2);
        if (!bigger) {
            free(buf);
            buf = NULL;
        }
        buf = bigger;
    }
    if (!buf || ferror(f)) {
        free(buf);
        return false;
    }
    out->ptr = buf;
    out->len = len;
    return true;
}

/* Returns 0 when the options are good, an exit code otherwise. */
static int parse(int argc, char **argv, bool pub, opts_t *o)
{
    static const struct option longs[] = {
        { "cafile", required_argument, NULL, 1 },
        { "cert", required_argument, NULL, 2 },
        { "key", required_argument, NULL, 3 },
        { "tls-hostname", required_argument, NULL, 4 },
        { "alpn", required_argument, NULL, 5 },
        { "repeat", required_argument, NULL, 6 },
        { "no-local", no_argument, NULL, 7 },
        { "outbox", required_argument, NULL, 9 },
        { "priority", required_argument, NULL, 10 },
        { "hex", no_argument, NULL, 11 },
        { "help", no_argument, NULL, 8 },
        { NULL, 0, NULL, 0 },
    };
    uint32_t v;
    bool have_msg = false, port_set = false;
    memset(o, 0, sizeof *o);
    o->host = "localhost";
    o->port = 1883;
    o->ver = TERN_MQTT_PROTO_V5;
    o->keepalive = 60;
    o->timeout_s = pub ? 30 : 0;
    o->repeat = 1;
    o->priority = TERN_OUTBOX_NORMAL;
    int c;
    while ((c = getopt_long(argc, argv, "h:p:V:i:u:P:k:cx:D:W:t:m:f:snq:rC:v", longs, NULL)) !=
           -1) {
        switch (c) {
        case 'h':
            o->host = optarg;
            break;
        case 'p':
            if (!parse_u32(optarg, 65535, &v) || v == 0) {
                fprintf(stderr, "ternctl: bad port '%s'\n", optarg);
                return 2;
            }
            o->port = (uint16_t)v;
            port_set = true;
            break;
        case 'V':
            if (strcmp(optarg, "311") == 0 || strcmp(optarg, "mqttv311") == 0) {
                o->ver = TERN_MQTT_PROTO_V311;
            } else if (strcmp(optarg, "5") == 0 || strcmp(optarg, "mqttv5") == 0) {
                o->ver = TERN_MQTT_PROTO_V5;
            } else {
                fprintf(stderr, "ternctl: protocol version must be 311 or 5\n");
                return 2;
            }
            break;
        case 'i':
            o->id = optarg;
            break;
        case 'u':
            o->user = optarg;
            break;
        case 'P':
            o->pass = optarg;
            break;
        case 'k':
            if (!parse_u32(optarg, 65535, &v)) {
                fprintf(stderr, "ternctl: bad keepalive '%s'\n", optarg);
                return 2;
            }
            o->keepalive = (uint16_t)v;
            break;
        case 'c':
            o->no_clean = true;
            break;
        case 'x':
            if (!parse_u32(optarg, UINT32_MAX, &o->session_expiry)) {
                fprintf(stderr, "ternctl: bad session expiry '%s'\n", optarg);
                return 2;
            }
            break;
        case 'D': {
            char *eq = strchr(optarg, '=');
            if (!eq || o->n_uprops == MAX_USER_PROPS) {
                fprintf(stderr, "ternctl: -D takes KEY=VALUE (at most %d)\n", MAX_USER_PROPS);
                return 2;
            }
            tern_mqtt_prop_t *p = &o->uprops[o->n_uprops++];
            p->id = TERN_MQTT_PROP_USER_PROPERTY;
            p->str.ptr = (const uint8_t *)optarg;
            p->str.len = (size_t)(eq - optarg);
            p->str2 = view(eq + 1);
            break;
        }
        case 'W':
            if (!parse_u32(optarg, 86400, &o->timeout_s)) {
                fprintf(stderr, "ternctl: bad timeout '%s'\n", optarg);
                return 2;
            }
            break;
        case 't':
            if (o->n_topics == MAX_TOPICS || (pub && o->n_topics == 1)) {
                fprintf(stderr, "ternctl: too many topics\n");
                return 2;
            }
            o->topics[o->n_topics++] = optarg;
            break;
        case 'm':
            o->message = view(optarg);
            have_msg = true;
            break;
        case 'n':
            o->message = view("");
            have_msg = true;
            break;
        case 'f':
        case 's': {
            FILE *f = c == 's' ? stdin : fopen(optarg, "rb");
            free(o->owned);
            o->owned = NULL;
            bool ok = f && read_all(f, &o->message);
            if (ok) {
                o->owned = (uint8_t *)o->message.ptr;
            }
            if (f && f != stdin) {
                fclose(f);
            }
            if (!ok) {
                fprintf(stderr, "ternctl: cannot read the message%s%s\n", c == 'f' ? " file " : "",
                        c == 'f' ? optarg : " from stdin");
                return 1;
            }
            have_msg = true;
            break;
        }
        case 'q':
            if (!parse_u32(optarg, 2, &v)) {
                fprintf(stderr, "ternctl: QoS must be 0, 1 or 2\n");
                return 2;
            }
            o->qos = (uint8_t)v;
            break;
        case 'r':
            o->retain = true;
            break;
        case 'C':
            if (!parse_u32(optarg, INT32_MAX, &v) || v == 0) {
                fprintf(stderr, "ternctl: bad count '%s'\n", optarg);
                return 2;
            }
            o->count = (long)v;
            break;
        case 'v':
            o->verbose = true;
            break;
        case 1:
            o->cafile = optarg;
            break;
        case 2:
            o->cert = optarg;
            break;
        case 3:
            o->key = optarg;
            break;
        case 4:
            o->tls_host = optarg;
            break;
        case 5:
            o->alpn = optarg;
            break;
        case 6:
            if (!parse_u32(optarg, INT32_MAX, &v) || v == 0) {
                fprintf(stderr, "ternctl: bad repeat '%s'\n", optarg);
                return 2;
            }
            o->repeat = (long)v;
            break;
        case 7:
            o->no_local = true;
            break;
        case 9:
            o->outbox = optarg;
            break;
        case 10:
            if (strcmp(optarg, "critical") == 0) {
                o->priority = TERN_OUTBOX_CRITICAL;
            } else if (strcmp(optarg, "normal") == 0) {
                o->priority = TERN_OUTBOX_NORMAL;
            } else if (strcmp(optarg, "bulk") == 0) {
                o->priority = TERN_OUTBOX_BULK;
            } else {
                fprintf(stderr, "ternctl: --priority is critical, normal or bulk\n");
                return 2;
            }
            break;
        case 11:
            o->hex = true;
            break;
        case 8:
            usage(stdout);
            return -1;
        default:
            usage(stderr);
            return 2;
        }
    }
    o->have_msg = have_msg;
    if (o->outbox && !pub) {
        fprintf(stderr, "ternctl: --outbox goes with pub\n");
        return 2;
    }
    if (o->outbox && o->qos == 0) {
        o->qos = 1; /* a record leaves the outbox on its PUBACK: QoS 0 has none */
    }
    if (o->n_topics == 0 || (pub && !have_msg && !o->outbox) || optind != argc) {
        usage(stderr);
        return 2;
    }
    if ((o->cert != NULL) != (o->key != NULL)) {
        fprintf(stderr, "ternctl: --cert and --key go together\n");
        return 2;
    }
    if (o->cafile && !port_set) {
        o->port = 8883;
    }
    return 0;
}

static void on_event(void *user, const tern_mqtt_event_t *ev)
{
    app_t *a = user;
    switch (ev->type) {
    case TERN_MQTT_EV_CONNECTED:
        a->connected = true;
        break;
    case TERN_MQTT_EV_PUBLISHED:
        if (ev->err != TERN_OK) {
            fprintf(stderr, "ternctl: publish %u refused: %s\n", ev->packet_id,
                    tern_strerror(ev->err));
            a->end_err = ev->err;
        }
        a->published++;
        break;
    case TERN_MQTT_EV_SUBACK:
        for (size_t i = 0; i < ev->reasons.len; i++) {
            if (ev->reasons.ptr[i] >= 0x80) {
                fprintf(stderr, "ternctl: subscription to %s refused: %s\n", a->o->topics[i],
                        tern_mqtt_reason_str(ev->reasons.ptr[i]));
                a->suback_failures++;
            }
        }
        a->subacked = true;
        break;
    case TERN_MQTT_EV_MESSAGE: {
        const tern_mqtt_publish_t *m = ev->msg;
        if (ev->offset == 0 && a->o->verbose) {
            printf("%.*s ", (int)m->topic.len, (const char *)m->topic.ptr);
        }
        if (a->o->hex) {
            for (size_t i = 0; i < m->payload.len; i++) {
                printf("%02x", m->payload.ptr[i]);
            }
        } else {
            fwrite(m->payload.ptr, 1, m->payload.len, stdout);
        }
        if (ev->offset + m->payload.len >= ev->total) {
            putchar('\n');
            fflush(stdout);
            a->received++;
        }
        break;
    }
    case TERN_MQTT_EV_UNSUBACK:
        break;
    case TERN_MQTT_EV_DISCONNECTED:
    case TERN_MQTT_EV_LINK_DEAD:
        a->ended = true;
        if (ev->err != TERN_OK) {
            a->end_err = ev->err;
            fprintf(stderr, "ternctl: %s: %s", a->connected ? "disconnected" : "connect refused",
                    tern_strerror(ev->err));
            if (ev->server_reference.len) {
                fprintf(stderr, " (server reference: %.*s)", (int)ev->server_reference.len,
                        (const char *)ev->server_reference.ptr);
            }
            fputc('\n', stderr);
        }
        break;
    }
}

static tern_err_t reproduce(void *user, const tern_mqtt_inflight_t *rec, tern_mqtt_publish_t *msg)
{
    (void)rec;
    const app_t *a = user;
    *msg = a->msg; /* every publish of a run is the same message */
    return TERN_OK;
}

static bool until_published(void *arg)
{
    const app_t *a = arg;
    return a->published >= a->o->repeat || a->ended;
}

static bool until_subacked(void *arg)
{
    const app_t *a = arg;
    return a->subacked || a->ended;
}

static bool until_count(void *arg)
{
    const app_t *a = arg;
    return (a->o->count > 0 && a->received >= a->o->count) || a->ended;
}

static bool until_ended(void *arg)
{
    return ((const app_t *)arg)->ended;
}

/* The CONNECT every run sends; @p idbuf holds a generated client id. */
static void fill_connect(const opts_t *o, tern_mqtt_connect_t *cn, char *idbuf, size_t cap)
{
    if (!o->id) {
        /* an outbox resumes a session, so its client id must not change between runs */
        snprintf(idbuf, cap, o->outbox ? "ternctl-outbox" : "ternctl-%ld", (long)getpid());
    }
    memset(cn, 0, sizeof *cn);
    cn->client_id = view(o->id ? o->id : idbuf);
    cn->keep_alive = o->keepalive;
    cn->clean_start = !o->no_clean && !o->outbox; /* an outbox resumes its session */
    if (o->outbox && o->ver == TERN_MQTT_PROTO_V5 && !o->session_expiry) {
        cn->props.present |= TERN_MQTT_HAS_SESSION_EXPIRY;
        cn->props.session_expiry = 3600; /* the broker keeps the QoS state across our restarts */
    }
    cn->has_username = o->user != NULL;
    cn->username = view(o->user);
    cn->has_password = o->pass != NULL;
    cn->password = view(o->pass);
    if (o->session_expiry) {
        cn->props.present |= TERN_MQTT_HAS_SESSION_EXPIRY;
        cn->props.session_expiry = o->session_expiry;
    }
    cn->props.list = o->uprops;
    cn->props.list_count = o->n_uprops;
}

static void on_uplink(void *user, const tern_uplink_event_t *ev)
{
    long *delivered = user;
    if (ev->type == TERN_UPLINK_EV_DELIVERED) {
        (*delivered)++;
    } else if (ev->type == TERN_UPLINK_EV_REJECTED) {
        fprintf(stderr, "ternctl: record %u refused: %s\n", (unsigned)ev->seq,
                tern_strerror(ev->err));
    } else if (ev->type == TERN_UPLINK_EV_OFFLINE && ev->err != TERN_OK) {
        fprintf(stderr, "ternctl: offline (%s), retrying with backoff\n", tern_strerror(ev->err));
    } else if (ev->type == TERN_UPLINK_EV_LINK && ev->link_ev->type == TERN_LINK_EVENT_DOWN &&
               ev->err != TERN_OK) {
        fprintf(stderr, "ternctl: connect: %s, retrying with backoff\n", tern_strerror(ev->err));
    }
}

static void on_evict(void *user, uint32_t seq, tern_outbox_prio_t prio)
{
    (void)user;
    fprintf(stderr, "ternctl: outbox full: record %u (priority %d) evicted\n", (unsigned)seq,
            (int)prio);
}

/*
 * pub --outbox: the messages go into the outbox file before any network I/O,
 * then tern_uplink drains it over one link (TCP or TLS), reconnecting with a
 * full-jitter backoff until the outbox is empty or the timeout passes.
 */
static int run_outbox(const opts_t *o, const tern_mqtt_connect_t *cn,
                      const tern_posix_tls_config_t *tls, const tern_clock_t *clock,
                      uint32_t timeout_ms)
{
    static tern_posix_flash_t flash;
    static tern_outbox_t ob;
    static tern_posix_link_t pl;
    static tern_link_t link;
    static tern_link_mgr_t mgr;
    static tern_backoff_t bo;
    static tern_uplink_t up;
    static uint8_t tx[8192], rx[8192], scratch[TERN_UPLINK_SCRATCH(OUTBOX_MAX_PAYLOAD)];
    static tern_mqtt_inflight_t inflight[INFLIGHT_OUTBOX];
    long delivered = 0;
    tern_posix_flash_config_t fc = { .sim = { OUTBOX_SIZE, OUTBOX_SECTOR, 4, 0, 0, 1 },
                                     .path = o->outbox };
    tern_err_t e = tern_posix_flash_open(&flash, &fc);
    if (e != TERN_OK) {
        return fail("outbox", e);
    }
    tern_outbox_config_t oc = { tern_posix_flash_hal(&flash), OUTBOX_MAX_PAYLOAD, on_evict, NULL };
    e = tern_outbox_mount(&ob, &oc);
    tern_rng_t rng = tern_posix_rng_hal();
    tern_backoff_config_t bc = { TERN_BACKOFF_FULL_JITTER, 200, 5000, 0, 0 };
    if (e == TERN_OK) {
        e = tern_backoff_init(&bo, &bc, &rng);
    }
    tern_posix_link_init(&pl, o->host, o->port, NULL, 10000, tls, clock);
    link = (tern_link_t){ .name = "net", .ops = &tern_posix_link_ops, .ctx = &pl, .backoff = &bo };
    tern_link_config_t lc = { 0, NULL, NULL };
    if (e == TERN_OK) {
        e = tern_link_init(&mgr, &link, 1, &lc);
    }
    tern_uplink_config_t uc = {
        .links = &mgr,
        .mqtt = { .tx = tx,
                  .rx = rx,
                  .tx_size = sizeof tx,
                  .rx_size = sizeof rx,
                  .inflight = inflight,
                  .inflight_count = INFLIGHT_OUTBOX },
        .outbox = &ob,
        .version = o->ver,
        .connect = *cn,
        .qos = o->qos,
        .bulk_max_cost = TERN_LINK_COST_EXPENSIVE, /* bulk may go: this is an explicit run */
        .scratch = scratch,
        .scratch_size = sizeof scratch,
        .on_event = on_uplink,
        .user = &delivered,
    };
    if (e == TERN_OK) {
        e = tern_uplink_init(&up, &uc);
    }
    for (long i = 0; e == TERN_OK && o->have_msg && i < o->repeat; i++) {
        e = tern_uplink_send(&up, o->priority, o->topics[0], o->message.ptr, o->message.len,
                             o->retain, NULL);
    }
    if (e != TERN_OK) {
        tern_posix_flash_close(&flash);
        return fail("outbox", e);
    }
    tern_ms_t deadline = tern_deadline_in(tern_clock_now(clock), timeout_ms);
    while (e == TERN_OK && tern_uplink_backlog(&up) > 0 &&
           !tern_deadline_passed(tern_clock_now(clock), deadline)) {
        e = tern_uplink_poll(&up, tern_clock_now(clock));
        uint32_t wait = tern_uplink_next_timeout(&up, tern_clock_now(clock));
        tern_posix_link_wait(tern_link_active(&mgr) ? &pl : NULL,
                             tern_mqtt_want_write(tern_uplink_mqtt(&up)), wait < 100 ? wait : 100);
    }
    if (e == TERN_OK && tern_uplink_online(&up) &&
        tern_mqtt_disconnect(tern_uplink_mqtt(&up), 0, NULL) == TERN_OK) {
        (void)tern_uplink_poll(&up, tern_clock_now(clock));
    }
    uint32_t left = tern_uplink_backlog(&up);
    tern_link_close_all(&mgr);
    tern_posix_flash_close(&flash);
    if (e != TERN_OK) {
        return fail("outbox", e);
    }
    if (left > 0) {
        fprintf(stderr, "ternctl: timed out, %u messages still in the outbox\n", (unsigned)left);
        return 1;
    }
    printf("ternctl: outbox empty, %ld messages acknowledged\n", delivered);
    return 0;
}

static int run(const opts_t *o, bool pub)
{
    static uint8_t tx[1u << 17], rx[1u << 17];
    static tern_mqtt_inflight_t inflight[INFLIGHT];
    static tern_mqtt_sub_entry_t subs[MAX_TOPICS];
    static uint8_t alias_in[16 * 130];
    app_t a;
    memset(&a, 0, sizeof a);
    a.o = o;

    tern_posix_clock_t clk;
    tern_posix_clock_init(&clk, 0);
    tern_clock_t clock = tern_posix_clock_hal(&clk);
    uint32_t timeout_ms = o->timeout_s ? o->timeout_s * 1000u : 0xFFFFFFFFu / 4u;

    const char *alpn[] = { o->alpn, NULL };
    tern_posix_tls_config_t tls = {
        .ca_file = o->cafile,
        .hostname = o->tls_host ? o->tls_host : o->host,
        .cert_file = o->cert,
        .key_file = o->key,
        .alpn = o->alpn ? alpn : NULL,
    };
    char idbuf[32];
    tern_mqtt_connect_t cn;
    fill_connect(o, &cn, idbuf, sizeof idbuf);
    if (o->outbox) {
        return run_outbox(o, &cn, o->cafile ? &tls : NULL, &clock, timeout_ms);
    }
    tern_posix_conn_config_t ccfg = { o->host, o->port, NULL, o->cafile ? &tls : NULL };
    tern_posix_conn_t conn;
    tern_err_t err =
        tern_posix_conn_establish(&conn, &ccfg, &clock, timeout_ms < 30000u ? timeout_ms : 30000u);
    if (err != TERN_OK) {
        tern_posix_conn_close(&conn);
        return fail(o->cafile ? "TLS connect" : "connect", err);
    }

    tern_mqtt_config_t cfg = {
        .tx = tx,
        .rx = rx,
        .tx_size = sizeof tx,
        .rx_size = sizeof rx,
        .inflight = inflight,
        .inflight_count = INFLIGHT,
        .subs = subs,
        .sub_count = MAX_TOPICS,
        .alias_in = { alias_in, sizeof alias_in, 16 },
        .on_event = on_event,
        .reproduce = reproduce,
        .user = &a,
    };
    tern_mqtt_t m;
    err = tern_mqtt_init(&m, &cfg);
    if (err == TERN_OK) {
        err = tern_posix_mqtt_connect(&m, &conn, &clock, o->ver, &cn, timeout_ms);
    }
    if (err != TERN_OK) {
        tern_posix_conn_close(&conn);
        return a.ended ? 1 : fail("connect", err); /* a refusal was reported by the event */
    }

    if (pub) {
        tern_mqtt_publish_t *msg = &a.msg;
        msg->qos = o->qos;
        msg->retain = o->retain;
        msg->topic = view(o->topics[0]);
        msg->payload = o->message;
        msg->props.list = o->uprops;
        msg->props.list_count = o->n_uprops;
        for (long i = 0; i < o->repeat && err == TERN_OK; i++) {
            err = tern_posix_mqtt_publish(&m, &conn, &clock, msg, (uint32_t)i, timeout_ms);
            if (err == TERN_OK && o->qos == 0) {
                a.published++;
            }
        }
        if (err == TERN_OK) {
            err = tern_posix_mqtt_run(&m, &conn, &clock, until_published, &a, timeout_ms);
        }
    } else {
        tern_mqtt_sub_t s[MAX_TOPICS];
        for (size_t i = 0; i < o->n_topics; i++) {
            s[i].filter = view(o->topics[i]);
            s[i].options = (uint8_t)(o->qos | (o->no_local ? TERN_MQTT_SUB_NO_LOCAL : 0));
        }
        err = tern_mqtt_subscribe(&m, s, o->n_topics, 0, NULL);
        if (err == TERN_OK) {
            err = tern_posix_mqtt_run(&m, &conn, &clock, until_subacked, &a, timeout_ms);
        }
        if (err == TERN_OK && a.suback_failures == o->n_topics) {
            err = TERN_ERR_PROTOCOL;
        }
        if (err == TERN_OK) {
            err = tern_posix_mqtt_run(&m, &conn, &clock, until_count, &a, timeout_ms);
        }
    }
    if (!a.ended && tern_mqtt_disconnect(&m, 0, NULL) == TERN_OK) {
        (void)tern_posix_mqtt_run(&m, &conn, &clock, until_ended, &a, 5000);
    }
    tern_posix_conn_close(&conn);
    if (err == TERN_OK && a.end_err != TERN_OK) {
        err = a.end_err;
    }
    if (err == TERN_OK && pub && a.published < o->repeat) {
        err = TERN_ERR_CLOSED; /* the session ended before every publish finished */
    }
    if (err != TERN_OK) {
        return fail(pub ? "publish" : "subscribe", err);
    }
    return 0;
}

/* ------------------------------------------------------------------ cbor -- */

enum {
    CBOR_IN_MAX = 1u << 20,    /* CBOR or JSON input */
    CBOR_HEX_MAX = 4u << 20,   /* diag --hex: the text, whitespace included */
    CBOR_OUT_MAX = 4u << 20,   /* encode: a JSON byte takes at most 3 bytes of CBOR ("0.1") */
    CBOR_DIAG_MAX = 16u << 20, /* diag: up to 11 characters a byte ("undefined, ") */
};

/* FILE (NULL or "-": stdin) into @p buf, at most @p max bytes, then a NUL. */
static bool read_input(const char *path, char *buf, size_t max, size_t *len)
{
    FILE *f = stdin;
    if (path != NULL && strcmp(path, "-") != 0) {
        f = fopen(path, "rb");
        if (f == NULL) {
            fprintf(stderr, "ternctl: cbor: %s: %s\n", path, strerror(errno));
            return false;
        }
    }
    size_t n = fread(buf, 1, max, f);
    bool more = n == max && fgetc(f) != EOF;
    bool bad = ferror(f) != 0;
    if (f != stdin) {
        fclose(f);
    }
    if (bad) {
        fprintf(stderr, "ternctl: cbor: read error\n");
        return false;
    }
    if (more) {
        fprintf(stderr, "ternctl: cbor: input larger than %zu bytes\n", max);
        return false;
    }
    buf[n] = '\0';
    *len = n;
    return true;
}

static int hex_digit(unsigned char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    c = (unsigned char)tolower(c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Hex text (whitespace ignored) to bytes, in place. */
static bool unhex(char *buf, size_t len, size_t *out_len)
{
    size_t n = 0;
    int hi = -1;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)buf[i];
        if (isspace(c)) {
            continue;
        }
        int v = hex_digit(c);
        if (v < 0) {
            fprintf(stderr, "ternctl: cbor: bad hex digit at offset %zu\n", i);
            return false;
        }
        if (hi < 0) {
            hi = v;
        } else {
            buf[n++] = (char)(hi << 4 | v); /* n <= i / 2: behind the reading */
            hi = -1;
        }
    }
    if (hi >= 0) {
        fprintf(stderr, "ternctl: cbor: odd number of hex digits\n");
        return false;
    }
    if (n > CBOR_IN_MAX) {
        fprintf(stderr, "ternctl: cbor: input larger than %u bytes\n", (unsigned)CBOR_IN_MAX);
        return false;
    }
    *out_len = n;
    return true;
}

static bool flush_stdout(void)
{
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "ternctl: cbor: write error: %s\n", strerror(errno));
        return false;
    }
    return true;
}

/* One item, buf[0, len), that starts at byte @p base of the input. */
static bool diag_one(const uint8_t *buf, size_t len, size_t base)
{
    static char out[CBOR_DIAG_MAX];
    size_t n = 0, off = 0;
    tern_err_t e = tern_cbor_diag(buf, len, out, sizeof out, &n);
    if (e == TERN_OK) {
        fwrite(out, 1, n, stdout);
        putchar('\n');
        return true;
    }
    if (e == TERN_ERR_TOO_SMALL) {
        fprintf(stderr, "ternctl: cbor: diagnostic notation longer than %u bytes\n",
                (unsigned)CBOR_DIAG_MAX);
        return false;
    }
    tern_err_t v = tern_cbor_validate(buf, len, 0, &off);
    if (v != TERN_OK && v != TERN_ERR_UNSUPPORTED) {
        fprintf(stderr, "ternctl: cbor: %s at byte %zu\n", tern_strerror(v), base + off);
    } else {
        fprintf(stderr, "ternctl: cbor: %s\n", tern_strerror(e));
    }
    return false;
}

static int cbor_diag(const char *path, bool hex, bool seq)
{
    static char in[CBOR_HEX_MAX + 1];
    size_t len;
    if (!read_input(path, in, hex ? CBOR_HEX_MAX : CBOR_IN_MAX, &len) ||
        (hex && !unhex(in, len, &len))) {
        return 1;
    }
    const uint8_t *buf = (const uint8_t *)in;
    bool ok = true;
    if (!seq) {
        ok = diag_one(buf, len, 0);
    }
    /* A sequence (RFC 8742): validating the rest finds where its first item ends. */
    for (size_t pos = 0; seq && ok && pos < len;) {
        size_t off = 0, n = len - pos;
        tern_err_t e = tern_cbor_validate(buf + pos, n, 0, &off);
        if (e == TERN_ERR_CBOR_TRAILING && off > 0 && off < n) {
            n = off;
        } else if (e != TERN_OK) {
            ok = diag_one(buf + pos, n, pos); /* says what is wrong */
            break;
        }
        ok = diag_one(buf + pos, n, pos);
        pos += n;
    }
    return flush_stdout() && ok ? 0 : 1;
}

/* A JSON string (the views are UTF-8 already; escape what JSON requires). */
static void json_str(tern_senml_str_t v)
{
    putchar('"');
    for (size_t i = 0; i < v.len; i++) {
        unsigned char c = (unsigned char)v.ptr[i];
        if (c == '"' || c == '\\') {
            printf("\\%c", c);
        } else if (c < 0x20) {
            printf("\\u%04x", c);
        } else {
            putchar(c);
        }
    }
    putchar('"');
}

/* The shortest decimal that reads back as @p v. */
static void json_num(double v)
{
    char b[32];
    if (v == (double)(int64_t)v && v > -9007199254740992.0 && v < 9007199254740992.0) {
        printf("%" PRId64, (int64_t)v); /* whole numbers (times) without an exponent */
        return;
    }
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(b, sizeof b, "%.*g", prec, v);
        if (strtod(b, NULL) == v) {
            break;
        }
    }
    fputs(b, stdout);
}

/* One resolved record as a SenML-JSON object; the base name on every record, so
 * each line stands alone. */
static void senml_json(const tern_senml_rec_t *r, bool first)
{
    fputs(first ? "[" : ",\n ", stdout);
    fputs("{\"bn\":", stdout);
    json_str(r->base_name);
    fputs(",\"n\":", stdout);
    json_str(r->name);
    if (r->unit.len) {
        fputs(",\"u\":", stdout);
        json_str(r->unit);
    }
    switch (r->kind) {
    case TERN_SENML_NUM:
        fputs(",\"v\":", stdout);
        json_num(r->v);
        break;
    case TERN_SENML_BOOL:
        printf(",\"vb\":%s", r->vb ? "true" : "false");
        break;
    case TERN_SENML_STR:
        fputs(",\"vs\":", stdout);
        json_str(r->vs);
        break;
    case TERN_SENML_DATA:
        fputs(",\"vd\":\"", stdout); /* base64url, as RFC 8428 section 5 says */
        for (size_t i = 0; i < r->vd_len; i += 3) {
            static const char b64[] =
                "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
            uint32_t w = (uint32_t)r->vd[i] << 16;
            size_t k = r->vd_len - i;
            w |= k > 1 ? (uint32_t)r->vd[i + 1] << 8 : 0;
            w |= k > 2 ? r->vd[i + 2] : 0;
            for (size_t j = 0; j < (k > 2 ? 4u : k + 1u); j++) {
                putchar(b64[(w >> (18 - 6 * j)) & 63u]);
            }
        }
        putchar('"');
        break;
    case TERN_SENML_NONE:
        break;
    }
    fputs(",\"t\":", stdout);
    json_num(r->t);
    putchar('}');
}

/* A compact batch or a SenML pack, as SenML-JSON. */
static int cbor_senml(const char *path, bool hex)
{
    static char in[CBOR_HEX_MAX + 1];
    size_t len, n = 0;
    if (!read_input(path, in, hex ? CBOR_HEX_MAX : CBOR_IN_MAX, &len) ||
        (hex && !unhex(in, len, &len))) {
        return 1;
    }
    const uint8_t *buf = (const uint8_t *)in;
    /* a device's uplink puts its sequence number first over MQTT 3.1.1 (tern/wire.h) */
    bool has_seq;
    uint32_t seq;
    if (tern_wire_body(buf, len, NULL, 0, &has_seq, &seq, &buf, &len) != TERN_OK) {
        fprintf(stderr, "ternctl: cbor: a message cut short in its sequence number\n");
        return 1;
    }
    bool batch = tern_tsb_is_batch(buf, len);
    tern_senml_rec_t r;
    tern_err_t e;
    static tern_tsb_reader_t tr;
    static tern_senml_reader_t sr;
    if (batch) {
        tern_tsb_read_begin(&tr, buf, len);
    } else {
        tern_senml_read_begin(&sr, buf, len);
    }
    while ((e = batch ? tern_tsb_read_next(&tr, &r) : tern_senml_read_next(&sr, &r)) == TERN_OK) {
        senml_json(&r, n++ == 0);
    }
    if (e != TERN_ERR_EMPTY) {
        fflush(stdout);
        fprintf(stderr, "\nternctl: cbor: %s: %s at byte %zu\n", batch ? "batch" : "SenML",
                tern_strerror(e), tern_cbor_dec_offset(batch ? &tr.dec : &sr.dec));
        return 1;
    }
    puts(n ? "]" : "[]");
    return flush_stdout() ? 0 : 1;
}

static int cbor_encode(const char *path, bool hex)
{
    static char in[CBOR_IN_MAX + 1];
    static uint8_t out[CBOR_OUT_MAX];
    static uint8_t work[JSON2CBOR_WORK_SIZE(CBOR_IN_MAX, CBOR_OUT_MAX)];
    size_t len, n;
    json2cbor_error_t err;
    if (!read_input(path, in, CBOR_IN_MAX, &len)) {
        return 1;
    }
    if (!json2cbor(in, len, out, sizeof out, &n, work, sizeof work, &err)) {
        fprintf(stderr, "ternctl: cbor: %s at byte %zu\n", err.what, err.offset);
        return 1;
    }
    if (!hex) {
        fwrite(out, 1, n, stdout);
    } else {
        static const char digits[] = "0123456789abcdef";
        char line[4096];
        size_t k = 0;
        for (size_t i = 0; i < n; i++) {
            line[k++] = digits[out[i] >> 4];
            line[k++] = digits[out[i] & 15u];
            if (k == sizeof line) {
                fwrite(line, 1, k, stdout);
                k = 0;
            }
        }
        line[k++] = '\n'; /* k < sizeof line: it is even */
        fwrite(line, 1, k, stdout);
    }
    return flush_stdout() ? 0 : 1;
}

/* `ternctl cbor ...`: argv[0] is "cbor". */
static int cmd_cbor(int argc, char **argv)
{
    bool diag = argc >= 2 && strcmp(argv[1], "diag") == 0;
    bool encode = argc >= 2 && strcmp(argv[1], "encode") == 0;
    bool senml = argc >= 2 && strcmp(argv[1], "senml") == 0;
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        usage(stdout);
        return 0;
    }
    if (!diag && !encode && !senml) {
        if (argc >= 2) {
            fprintf(stderr, "ternctl: cbor: unknown command '%s'\n", argv[1]);
        }
        usage(stderr);
        return 2;
    }
    bool hex = false, seq = false;
    const char *path = NULL;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--hex") == 0) {
            hex = true;
        } else if (diag && strcmp(a, "--seq") == 0) {
            seq = true;
        } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 0;
        } else if ((a[0] != '-' || strcmp(a, "-") == 0) && path == NULL) {
            path = a;
        } else {
            fprintf(stderr, "ternctl: cbor %s: unexpected argument '%s'\n", argv[1], a);
            usage(stderr);
            return 2;
        }
    }
    return diag    ? cbor_diag(path, hex, seq)
           : senml ? cbor_senml(path, hex)
                   : cbor_encode(path, hex);
}

int main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "cbor") == 0) {
        return cmd_cbor(argc - 1, argv + 1);
    }
    if (argc >= 2 && ternctl_api_is_command(argv[1])) {
        return ternctl_api_main(argc - 1, argv + 1);
    }
    if (argc < 2 || (strcmp(argv[1], "pub") != 0 && strcmp(argv[1], "sub") != 0)) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : (strcmp(argv[1], "--help") == 0 ? 0 : 2);
    }
    bool pub = strcmp(argv[1], "pub") == 0;
    opts_t o;
    int rc = parse(argc - 1, argv + 1, pub, &o);
    if (rc == 0) {
        rc = run(&o, pub);
    }
    free(o.owned);
    return rc < 0 ? 0 : rc;
}
