/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The outbox on simulated NOR (256 KiB, 4 KiB sectors, 4-byte program unit),
 * 64-byte records, a long run with acks trailing 100 records behind the
 * appends (so compaction and wear levelling run many times): records per
 * second, bytes programmed per payload byte, and the spread of erase counts
 * across sectors, against the naive store that keeps the current sector in
 * RAM and rewrites it whole (erase + program) for every record. A counting
 * flash shim sits under both. The simulator has no timing, so records per
 * second is CPU cost only: on real NOR, where an erase takes tens of ms, the
 * naive store would manage a few dozen records per second. Goals from the
 * issue: at most 1.3 bytes programmed per payload byte, erase spread <= 10 %.
 * Then an outage: BACKLOG records appended while offline (appends per second),
 * then drained as the uplink does (peek, next with 8 in flight, ack oldest
 * first: drains per second); the naive store rewrites the sector per ack.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "bench_clock.h"

#include "tern/outbox.h"
#include "tern_norsim.h"

enum { SIZE = 256 * 1024, SECTOR = 4096, SECTORS = SIZE / SECTOR, REC = 64, N = 60000, LAG = 100 };
enum { BACKLOG = 2500, WINDOW = 8 };

/* ------------------------------------------------- a counting flash shim -- */

typedef struct {
    tern_flash_t lower;
    uint64_t programmed;
} counter_t;

static void c_geometry(void *ctx, tern_flash_geometry_t *g)
{
    (void)tern_flash_geometry(&((counter_t *)ctx)->lower, g);
}
static tern_err_t c_read(void *ctx, uint32_t addr, void *buf, size_t len)
{
    return tern_flash_read(&((counter_t *)ctx)->lower, addr, buf, len);
}
static tern_err_t c_program(void *ctx, uint32_t addr, const void *buf, size_t len)
{
    counter_t *c = ctx;
    c->programmed += len;
    return tern_flash_program(&c->lower, addr, buf, len);
}
static tern_err_t c_erase(void *ctx, uint32_t addr)
{
    return tern_flash_erase(&((counter_t *)ctx)->lower, addr);
}
static const tern_flash_ops_t k_counter_ops = { "counter", c_geometry, c_read, c_program, c_erase };

typedef struct {
    double rate, amp, spread; /* records/s, programmed bytes per payload byte, erase spread % */
} result_t;

static uint8_t g_mem[SIZE];
static uint32_t g_counts[SECTORS];

static void setup(tern_norsim_t *sim, counter_t *c, tern_flash_t *f)
{
    tern_norsim_config_t cfg = { SIZE, SECTOR, 4, 0, 0, 1 };
    (void)tern_norsim_init(sim, &cfg, g_mem, g_counts);
    tern_norsim_format(sim);
    c->lower = tern_norsim_flash(sim);
    c->programmed = 0;
    f->ops = &k_counter_ops;
    f->ctx = c;
}

/* (max - min) / mean of the sectors' erase counts, in percent. */
static double spread(void)
{
    uint32_t lo = g_counts[0], hi = g_counts[0];
    double sum = 0;
    for (int i = 0; i < SECTORS; i++) {
        lo = g_counts[i] < lo ? g_counts[i] : lo;
        hi = g_counts[i] > hi ? g_counts[i] : hi;
        sum += g_counts[i];
    }
    return sum > 0 ? 100.0 * (hi - lo) / (sum / SECTORS) : 0;
}

/* A fresh simulated flash under a counting shim, and an outbox mounted on it. */
static int fresh_outbox(tern_norsim_t *sim, counter_t *c, tern_outbox_t *ob)
{
    tern_flash_t f;
    setup(sim, c, &f);
    tern_outbox_config_t oc = { f, REC, NULL, NULL };
    return tern_outbox_mount(ob, &oc) == TERN_OK ? 0 : 1;
}

/* Record @p i: REC bytes of its low byte. */
static int append(tern_outbox_t *ob, uint32_t i)
{
    uint8_t rec[REC];
    memset(rec, (int)i, sizeof rec);
    return tern_outbox_enqueue(ob, TERN_OUTBOX_NORMAL, rec, sizeof rec, NULL) == TERN_OK ? 0 : 1;
}

static int run_tern(result_t *r)
{
    tern_norsim_t sim;
    counter_t c;
    tern_outbox_t ob;
    uint8_t out[REC];
    if (fresh_outbox(&sim, &c, &ob) != 0) {
        return 1;
    }
    double t0 = bench_now_s();
    for (uint32_t i = 0; i < N; i++) {
        if (append(&ob, i) != 0) {
            return 1;
        }
        if (i >= LAG) { /* drain: the oldest, as a sender would on its PUBACK */
            tern_outbox_rec_t d;
            if (tern_outbox_peek(&ob, &d, out, sizeof out) != TERN_OK ||
                tern_outbox_ack(&ob, d.seq) != TERN_OK) {
                return 1;
            }
        }
    }
    r->rate = N / (bench_now_s() - t0);
    r->amp = (double)c.programmed / ((double)N * REC);
    r->spread = spread();
    return 0;
}

/* The backlog: appends while offline, then the drain with WINDOW records in flight. */
static int backlog_tern(double *appends, double *drains)
{
    tern_norsim_t sim;
    counter_t c;
    tern_outbox_t ob;
    uint8_t out[REC];
    if (fresh_outbox(&sim, &c, &ob) != 0) {
        return 1;
    }
    double t0 = bench_now_s();
    for (uint32_t i = 0; i < BACKLOG; i++) {
        if (append(&ob, i) != 0) {
            return 1;
        }
    }
    double t1 = bench_now_s();
    uint32_t inflight[WINDOW], n = 0, done = 0;
    tern_outbox_rec_t cur;
    tern_err_t e = tern_outbox_peek(&ob, &cur, out, sizeof out);
    while (done < BACKLOG) {
        while (e == TERN_OK && n < WINDOW) { /* hand out up to the window */
            inflight[n++] = cur.seq;
            tern_outbox_rec_t prev = cur;
            e = tern_outbox_next(&ob, &prev, &cur, out, sizeof out);
        }
        if (n == 0 || tern_outbox_ack(&ob, inflight[0]) != TERN_OK) { /* the oldest PUBACK */
            return 1;
        }
        memmove(inflight, inflight + 1, --n * sizeof inflight[0]);
        done++;
    }
    double t2 = bench_now_s();
    *appends = BACKLOG / (t1 - t0);
    *drains = BACKLOG / (t2 - t1);
    return tern_outbox_count(&ob, TERN_OUTBOX_NORMAL) == 0 ? 0 : 1;
}

/* The naive store's backlog: a sector rewrite per append, and per ack (to mark it done). */
static int backlog_naive(double *appends, double *drains)
{
    static uint8_t image[SECTOR];
    tern_norsim_t sim;
    counter_t c;
    tern_flash_t f;
    setup(&sim, &c, &f);
    memset(image, 0xFF, sizeof image);
    const uint32_t per = SECTOR / (REC + 4); /* a status word per record */
    double t0 = bench_now_s();
    for (uint32_t i = 0; i < BACKLOG; i++) {
        uint32_t sec = i / per, at = (i % per) * (REC + 4);
        if (at == 0) {
            memset(image, 0xFF, sizeof image);
        }
        memset(image + at + 4, (int)i, REC);
        if (tern_flash_erase(&f, sec * SECTOR) != TERN_OK ||
            tern_flash_program(&f, sec * SECTOR, image, SECTOR) != TERN_OK) {
            return 1;
        }
    }
    double t1 = bench_now_s();
    for (uint32_t i = 0; i < BACKLOG; i++) {
        uint32_t sec = i / per, at = (i % per) * (REC + 4);
        if (tern_flash_read(&f, sec * SECTOR, image, SECTOR) != TERN_OK) {
            return 1;
        }
        memset(image + at, 0, 4);
        if (tern_flash_erase(&f, sec * SECTOR) != TERN_OK ||
            tern_flash_program(&f, sec * SECTOR, image, SECTOR) != TERN_OK) {
            return 1;
        }
    }
    double t2 = bench_now_s();
    *appends = BACKLOG / (t1 - t0);
    *drains = BACKLOG / (t2 - t1);
    return 0;
}

/* The naive store: the sector being filled lives in RAM and is rewritten whole
 * for every record, so each record is durable when it returns. */
static int run_naive(result_t *r)
{
    static uint8_t image[SECTOR];
    tern_norsim_t sim;
    counter_t c;
    tern_flash_t f;
    uint8_t rec[REC];
    setup(&sim, &c, &f);
    uint32_t sector = 0, used = 0;
    memset(image, 0xFF, sizeof image);
    double t0 = bench_now_s();
    for (uint32_t i = 0; i < N; i++) {
        memset(rec, (int)i, sizeof rec);
        if (used + REC > SECTOR) {
            sector = (sector + 1) % SECTORS;
            used = 0;
            memset(image, 0xFF, sizeof image);
        }
        memcpy(image + used, rec, REC);
        used += REC;
        if (tern_flash_erase(&f, sector * SECTOR) != TERN_OK ||
            tern_flash_program(&f, sector * SECTOR, image, SECTOR) != TERN_OK) {
            return 1;
        }
    }
    r->rate = N / (bench_now_s() - t0);
    r->amp = (double)c.programmed / ((double)N * REC);
    r->spread = spread();
    return 0;
}

int main(void)
{
    result_t t, n;
    double ta, td, na, nd;
    if (run_tern(&t) != 0 || run_naive(&n) != 0 || backlog_tern(&ta, &td) != 0 ||
        backlog_naive(&na, &nd) != 0) {
        fprintf(stderr, "bench_outbox: a run failed\n");
        return 1;
    }
    printf("outbox, %d x %d-byte records, acks %d behind, %d KiB NOR in %d B sectors; "
           "reference: rewrite the sector per record\n",
           N, REC, LAG, SIZE / 1024, SECTOR);
    printf("outbox_records_per_s: tern=%.0f rec/s reference=%.0f rec/s ratio=%.3f\n", t.rate,
           n.rate, t.rate / n.rate);
    printf("outbox_write_amplification: tern=%.2f B/B reference=%.2f B/B ratio=%.3f\n", t.amp,
           n.amp, t.amp / n.amp);
    printf("outbox_backlog_appends_per_s (%d records): tern=%.0f rec/s reference=%.0f rec/s "
           "ratio=%.3f\n",
           BACKLOG, ta, na, ta / na);
    printf("outbox_backlog_drains_per_s (%d in flight): tern=%.0f rec/s reference=%.0f rec/s "
           "ratio=%.3f\n",
           WINDOW, td, nd, td / nd);
    printf("outbox_erase_spread: tern=%.1f %% reference=%.1f %% ratio=%.3f\n", t.spread, n.spread,
           n.spread > 0 ? t.spread / n.spread : 0);
    return 0;
}
