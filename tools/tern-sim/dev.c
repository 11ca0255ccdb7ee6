/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One simulated device: the SDK wired as examples/device/device.c wires it in its -B
 * mode (the wire contract of tern/wire.h), on a RAM flash, its own clock and RNG, and
 * the simulator's link. Telemetry is one compact batch per period through the uplink;
 * presence is retained on every connect with the offline will; the twin takes
 * tern/<id>/twin/desired, says hello on every connect and reports what it applied.
 */
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>

#include "sim.h"
#include "tern/cbor.h"
#include "tern/tsbatch.h"
#include "tern/version.h"
#include "tern/wire.h"

#define PROG_SIZE 4u /* the flash's program unit (outbox: divides 4; twin: divides 32) */

/* The longest id the prefix gives: the prefix and six digits (more for big indexes). */
static size_t id_max(void)
{
    size_t digits = 6;
    for (uint32_t n = S.cfg.devices / 1000000u; n > 0; n /= 10) {
        digits++;
    }
    return strlen(S.cfg.prefix) + digits;
}

static size_t round_up(size_t v, size_t a)
{
    return (v + a - 1) / a * a;
}

/* The readings a batch needs to come near cfg.payload bytes, by encoding one. */
static void size_batch(void)
{
    static uint8_t buf[4096];
    char bn[sizeof "urn:dev:tern::" + TERN_WIRE_ID_MAX];
    size_t idl = id_max();
    memcpy(bn, "urn:dev:tern:", 13);
    memset(bn + 13, 'x', idl);
    bn[13 + idl] = ':';
    bn[14 + idl] = '\0';
    uint32_t period = S.cfg.period_ms ? S.cfg.period_ms : 1000u;
    tern_tsb_series_t s = { .name = "v", .unit = "Cel", .kind = TERN_TSB_NUM, .scale = -2 };
    s.buf = buf;
    s.cap = sizeof buf;
    uint32_t k = 0;
    uint64_t t = 1700000000000ull;
    /* a sample every period/k would change the timing, not the bytes: use 1 s here */
    s.period_ms = 1000;
    do {
        (void)tern_tsb_add_num(&s, t + (uint64_t)k * 1000u, 29.99 + (k & 1 ? 0.03 : -0.03));
        k++;
    } while (tern_tsb_size(bn, &s, 1) < S.cfg.payload && k < 2000 && k < period);
    S.readings_per_tick = k;
    S.sample_ms = period / k;
    /* the series' own buffer: its encoded samples (a first value of up to 9 bytes, then
     * deltas of 1 to 3 bytes), with room to spare */
    S.series_cap = (uint32_t)round_up(s.len + 16, 8);
    S.tele_scratch_size = round_up(tern_tsb_size(bn, &s, 1) + 24, 8);
}

bool sim_layout(void)
{
    size_t idl = id_max();
    char probe[TERN_WIRE_ID_MAX + 8];
    snprintf(probe, sizeof probe, "%s0", S.cfg.prefix);
    if (idl > TERN_WIRE_ID_MAX || !tern_wire_id_ok(probe, strlen(probe))) {
        fprintf(stderr, "tern-sim: prefix \"%s\" gives bad device ids\n", S.cfg.prefix);
        return false;
    }
    size_batch();
    /* Records: {flags, topic length, topic, payload}; the longest topic is
     * tern/<id>/twin/reported. A twin report carries at most the state (whose entries
     * also hold a version each) and two versions. */
    S.twin_buf_size = S.cfg.twin_state + 16;
    size_t topic = strlen(TERN_WIRE_PREFIX) + idl + strlen("/twin/reported");
    size_t body = S.tele_scratch_size;
    if (S.twin_buf_size > body) {
        body = S.twin_buf_size;
    }
    if (64 > body) {
        body = 64; /* presence */
    }
    size_t maxp = TERN_UPLINK_RECORD_OVERHEAD + topic + body;
    if (S.cfg.inflight * sizeof(tern_mqtt_inflight_t) > maxp) {
        maxp = S.cfg.inflight * sizeof(tern_mqtt_inflight_t);
    }
    S.max_payload = (uint32_t)maxp;
    size_t slot = round_up(TERN_OUTBOX_RECORD_OVERHEAD + maxp, 4);
    if (slot + TERN_OUTBOX_SECTOR_HEADER > S.cfg.sector || S.cfg.outbox_sectors < 3 ||
        S.cfg.twin_state + 32 > S.cfg.sector) {
        fprintf(stderr,
                "tern-sim: an outbox record of %zu bytes (payload %u, twin state %u) does not "
                "fit a %u-byte sector; give --sector more, or --payload/--twin-state less "
                "(and --outbox-sectors at least 3)\n",
                slot, S.cfg.payload, S.cfg.twin_state, S.cfg.sector);
        return false;
    }
    /* a PUBLISH: fixed header, topic, packet id, the seq property, the payload */
    if (S.cfg.tx < maxp + 32) {
        fprintf(stderr, "tern-sim: --tx %u cannot hold a PUBLISH of a %zu-byte record; give %zu\n",
                S.cfg.tx, maxp, maxp + 32);
        return false;
    }
    S.uplink_scratch_size = TERN_UPLINK_SCRATCH(maxp);
    S.flash_size = (S.cfg.outbox_sectors + 2) * S.cfg.sector;

    size_t off = round_up(sizeof(sim_dev_t), 16);
    S.off_tx = off;
    off = round_up(off + S.cfg.tx, 8);
    S.off_rx = off;
    off = round_up(off + S.cfg.rx, 8);
    S.off_inflight = off;
    off = round_up(off + S.cfg.inflight * sizeof(tern_mqtt_inflight_t), 8);
    S.off_flash = off;
    off = round_up(off + S.flash_size, 8);
    S.off_erase = off;
    off = round_up(off + (S.cfg.outbox_sectors + 2) * sizeof(uint32_t), 8);
    S.off_twin = off;
    off = round_up(off + S.cfg.twin_state, 8);
    S.off_series = off;
    off = round_up(off + S.series_cap, 8);
    S.off_str = off;
    /* tern/<id>/presence, tern/<id>/twin/desired, urn:dev:tern:<id>: */
    S.str_presence = 0;
    S.str_desired = (uint32_t)(5 + idl + 9 + 1);
    S.str_bn = S.str_desired + (uint32_t)(5 + idl + 13 + 1);
    off += S.str_bn + 13 + idl + 2;
    S.stride = round_up(off, 64);
    return true;
}

size_t sim_sdk_struct_bytes(void)
{
    const sim_dev_t *d = NULL;
    (void)d;
    return sizeof d->up + sizeof d->ob + sizeof d->mgr + sizeof d->lk + sizeof d->bo +
           sizeof d->twin + sizeof d->tel + sizeof d->series + sizeof d->nor + sizeof d->ob_part +
           sizeof d->tw_part + sizeof d->clk + sizeof d->prng + sizeof d->sub;
}

size_t sim_sdk_buffer_bytes(void)
{
    return S.cfg.tx + S.cfg.rx + S.cfg.inflight * sizeof(tern_mqtt_inflight_t) + S.flash_size +
           (S.cfg.outbox_sectors + 2) * sizeof(uint32_t) + S.cfg.twin_state + S.series_cap;
}

static const char *dev_id(const sim_dev_t *d)
{
    return dev_str(d, S.str_presence) + 5; /* "tern/<id>/..." */
}

static void topic_of(const sim_dev_t *d, char *buf, size_t cap, const char *kind)
{
    snprintf(buf, cap, "tern/%.*s/%s", (int)d->idlen, dev_id(d), kind);
}

/* ------------------------------------------------------------- accounting -- */

static void twin_recount(void)
{
    S.twin_applied_n = S.twin_reported_n = 0;
    for (uint32_t i = 0; i < S.started; i++) {
        const sim_dev_t *d = sim_dev(i);
        S.twin_applied_n += tern_twin_applied(&d->twin) >= S.twin_max;
        S.twin_reported_n += d->twin_acked_applied >= S.twin_max;
    }
}

static void twin_thresholds(void)
{
    uint64_t n = S.cfg.devices;
    if (S.t_twin99 < 0 && S.twin_reported_n * 100 >= n * 99) {
        S.t_twin99 = sim_elapsed();
    }
    if (S.t_twin100 < 0 && S.twin_reported_n >= n) {
        S.t_twin100 = sim_elapsed();
    }
}

/* Device @p d applied desired version @p v (was @p before). */
static void twin_applied(uint32_t before, uint32_t v)
{
    if (v > S.twin_max) {
        S.twin_max = v;
        S.t_twin_first = sim_elapsed();
        S.t_twin99 = S.t_twin100 = -1;
        twin_recount();
    } else if (before < S.twin_max && v >= S.twin_max) {
        S.twin_applied_n++;
    }
}

static void twin_acked(sim_dev_t *d, uint32_t applied)
{
    if (applied <= d->twin_acked_applied) {
        return;
    }
    uint32_t before = d->twin_acked_applied;
    d->twin_acked_applied = applied;
    if (S.twin_max > 0 && before < S.twin_max && applied >= S.twin_max) {
        S.twin_reported_n++;
        twin_thresholds();
    }
}

static bool key_match(const sim_dev_t *d)
{
    return (d->flags & DF_KEY_SET) && S.key_ver > 0 && d->key_hash == S.key_hash;
}

static void key_recount(void)
{
    S.key_applied_n = 0;
    for (uint32_t i = 0; i < S.started; i++) {
        S.key_applied_n += key_match(sim_dev(i));
    }
}

static uint32_t fnv1a(const uint8_t *p, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) {
        h = (h ^ p[i]) * 16777619u;
    }
    return h;
}

/* ------------------------------------------------------------------- twin -- */

/* Every desired key is accepted as it comes (a real device would apply it); the one
 * --twin-key names is remembered, hashed, to count who runs its newest value. */
static tern_err_t twin_accept(void *ctx, const char *key, size_t key_len, const uint8_t *value,
                              size_t len, bool deleted)
{
    sim_dev_t *d = ctx;
    if (S.cfg.twin_key[0] != '\0' && key_len == strlen(S.cfg.twin_key) &&
        memcmp(key, S.cfg.twin_key, key_len) == 0) {
        d->key_hash = deleted ? 0 : fnv1a(value, len);
        d->key_ver = UINT32_MAX; /* this delta's version, set once it is applied */
    }
    return TERN_OK;
}

static void on_delta(sim_dev_t *d, const tern_mqtt_publish_t *m)
{
    uint32_t before = tern_twin_applied(&d->twin);
    bool had_key = key_match(d);
    tern_twin_outcome_t out = TERN_TWIN_APPLIED;
    tern_err_t e = tern_twin_on_delta(&d->twin, m->payload.ptr, m->payload.len, &out);
    uint32_t v = tern_twin_applied(&d->twin);
    if (d->key_ver == UINT32_MAX) {
        d->key_ver = v;
        d->flags |= DF_KEY_SET;
        if (v > S.key_ver) {
            S.key_ver = v;
            S.key_hash = d->key_hash;
            key_recount();
        } else {
            S.key_applied_n += (uint64_t)key_match(d) - (uint64_t)had_key;
        }
    }
    if ((e == TERN_OK || e == TERN_ERR_TOO_SMALL) && v != before) {
        twin_applied(before, v);
    }
    d->flags |= DF_REPOLL; /* a report to send */
}

/* Send what the twin owes: a hello on connect, then the changes not yet acknowledged. */
static void twin_send(sim_dev_t *d)
{
    unsigned wants = tern_twin_wants(&d->twin);
    bool hello = (d->flags & DF_HELLO) != 0;
    bool report = (wants & (TERN_TWIN_WANT_REPORT | TERN_TWIN_WANT_HELLO)) ||
                  (hello && (wants & TERN_TWIN_UNACKED));
    if (!hello && !report) {
        return;
    }
    size_t len = 0;
    uint32_t ver = 0, rec = 0;
    tern_err_t e =
        report ? tern_twin_build_report(&d->twin, S.twin_buf, S.twin_buf_size, &len, false, &ver)
               : tern_twin_build_hello(&d->twin, S.twin_buf, S.twin_buf_size, &len);
    char topic[TERN_WIRE_TOPIC_MAX];
    topic_of(d, topic, sizeof topic, "twin/reported");
    if (e == TERN_OK) {
        e = tern_uplink_send(&d->up, TERN_OUTBOX_CRITICAL, topic, S.twin_buf, len, false, &rec);
    }
    if (e != TERN_OK) {
        S.send_errors++;
        return;
    }
    S.ctl_sent++;
    d->flags &= ~DF_HELLO;
    d->flags |= DF_REPOLL;
    if (report) {
        d->flags |= DF_REP_PEND;
        d->twin_rep_rec = rec;
        d->twin_rep_ver = ver;
        d->twin_rep_applied = tern_twin_applied(&d->twin);
    } else {
        d->flags |= DF_HELLO_PEND;
        d->twin_hello_rec = rec;
        d->twin_hello_applied = tern_twin_applied(&d->twin);
    }
}

/* ---------------------------------------------------------------- presence -- */

/* The presence map of tern/wire.h, retained (its will, {1: false}, is in the CONNECT). */
static void birth(sim_dev_t *d)
{
    uint8_t buf[64];
    size_t len = 0;
    tern_cbor_enc_t e;
    tern_cbor_enc_init(&e, buf, sizeof buf, 0);
    tern_cbor_enc_map(&e, 4);
    tern_cbor_enc_uint(&e, TERN_WIRE_P_ONLINE);
    tern_cbor_enc_bool(&e, true);
    tern_cbor_enc_uint(&e, TERN_WIRE_P_FW);
    tern_cbor_enc_str(&e, "tern-sim " TERN_VERSION_STRING);
    tern_cbor_enc_uint(&e, TERN_WIRE_P_LINK);
    tern_cbor_enc_str(&e, d->lk.name);
    tern_cbor_enc_uint(&e, TERN_WIRE_P_SEQ);
    tern_cbor_enc_uint(&e, tern_outbox_next_seq(&d->ob));
    tern_err_t err = tern_cbor_enc_finish(&e, &len);
    char topic[TERN_WIRE_TOPIC_MAX];
    topic_of(d, topic, sizeof topic, "presence");
    if (err == TERN_OK) {
        err = tern_uplink_send(&d->up, TERN_OUTBOX_CRITICAL, topic, buf, len, true, NULL);
    }
    if (err != TERN_OK) {
        S.send_errors++;
        return;
    }
    S.ctl_sent++;
}

/* ------------------------------------------------------------------ events -- */

static bool mqtt_refusal(tern_err_t e)
{
    return e <= -(256 + 0x80) && e >= -(256 + 0xFF);
}

/* A record left the outbox: telemetry if the NORMAL count went down, else presence/twin. */
static void left_outbox(sim_dev_t *d, uint32_t seq, bool delivered)
{
    uint32_t live = tern_outbox_count(&d->ob, TERN_OUTBOX_NORMAL);
    if (live < d->normal_live) {
        d->normal_live = live;
        if (delivered) {
            d->tele_acked++;
            S.tele_acked++;
        } else {
            d->rejected++;
            S.rejected++;
        }
        return;
    }
    if (!delivered) {
        S.rejected++;
        return;
    }
    S.ctl_acked++;
    if ((d->flags & DF_REP_PEND) && seq == d->twin_rep_rec) {
        (void)tern_twin_report_sent(&d->twin, d->twin_rep_ver); /* ternd has it */
        d->flags &= ~DF_REP_PEND;
        twin_acked(d, d->twin_rep_applied);
    } else if ((d->flags & DF_HELLO_PEND) && seq == d->twin_hello_rec) {
        d->flags &= ~DF_HELLO_PEND;
        twin_acked(d, d->twin_hello_applied);
    }
}

static void on_event(void *user, const tern_uplink_event_t *ev)
{
    sim_dev_t *d = user;
    switch (ev->type) {
    case TERN_UPLINK_EV_LINK:
        if (ev->link_ev->type == TERN_LINK_EVENT_UP) {
            d->flags |= DF_CONNECTING;
        }
        break;
    case TERN_UPLINK_EV_ONLINE:
        d->flags = (d->flags & ~DF_CONNECTING) | DF_ONLINE | DF_HELLO;
        S.connects++;
        S.iv_connects++;
        S.online++;
        sim_online_changed();
        birth(d);
        break;
    case TERN_UPLINK_EV_OFFLINE:
        if (d->flags & DF_ONLINE) {
            S.online--;
            S.drops++;
            S.iv_drops++;
            sim_online_changed();
        } else if ((d->flags & DF_CONNECTING) && mqtt_refusal(ev->err)) {
            S.connack_refused++;
            S.iv_connack_refused++;
        }
        d->flags &= ~(DF_ONLINE | DF_CONNECTING);
        /* the failure is handed to the link manager for its next poll, and
         * tern_uplink_next_timeout() does not say so: poll again now */
        d->flags |= DF_REPOLL;
        break;
    case TERN_UPLINK_EV_DELIVERED:
        left_outbox(d, ev->seq, true);
        break;
    case TERN_UPLINK_EV_REJECTED:
        left_outbox(d, ev->seq, false);
        break;
    case TERN_UPLINK_EV_MQTT:
        if (ev->mqtt->type == TERN_MQTT_EV_MESSAGE && ev->mqtt->offset == 0 &&
            ev->mqtt->total == ev->mqtt->msg->payload.len) {
            const tern_mqtt_publish_t *m = ev->mqtt->msg;
            const char *want = dev_str(d, S.str_desired);
            if (m->topic.len == strlen(want) && memcmp(m->topic.ptr, want, m->topic.len) == 0) {
                on_delta(d, m);
            }
        }
        break;
    }
}

static void on_evict(void *user, uint32_t seq, tern_outbox_prio_t prio)
{
    sim_dev_t *d = user;
    (void)seq;
    S.evicted++;
    if (prio == TERN_OUTBOX_NORMAL) {
        d->evicted++;
        d->normal_live--;
    }
}

/* Where telemetry batches go: the outbox, through the uplink, like any message. */
static tern_err_t to_outbox(void *ctx, tern_outbox_prio_t prio, const char *topic_unused,
                            const uint8_t *batch, size_t len)
{
    sim_dev_t *d = ctx;
    (void)topic_unused;
    char topic[TERN_WIRE_TOPIC_MAX];
    topic_of(d, topic, sizeof topic, "telemetry");
    uint32_t seq = 0;
    tern_err_t e = tern_uplink_send(&d->up, prio, topic, batch, len, false, &seq);
    if (e != TERN_OK) {
        S.send_errors++;
        return e;
    }
    if (d->tele_sent == 0) {
        d->first_seq = seq;
    }
    d->last_seq = seq;
    d->tele_sent++;
    S.tele_sent++;
    if (prio == TERN_OUTBOX_NORMAL) {
        d->normal_live++;
    }
    return TERN_OK;
}

/* One period's readings (a random walk around 20 degC, a sample every sample_ms up to
 * now), then the batch goes at once: one message per period. */
static void take_readings(sim_dev_t *d, tern_ms_t now)
{
    tern_clock_t clk = tern_posix_clock_hal(&d->clk);
    uint64_t wall = (uint64_t)tern_clock_wall(&clk).unix_ms;
    uint32_t k = S.readings_per_tick;
    tern_err_t e = TERN_OK;
    for (uint32_t i = 0; i < k && e == TERN_OK; i++) {
        uint32_t r = tern_posix_prng_next(&d->prng);
        d->walk += (int32_t)(r % 7u) - 3;
        d->walk = d->walk > 1000 ? 1000 : d->walk < -1000 ? -1000 : d->walk;
        uint64_t t = wall - (uint64_t)(k - 1 - i) * S.sample_ms;
        e = tern_telemetry_num(&d->tel, 0, t, 20.0 + d->walk / 100.0, now);
    }
    if (e == TERN_OK) {
        e = tern_telemetry_flush(&d->tel, TERN_OUTBOX_NORMAL);
    }
    if (e != TERN_OK) {
        tern_tsb_reset(&d->series); /* counted by the sink; start the next batch clean */
    }
    d->next_tick = tern_deadline_in(d->next_tick, S.cfg.period_ms);
    if (tern_time_before(d->next_tick, now)) {
        d->next_tick = now; /* fell behind: do not burst to catch up */
    }
}

/* ------------------------------------------------------------------- start -- */

static uint64_t splitmix(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

tern_err_t sim_dev_start(sim_dev_t *d, uint32_t idx)
{
    memset(d, 0, sizeof *d);
    d->idx = idx;
    sim_link_init(&d->link);
    /* strings: tern/<id>/presence, tern/<id>/twin/desired, urn:dev:tern:<id>: */
    char id[TERN_WIRE_ID_MAX + 1];
    int n = snprintf(id, sizeof id, "%s%06u", S.cfg.prefix, (unsigned)idx);
    d->idlen = (uint8_t)n;
    char *str = (char *)dev_area(d, S.off_str);
    sprintf(str + S.str_presence, "tern/%s/presence", id);
    sprintf(str + S.str_desired, "tern/%s/twin/desired", id);
    sprintf(str + S.str_bn, "urn:dev:tern:%s:", id);

    /* its RNG, seeded from the run's seed and its id; its clock at a random uptime */
    uint64_t x = S.cfg.seed ^ ((uint64_t)fnv1a((const uint8_t *)id, (size_t)n) << 32);
    tern_posix_prng_init(&d->prng, splitmix(&x));
    tern_posix_clock_init(&d->clk, tern_posix_prng_next(&d->prng));
    tern_rng_t rng = tern_posix_prng_hal(&d->prng);
    tern_clock_t clk = tern_posix_clock_hal(&d->clk);

    /* its flash: the outbox, then the twin's two sectors */
    tern_norsim_config_t nc = { .size = S.flash_size,
                                .sector_size = S.cfg.sector,
                                .prog_size = PROG_SIZE,
                                .seed = splitmix(&x) };
    tern_err_t e = tern_norsim_init(&d->nor, &nc, dev_area(d, S.off_flash),
                                    (uint32_t *)(void *)dev_area(d, S.off_erase));
    if (e != TERN_OK) {
        return e;
    }
    tern_norsim_format(&d->nor);
    tern_flash_t whole = tern_norsim_flash(&d->nor), obf, twf;
    uint32_t ob_size = S.cfg.outbox_sectors * S.cfg.sector;
    e = tern_flash_partition(&whole, 0, ob_size, &d->ob_part, &obf);
    if (e == TERN_OK) {
        e = tern_flash_partition(&whole, ob_size, 2 * S.cfg.sector, &d->tw_part, &twf);
    }
    if (e == TERN_OK) {
        tern_twin_config_t tw = { .flash = twf,
                                  .state_buf = dev_area(d, S.off_twin),
                                  .state_cap = S.cfg.twin_state,
                                  .default_handler = twin_accept,
                                  .ctx = d };
        e = tern_twin_mount(&d->twin, &tw);
    }
    if (e == TERN_OK) {
        tern_outbox_config_t oc = { obf, (uint16_t)S.max_payload, on_evict, d };
        e = tern_outbox_mount(&d->ob, &oc);
    }
    /* one link, on the run's backoff policy */
    if (e == TERN_OK) {
        e = tern_backoff_init(&d->bo, &S.boc, &rng);
    }
    if (e == TERN_OK) {
        d->lk = (tern_link_t){ .name = "sim0",
                               .kind = TERN_LINK_ETHERNET,
                               .cost = TERN_LINK_COST_FREE,
                               .mtu = 1500,
                               .rank = 0,
                               .ops = &sim_link_ops,
                               .ctx = &d->link,
                               .backoff = &d->bo };
        tern_link_config_t lc = { S.cfg.stable_ms, NULL, NULL };
        e = tern_link_init(&d->mgr, &d->lk, 1, &lc);
    }
    /* the session: never a clean start, kept by the broker for session_expiry */
    if (e == TERN_OK) {
        static const uint8_t offline[] = { 0xa1, TERN_WIRE_P_ONLINE, 0xf4 };
        const char *pres = dev_str(d, S.str_presence);
        tern_uplink_config_t uc = {
            .links = &d->mgr,
            .mqtt = { .tx = dev_area(d, S.off_tx),
                      .rx = dev_area(d, S.off_rx),
                      .tx_size = S.cfg.tx,
                      .rx_size = S.cfg.rx,
                      .inflight = (tern_mqtt_inflight_t *)(void *)dev_area(d, S.off_inflight),
                      .inflight_count = S.cfg.inflight,
                      .receive_max = 1, /* ternd sends QoS 1: one record kept for QoS 2 */
                      .subs = &d->sub,
                      .sub_count = 1,
                      .timeout_ms = S.cfg.connack_timeout_ms },
            .outbox = &d->ob,
            .version = TERN_MQTT_PROTO_V5,
            .qos = 1,
            .bulk_max_cost = TERN_LINK_COST_FREE,
            .scratch = S.uplink_scratch,
            .scratch_size = S.uplink_scratch_size,
            .on_event = on_event,
            .user = d,
        };
        uc.connect.client_id = (tern_mqtt_view_t){ (const uint8_t *)pres + 5, d->idlen };
        uc.connect.keep_alive = (uint16_t)S.cfg.keep_alive;
        uc.connect.props.present = TERN_MQTT_HAS_SESSION_EXPIRY;
        uc.connect.props.session_expiry = S.cfg.session_expiry;
        uc.connect.has_will = true;
        uc.connect.will.topic = (tern_mqtt_view_t){ (const uint8_t *)pres, strlen(pres) };
        uc.connect.will.payload = (tern_mqtt_view_t){ offline, sizeof offline };
        uc.connect.will.qos = 1;
        uc.connect.will.retain = true;
        if (S.cfg.password[0] != '\0') { /* a broker that checks them (ternd --gen-broker-conf) */
            uc.connect.has_username = true;
            uc.connect.username = uc.connect.client_id;
            uc.connect.has_password = true;
            uc.connect.password =
                (tern_mqtt_view_t){ (const uint8_t *)S.cfg.password, strlen(S.cfg.password) };
        }
        e = tern_uplink_init(&d->up, &uc);
    }
    /* telemetry: one series, one batch a period */
    if (e == TERN_OK) {
        d->series = (tern_tsb_series_t){ .name = "v",
                                         .unit = "Cel",
                                         .kind = TERN_TSB_NUM,
                                         .scale = -2,
                                         .period_ms = S.sample_ms,
                                         .buf = dev_area(d, S.off_series),
                                         .cap = S.series_cap };
        tern_telemetry_config_t tc = { .series = &d->series,
                                       .n = 1,
                                       .base_name = dev_str(d, S.str_bn),
                                       .topic = "telemetry", /* the sink builds the topic */
                                       .scratch = S.tele_scratch,
                                       .scratch_size = S.tele_scratch_size,
                                       .max_age_ms = S.cfg.period_ms ? S.cfg.period_ms : 60000,
                                       .prio = TERN_OUTBOX_NORMAL,
                                       .sink = to_outbox,
                                       .sink_ctx = d };
        e = tern_telemetry_init(&d->tel, &tc);
    }
    if (e != TERN_OK) {
        return e;
    }
    d->sub.sub.filter.len = 0;
    tern_ms_t now = tern_clock_now(&clk);
    /* the first reading at a random point of the first period: no lockstep */
    d->next_tick = tern_deadline_in(
        now, S.cfg.period_ms ? tern_posix_prng_next(&d->prng) % S.cfg.period_ms : 0);
    d->flags = DF_STARTED;
    return TERN_OK;
}

/* ------------------------------------------------------------------- poll -- */

void sim_dev_poll(sim_dev_t *d)
{
    d->gen = S.gen;
    S.polls++;
    S.iv_polls++;
    if (d->flags & DF_DEAD) {
        return;
    }
    tern_clock_t clk = tern_posix_clock_hal(&d->clk);
    tern_ms_t now = tern_clock_now(&clk);
    bool reading = S.phase == PH_RUN && S.cfg.period_ms > 0;
    if (reading && tern_deadline_passed(now, d->next_tick)) {
        take_readings(d, now);
    }
    for (int round = 0; round < 4; round++) {
        d->flags &= ~DF_REPOLL;
        tern_err_t e = tern_uplink_poll(&d->up, now);
        if (e != TERN_OK) {
            S.fatal++;
            d->flags |= DF_DEAD;
            fprintf(stderr, "tern-sim: device %.*s: %s, no longer polled\n", (int)d->idlen,
                    dev_id(d), tern_strerror(e));
            sim_dev_close(d);
            return;
        }
        if (d->flags & DF_ONLINE) {
            if (!(d->flags & DF_SUBSCRIBED)) {
                const char *f = dev_str(d, S.str_desired);
                tern_mqtt_sub_t sub = { { (const uint8_t *)f, strlen(f) }, 1 };
                if (tern_mqtt_subscribe(tern_uplink_mqtt(&d->up), &sub, 1, 0, NULL) == TERN_OK) {
                    d->flags |= DF_SUBSCRIBED | DF_REPOLL;
                }
            }
            if (d->flags & DF_SUBSCRIBED) {
                twin_send(d);
            }
        }
        if (!(d->flags & DF_REPOLL)) {
            break;
        }
        now = tern_clock_now(&clk);
    }
    d->link.revents = 0;
    sim_link_want(&d->link, tern_mqtt_want_write(tern_uplink_mqtt(&d->up)));
    uint32_t wait = tern_uplink_next_timeout(&d->up, now);
    if (sim_link_connecting(&d->link)) {
        uint32_t c = tern_deadline_remaining(now, d->link.deadline);
        wait = c < wait ? c : wait;
    }
    if (reading) {
        uint32_t t = tern_deadline_remaining(now, d->next_tick);
        wait = t < wait ? t : wait;
    }
    if (d->flags & DF_REPOLL) {
        wait = 0; /* rounds ran out: the next loop iteration goes on */
    }
    if (wait > 3600000u) {
        wait = 3600000u;
    }
    sim_heap_set(d, S.now + wait);
}

void sim_dev_close(sim_dev_t *d)
{
    if (d->flags & DF_ONLINE) {
        S.online--;
        d->flags &= ~DF_ONLINE;
    }
    /* no DISCONNECT: the broker sees the socket go and sends the will */
    tern_link_close_all(&d->mgr);
}

uint32_t sim_dev_backlog(const sim_dev_t *d)
{
    return tern_uplink_backlog(&d->up);
}
