/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A device on a Linux host: two network links, a persistent outbox in a flash
 * file, one MQTT session that rides through link cuts and broker restarts.
 *
 * Every reading goes through tern_uplink (tern/uplink.h): it is written to the
 * outbox (a NOR flash image in FILE) before anything is sent, drained to the
 * broker critical first, and leaves the outbox only on its PUBACK, so a broker
 * outage, a link cut, a power cut or a SIGKILL loses nothing. The links are
 * TCP connections from distinct loopback source addresses (tern/port/
 * posix_link.h): "eth0" from 127.0.0.1 (free, preferred) and "lte0" from
 * 127.0.0.2 (metered, the backup). Bulk records (history) drain only over eth0
 * once the session has been up for the stable time.
 *
 * Readings go to tern/<id>/telemetry at NORMAL priority (every 10th one is
 * also an alert on tern/<id>/alert at CRITICAL priority when -a is given, and
 * a history record at BULK priority on tern/<id>/history with -H). Commands
 * arrive on tern/<id>/cmd: "stop", or a fault to inject on a link: "cut eth0",
 * "drop lte0", "blackhole eth0", "delay eth0 300", "heal eth0"; each is
 * answered on tern/<id>/cmd/resp (or the command's MQTT 5 Response Topic).
 * SIGUSR1 cuts eth0, SIGUSR2 heals it. One line per event.
 *
 * With -B SECONDS the readings go as compact time-series batches instead
 * (tern/telemetry.h, docs/compact-batch.md): series "n" (the reading's
 * number), "temp" (0.01 Cel) and "door", one batch every SECONDS on
 * tern/<id>/telemetry, an alert (-a: every tenth temperature) sending the
 * batch at once at CRITICAL priority. `ternctl sub --hex | ternctl cbor senml
 * --hex` turns them back into SenML.
 *
 * usage: tern_device [-f FILE] [-n COUNT] [-p PERIOD_MS] [-k PER_TICK] [-3] [-1] [-a] [-H]
 *                    [-s STABLE_MS] [-t SECONDS] [-q] HOST PORT DEVICE_ID
 *   -f FILE      the flash file (default DEVICE_ID.flash); kept between runs
 *   -n COUNT     take COUNT readings (0: only drain what the outbox holds), then stop
 *                once the outbox is empty; default: until the command "stop"
 *   -p, -k       a tick every PERIOD_MS (default 500) taking PER_TICK readings (default 1)
 *   -3           MQTT 3.1.1 (the sequence number goes in the payload) instead of 5
 *   -1           one link only (eth0)
 *   -s STABLE_MS how long a link must be up before fail back or bulk (default 2000)
 *   -t SECONDS   give up (exit 1) after this long (default: never)
 *   -q           quiet: no line per reading
 *   -B SECONDS   compact batches every SECONDS instead of a message per reading, and the
 *                wire contract of tern/wire.h: a retained presence message on connect
 *                (firmware, link, region, next seq) and the offline will
 *   -u, -w       user name and password for a broker that checks them
 *   -r REGION    the region the presence message names
 *
 * mTLS with a device identity (tern/identity.h, examples/device/secure.h): the
 * key in a key store, the chain and trust stores in the flash file, rotation by
 * CSR with ternd's CA before the certificate expires, trust-store updates, and
 * the quarantine endpoint:
 *   -K DIR       file key store (development), or
 *   -P MODULE:TOKEN:PIN  a PKCS#11 key store (SoftHSM2, a secure element ...)
 *   -C CHAIN -A CA  the factory chain and trust store (PEM), to provision a blank
 *                identity; the key "factory" must be in the key store (see -M)
 *   -N NAME      the broker certificate's host name (default localhost)
 *   -Q HOST:PORT the quarantine endpoint
 *   -R PERMILLE  rotate once the certificate has lived this share of its life
 *   -M FILE      factory step: make the key "factory" and write its CSR (DER) to
 *                FILE, then exit
 */
#define _POSIX_C_SOURCE 200809L
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tern/backoff.h"
#include "tern/cbor.h"
#include "tern/link.h"
#include "tern/outbox.h"
#include "tern/port/posix.h"
#include "tern/port/posix_link.h"
#include "tern/telemetry.h"
#include "tern/twin.h"
#include "tern/uplink.h"
#include "tern/version.h"
#include "tern/wire.h"

#include "secure.h"

enum {
    INFLIGHT = 16,                /* its snapshot, 16 x 12 bytes, is one outbox record */
    MAX_PAYLOAD = 240,            /* an outbox record: 2 + topic + payload */
    FLASH_SIZE = 4 * 1024 * 1024, /* 4 MiB of NOR ... */
    FLASH_SECTOR = 16 * 1024,     /* ... in 16 KiB sectors: about 15,000 records */
};

typedef struct device {
    const char *id;
    char topic_cmd[96], topic_tele[96], topic_resp[96], topic_alert[96], topic_hist[96];
    char topic_presence[96];
    bool wire; /* -B: the wire contract of tern/wire.h (presence, will, twin) */
    tern_outbox_t *ob;
    char topic_desired[96], topic_reported[96];
    tern_twin_t twin;
    bool twin_hello;             /* a hello is owed (every connect) */
    bool twin_pending;           /* a report is queued: */
    uint32_t twin_rec, twin_ver; /* its outbox record, and its version */
    const char *region;
    tern_uplink_t up;
    tern_posix_link_t pl[2];
    bool stop, quiet;
    unsigned long delivered, rejected, evicted;
    secure_t *sec;
} device_t;

static volatile sig_atomic_t g_cut = 0, g_heal = 0;

static void on_signal(int sig)
{
    if (sig == SIGUSR1) {
        g_cut = 1;
    } else {
        g_heal = 1;
    }
}

/* Put link @p i in fault @p mode (PASS heals it). */
static void fault(device_t *d, int i, tern_posix_faulty_mode_t mode, uint32_t delay_ms)
{
    static const char *const names[2] = { "eth0", "lte0" };
    tern_err_t e = tern_posix_link_fault(&d->pl[i], mode, delay_ms);
    printf("device %s: %s %s (%s)\n", d->id, names[i],
           mode == TERN_POSIX_FAULTY_PASS ? "healed" : tern_posix_faulty_mode_name(mode),
           tern_err_name(e));
}

/* "<fault> <link> [ms]": cut, heal (pass), drop, blackhole, delay; true if it was one. */
static bool fault_command(device_t *d, const char *p, int n)
{
    static const struct {
        const char *word;
        tern_posix_faulty_mode_t mode;
    } k[] = { { "cut", TERN_POSIX_FAULTY_CUT },
              { "heal", TERN_POSIX_FAULTY_PASS },
              { "drop", TERN_POSIX_FAULTY_DROP },
              { "blackhole", TERN_POSIX_FAULTY_BLACKHOLE },
              { "delay", TERN_POSIX_FAULTY_DELAY } };
    char word[16], link[8];
    unsigned long ms = 0;
    char line[64];
    if (n <= 0 || n >= (int)sizeof line) {
        return false;
    }
    memcpy(line, p, (size_t)n);
    line[n] = '\0';
    if (sscanf(line, "%15s %7s %lu", word, link, &ms) < 2) {
        return false;
    }
    int i = strcmp(link, "eth0") == 0 ? 0 : strcmp(link, "lte0") == 0 ? 1 : -1;
    for (size_t j = 0; i >= 0 && j < sizeof k / sizeof k[0]; j++) {
        if (strcmp(word, k[j].word) == 0) {
            fault(d, i, k[j].mode, (uint32_t)ms);
            return true;
        }
    }
    return false;
}

/* The twin: every desired key is taken as it comes (a real device would check and apply
 * each, e.g. a sampling period), printed, and reported back. */
static tern_err_t twin_accept(void *ctx, const char *key, size_t key_len, const uint8_t *value,
                              size_t len, bool deleted)
{
    const device_t *d = ctx;
    char text[96];
    if (deleted) {
        snprintf(text, sizeof text, "(deleted)");
    } else if (tern_cbor_diag(value, len, text, sizeof text, NULL) != TERN_OK) {
        snprintf(text, sizeof text, "(%u bytes of CBOR)", (unsigned)len);
    }
    printf("device %s: twin: %.*s = %s\n", d->id, (int)key_len, key, text);
    return TERN_OK;
}

static void on_delta(device_t *d, const tern_mqtt_publish_t *m)
{
    tern_twin_outcome_t out = TERN_TWIN_APPLIED;
    tern_err_t e = tern_twin_on_delta(&d->twin, m->payload.ptr, m->payload.len, &out);
    printf("device %s: twin delta: %s, desired version %u applied\n", d->id,
           e != TERN_OK             ? tern_strerror(e)
           : out == TERN_TWIN_STALE ? "stale, ignored"
           : out == TERN_TWIN_GAP   ? "a gap: asking again"
                                    : "applied",
           (unsigned)tern_twin_applied(&d->twin));
}

/* Send what the twin owes: a hello on connect, then the changes not yet acknowledged. */
static void twin_send(device_t *d)
{
    uint8_t buf[200];
    size_t len = 0;
    uint32_t ver = 0;
    unsigned wants = tern_twin_wants(&d->twin);
    bool report = (wants & (TERN_TWIN_WANT_REPORT | TERN_TWIN_WANT_HELLO)) ||
                  (d->twin_hello && (wants & TERN_TWIN_UNACKED));
    if (!d->twin_hello && !report) {
        return;
    }
    tern_err_t e = report ? tern_twin_build_report(&d->twin, buf, sizeof buf, &len, false, &ver)
                          : tern_twin_build_hello(&d->twin, buf, sizeof buf, &len);
    uint32_t rec = 0;
    if (e == TERN_OK) {
        e = tern_uplink_send(&d->up, TERN_OUTBOX_CRITICAL, d->topic_reported, buf, len, false,
                             &rec);
    }
    if (e != TERN_OK) {
        printf("device %s: twin report not queued: %s\n", d->id, tern_strerror(e));
        return;
    }
    d->twin_hello = false;
    if (report) {
        d->twin_pending = true;
        d->twin_rec = rec;
        d->twin_ver = ver;
    }
}

/* The presence map of tern/wire.h, retained: online, firmware, link, region, next seq.
 * (Its will, {1: false}, is set in the CONNECT.) */
static void birth(device_t *d, const char *link)
{
    uint8_t buf[160];
    size_t len = 0;
    tern_cbor_enc_t e;
    tern_cbor_enc_init(&e, buf, sizeof buf, 0);
    tern_cbor_enc_map(&e, d->region ? 5 : 4);
    tern_cbor_enc_uint(&e, TERN_WIRE_P_ONLINE);
    tern_cbor_enc_bool(&e, true);
    tern_cbor_enc_uint(&e, TERN_WIRE_P_FW);
    tern_cbor_enc_str(&e, "tern-device " TERN_VERSION_STRING);
    tern_cbor_enc_uint(&e, TERN_WIRE_P_LINK);
    tern_cbor_enc_str(&e, link);
    if (d->region) {
        tern_cbor_enc_uint(&e, TERN_WIRE_P_REGION);
        tern_cbor_enc_str(&e, d->region);
    }
    tern_cbor_enc_uint(&e, TERN_WIRE_P_SEQ);
    tern_cbor_enc_uint(&e, tern_outbox_next_seq(d->ob));
    tern_err_t err = tern_cbor_enc_finish(&e, &len);
    if (err == TERN_OK) {
        err =
            tern_uplink_send(&d->up, TERN_OUTBOX_CRITICAL, d->topic_presence, buf, len, true, NULL);
    }
    if (err != TERN_OK) {
        printf("device %s: presence not queued: %s\n", d->id, tern_strerror(err));
    }
}

static void on_command(device_t *d, const tern_mqtt_publish_t *msg)
{
    int n = (int)msg->payload.len;
    const char *p = (const char *)msg->payload.ptr;
    printf("device %s: command received: %.*s\n", d->id, n, p);
    if (n == 4 && memcmp(p, "stop", 4) == 0) {
        d->stop = true;
    } else {
        (void)fault_command(d, p, n);
    }
    /* the answer goes through the outbox too (critical: the operator is waiting) */
    char topic[128], reply[128];
    if (msg->props.present & TERN_MQTT_HAS_RESPONSE_TOPIC &&
        msg->props.response_topic.len < sizeof topic) {
        memcpy(topic, msg->props.response_topic.ptr, msg->props.response_topic.len);
        topic[msg->props.response_topic.len] = '\0';
    } else {
        snprintf(topic, sizeof topic, "%s", d->topic_resp);
    }
    int len = snprintf(reply, sizeof reply, "done: %.*s", n > 100 ? 100 : n, p);
    tern_err_t e =
        tern_uplink_send(&d->up, TERN_OUTBOX_CRITICAL, topic, reply, (size_t)len, false, NULL);
    if (e != TERN_OK) {
        printf("device %s: reply not queued: %s\n", d->id, tern_strerror(e));
    }
}

static void on_event(void *user, const tern_uplink_event_t *ev)
{
    device_t *d = user;
    secure_on_event(d->sec, ev);
    switch (ev->type) {
    case TERN_UPLINK_EV_LINK: {
        const tern_link_event_t *l = ev->link_ev;
        if (l->type == TERN_LINK_EVENT_UP) {
            printf("device %s: link %s up (%s, %s)\n", d->id, l->link->name,
                   tern_link_kind_name(l->link->kind),
                   l->link->cost == TERN_LINK_COST_FREE ? "free" : "metered");
        } else if (l->type == TERN_LINK_EVENT_DOWN) {
            printf("device %s: link %s down (%s)\n", d->id, l->link->name,
                   l->err == TERN_OK ? "left for a preferred link" : tern_strerror(l->err));
        } else {
            printf("device %s: link switched %s -> %s\n", d->id, l->from->name, l->link->name);
        }
        break;
    }
    case TERN_UPLINK_EV_ONLINE:
        printf("device %s: online over %s (session present: %s), %lu queued\n", d->id,
               ev->link ? ev->link->name : "?", ev->session_present ? "yes" : "no",
               (unsigned long)tern_uplink_backlog(&d->up));
        if (d->wire) {
            birth(d, ev->link ? ev->link->name : "");
            d->twin_hello = true;
        }
        break;
    case TERN_UPLINK_EV_OFFLINE:
        printf("device %s: offline (%s), %lu queued\n", d->id,
               ev->err == TERN_OK ? "disconnected" : tern_strerror(ev->err),
               (unsigned long)tern_uplink_backlog(&d->up));
        break;
    case TERN_UPLINK_EV_DELIVERED:
        d->delivered++;
        if (d->twin_pending && ev->seq == d->twin_rec) {
            (void)tern_twin_report_sent(&d->twin, d->twin_ver); /* ternd has it */
            d->twin_pending = false;
        }
        break;
    case TERN_UPLINK_EV_REJECTED:
        d->rejected++;
        printf("device %s: record %u rejected: %s\n", d->id, (unsigned)ev->seq,
               tern_strerror(ev->err));
        break;
    case TERN_UPLINK_EV_MQTT:
        if (ev->mqtt->type == TERN_MQTT_EV_MESSAGE && ev->mqtt->offset == 0) {
            const tern_mqtt_publish_t *m = ev->mqtt->msg;
            if (ev->mqtt->total != m->payload.len) {
                printf("device %s: a message of %u bytes, larger than the receive buffer, "
                       "ignored\n",
                       d->id, (unsigned)ev->mqtt->total);
            } else if (secure_on_message(d->sec, m)) {
                /* the identity's */
            } else if (d->wire && m->topic.len == strlen(d->topic_desired) &&
                       memcmp(m->topic.ptr, d->topic_desired, m->topic.len) == 0) {
                on_delta(d, m);
            } else {
                on_command(d, m);
            }
        }
        break;
    }
}

static void on_evict(void *user, uint32_t seq, tern_outbox_prio_t prio)
{
    device_t *d = user;
    d->evicted++;
    printf("device %s: outbox full, record %u (priority %d) evicted\n", d->id, (unsigned)seq,
           (int)prio);
}

/* Where telemetry batches go: the outbox, through the uplink, like any message (with its
 * sequence number, so that the fleet stores it once: tern/wire.h). */
static tern_err_t to_outbox(void *ctx, tern_outbox_prio_t prio, const char *topic,
                            const uint8_t *batch, size_t len)
{
    device_t *d = ctx;
    tern_err_t err = tern_uplink_send(&d->up, prio, topic, batch, len, false, NULL);
    if (err == TERN_OK && !d->quiet) {
        printf("device %s: batch of %u bytes queued%s\n", d->id, (unsigned)len,
               prio == TERN_OUTBOX_CRITICAL ? " (alert: critical)" : "");
    }
    return err;
}

static void usage(const char *argv0)
{
    fprintf(stderr,
            "usage: %s [-f FILE] [-n COUNT] [-p PERIOD_MS] [-k PER_TICK] [-3] [-1] [-a] [-H]\n"
            "          [-s STABLE_MS] [-t SECONDS] [-q] [-B SECONDS] [-u USER [-w PASSWORD]]\n"
            "          [-r REGION] [-K DIR | -P MODULE:TOKEN:PIN] [-C CHAIN -A CA] [-N NAME]\n"
            "          [-Q HOST:PORT] [-R PERMILLE] [-M CSR_FILE] HOST PORT DEVICE_ID\n",
            argv0);
}

int main(int argc, char **argv)
{
    static device_t d;
    static uint8_t tx[2048], rx[8192], scratch[TERN_UPLINK_SCRATCH(MAX_PAYLOAD)];
    static tern_mqtt_inflight_t inflight[INFLIGHT];
    static tern_mqtt_sub_entry_t subs[4];
    static secure_t sec;
    secure_opts_t so = { .hostname = "localhost" };
    const char *csr_out = NULL;
    bool secure = false;
    static tern_outbox_t ob;
    static tern_posix_board_t board;
    const char *file = NULL;
    long count = -1, per_tick = 1, period = 500, stable = 2000, limit_s = 0, batch_s = 0;
    bool v311 = false, one_link = false, alerts = false, history = false;
    const char *user = NULL, *pass = NULL;
    int opt;
    while ((opt = getopt(argc, argv, "f:n:p:k:31aHs:t:qB:u:w:r:K:P:C:A:N:Q:R:M:")) != -1) {
        switch (opt) {
        case 'K':
            so.keys = optarg;
            secure = true;
            break;
        case 'P':
            so.pkcs11 = optarg;
            secure = true;
            break;
        case 'C':
            so.cert_file = optarg;
            break;
        case 'A':
            so.ca_file = optarg;
            break;
        case 'N':
            so.hostname = optarg;
            break;
        case 'Q': {
            static char qhost[128];
            const char *colon = strrchr(optarg, ':');
            if (colon == NULL || (size_t)(colon - optarg) >= sizeof qhost) {
                usage(argv[0]);
                return 2;
            }
            memcpy(qhost, optarg, (size_t)(colon - optarg));
            so.q_host = qhost;
            so.q_port = (uint16_t)atoi(colon + 1);
            break;
        }
        case 'R':
            so.rotate_permille = (uint16_t)atoi(optarg);
            break;
        case 'M':
            csr_out = optarg;
            break;
        case 'u':
            user = optarg;
            break;
        case 'w':
            pass = optarg;
            break;
        case 'r':
            d.region = optarg;
            break;
        case 'f':
            file = optarg;
            break;
        case 'n':
            count = atol(optarg);
            break;
        case 'p':
            period = atol(optarg);
            break;
        case 'k':
            per_tick = atol(optarg);
            break;
        case '3':
            v311 = true;
            break;
        case '1':
            one_link = true;
            break;
        case 'a':
            alerts = true;
            break;
        case 'H':
            history = true;
            break;
        case 's':
            stable = atol(optarg);
            break;
        case 't':
            limit_s = atol(optarg);
            break;
        case 'q':
            d.quiet = true;
            break;
        case 'B':
            batch_s = atol(optarg);
            break;
        default:
            usage(argv[0]);
            return 2;
        }
    }
    if (argc - optind != 3 || period < 1 || per_tick < 1 || stable < 0 || batch_s < 0) {
        usage(argv[0]);
        return 2;
    }
    const char *host = argv[optind];
    uint16_t port = (uint16_t)atoi(argv[optind + 1]);
    d.id = argv[optind + 2];
    d.sec = &sec;
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (csr_out != NULL) { /* the factory step */
        return secure ? secure_make_csr(d.id, &so, csr_out) : 2;
    }
    char fbuf[256];
    if (file == NULL) {
        snprintf(fbuf, sizeof fbuf, "%s.flash", d.id);
        file = fbuf;
    }
    signal(SIGUSR1, on_signal);
    signal(SIGUSR2, on_signal);
    snprintf(d.topic_cmd, sizeof d.topic_cmd, "tern/%s/cmd", d.id);
    snprintf(d.topic_tele, sizeof d.topic_tele, "tern/%s/telemetry", d.id);
    snprintf(d.topic_resp, sizeof d.topic_resp, "tern/%s/cmd/resp", d.id);
    snprintf(d.topic_alert, sizeof d.topic_alert, "tern/%s/alert", d.id);
    snprintf(d.topic_hist, sizeof d.topic_hist, "tern/%s/history", d.id);
    d.wire = batch_s > 0;
    if (d.wire && (tern_wire_topic(d.topic_presence, sizeof d.topic_presence, d.id,
                                   TERN_WIRE_PRESENCE, NULL) != TERN_OK ||
                   tern_wire_topic(d.topic_desired, sizeof d.topic_desired, d.id,
                                   TERN_WIRE_TWIN_DESIRED, NULL) != TERN_OK ||
                   tern_wire_topic(d.topic_reported, sizeof d.topic_reported, d.id,
                                   TERN_WIRE_TWIN_REPORTED, NULL) != TERN_OK)) {
        fprintf(stderr, "device %s: not a device id (tern/wire.h)\n", d.id);
        return 2;
    }

    /* The board: real clock, getrandom (so a fleet's backoffs differ), flash in FILE. */
    tern_posix_board_config_t bc;
    tern_posix_board_config_default(&bc);
    bc.flash.sim.size = FLASH_SIZE;
    bc.flash.sim.sector_size = FLASH_SECTOR;
    bc.flash.path = file;
    tern_err_t err = tern_posix_board_open(&board, &bc);
    if (err != TERN_OK) {
        fprintf(stderr, "device %s: flash %s: %s\n", d.id, file, tern_strerror(err));
        return 1;
    }
    const tern_hal_t *hal = tern_posix_board_hal(&board);
    /* The flash: the outbox, then with -K/-P the identity's two sectors, and with -B the
     * twin's two sectors at the end. */
    tern_flash_t whole = tern_posix_flash_hal(&board.flash), obf = whole, twf = whole, idf = whole;
    static tern_flash_part_t parts[3];
    uint32_t twin_at = FLASH_SIZE - (d.wire ? 2 * FLASH_SECTOR : 0);
    uint32_t id_at = twin_at - (secure ? 2 * FLASH_SECTOR : 0);
    if (id_at < FLASH_SIZE) {
        err = tern_flash_partition(&whole, 0, id_at, &parts[0], &obf);
    }
    if (err == TERN_OK && secure) {
        err = tern_flash_partition(&whole, id_at, 2 * FLASH_SECTOR, &parts[2], &idf);
        if (err == TERN_OK && secure_open(&sec, hal, idf, d.id, &so) != 0) {
            tern_posix_board_close(&board);
            return 1;
        }
    }
    if (err == TERN_OK && d.wire) {
        err = tern_flash_partition(&whole, twin_at, 2 * FLASH_SECTOR, &parts[1], &twf);
        static uint8_t twin_state[1024];
        tern_twin_config_t tw = { .flash = twf,
                                  .state_buf = twin_state,
                                  .state_cap = sizeof twin_state,
                                  .default_handler = twin_accept,
                                  .ctx = &d };
        if (err == TERN_OK) {
            err = tern_twin_mount(&d.twin, &tw);
        }
        if (err != TERN_OK) {
            fprintf(stderr, "device %s: twin: %s\n", d.id, tern_strerror(err));
            return 1;
        }
        printf("device %s: twin mounted, desired version %u applied\n", d.id,
               (unsigned)tern_twin_applied(&d.twin));
    }
    tern_outbox_config_t oc = { obf, MAX_PAYLOAD, on_evict, &d };
    err = tern_outbox_mount(&ob, &oc);
    d.ob = &ob;

    /* Two links; each retries on its own full-jitter backoff (0.2 s window doubling to 5 s). */
    static const char *const names[2] = { "eth0", "lte0" };
    static const char *const sources[2] = { "127.0.0.1", "127.0.0.2" };
    static tern_link_t links[2];
    static tern_backoff_t bo[2];
    tern_backoff_config_t boc = { TERN_BACKOFF_FULL_JITTER, 200, 5000, 0, 0 };
    size_t nlinks = one_link ? 1 : 2;
    for (size_t i = 0; err == TERN_OK && i < nlinks; i++) {
        tern_posix_link_init(&d.pl[i], host, port, sources[i], 2000,
                             secure ? secure_tls(&sec) : NULL, &hal->clock);
        err = tern_backoff_init(&bo[i], &boc, &hal->rng);
        links[i] = (tern_link_t){ .name = names[i],
                                  .kind = i == 0 ? TERN_LINK_ETHERNET : TERN_LINK_CELLULAR,
                                  .cost = i == 0 ? TERN_LINK_COST_FREE : TERN_LINK_COST_METERED,
                                  .mtu = 1500,
                                  .rank = (uint8_t)i,
                                  .ops = &tern_posix_link_ops,
                                  .ctx = &d.pl[i],
                                  .backoff = &bo[i] };
    }
    static tern_link_mgr_t mgr;
    tern_link_config_t lc = { (uint32_t)stable, NULL, NULL };
    if (err == TERN_OK) {
        err = tern_link_init(&mgr, links, nlinks, &lc);
    }
    secure_bind(&sec, &mgr);

    /* The session: never a clean start, a session the broker keeps for 10 minutes. */
    tern_uplink_config_t uc = {
        .links = &mgr,
        .mqtt = { .tx = tx,
                  .rx = rx,
                  .tx_size = sizeof tx,
                  .rx_size = sizeof rx,
                  .inflight = inflight,
                  .inflight_count = INFLIGHT,
                  .subs = subs,
                  .sub_count = 4,
                  .timeout_ms = 5000 },
        .outbox = &ob,
        .version = v311 ? TERN_MQTT_PROTO_V311 : TERN_MQTT_PROTO_V5,
        .qos = 1,
        .bulk_max_cost = TERN_LINK_COST_FREE,
        .bulk_stable_ms = (uint32_t)stable,
        .scratch = scratch,
        .scratch_size = sizeof scratch,
        .on_event = on_event,
        .user = &d,
    };
    uc.connect.client_id.ptr = (const uint8_t *)d.id;
    uc.connect.client_id.len = strlen(d.id);
    uc.connect.keep_alive = 5;
    if (!v311) {
        uc.connect.props.present = TERN_MQTT_HAS_SESSION_EXPIRY;
        uc.connect.props.session_expiry = 600;
    }
    if (user != NULL) { /* a broker that checks passwords (ternd --gen-broker-conf) */
        uc.connect.has_username = true;
        uc.connect.username = (tern_mqtt_view_t){ (const uint8_t *)user, strlen(user) };
        if (pass != NULL) {
            uc.connect.has_password = true;
            uc.connect.password = (tern_mqtt_view_t){ (const uint8_t *)pass, strlen(pass) };
        }
    }
    if (d.wire) { /* the broker says offline for a device that vanishes: {1: false}, retained */
        static const uint8_t offline[] = { 0xa1, TERN_WIRE_P_ONLINE, 0xf4 };
        uc.connect.has_will = true;
        uc.connect.will.topic =
            (tern_mqtt_view_t){ (const uint8_t *)d.topic_presence, strlen(d.topic_presence) };
        uc.connect.will.payload = (tern_mqtt_view_t){ offline, sizeof offline };
        uc.connect.will.qos = 1;
        uc.connect.will.retain = true;
    }
    if (err == TERN_OK) {
        err = tern_uplink_init(&d.up, &uc);
    }
    if (err != TERN_OK) {
        fprintf(stderr, "device %s: %s\n", d.id, tern_strerror(err));
        tern_posix_board_close(&board);
        return 1;
    }
    printf("device %s: outbox %s mounted, %lu records waiting, next sequence %u\n", d.id, file,
           (unsigned long)tern_uplink_backlog(&d.up), (unsigned)tern_outbox_next_seq(&ob));

    tern_mqtt_sub_t sub[4] = {
        { { (const uint8_t *)d.topic_cmd, strlen(d.topic_cmd) }, 1 },
        { { (const uint8_t *)d.topic_desired, strlen(d.topic_desired) }, 1 },
    };
    size_t nsub = d.wire ? 2 : 1;
    if (secure) {
        nsub += secure_subs(&sec, sub + nsub);
    }
    bool subscribed = false;
    /* -B: readings into compact batches; each batch an outbox record like any message */
    static uint8_t sbuf[3][96], tscratch[MAX_PAYLOAD - 64];
    static tern_tsb_series_t series[3];
    static tern_telemetry_t tel;
    series[0] = (tern_tsb_series_t){ .name = "n",
                                     .kind = TERN_TSB_NUM,
                                     .scale = 0,
                                     .period_ms = (uint32_t)period,
                                     .buf = sbuf[0],
                                     .cap = 96 };
    series[1] = (tern_tsb_series_t){ .name = "temp",
                                     .unit = "Cel",
                                     .kind = TERN_TSB_NUM,
                                     .scale = -2,
                                     .period_ms = (uint32_t)period,
                                     .buf = sbuf[1],
                                     .cap = 96 };
    series[2] = (tern_tsb_series_t){ .name = "door",
                                     .kind = TERN_TSB_BOOL,
                                     .period_ms = (uint32_t)period,
                                     .buf = sbuf[2],
                                     .cap = 96 };
    char bn[80];
    snprintf(bn, sizeof bn, "urn:dev:tern:%s:", d.id);
    tern_telemetry_config_t tc = { .series = series,
                                   .n = 3,
                                   .base_name = bn,
                                   .topic = d.topic_tele,
                                   .scratch = tscratch,
                                   .scratch_size = sizeof tscratch,
                                   .max_age_ms = (uint32_t)batch_s * 1000u,
                                   .prio = TERN_OUTBOX_NORMAL,
                                   .sink = to_outbox,
                                   .sink_ctx = &d };
    if (batch_s > 0 && per_tick == 1) {
        err = tern_telemetry_init(&tel, &tc);
    }
    struct timespec wall;
    clock_gettime(CLOCK_REALTIME, &wall);
    uint64_t wall0 = (uint64_t)wall.tv_sec * 1000u + (uint64_t)wall.tv_nsec / 1000000u;
    long taken = 0;
    tern_ms_t start = tern_clock_now(&hal->clock), next = start;
    while (err == TERN_OK && !d.stop) {
        tern_ms_t now = tern_clock_now(&hal->clock);
        if (g_cut) {
            g_cut = 0;
            fault(&d, 0, TERN_POSIX_FAULTY_CUT, 0);
        }
        if (g_heal) {
            g_heal = 0;
            fault(&d, 0, TERN_POSIX_FAULTY_PASS, 0);
        }
        if ((count < 0 || taken < count) && tern_deadline_passed(now, next)) {
            if (batch_s > 0) { /* one reading a tick, into the batch */
                uint32_t r = 0;
                (void)tern_rng_uniform(&hal->rng, 200, &r);
                uint64_t t = wall0 + (uint64_t)taken * (uint64_t)period; /* its sample time */
                double temp = 20 + r / 100.0;
                err = tern_telemetry_num(&tel, 0, t, (double)taken, now);
                if (err == TERN_OK) {
                    err = alerts && taken % 10 == 9 ? tern_telemetry_alert(&tel, 1, t, temp, now)
                                                    : tern_telemetry_num(&tel, 1, t, temp, now);
                }
                if (err == TERN_OK) {
                    err = tern_telemetry_bool(&tel, 2, t, (taken / 25) % 2 == 1, now);
                }
                taken++;
            }
            for (long i = 0;
                 batch_s == 0 && i < per_tick && (count < 0 || taken < count) && err == TERN_OK;
                 i++) {
                char body[96];
                uint32_t r = 0, seq = 0;
                (void)tern_rng_uniform(&hal->rng, 200, &r);
                int n = snprintf(body, sizeof body, "{\"n\":%ld,\"temp_c\":%u.%02u}", taken,
                                 (unsigned)(20 + r / 100), (unsigned)(r % 100));
                err = tern_uplink_send(&d.up, TERN_OUTBOX_NORMAL, d.topic_tele, body, (size_t)n,
                                       false, &seq);
                if (err == TERN_OK && alerts && taken % 10 == 9) {
                    err = tern_uplink_send(&d.up, TERN_OUTBOX_CRITICAL, d.topic_alert, body,
                                           (size_t)n, false, NULL);
                }
                if (err == TERN_OK && history) {
                    err = tern_uplink_send(&d.up, TERN_OUTBOX_BULK, d.topic_hist, body, (size_t)n,
                                           false, NULL);
                }
                if (err == TERN_OK && !d.quiet) {
                    printf("device %s: reading %ld queued as record %u\n", d.id, taken,
                           (unsigned)seq);
                }
                taken++;
            }
            next = tern_deadline_in(next, (uint32_t)period);
            if (tern_time_before(next, now)) {
                next = now; /* fell behind (a slow flash): do not burst to catch up */
            }
        }
        if (err == TERN_OK && batch_s > 0) {
            err = tern_telemetry_poll(&tel, tern_clock_now(&hal->clock));
        }
        if (err == TERN_OK && secure_quarantined(&sec)) {
            /* the main broker is off limits: only the quarantine session runs (the outbox
             * keeps what is taken meanwhile) */
            if (tern_link_active(&mgr) != NULL) {
                tern_link_close_all(&mgr);
                (void)tern_uplink_poll(&d.up, tern_clock_now(&hal->clock));
            }
            uint32_t wait_ms = secure_quarantine(&sec, tern_clock_now(&hal->clock));
            now = tern_clock_now(&hal->clock);
            if (limit_s > 0 && tern_time_elapsed(now, start) >= (uint32_t)limit_s * 1000u) {
                printf("device %s: time limit reached\n", d.id);
                break;
            }
            tern_posix_link_wait(sec.q_started ? &sec.qlink : NULL,
                                 sec.q_up && tern_mqtt_want_write(&sec.qm),
                                 wait_ms > 200 ? 200 : wait_ms);
            continue;
        }
        if (err == TERN_OK) {
            err = tern_uplink_poll(&d.up, tern_clock_now(&hal->clock));
        }
        if (err == TERN_OK) {
            err = secure_poll(&sec, &d.up, tern_clock_now(&hal->clock));
        }
        if (err == TERN_OK && !subscribed && tern_uplink_online(&d.up)) {
            tern_err_t se = tern_mqtt_subscribe(tern_uplink_mqtt(&d.up), sub, nsub, 0, NULL);
            subscribed = se == TERN_OK;
        }
        if (err == TERN_OK && d.wire && subscribed && tern_uplink_online(&d.up)) {
            twin_send(&d);
        }
        if (count >= 0 && taken >= count && tern_uplink_backlog(&d.up) == 0) {
            break; /* all taken, all acknowledged */
        }
        now = tern_clock_now(&hal->clock);
        if (limit_s > 0 && tern_time_elapsed(now, start) >= (uint32_t)limit_s * 1000u) {
            printf("device %s: time limit reached\n", d.id);
            break;
        }
        /* sleep until the socket moves, a timer is due or the next tick */
        uint32_t wait_ms = tern_uplink_next_timeout(&d.up, now);
        if (count < 0 || taken < count) {
            uint32_t tick = tern_deadline_remaining(now, next);
            wait_ms = tick < wait_ms ? tick : wait_ms;
        }
        wait_ms = wait_ms > 1000 ? 1000 : wait_ms;
        const tern_link_t *act = tern_link_active(&mgr);
        tern_posix_link_wait(act ? act->ctx : NULL, tern_mqtt_want_write(tern_uplink_mqtt(&d.up)),
                             wait_ms);
    }
    if (err == TERN_OK && batch_s > 0) {
        err = tern_telemetry_flush(&tel, TERN_OUTBOX_NORMAL); /* the last readings */
    }
    if (err == TERN_OK && (d.stop || batch_s > 0)) {
        /* let what is queued (the reply to "stop" at least) leave first, for up to 3 s */
        tern_ms_t until = tern_deadline_in(tern_clock_now(&hal->clock), 3000);
        while (err == TERN_OK && tern_uplink_backlog(&d.up) > 0 &&
               !tern_deadline_passed(tern_clock_now(&hal->clock), until)) {
            err = tern_uplink_poll(&d.up, tern_clock_now(&hal->clock));
            const tern_link_t *act = tern_link_active(&mgr);
            tern_posix_link_wait(act ? act->ctx : NULL, false, 20);
        }
    }
    unsigned long backlog = tern_uplink_backlog(&d.up);
    if (err == TERN_OK && tern_uplink_online(&d.up) &&
        tern_mqtt_disconnect(tern_uplink_mqtt(&d.up), 0, NULL) == TERN_OK) {
        (void)tern_uplink_poll(&d.up, tern_clock_now(&hal->clock)); /* the DISCONNECT goes out */
    }
    tern_link_close_all(&mgr);
    secure_close(&sec);
    tern_posix_board_close(&board);
    if (err != TERN_OK) {
        fprintf(stderr, "device %s: %s\n", d.id, tern_strerror(err));
        return 1;
    }
    printf("device %s: stopped: %ld readings taken, %lu delivered, %lu rejected, %lu evicted, "
           "%lu still queued\n",
           d.id, taken, d.delivered, d.rejected, d.evicted, backlog);
    return backlog == 0 || d.stop ? 0 : 1;
}
