/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Power-loss sweep of the persistent outbox. A scripted workload (enqueues of
 * every priority, acks in and out of order, evictions when full, compaction,
 * in-flight snapshots and remounts) runs once clean to count its flash
 * operations N; then, for each cut point 1..N, it runs again on a fresh flash
 * with power cut at that operation (tears taken in turn: none, whole, random
 * prefixes with a random partial byte), reboots, remounts and
 * checks what a user relies on:
 *  - every record whose enqueue returned TERN_OK is there, unless acked (or
 *    reported evicted) before the cut, with its priority and exact payload;
 *  - nothing comes back that was acked, nothing is corrupt, no sequence
 *    number is returned with contents other than the ones enqueued with it,
 *    and the per-priority counts match what peek/next walk (no duplicates);
 *  - the next sequence number is above every one reported durable;
 *  - the in-flight snapshot is the last one saved (or the one being saved);
 *  - the outbox still works: one more enqueue and ack.
 * Default (`make test`): the 260-step workload, power cut once at every
 * operation, the kind of tear taken in turn. TERN_POWERLOSS_FULL=1 (`make
 * powerloss-full`): a 1,500-step workload that wraps the log many times over,
 * cut at every operation with every kind of tear. Prints
 * `powerloss outbox: <N> cut points, <M> passed`; a cut point is one
 * (operation, tear) pair.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tern/hal.h"
#include "tern/outbox.h"
#include "tern_norsim.h"

/* 4 sectors of 256 B, 24-byte payloads: 44-byte slots, 5 per sector, 15 usable. */
enum { SECTOR = 256, SECTORS = 4, SIZE = SECTOR * SECTORS, MAXP = 24 };
enum { STEPS_CI = 260, STEPS_FULL = 1500, MAX_SEQ = 8192 };

static uint32_t g_steps = STEPS_CI;
/* Sequence numbers the workload can reach: the model's loops stop there (2,048 for the CI one). */
static uint32_t g_max_seq = 2048;

typedef enum {
    S_NONE = 0,
    S_LIVE,          /* enqueue returned OK, not acked */
    S_MAYBE,         /* enqueue cut: may be present or not */
    S_ACKED,         /* ack returned OK: must be gone */
    S_ACK_MAYBE,     /* ack cut */
    S_EVICT_PENDING, /* reported evicted during the current call */
    S_EVICTED,       /* reported, and the call finished: must be gone */
} st_t;

typedef struct {
    uint8_t state, prio;
    uint16_t content;
} rec_model_t;

/* Tear of the cut operation, in turn: nothing lands, all of it lands, a random prefix (twice). */
static const uint32_t k_tears[] = { 0, 100000, TERN_NORSIM_TEAR_RANDOM, TERN_NORSIM_TEAR_RANDOM };
enum { TEARS = sizeof k_tears / sizeof k_tears[0] };

static uint8_t g_mem[SIZE];
static uint32_t g_counts[SECTORS];
static rec_model_t g_model[MAX_SEQ];
static uint32_t g_max_durable;      /* highest sequence number reported durable */
static int g_snap_ok, g_snap_maybe; /* snapshot ids: last saved, being saved (-1 none) */
static bool g_model_broken;

static void on_evict(void *user, uint32_t seq, tern_outbox_prio_t prio)
{
    (void)user;
    if (seq >= g_max_seq || g_model[seq].state != S_LIVE || g_model[seq].prio != prio ||
        prio == TERN_OUTBOX_CRITICAL) {
        g_model_broken = true;
        return;
    }
    g_model[seq].state = S_EVICT_PENDING;
}

static void settle_evictions(st_t to)
{
    for (size_t i = 0; i < g_max_seq; i++) {
        if (g_model[i].state == S_EVICT_PENDING) {
            g_model[i].state = (uint8_t)to;
        }
    }
}

static size_t make_payload(uint16_t content, uint8_t *buf)
{
    size_t len = content % (MAXP + 1);
    for (size_t i = 0; i < len; i++) {
        buf[i] = (uint8_t)(content * 13u + i * 29u + 1u);
    }
    return len;
}

static size_t make_snap(int id, tern_mqtt_inflight_t *t)
{
    size_t n = 1 + (size_t)id % 2;
    for (size_t i = 0; i < n; i++) {
        t[i] = (tern_mqtt_inflight_t){ (uint32_t)id * 10u + (uint32_t)i, (uint32_t)id,
                                       (uint16_t)(id + (int)i), 1, 0 };
    }
    return n;
}

static uint32_t rnd(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return (uint32_t)(*s >> 11);
}

static void open_flash(tern_norsim_t *sim, uint64_t seed)
{
    const tern_norsim_config_t cfg = { SIZE, SECTOR, 4, 0, 0, seed };
    (void)tern_norsim_init(sim, &cfg, g_mem, g_counts);
    tern_norsim_format(sim);
}

/* Run the script until it ends (TERN_OK) or power is lost (TERN_ERR_POWER_LOST); anything
 * else is a failure. */
static tern_err_t workload(tern_outbox_t *ob, const tern_outbox_config_t *cfg)
{
    memset(g_model, 0, sizeof g_model);
    g_max_durable = 0;
    g_snap_ok = g_snap_maybe = -1;
    g_model_broken = false;
    uint64_t r = 0x9E3779B97F4A7C15u;
    tern_err_t err = tern_outbox_mount(ob, cfg);
    for (uint32_t step = 0; err == TERN_OK && step < g_steps; step++) {
        uint32_t act = rnd(&r) % 100;
        if (act < 52) {
            uint32_t p = rnd(&r) % 10;
            tern_outbox_prio_t prio = p < 2   ? TERN_OUTBOX_CRITICAL
                                      : p < 5 ? TERN_OUTBOX_NORMAL
                                              : TERN_OUTBOX_BULK;
            uint16_t content = (uint16_t)step;
            uint8_t buf[MAXP];
            uint32_t want = tern_outbox_next_seq(ob), seq = 0;
            if (want >= g_max_seq) {
                return TERN_ERR_RANGE;
            }
            err = tern_outbox_enqueue(ob, prio, buf, make_payload(content, buf), &seq);
            if (err == TERN_OK || err == TERN_ERR_POWER_LOST) {
                if (err == TERN_OK && seq != want) {
                    return TERN_ERR_STATE;
                }
                g_model[want] = (rec_model_t){ (uint8_t)(err == TERN_OK ? S_LIVE : S_MAYBE),
                                               (uint8_t)prio, content };
                if (err == TERN_OK) {
                    g_max_durable = want;
                }
            }
            settle_evictions(err == TERN_OK || err == TERN_ERR_FULL ? S_EVICTED : S_EVICT_PENDING);
            if (err == TERN_ERR_FULL) {
                err = TERN_OK; /* only critical records left: a refusal is the contract */
            }
        } else if (act < 80) {
            uint32_t seq = 0;
            if (act < 70) { /* the oldest of the highest priority, as a sender would */
                tern_outbox_rec_t rec;
                err = tern_outbox_peek(ob, &rec, NULL, 0);
                seq = rec.seq;
            } else { /* any live one, out of order */
                uint32_t n = 0;
                for (uint32_t i = 0; i < g_max_seq; i++) {
                    n += g_model[i].state == S_LIVE;
                }
                err = n == 0 ? TERN_ERR_EMPTY : TERN_OK;
                for (uint32_t i = 0, k = n ? rnd(&r) % n : 0; n && i < g_max_seq; i++) {
                    if (g_model[i].state == S_LIVE && k-- == 0) {
                        seq = i;
                        break;
                    }
                }
            }
            if (err == TERN_ERR_EMPTY) {
                err = TERN_OK;
                continue;
            }
            if (err == TERN_OK) {
                err = tern_outbox_ack(ob, seq);
                if (err == TERN_OK || err == TERN_ERR_POWER_LOST) {
                    g_model[seq].state = (uint8_t)(err == TERN_OK ? S_ACKED : S_ACK_MAYBE);
                }
            }
        } else if (act < 90) {
            tern_mqtt_inflight_t t[2];
            g_snap_maybe = (int)step;
            err = tern_outbox_save_inflight(ob, t, make_snap((int)step, t));
            if (err == TERN_OK) {
                g_snap_ok = (int)step;
                g_snap_maybe = -1;
            }
            settle_evictions(err == TERN_OK ? S_EVICTED : S_EVICT_PENDING);
        } else {
            err = tern_outbox_mount(ob, cfg);
        }
    }
    return g_model_broken ? TERN_ERR_STATE : err;
}

static bool check(tern_outbox_t *ob, const tern_outbox_config_t *cfg, uint32_t point)
{
    bool ok = true;
#define CHECK(c, ...)                                     \
    do {                                                  \
        if (!(c)) {                                       \
            fprintf(stderr, "cut %u: ", (unsigned)point); \
            fprintf(stderr, __VA_ARGS__);                 \
            fputc('\n', stderr);                          \
            ok = false;                                   \
        }                                                 \
    } while (0)
    tern_err_t err = tern_outbox_mount(ob, cfg);
    CHECK(err == TERN_OK, "mount: %s", tern_strerror(err));
    if (err != TERN_OK) {
        return false;
    }
    static bool seen[MAX_SEQ];
    memset(seen, 0, sizeof seen);
    uint32_t per_prio[3] = { 0, 0, 0 };
    tern_outbox_rec_t rec;
    uint8_t buf[MAXP], want[MAXP];
    for (err = tern_outbox_peek(ob, &rec, buf, sizeof buf); err == TERN_OK;
         err = tern_outbox_next(ob, &rec, &rec, buf, sizeof buf)) {
        CHECK(rec.seq < g_max_seq && !seen[rec.seq], "seq %u twice or out of range",
              (unsigned)rec.seq);
        if (rec.seq >= g_max_seq) {
            return false;
        }
        seen[rec.seq] = true;
        const rec_model_t *m = &g_model[rec.seq];
        CHECK(m->state == S_LIVE || m->state == S_MAYBE || m->state == S_ACK_MAYBE ||
                  m->state == S_EVICT_PENDING,
              "seq %u present in state %u", (unsigned)rec.seq, (unsigned)m->state);
        size_t len = make_payload(m->content, want);
        CHECK(rec.prio == m->prio && rec.len == len && memcmp(buf, want, len) == 0,
              "seq %u: contents differ", (unsigned)rec.seq);
        per_prio[rec.prio < 3 ? rec.prio : 0]++;
    }
    CHECK(err == TERN_ERR_EMPTY, "walk ended with %s", tern_strerror(err));
    for (uint32_t i = 0; i < g_max_seq; i++) {
        CHECK(g_model[i].state != S_LIVE || seen[i], "durable seq %u lost", (unsigned)i);
    }
    for (int p = 0; p < 3; p++) {
        CHECK(tern_outbox_count(ob, (tern_outbox_prio_t)p) == per_prio[p],
              "count of prio %d: %u, walked %u", p,
              (unsigned)tern_outbox_count(ob, (tern_outbox_prio_t)p), (unsigned)per_prio[p]);
    }
    CHECK(tern_outbox_next_seq(ob) > g_max_durable, "next seq %u not above %u",
          (unsigned)tern_outbox_next_seq(ob), (unsigned)g_max_durable);
    tern_mqtt_inflight_t t[4], w[2];
    size_t n = 0;
    err = tern_outbox_load_inflight(ob, t, 4, &n);
    CHECK(err == TERN_OK, "load_inflight: %s", tern_strerror(err));
    bool snap_ok = false;
    int ids[2] = { g_snap_ok, g_snap_maybe };
    for (int k = 0; k < 2; k++) {
        if (ids[k] < 0) {
            snap_ok |= n == 0 && k == 0;
            continue;
        }
        size_t wn = make_snap(ids[k], w);
        snap_ok |= wn == n && memcmp(t, w, n * sizeof w[0]) == 0;
    }
    CHECK(snap_ok, "in-flight snapshot is none of the saved ones (%u records)", (unsigned)n);
    uint32_t before = tern_outbox_next_seq(ob), seq = 0;
    err = tern_outbox_enqueue(ob, TERN_OUTBOX_CRITICAL, want, 3, &seq);
    CHECK(err == TERN_OK || err == TERN_ERR_FULL, "enqueue after remount: %s", tern_strerror(err));
    if (err == TERN_OK) {
        CHECK(seq == before && seq > g_max_durable, "new seq %u", (unsigned)seq);
        CHECK(tern_outbox_ack(ob, seq) == TERN_OK, "ack after remount");
    }
    return ok;
#undef CHECK
}

int main(void)
{
    tern_norsim_t sim;
    tern_outbox_t ob;
    tern_outbox_config_t cfg = { { NULL, NULL }, MAXP, on_evict, NULL };
    const char *env = getenv("TERN_POWERLOSS_FULL");
    bool full = env != NULL && strcmp(env, "1") == 0;
    g_steps = full ? STEPS_FULL : STEPS_CI;
    g_max_seq = full ? MAX_SEQ : 2048;
    open_flash(&sim, 1);
    cfg.flash = tern_norsim_flash(&sim);
    tern_err_t err = workload(&ob, &cfg);
    uint32_t n_ops = tern_norsim_op_count(&sim);
    uint32_t evictions = 0, erases = 0;
    for (uint32_t i = 0; i < g_max_seq; i++) {
        evictions += g_model[i].state == S_EVICTED;
    }
    for (uint32_t s = 0; s < SECTORS; s++) {
        erases += tern_norsim_erase_count(&sim, s * SECTOR);
    }
    if (err != TERN_OK || !check(&ob, &cfg, 0)) {
        fprintf(stderr, "clean run failed: %s\n", tern_strerror(err));
        printf("powerloss outbox: 1 cut points, 0 passed\n");
        return 1;
    }
    fprintf(stderr, "clean run: %u ops, %u erases, %u evictions\n", (unsigned)n_ops,
            (unsigned)erases, (unsigned)evictions);
    unsigned total = 0, passed = 0;
    for (uint32_t k = 1; k <= n_ops; k++) {
        for (uint32_t t = 0; t < (full ? (uint32_t)TEARS : 1u); t++) {
            total++;
            open_flash(&sim, 1000u + k * TEARS + t);
            tern_norsim_cut_after(&sim, k, k_tears[full ? t : k % TEARS]);
            err = workload(&ob, &cfg);
            if (err != TERN_ERR_POWER_LOST || !tern_norsim_power_lost(&sim)) {
                fprintf(stderr, "cut %u: workload ended with %s\n", (unsigned)k,
                        tern_strerror(err));
                continue;
            }
            tern_norsim_reboot(&sim);
            passed += check(&ob, &cfg, k);
        }
    }
    printf("powerloss outbox: %u cut points, %u passed\n", total, passed);
    return passed == total ? 0 : 1;
}
