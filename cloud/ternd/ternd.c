/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ternd, the reference fleet service: an MQTT 5 client of any standard broker
 * that stores what devices send (ingest.c), answers their twins
 * (twin_server.c) and serves the operator's HTTP API (api.c), with SQLite
 * underneath (store_sqlite.c).
 *
 * The MQTT side is one thread running tern's own client (the session a device
 * runs, over the POSIX port's TCP or TLS connection) in a poll loop:
 *
 *   - It connects with clean start off and a session expiry of one hour, so
 *     the broker keeps ternd's subscriptions and queues QoS 1 messages while
 *     ternd restarts; they arrive after the reconnect. The client id is
 *     therefore stable (--id, "ternd-1" by default); several ternd processes
 *     sharing the traffic need one id each.
 *   - It subscribes QoS 1 to $share/ternd/tern/+/<kind> for the four
 *     device-to-fleet kinds (five with a CA: cert/csr too): several ternd
 *     share the load, each message goes
 *     to one of them. It subscribes again on every connect, session or not:
 *     mosquitto 2.0.11 keeps the session across a restart from its
 *     persistence file but not the shared subscriptions in it: messages
 *     devices send after such a restart and before ternd subscribes again
 *     are lost to it. --no-share subscribes without $share (plain
 *     subscriptions, which mosquitto restores): for one ternd on mosquitto.
 *   - A message is stored before the MESSAGE callback returns, which is when
 *     the client acknowledges it (see ingest.c); a store failure ends the
 *     connection without the acknowledgement, and the broker sends the
 *     message again after the reconnect.
 *   - A lost link or a broker restart: reconnect forever with a full-jitter
 *     backoff of 0.2 s .. 10 s, one log line per failed attempt.
 *   - Twin deltas are published from this thread only: the API's thread
 *     queues device ids, or asks for a sweep of the fleet (twin_server.h),
 *     the loop drains the queue after every poll (it wakes at least every
 *     100 ms for that and for signals), a bounded amount of work each time.
 *     So are certificates (cert/new) and trust stores (trust/new), retained
 *     (certs.h); answers the broker has not acknowledged are sent again on
 *     every connect.
 *
 * With --ca-cert and --ca-key ternd is its fleet's certificate authority
 * (ca.h): it answers certificate requests on cert/csr. `ternd --ca-sign CSR`
 * signs one request and prints the chain, for provisioning at the factory.
 *
 * SIGTERM / SIGINT: DISCONNECT (the session stays at the broker), the API
 * stopped, the store closed, exit 0.
 */
#define _GNU_SOURCE /* gethostname, nanosleep */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "api.h"
#include "ca.h"
#include "certs.h"
#include "conf.h"
#include "ingest.h"
#include "store.h"
#include "tern/backoff.h"
#include "tern/mqtt.h"
#include "tern/port/posix.h"
#include "tern/port/posix_conn.h"
#include "tern/wire.h"
#include "twin_server.h"

enum {
    RX_SIZE = 256u << 10,  /* a whole telemetry message (64 KiB max) arrives in one event */
    MAX_PACKET = 1u << 20, /* announced: above rx a message streams in and is refused
                              as oversize; above this the broker drops it unseen */
    TX_SIZE = 64u << 10,   /* deltas and acks */
    INFLIGHT = 64,         /* our QoS 1 deltas in flight (and the server's QoS 2 share) */
    COPY_SLOT = 8448,      /* one PUBLISH of ours: TERN_WIRE_CERT_MAX (the largest, a
                              certificate chain or a trust store) + topic + head */
    N_SUBS = 5,            /* the device-to-fleet kinds: 4, and cert/csr with a CA */
    N_SUBS_NO_CA = 4,
    KEEPALIVE_S = 30,
    SESSION_EXPIRY_S = 3600, /* the broker queues for ternd this long while it is away */
    CONNECT_TIMEOUT_MS = 15000,
    TICK_MS = 100, /* the loop's longest sleep: signals and the twin queue */
    SHUTDOWN_MS = 3000,
};

typedef struct {
    /* options */
    const char *host, *state_dir, *id, *user, *pass, *pass_file;
    const char *cafile, *cert, *key, *tls_host;
    const char *ca_cert, *ca_key; /* ternd's CA: answers cert/csr */
    uint32_t cert_lifetime;
    uint16_t port, api_port;
    bool verbose;
    bool no_share; /* plain subscriptions: one ternd, mosquitto 2.0 restarts lose nothing */
} opts_t;

typedef enum { ST_WAIT, ST_TCP, ST_MQTT, ST_UP } state_t;

typedef struct {
    const opts_t *o;
    tern_posix_clock_t clk;
    tern_clock_t clock;
    tern_posix_tls_config_t tls;
    tern_posix_conn_config_t ccfg;
    tern_posix_conn_t conn;
    bool conn_open;
    tern_mqtt_t m;
    tern_mqtt_connect_t cn;
    state_t st;
    tern_ms_t next_try, deadline;
    tern_backoff_t bo;
    tern_rng_t rng;
    bool ended;         /* the session reported DISCONNECTED / LINK_DEAD */
    tern_err_t end_err; /* its first error */
    uint8_t end_reason;
    bool store_failed; /* the connection was ended to keep a message unacknowledged */
    bool subscribed;   /* SUBSCRIBE queued on this connection */
    size_t granted;    /* filters granted on this connection */
    uint32_t token;
    char what_connect[128]; /* "connect to HOST:PORT" for the log */
    tern_ms_t twin_retry;   /* no twin queue drain before this (after a store failure) */
    ternd_store_t *store;
    ternd_ingest_t in;
    ternd_twin_server_t twin;
    ternd_certs_t certs;
    tern_ms_t certs_retry; /* no certs queue drain before this (after a store failure) */
    size_t n_subs;         /* filters to subscribe: N_SUBS with a CA, else N_SUBS_NO_CA */
    uint64_t rx_msgs;      /* MESSAGE events: a poll that had some may have left more */
} ternd_t;

static volatile sig_atomic_t g_stop = 0;

static void on_signal(int sig)
{
    g_stop = sig;
}

#define SHARE "$share/" TERN_WIRE_SHARE_GROUP "/"
static const char *const k_filters[N_SUBS] = {
    SHARE "tern/+/telemetry", SHARE "tern/+/presence", SHARE "tern/+/twin/reported",
    SHARE "tern/+/cmd/resp",  SHARE "tern/+/cert/csr", /* last: only with a CA */
};

static tern_mqtt_view_t view(const char *s)
{
    tern_mqtt_view_t v = { (const uint8_t *)s, s ? strlen(s) : 0 };
    return v;
}

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---------------------------------------------------------------- MQTT -- */

static void on_event(void *user, const tern_mqtt_event_t *ev)
{
    ternd_t *t = user;
    switch (ev->type) {
    case TERN_MQTT_EV_CONNECTED:
        t->st = ST_UP;
        t->granted = 0;
        t->subscribed = false; /* again, even with a session: see the file comment */
        tern_backoff_reset(&t->bo);
        ternd_log("connected to %s:%u as %s (%s)", t->o->host, (unsigned)t->o->port, t->o->id,
                  ev->limits->session_present ? "session resumed" : "new session");
        (void)ternd_certs_resume(&t->certs); /* answers the broker has not taken yet */
        break;
    case TERN_MQTT_EV_MESSAGE: {
        const tern_mqtt_publish_t *msg = ev->msg;
        tern_mqtt_prop_t p;
        size_t cursor = 0;
        const char *seq = NULL;
        size_t seq_len = 0;
        while (tern_mqtt_prop_next(&msg->props, &cursor, TERN_MQTT_PROP_USER_PROPERTY, &p) ==
               TERN_OK) {
            if (p.str.len == 3 && memcmp(p.str.ptr, "seq", 3) == 0) {
                seq = p.str2.len ? (const char *)p.str2.ptr : "";
                seq_len = p.str2.len;
                break;
            }
        }
        t->rx_msgs++;
        tern_wire_reject_t r = ternd_ingest_chunk(
            &t->in, (const char *)msg->topic.ptr, msg->topic.len, seq, seq_len, msg->retain,
            msg->payload.ptr, msg->payload.len, ev->offset, ev->total, wall_ms());
        if (r == TERN_WIRE_REJECT_STORE) {
            /* Not acknowledged: ending the connection here drops the PUBACK the session owes
             * for this message; the broker sends it again once we are back (ingest.c). */
            t->store_failed = true;
            (void)tern_mqtt_abort(&t->m, TERN_ERR_IO);
        }
        break;
    }
    case TERN_MQTT_EV_PUBLISHED:
        if (ternd_certs_published(&t->certs, ev->token, ev->err == TERN_OK)) {
            break;
        }
        if (ev->err != TERN_OK) {
            ternd_log("twin delta (packet %u) refused by the broker: %s", ev->packet_id,
                      tern_mqtt_reason_str(ev->reason));
        }
        break;
    case TERN_MQTT_EV_SUBACK: {
        size_t bad = 0;
        for (size_t i = 0; i < ev->reasons.len; i++) {
            if (ev->reasons.ptr[i] >= 0x80) {
                bad++;
                ternd_log("a subscription was refused: %s (check the broker's ACL for user %s)",
                          tern_mqtt_reason_str(ev->reasons.ptr[i]),
                          t->o->user ? t->o->user : "(none)");
            }
        }
        /* one SUBACK for our SUBSCRIBE, or one per filter when the session restores them */
        t->granted += ev->reasons.len - bad;
        if (bad == 0 && t->granted == t->n_subs) {
            ternd_log("subscribed (QoS 1) to %stern/+/ telemetry, presence, twin/reported, "
                      "cmd/resp%s",
                      t->o->no_share ? "" : SHARE, t->n_subs == N_SUBS ? ", cert/csr" : "");
        }
        break;
    }
    case TERN_MQTT_EV_UNSUBACK:
        break;
    case TERN_MQTT_EV_DISCONNECTED:
    case TERN_MQTT_EV_LINK_DEAD:
        if (!t->ended) { /* the first report is the cause */
            t->ended = true;
            t->end_err = ev->err;
            t->end_reason = ev->reason;
        }
        break;
    }
}

/* Publish at QoS 1: 0 sent (its token in *token if not NULL), 1 not now (not connected, or
 * no room in the session: try again), -1 failed. */
static int publish_qos1(ternd_t *t, const char *topic, const uint8_t *payload, size_t len,
                        bool retain, uint32_t *token)
{
    if (t->st != ST_UP) {
        return 1;
    }
    tern_mqtt_publish_t msg;
    memset(&msg, 0, sizeof msg);
    msg.qos = 1;
    msg.retain = retain;
    msg.topic = view(topic);
    msg.payload.ptr = payload;
    msg.payload.len = len;
    uint32_t tok = ++t->token;
    tern_err_t e = tern_mqtt_publish(&t->m, &msg, tok, NULL);
    if (e == TERN_OK) {
        if (token != NULL) {
            *token = tok;
        }
        return 0;
    }
    if (e == TERN_ERR_AGAIN || e == TERN_ERR_BUSY || e == TERN_ERR_STATE) {
        return 1;
    }
    ternd_log("publish to %s: %s", topic, tern_strerror(e));
    return -1;
}

/* Delta publisher of the twin server (see twin_server.h for the answers). */
static int publish_delta(void *ctx, const char *topic, const uint8_t *payload, size_t len)
{
    return publish_qos1(ctx, topic, payload, len, false, NULL);
}

/* Publisher of the certificate service: retained, QoS 1 (see certs.h for the answers). */
static int publish_retained(void *ctx, const char *topic, const uint8_t *payload, size_t len,
                            uint32_t *token)
{
    return publish_qos1(ctx, topic, payload, len, true, token);
}

/* The attempt failed or the link ended: close it and wait for the backoff's delay. */
static void retry_later(ternd_t *t, const char *what, tern_err_t err)
{
    if (t->conn_open) {
        tern_posix_conn_close(&t->conn);
        t->conn_open = false;
    }
    uint32_t delay = 0;
    if (tern_backoff_next(&t->bo, &delay) != TERN_OK) {
        delay = 10000; /* the RNG failed: the cap */
    }
    ternd_log("%s: %s; attempt %u in %u.%03u s", what, tern_strerror(err),
              (unsigned)tern_backoff_attempts(&t->bo), (unsigned)(delay / 1000),
              (unsigned)(delay % 1000));
    t->st = ST_WAIT;
    t->next_try = tern_deadline_in(tern_clock_now(&t->clock), delay);
}

/* The connection ended (the session is idle): say why, and come back. */
static void link_ended(ternd_t *t)
{
    bool was_up = t->st == ST_UP;
    char what[160];
    if (t->store_failed) {
        snprintf(what, sizeof what, "connection closed to leave a message unacknowledged");
    } else if (was_up) {
        snprintf(what, sizeof what, "connection to %s:%u lost", t->o->host, (unsigned)t->o->port);
    } else {
        snprintf(what, sizeof what, "connect to %s:%u refused", t->o->host, (unsigned)t->o->port);
    }
    tern_err_t err = t->end_err != TERN_OK ? t->end_err : TERN_ERR_CLOSED;
    if (t->end_reason && t->end_err == TERN_OK) {
        err = tern_mqtt_reason_to_err(t->end_reason);
    }
    t->ended = false;
    t->store_failed = false;
    t->end_err = TERN_OK;
    t->end_reason = 0;
    retry_later(t, what, err);
}

static void subscribe(ternd_t *t)
{
    tern_mqtt_sub_t s[N_SUBS + 1];
    size_t n = t->n_subs;
    for (size_t i = 0; i < n; i++) {
        s[i].filter = view(k_filters[i] + (t->o->no_share ? sizeof SHARE - 1 : 0));
        /* QoS 1; retained messages (presence) only when the subscription is new: a plain
         * subscription the session kept would otherwise replay every device's retained
         * presence on every reconnect (17,000 messages for 17,000 devices). Shared
         * subscriptions never get retained messages. Not Retain As Published: the retain
         * flag of a delivery then marks a replay, which ingest.c relies on. */
        s[i].options = 1 | TERN_MQTT_SUB_RETAIN_HANDLING(1);
    }
    tern_err_t e = tern_mqtt_subscribe(&t->m, s, n, 0, NULL);
    if (e == TERN_OK) {
        t->subscribed = true;
        /* The session may hold the other kind from a run with(out) --no-share: drop it, or
         * every message would come twice (harmless for the store, but twice the work). And
         * without a CA, requests from a run with one would come to no one who answers them:
         * both forms go (another ternd with a CA takes them). */
        size_t k = 0;
        for (size_t i = 0; i < n; i++) {
            s[k++].filter = view(k_filters[i] + (t->o->no_share ? 0 : sizeof SHARE - 1));
        }
        for (size_t i = n; i < N_SUBS; i++) {
            s[k++].filter = view(k_filters[i]);
            s[k++].filter = view(k_filters[i] + sizeof SHARE - 1);
        }
        (void)tern_mqtt_unsubscribe(&t->m, s, k, NULL);
    } else if (e != TERN_ERR_AGAIN) {
        ternd_log("subscribe: %s", tern_strerror(e));
        t->subscribed = true; /* would fail the same way again */
    }
}

/* One step of the connection's state machine, then the wait for the next. */
static void step(ternd_t *t)
{
    tern_ms_t now = tern_clock_now(&t->clock);
    tern_err_t e;
    uint32_t wait = TICK_MS;
    switch (t->st) {
    case ST_WAIT:
        if (!tern_deadline_passed(now, t->next_try)) {
            uint32_t left = tern_deadline_remaining(now, t->next_try);
            wait = left < TICK_MS ? left : TICK_MS;
            struct timespec ts = { 0, (long)wait * 1000000L };
            nanosleep(&ts, NULL); /* a signal cuts it short */
            return;
        }
        if (t->o->verbose) {
            ternd_log("connecting to %s:%u%s", t->o->host, (unsigned)t->o->port,
                      t->o->cafile ? " (TLS)" : "");
        }
        e = tern_posix_conn_open(&t->conn, &t->ccfg);
        t->conn_open = true;
        if (e != TERN_OK) {
            retry_later(t, t->what_connect, e);
            return;
        }
        t->st = ST_TCP;
        t->deadline = tern_deadline_in(now, CONNECT_TIMEOUT_MS);
        /* fall through */
    case ST_TCP:
        e = tern_posix_conn_poll(&t->conn, now);
        if (e == TERN_ERR_AGAIN) {
            if (tern_deadline_passed(now, t->deadline)) {
                retry_later(t, t->what_connect, TERN_ERR_TIMEOUT);
                return;
            }
            (void)tern_posix_conn_wait(&t->conn, false, TICK_MS);
            return;
        }
        if (e != TERN_OK) {
            retry_later(t, t->what_connect, e);
            return;
        }
        {
            tern_transport_t tr = tern_posix_conn_transport(&t->conn);
            e = tern_mqtt_connect(&t->m, &tr, TERN_MQTT_PROTO_V5, &t->cn, now);
        }
        if (e != TERN_OK) {
            retry_later(t, t->what_connect, e);
            return;
        }
        t->st = ST_MQTT;
        /* fall through */
    case ST_MQTT:
    case ST_UP: {
        uint64_t rx0 = t->rx_msgs;
        bool again = false;
        (void)tern_mqtt_poll(&t->m, now); /* errors come as events */
        if (t->ended) {
            link_ended(t);
            return;
        }
        if (t->st == ST_UP) {
            if (!t->subscribed) {
                subscribe(t);
            }
            long left = 0;
            if (tern_deadline_passed(now, t->twin_retry)) {
                left = ternd_twin_server_drain(&t->twin, &again);
                if (left < 0) { /* the store failed (logged): not again for a second */
                    t->twin_retry = tern_deadline_in(now, 1000);
                }
            }
            if (tern_deadline_passed(now, t->certs_retry)) {
                long more = ternd_certs_drain(&t->certs);
                if (more < 0) { /* the store failed (logged): not again for a second */
                    t->certs_retry = tern_deadline_in(now, 1000);
                } else if (more > 0) {
                    left = left > 0 ? left + more : more;
                }
            }
            if (left > 0 || tern_mqtt_want_write(&t->m)) {
                (void)tern_mqtt_poll(&t->m, tern_clock_now(&t->clock)); /* send them now */
                if (t->ended) {
                    link_ended(t);
                    return;
                }
            }
        }
        now = tern_clock_now(&t->clock);
        uint32_t until = tern_deadline_remaining(now, tern_mqtt_next_deadline(&t->m, now));
        /* A poll handles at most 64 packets or reads: what it read and did not handle yet is
         * in the client's buffer, where the socket's poll() cannot see it, so a poll that
         * delivered messages is followed by another at once (without this, a backlog drains
         * at 64 messages per TICK_MS once the socket is empty). So is a drain that stopped at
         * its budget. */
        if (t->rx_msgs != rx0 || again) {
            until = 0;
        }
        (void)tern_posix_conn_wait(&t->conn, tern_mqtt_want_write(&t->m),
                                   until < TICK_MS ? until : TICK_MS);
        return;
    }
    }
}

static bool until_ended(void *arg)
{
    return ((ternd_t *)arg)->ended;
}

/* ----------------------------------------------------------------- main -- */

static void usage(FILE *f)
{
    fprintf(
        f, "usage: ternd [--broker HOST] [--port N] [--state-dir DIR] [--api-port N] [--id ID]\n"
           "             [--username USER (--password PASS | --password-file FILE)]\n"
           "             [--cafile F [--cert F --key F] [--tls-hostname NAME]] [--no-share] [-v]\n"
           "             [--ca-cert F --ca-key F [--cert-lifetime SECONDS]]\n"
           "       ternd --ca-sign CSR_FILE --ca-cert F --ca-key F [--cert-lifetime SECONDS]\n"
           "             [--device-id ID]\n"
           "       ternd --gen-broker-conf DIR [--broker-port N] [--dev-users FILE]\n"
           "             [--broker-cafile F --broker-cert F --broker-key F [--broker-tls-port N]]\n"
           "\n"
           "The reference fleet service: stores what devices send over MQTT (tern/wire.h),\n"
           "answers their twins and serves the operator API (docs/api.md).\n"
           "  --broker HOST       the MQTT broker (127.0.0.1)\n"
           "  --port N            its port (1883; 8883 with --cafile)\n"
           "  --state-dir DIR     database, API token and URL (./ternd-state, made 0700)\n"
           "  --api-port N        the HTTP API on 127.0.0.1 (8787; 0: any free port, see\n"
           "                      DIR/api.url)\n"
           "  --id ID             MQTT client id (ternd-1): the broker keeps this session and\n"
           "                      queues messages for it while ternd is down; every ternd\n"
           "                      process sharing a broker needs its own\n"
           "  --username, --password, --password-file: broker credentials (the file's first\n"
           "                      line is the password)\n"
           "  --cafile, --cert, --key, --tls-hostname: TLS (and mTLS) to the broker\n"
           "  --no-share          plain subscriptions instead of $share/" TERN_WIRE_SHARE_GROUP
           "/...: for the\n"
           "                      one ternd of a mosquitto 2.0, which keeps plain ones but\n"
           "                      not shared ones across its own restart (messages sent\n"
           "                      before ternd subscribes again would be lost)\n"
           "  -v                  a log line per message\n"
           "  --ca-cert F, --ca-key F: be the fleet's certificate authority: answer device\n"
           "                      certificate requests (cert/csr) with a chain on cert/new,\n"
           "                      signed by this CA certificate and key (PEM; EC or RSA)\n"
           "  --cert-lifetime S   the certificates' lifetime in seconds (7776000: 90 days)\n"
           "--ca-sign CSR_FILE: sign one PKCS#10 request (DER or PEM) with the CA and print the\n"
           "  chain (PEM, leaf first) on stdout, for provisioning; --device-id ID the id it\n"
           "  must name (default: its CN, which must be a valid device id)\n"
           "--gen-broker-conf DIR: write a mosquitto configuration enforcing the topic ACL\n"
           "  (DIR/mosquitto.conf, acl, passwd, ternd.pass) and print how to start it;\n"
           "  --broker-port N the loopback listener (1883), --dev-users FILE lines of\n"
           "  id:password, --broker-cafile/--broker-cert/--broker-key a TLS listener on\n"
           "  --broker-tls-port (8883) that takes the client certificate's CN as the id.\n");
}

static bool parse_port(const char *s, bool zero_ok, uint16_t *out)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || *s == '\0' || *end != '\0' || v > 65535 || (v == 0 && !zero_ok)) {
        fprintf(stderr, "ternd: bad port '%s'\n", s);
        return false;
    }
    *out = (uint16_t)v;
    return true;
}

/* Seconds, 1..TERND_CA_LIFETIME_MAX. */
static bool parse_lifetime(const char *s, uint32_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *s == '\0' || *s == '-' || *end != '\0' || v == 0 || v > TERND_CA_LIFETIME_MAX) {
        fprintf(stderr, "ternd: --cert-lifetime takes seconds, 1..%lu, not '%s'\n",
                (unsigned long)TERND_CA_LIFETIME_MAX, s);
        return false;
    }
    *out = (uint32_t)v;
    return true;
}

/* `ternd --ca-sign CSR_FILE`: the chain on stdout, 0; a refusal said on stderr, 1. */
static int ca_sign(const char *csr_path, const opts_t *o, const char *device_id)
{
    enum { CSR_FILE_MAX = 64 << 10 };
    FILE *f = fopen(csr_path, "rb");
    if (f == NULL) {
        fprintf(stderr, "ternd: --ca-sign: %s: %s\n", csr_path, strerror(errno));
        return 1;
    }
    uint8_t *buf = malloc(CSR_FILE_MAX + 1);
    size_t n = buf != NULL ? fread(buf, 1, CSR_FILE_MAX + 1, f) : 0;
    bool bad = buf == NULL || ferror(f);
    fclose(f);
    if (bad || n == 0 || n > CSR_FILE_MAX) {
        fprintf(stderr, "ternd: --ca-sign: %s: %s\n", csr_path,
                bad      ? "cannot read it"
                : n == 0 ? "empty"
                         : "larger than 64 KiB");
        free(buf);
        return 1;
    }
    char err[512];
    ternd_ca_t *ca = ternd_ca_load(o->ca_cert, o->ca_key, err, sizeof err);
    if (ca == NULL) {
        fprintf(stderr, "ternd: --ca-sign: CA: %s\n", err);
        free(buf);
        return 1;
    }
    ternd_cert_t cert;
    ternd_ca_result_t r = ternd_ca_issue(ca, device_id, buf, n, o->cert_lifetime,
                                         (int64_t)time(NULL), &cert, err, sizeof err);
    int rc = 0;
    if (r != TERND_CA_OK) {
        fprintf(stderr, "ternd: --ca-sign: %s: refused (%s): %s\n", csr_path,
                ternd_ca_result_name(r), err);
        rc = 1;
    } else {
        char until[32];
        ternd_iso_time(cert.not_after, until, sizeof until);
        if (fwrite(cert.chain, 1, cert.chain_len, stdout) != cert.chain_len ||
            fflush(stdout) != 0) {
            fprintf(stderr, "ternd: --ca-sign: write error: %s\n", strerror(errno));
            rc = 1;
        } else {
            fprintf(stderr, "ternd: issued certificate %s to %s, valid until %s (signed by %s)\n",
                    cert.serial, device_id != NULL ? device_id : "its CN", until,
                    ternd_ca_subject(ca));
        }
        ternd_cert_free(&cert);
    }
    ternd_ca_free(ca);
    free(buf);
    return rc;
}

/* The first line of @p path, without its line end, in a heap string. */
static char *read_secret(const char *path)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        fprintf(stderr, "ternd: %s: %s\n", path, strerror(errno));
        return NULL;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t n = getline(&line, &cap, f);
    fclose(f);
    if (n < 0) {
        free(line);
        fprintf(stderr, "ternd: %s: empty\n", path);
        return NULL;
    }
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) {
        line[--n] = '\0';
    }
    return line;
}

int main(int argc, char **argv)
{
    enum {
        O_BROKER = 1,
        O_PORT,
        O_STATE,
        O_API_PORT,
        O_ID,
        O_USER,
        O_PASS,
        O_PASS_FILE,
        O_CAFILE,
        O_CERT,
        O_KEY,
        O_TLS_HOST,
        O_GEN,
        O_BROKER_PORT,
        O_DEV_USERS,
        O_B_CAFILE,
        O_B_CERT,
        O_B_KEY,
        O_B_TLS_PORT,
        O_NO_SHARE,
        O_CA_CERT,
        O_CA_KEY,
        O_CERT_LIFETIME,
        O_CA_SIGN,
        O_DEVICE_ID,
        O_HELP,
    };
    static const struct option longs[] = {
        { "broker", required_argument, NULL, O_BROKER },
        { "port", required_argument, NULL, O_PORT },
        { "state-dir", required_argument, NULL, O_STATE },
        { "api-port", required_argument, NULL, O_API_PORT },
        { "id", required_argument, NULL, O_ID },
        { "username", required_argument, NULL, O_USER },
        { "password", required_argument, NULL, O_PASS },
        { "password-file", required_argument, NULL, O_PASS_FILE },
        { "cafile", required_argument, NULL, O_CAFILE },
        { "cert", required_argument, NULL, O_CERT },
        { "key", required_argument, NULL, O_KEY },
        { "tls-hostname", required_argument, NULL, O_TLS_HOST },
        { "gen-broker-conf", required_argument, NULL, O_GEN },
        { "broker-port", required_argument, NULL, O_BROKER_PORT },
        { "dev-users", required_argument, NULL, O_DEV_USERS },
        { "broker-cafile", required_argument, NULL, O_B_CAFILE },
        { "broker-cert", required_argument, NULL, O_B_CERT },
        { "broker-key", required_argument, NULL, O_B_KEY },
        { "broker-tls-port", required_argument, NULL, O_B_TLS_PORT },
        { "no-share", no_argument, NULL, O_NO_SHARE },
        { "ca-cert", required_argument, NULL, O_CA_CERT },
        { "ca-key", required_argument, NULL, O_CA_KEY },
        { "cert-lifetime", required_argument, NULL, O_CERT_LIFETIME },
        { "ca-sign", required_argument, NULL, O_CA_SIGN },
        { "device-id", required_argument, NULL, O_DEVICE_ID },
        { "help", no_argument, NULL, O_HELP },
        { NULL, 0, NULL, 0 },
    };
    opts_t o = { .host = "127.0.0.1",
                 .state_dir = "./ternd-state",
                 .id = "ternd-1",
                 .port = 1883,
                 .api_port = 8787,
                 .cert_lifetime = TERND_CA_LIFETIME_DEFAULT };
    ternd_conf_opts_t g = { .ternd_path = argv[0] };
    bool port_set = false, gen_only = false, lifetime_set = false;
    const char *ca_sign_csr = NULL, *device_id = NULL;
    int c;
    while ((c = getopt_long(argc, argv, "vh", longs, NULL)) != -1) {
        switch (c) {
        case O_BROKER:
            o.host = optarg;
            break;
        case O_PORT:
            if (!parse_port(optarg, false, &o.port)) {
                return 2;
            }
            port_set = true;
            break;
        case O_STATE:
            o.state_dir = optarg;
            break;
        case O_API_PORT:
            if (!parse_port(optarg, true, &o.api_port)) {
                return 2;
            }
            break;
        case O_ID:
            o.id = optarg;
            break;
        case O_USER:
            o.user = optarg;
            break;
        case O_PASS:
            o.pass = optarg;
            break;
        case O_PASS_FILE:
            o.pass_file = optarg;
            break;
        case O_CAFILE:
            o.cafile = optarg;
            break;
        case O_CERT:
            o.cert = optarg;
            break;
        case O_KEY:
            o.key = optarg;
            break;
        case O_TLS_HOST:
            o.tls_host = optarg;
            break;
        case O_GEN:
            g.dir = optarg;
            break;
        case O_BROKER_PORT:
            if (!parse_port(optarg, false, &g.port)) {
                return 2;
            }
            gen_only = true;
            break;
        case O_DEV_USERS:
            g.dev_users = optarg;
            gen_only = true;
            break;
        case O_B_CAFILE:
            g.cafile = optarg;
            gen_only = true;
            break;
        case O_B_CERT:
            g.cert = optarg;
            gen_only = true;
            break;
        case O_B_KEY:
            g.key = optarg;
            gen_only = true;
            break;
        case O_B_TLS_PORT:
            if (!parse_port(optarg, false, &g.tls_port)) {
                return 2;
            }
            gen_only = true;
            break;
        case O_CA_CERT:
            o.ca_cert = optarg;
            break;
        case O_CA_KEY:
            o.ca_key = optarg;
            break;
        case O_CERT_LIFETIME:
            if (!parse_lifetime(optarg, &o.cert_lifetime)) {
                return 2;
            }
            lifetime_set = true;
            break;
        case O_CA_SIGN:
            ca_sign_csr = optarg;
            break;
        case O_DEVICE_ID:
            device_id = optarg;
            break;
        case 'v':
            o.verbose = true;
            break;
        case 'h':
        case O_NO_SHARE:
            o.no_share = true;
            break;
        case O_HELP:
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind != argc) {
        usage(stderr);
        return 2;
    }
    if ((o.ca_cert != NULL) != (o.ca_key != NULL)) {
        fprintf(stderr, "ternd: --ca-cert and --ca-key go together\n");
        return 2;
    }
    if (lifetime_set && o.ca_cert == NULL) {
        fprintf(stderr, "ternd: --cert-lifetime goes with --ca-cert and --ca-key\n");
        return 2;
    }
    if (device_id != NULL && ca_sign_csr == NULL) {
        fprintf(stderr, "ternd: --device-id goes with --ca-sign\n");
        return 2;
    }
    if (ca_sign_csr != NULL) {
        if (o.ca_cert == NULL) {
            fprintf(stderr, "ternd: --ca-sign needs --ca-cert and --ca-key\n");
            return 2;
        }
        if (device_id != NULL && !tern_wire_id_ok(device_id, strlen(device_id))) {
            fprintf(stderr,
                    "ternd: --device-id '%s' is not a device id (1..%d of A-Z a-z 0-9 "
                    "_ . -)\n",
                    device_id, TERN_WIRE_ID_MAX);
            return 2;
        }
        return ca_sign(ca_sign_csr, &o, device_id);
    }
    if (g.dir != NULL) {
        return ternd_conf_generate(&g);
    }
    if (gen_only) {
        fprintf(stderr, "ternd: --broker-* and --dev-users go with --gen-broker-conf\n");
        return 2;
    }
    if ((o.cert != NULL) != (o.key != NULL)) {
        fprintf(stderr, "ternd: --cert and --key go together\n");
        return 2;
    }
    if ((o.cert || o.tls_host) && !o.cafile) {
        fprintf(stderr, "ternd: --cert, --key and --tls-hostname need --cafile\n");
        return 2;
    }
    if (o.pass && o.pass_file) {
        fprintf(stderr, "ternd: --password or --password-file, not both\n");
        return 2;
    }
    if ((o.pass || o.pass_file) && !o.user) {
        fprintf(stderr, "ternd: a password needs --username\n");
        return 2;
    }
    if (o.cafile && !port_set) {
        o.port = 8883;
    }
    char *secret = NULL;
    int rc = 1; /* until the service runs */
    if (o.pass_file) {
        if ((secret = read_secret(o.pass_file)) == NULL) {
            return 1;
        }
        o.pass = secret;
    }

    /* the CA, before anything is created: a wrong file is an error at once */
    ternd_ca_t *ca = NULL;
    if (o.ca_cert != NULL) {
        char cerr[512];
        ca = ternd_ca_load(o.ca_cert, o.ca_key, cerr, sizeof cerr);
        if (ca == NULL) {
            fprintf(stderr, "ternd: CA: %s\n", cerr);
            goto out_ca;
        }
    }

    /* the state: the directory, the store, the API */
    char *db = NULL;
    char err[256] = "";
    static ternd_t t;
    if (mkdir(o.state_dir, 0700) != 0 && errno != EEXIST) {
        fprintf(stderr, "ternd: %s: %s\n", o.state_dir, strerror(errno));
        goto out_ca;
    }
    size_t dbn = strlen(o.state_dir) + sizeof "/ternd.db";
    if ((db = malloc(dbn)) == NULL) {
        goto out_ca;
    }
    snprintf(db, dbn, "%s/ternd.db", o.state_dir);
    t.o = &o;
    t.store = ternd_store_open_sqlite(db, err, sizeof err);
    if (t.store == NULL) {
        fprintf(stderr, "ternd: store %s: %s\n", db, err);
        goto out_db;
    }
    if (ternd_twin_server_init(&t.twin, t.store, publish_delta, &t, o.verbose) != 0) {
        goto out_store;
    }
    if (ternd_certs_init(&t.certs, t.store, ca, o.cert_lifetime, publish_retained, &t, o.verbose) !=
        0) {
        goto out_twin;
    }
    t.n_subs = ca != NULL ? N_SUBS : N_SUBS_NO_CA;
    ternd_ingest_init(&t.in, t.store, &t.twin, o.verbose);
    t.in.certs = ca != NULL ? &t.certs : NULL;
    ternd_api_hooks_t hooks = { .ctx = &t.twin,
                                .twin_changed = ternd_twin_server_changed,
                                .fleet_changed = ternd_twin_server_fleet_changed,
                                .trust_changed = ternd_certs_trust_changed,
                                .trust_ctx = &t.certs };
    ternd_api_t *api = ternd_api_start(o.state_dir, o.api_port, db, &hooks, err, sizeof err);
    if (api == NULL) {
        fprintf(stderr, "ternd: API: %s\n", err);
        goto out_ingest;
    }
    ternd_log("store %s, API on http://127.0.0.1:%u (token in %s/token)", db,
              (unsigned)ternd_api_port(api), o.state_dir);
    if (ca != NULL) {
        ternd_log("CA %s: answering certificate requests, certificates valid %lu s",
                  ternd_ca_subject(ca), (unsigned long)o.cert_lifetime);
    }

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal; /* no SA_RESTART: a sleep or poll returns at once */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    /* the MQTT session */
    static uint8_t tx[TX_SIZE], rx[RX_SIZE], copy[INFLIGHT * COPY_SLOT];
    static uint8_t alias_in[16 * 130];
    static tern_mqtt_inflight_t inflight[INFLIGHT];
    static tern_mqtt_sub_entry_t subs[N_SUBS];
    tern_posix_clock_init(&t.clk, 0);
    t.clock = tern_posix_clock_hal(&t.clk);
    t.rng = tern_posix_rng_hal();
    tern_backoff_config_t bc = { TERN_BACKOFF_FULL_JITTER, 200, 10000, 0, 0 };
    (void)tern_backoff_init(&t.bo, &bc, &t.rng);
    t.tls = (tern_posix_tls_config_t){ .ca_file = o.cafile,
                                       .hostname = o.tls_host ? o.tls_host : o.host,
                                       .cert_file = o.cert,
                                       .key_file = o.key };
    snprintf(t.what_connect, sizeof t.what_connect, "%s to %s:%u",
             o.cafile ? "TLS connect" : "connect", o.host, (unsigned)o.port);
    t.ccfg = (tern_posix_conn_config_t){ o.host, o.port, NULL, o.cafile ? &t.tls : NULL };
    t.cn.client_id = view(o.id);
    t.cn.keep_alive = KEEPALIVE_S;
    t.cn.clean_start = false;
    t.cn.props.present = TERN_MQTT_HAS_SESSION_EXPIRY;
    t.cn.props.session_expiry = SESSION_EXPIRY_S;
    t.cn.has_username = o.user != NULL;
    t.cn.username = view(o.user);
    t.cn.has_password = o.pass != NULL;
    t.cn.password = view(o.pass);
    tern_mqtt_config_t cfg = {
        .tx = tx,
        .rx = rx,
        .tx_size = sizeof tx,
        .rx_size = sizeof rx,
        .inflight = inflight,
        .inflight_count = INFLIGHT,
        .copy = copy,
        .copy_size = sizeof copy,
        .subs = subs,
        .sub_count = N_SUBS,
        .alias_in = { alias_in, sizeof alias_in, 16 },
        .max_packet = MAX_PACKET,
        .on_event = on_event,
        .user = &t,
    };
    tern_err_t e = tern_mqtt_init(&t.m, &cfg);
    rc = 0;
    if (e != TERN_OK) {
        ternd_log("MQTT: %s", tern_strerror(e));
        rc = 1;
        g_stop = 1;
    }
    t.st = ST_WAIT;
    t.next_try = t.twin_retry = t.certs_retry = tern_clock_now(&t.clock);
    while (!g_stop) {
        step(&t);
    }

    /* shutdown */
    if (rc == 0) {
        ternd_log("%s: shutting down", g_stop == SIGINT ? "SIGINT" : "SIGTERM");
    }
    if ((t.st == ST_MQTT || t.st == ST_UP) && tern_mqtt_disconnect(&t.m, 0, NULL) == TERN_OK) {
        (void)tern_posix_mqtt_run(&t.m, &t.conn, &t.clock, until_ended, &t, SHUTDOWN_MS);
    }
    if (t.conn_open) {
        tern_posix_conn_close(&t.conn);
    }
    ternd_api_stop(api);
    const ternd_ingest_stats_t *s = &t.in.stats;
    uint64_t rejected = 0;
    for (size_t i = 0; i < sizeof s->rejected / sizeof s->rejected[0]; i++) {
        rejected += i == TERN_WIRE_REJECT_STALE ? 0 : s->rejected[i];
    }
    ternd_log("stopped: %llu messages: %llu telemetry stored (%llu readings), %llu duplicates, "
              "%llu presence, %llu twin reports (%llu stale), %llu rejected; %llu deltas sent",
              (unsigned long long)s->messages, (unsigned long long)s->telemetry,
              (unsigned long long)s->readings, (unsigned long long)s->duplicates,
              (unsigned long long)s->presence, (unsigned long long)s->reports,
              (unsigned long long)s->stale, (unsigned long long)rejected,
              (unsigned long long)t.twin.sent);
    if (ca != NULL || t.certs.stats.published > 0) {
        ternd_log("certificates: %llu issued, %llu requests answered again, %llu refused; "
                  "%llu certificates and trust stores taken by the broker",
                  (unsigned long long)t.certs.stats.issued, (unsigned long long)t.certs.stats.again,
                  (unsigned long long)t.certs.stats.refused,
                  (unsigned long long)t.certs.stats.published);
    }
out_ingest:
    ternd_ingest_free(&t.in);
    ternd_certs_free(&t.certs);
out_twin:
    ternd_twin_server_free(&t.twin);
out_store:
    ternd_store_close(t.store);
out_db:
    free(db);
out_ca:
    ternd_ca_free(ca);
    free(secret);
    return rc;
}
