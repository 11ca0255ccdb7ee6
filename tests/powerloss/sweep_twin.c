/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Power-loss sweep of the device twin. A script of twin operations (deltas
 * applied, refused, stale and gapped; reported keys set and deleted, some
 * long enough to span several program chunks; reports built, full ones
 * included, and acknowledged; remounts) runs once clean to count its flash
 * operations N and to record the durable state after each step. Then, for
 * each operation 1..N and each kind of tear (nothing lands, all of it lands,
 * a random prefix twice), it runs again on a fresh flash with the power cut
 * there, reboots, remounts and checks what a user relies on:
 *  - the twin holds exactly the state before the interrupted step or the
 *    state after it (versions, applied desired version, every reported key
 *    and which ones are pending), never a mix and never garbage;
 *  - the twin still works: a delta from its applied version is applied,
 *    saved and survives another remount.
 * Prints `powerloss twin: <N> cut points, <M> passed`; a cut point is one
 * (operation, tear) pair.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "tern/cbor.h"
#include "tern/hal.h"
#include "tern/twin.h"
#include "tern_norsim.h"

/* 2 sectors of 512 B, 4-byte program units written once per erase (ECC flash). */
enum { SECTOR = 512, SECTORS = 2, SIZE = SECTOR * SECTORS, PROG = 4, CAP = 320, MAX_STEPS = 64 };

static const uint32_t k_tears[] = { 0, 100000, TERN_NORSIM_TEAR_RANDOM, TERN_NORSIM_TEAR_RANDOM };
enum { TEARS = sizeof k_tears / sizeof k_tears[0] };

/* The durable part of a twin: what a remount must give back. */
typedef struct snap {
    uint32_t next, acked, applied;
    size_t used;
    uint8_t state[CAP];
} snap_t;

static uint8_t g_mem[SIZE];
static uint32_t g_counts[SECTORS];
static uint8_t g_state[CAP];
static snap_t g_snaps[MAX_STEPS + 1]; /* [k]: after step k of the clean run ([0]: empty) */
static size_t g_steps;

static tern_err_t accept(void *ctx, const char *key, size_t klen, const uint8_t *v, size_t len,
                         bool del)
{
    (void)ctx;
    (void)v;
    (void)del;
    /* keys starting with 'x' are refused, to leave some desired keys unreported */
    return klen > 0 && key[0] == 'x' ? TERN_ERR_RANGE : (len > 40 ? TERN_ERR_RANGE : TERN_OK);
}

static void take(const tern_twin_t *t, snap_t *s)
{
    memset(s, 0, sizeof *s);
    s->next = t->next;
    s->acked = t->acked;
    s->applied = t->applied;
    s->used = t->used;
    memcpy(s->state, t->cfg.state_buf, t->used);
}

static bool same(const snap_t *a, const snap_t *b)
{
    return a->next == b->next && a->acked == b->acked && a->applied == b->applied &&
           a->used == b->used && memcmp(a->state, b->state, a->used) == 0;
}

/* A delta {1: version, 2: from, 3: {key: value}}: a text of @p vlen bytes, or null. */
static size_t make_delta(uint8_t *b, uint32_t version, uint32_t from, const char *key, size_t vlen,
                         bool null)
{
    char text[64];
    tern_cbor_enc_t e;
    size_t n = 0;
    for (size_t i = 0; i < vlen && i < sizeof text; i++) {
        text[i] = (char)('a' + (version * 7u + i) % 26u);
    }
    tern_cbor_enc_init(&e, b, 128, 0);
    (void)tern_cbor_enc_map(&e, 3);
    (void)tern_cbor_enc_uint(&e, 1);
    (void)tern_cbor_enc_uint(&e, version);
    (void)tern_cbor_enc_uint(&e, 2);
    (void)tern_cbor_enc_uint(&e, from);
    (void)tern_cbor_enc_uint(&e, 3);
    (void)tern_cbor_enc_map(&e, 1);
    (void)tern_cbor_enc_str(&e, key);
    (void)(null ? tern_cbor_enc_null(&e) : tern_cbor_enc_text(&e, text, vlen));
    (void)tern_cbor_enc_finish(&e, &n);
    return n;
}

/* One step of the script. */
static tern_err_t step(tern_twin_t *t, const tern_twin_config_t *cfg, size_t i)
{
    static uint8_t d[128], out[512];
    size_t len = 0;
    uint32_t v = 0;
    const uint8_t val[] = { 0x18, (uint8_t)(40 + i) }; /* the unsigned integer 40 + i */
    switch (i % 16) {
    case 0:
        return tern_twin_on_delta(
            t, d, make_delta(d, t->applied + 1, t->applied, "mode", 30, false), NULL);
    case 1:
        return tern_twin_report_set(t, i % 32 == 1 ? "fw" : "uptime", val, sizeof val);
    case 2:
        if (tern_twin_build_report(t, out, sizeof out, &len, false, &v) == TERN_OK) {
            return tern_twin_report_sent(t, v);
        }
        return TERN_ERR_STATE;
    case 3: /* refused, and a stale one: only the applied version moves */
        (void)tern_twin_on_delta(t, d, make_delta(d, t->applied, 0, "mode", 5, false), NULL);
        return tern_twin_on_delta(
            t, d, make_delta(d, t->applied + 1, t->applied, "xlimit", 3, false), NULL);
    case 4:
        return tern_twin_report_set(t, i % 32 == 4 ? "k1" : "k2", val, sizeof val);
    case 5: /* a long value: the copy spans many program chunks */
        return tern_twin_on_delta(
            t, d, make_delta(d, t->applied + 1, t->applied, "note", 38, false), NULL);
    case 6:
        return tern_twin_report_delete(t, i % 32 == 6 ? "uptime" : "k1");
    case 7: /* a gap: nothing changes */
        return tern_twin_on_delta(
            t, d, make_delta(d, t->applied + 3, t->applied + 1, "mode", 2, false), NULL);
    case 8:
        return tern_twin_mount(t, cfg);
    case 9: /* a full report needs a version of its own: saved before it leaves */
        return tern_twin_build_report(t, out, sizeof out, &len, true, &v);
    case 10:
        return tern_twin_on_delta(t, d, make_delta(d, t->applied + 1, t->applied, "note", 0, true),
                                  NULL);
    case 11:
        if (tern_twin_build_report(t, out, sizeof out, &len, false, &v) == TERN_OK) {
            return tern_twin_report_sent(t, v);
        }
        return TERN_ERR_STATE;
    case 12: { /* a text of 16..23 bytes */
        uint8_t text[24];
        text[0] = (uint8_t)(0x60 | (16 + i % 8));
        memset(text + 1, 'A' + (int)(i % 26), 23);
        return tern_twin_report_set(t, "serial", text, 17 + i % 8);
    }
    case 13:
        return tern_twin_on_delta(
            t, d, make_delta(d, t->applied + 1, t->applied, "mode", 12, false), NULL);
    case 14: /* built, never acknowledged: pending across the remount that follows */
        return tern_twin_build_report(t, out, sizeof out, &len, false, &v);
    default:
        return tern_twin_mount(t, cfg);
    }
}

static void open_flash(tern_norsim_t *sim, uint64_t seed)
{
    const tern_norsim_config_t c = { SIZE, SECTOR, PROG, TERN_NORSIM_PROGRAM_ONCE, 0, seed };
    (void)tern_norsim_init(sim, &c, g_mem, g_counts);
    tern_norsim_format(sim);
}

/* Run the script from a blank flash; *done gets the steps finished. */
static tern_err_t run(tern_twin_t *t, const tern_twin_config_t *cfg, bool record, size_t *done)
{
    tern_err_t err = tern_twin_mount(t, cfg);
    *done = 0;
    if (record) {
        take(t, &g_snaps[0]);
    }
    for (size_t i = 0; err == TERN_OK && i < g_steps; i++) {
        err = step(t, cfg, i);
        if (err == TERN_OK) {
            *done = i + 1;
            if (record) {
                take(t, &g_snaps[i + 1]);
            }
        }
    }
    return err;
}

static bool check(tern_twin_t *t, const tern_twin_config_t *cfg, size_t done, uint32_t point)
{
    snap_t got;
    tern_err_t err = tern_twin_mount(t, cfg);
    if (err != TERN_OK) {
        fprintf(stderr, "cut %u: mount: %s\n", (unsigned)point, tern_strerror(err));
        return false;
    }
    take(t, &got);
    if (!same(&got, &g_snaps[done]) && !same(&got, &g_snaps[done + 1])) {
        fprintf(stderr,
                "cut %u in step %u: next %u acked %u applied %u, %u bytes: neither before nor "
                "after\n",
                (unsigned)point, (unsigned)done, (unsigned)got.next, (unsigned)got.acked,
                (unsigned)got.applied, (unsigned)got.used);
        return false;
    }
    uint8_t d[128];
    uint32_t applied = t->applied;
    tern_twin_outcome_t oc = TERN_TWIN_STALE;
    err = tern_twin_on_delta(t, d, make_delta(d, applied + 1, applied, "mode", 4, false), &oc);
    if (err != TERN_OK || oc != TERN_TWIN_APPLIED || (err = tern_twin_mount(t, cfg)) != TERN_OK ||
        t->applied != applied + 1) {
        fprintf(stderr, "cut %u: the twin does not go on: %s\n", (unsigned)point,
                tern_strerror(err));
        return false;
    }
    return true;
}

int main(void)
{
    tern_norsim_t sim;
    tern_twin_t t;
    tern_twin_config_t cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.state_buf = g_state;
    cfg.state_cap = CAP;
    cfg.default_handler = accept;
    g_steps = 48;

    open_flash(&sim, 1);
    cfg.flash = tern_norsim_flash(&sim);
    size_t done = 0;
    tern_err_t err = run(&t, &cfg, true, &done);
    uint32_t n_ops = tern_norsim_op_count(&sim);
    if (err != TERN_OK || !check(&t, &cfg, g_steps - 1, 0)) {
        fprintf(stderr, "clean run failed at step %u: %s\n", (unsigned)done, tern_strerror(err));
        printf("powerloss twin: 1 cut points, 0 passed\n");
        return 1;
    }
    fprintf(stderr, "clean run: %u steps, %u flash operations, %u bytes of state at the end\n",
            (unsigned)g_steps, (unsigned)n_ops, (unsigned)g_snaps[g_steps].used);

    unsigned total = 0, passed = 0;
    for (uint32_t k = 1; k <= n_ops; k++) {
        for (uint32_t tear = 0; tear < TEARS; tear++) {
            total++;
            open_flash(&sim, 1000u + k * TEARS + tear);
            tern_norsim_cut_after(&sim, k, k_tears[tear]);
            err = run(&t, &cfg, false, &done);
            if (err != TERN_ERR_POWER_LOST || !tern_norsim_power_lost(&sim) || done >= g_steps) {
                fprintf(stderr, "cut %u: the script ended with %s\n", (unsigned)k,
                        tern_strerror(err));
                continue;
            }
            tern_norsim_reboot(&sim);
            passed += check(&t, &cfg, done, k);
        }
    }
    printf("powerloss twin: %u cut points, %u passed\n", total, passed);
    return passed == total ? 0 : 1;
}
