/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The outbox on arbitrary flash contents and arbitrary operation sequences,
 * power cuts included. The input's first bytes become the flash image (every
 * byte of flash is untrusted: mount must turn anything into a usable outbox),
 * the rest a script of enqueues, peeks, nexts, acks, in-flight snapshots,
 * remounts and cut-short enqueues, checked against a shadow of what the
 * outbox reported durable:
 *   - mount never fails on content, and nothing it returns is corrupt;
 *   - a record enqueue called durable reads back byte for byte until it is
 *     acknowledged or reported evicted, across remounts and power cuts;
 *   - a critical record is never evicted; an acknowledged one never returns;
 *   - peek/next walk the queue in drain order (priority, then sequence);
 *   - sequence numbers only grow, across remounts.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fuzz_check.h"

#include "tern/outbox.h"
#include "tern_norsim.h"

enum { SECTOR = 256, SECTORS = 6, SIZE = SECTOR * SECTORS, MAXP = 24, MAXREC = 64 };

typedef struct shadow {
    uint32_t seq;
    uint8_t prio, len;
    uint8_t data[MAXP];
    bool live;
    bool uncertain; /* evicted during a cut operation: the kill may not have landed */
} shadow_t;

static shadow_t g_rec[MAXREC];
static size_t g_n;
static bool g_cutting;

static shadow_t *lookup(uint32_t seq)
{
    for (size_t i = 0; i < g_n; i++) {
        if (g_rec[i].seq == seq) {
            return &g_rec[i];
        }
    }
    return NULL;
}

static void on_evict(void *user, uint32_t seq, tern_outbox_prio_t prio)
{
    (void)user;
    CHECK(prio != TERN_OUTBOX_CRITICAL);
    shadow_t *s = lookup(seq);
    if (s) {
        CHECK(s->live && s->prio == (uint8_t)prio);
        s->live = false;
        s->uncertain = g_cutting;
    }
}

/* A record the outbox handed out: ours must match, and must be live. */
static void check_rec(const tern_outbox_rec_t *r, const uint8_t *buf)
{
    shadow_t *s = lookup(r->seq);
    if (s) {
        CHECK(s->live && s->prio == r->prio && s->len == r->len);
        CHECK(memcmp(s->data, buf, r->len) == 0);
    }
}

static void check_all(tern_outbox_t *ob)
{
    uint8_t buf[MAXP];
    tern_outbox_rec_t r;
    for (size_t i = 0; i < g_n; i++) {
        tern_err_t e = tern_outbox_read(ob, g_rec[i].seq, &r, buf, sizeof buf);
        if (g_rec[i].live) {
            CHECK(e == TERN_OK);
            check_rec(&r, buf);
        } else {
            CHECK(e == TERN_ERR_NOT_FOUND); /* acknowledged or evicted: gone for good */
        }
    }
    /* drain order: a walk with next() never goes back */
    tern_err_t e = tern_outbox_peek(ob, &r, buf, sizeof buf);
    for (int k = 0; e == TERN_OK && k < 4 * MAXREC; k++) {
        check_rec(&r, buf);
        tern_outbox_rec_t prev = r;
        e = tern_outbox_next(ob, &prev, &r, buf, sizeof buf);
        if (e == TERN_OK) {
            CHECK(r.prio > prev.prio || (r.prio == prev.prio && r.seq > prev.seq));
        }
    }
    CHECK(e == TERN_ERR_EMPTY || e == TERN_OK);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t mem[SIZE];
    static uint32_t counts[SECTORS];
    tern_norsim_config_t nc = { SIZE, SECTOR, 4, 0, 0, 5 };
    tern_norsim_t sim;
    if (tern_norsim_init(&sim, &nc, mem, counts) != TERN_OK) {
        abort();
    }
    tern_norsim_format(&sim);
    /* the image: up to SIZE bytes, in 4-byte words written as they come (0xFF elsewhere) */
    size_t img = size > 0 ? (size_t)data[0] * 8u : 0;
    img = img > SIZE ? SIZE : img;
    img = img > size - (size > 0) ? size - (size > 0) : img;
    memcpy(mem, data + (size > 0), img);
    size_t pos = (size > 0) + img;
    g_n = 0;

    tern_outbox_t ob;
    tern_outbox_config_t oc = { tern_norsim_flash(&sim), MAXP, on_evict, NULL };
    CHECK(tern_outbox_mount(&ob, &oc) == TERN_OK);
    uint32_t hwm = tern_outbox_next_seq(&ob);
    tern_mqtt_inflight_t table[2], back[2];
    memset(table, 0, sizeof table);
    while (pos < size) {
        uint8_t op = data[pos++];
        uint8_t arg = pos < size ? data[pos++] : 0;
        uint8_t buf[MAXP];
        tern_outbox_rec_t r;
        tern_err_t e;
        switch (op % 8) {
        case 0:
        case 1: { /* enqueue */
            uint8_t prio = arg % 3, len = (uint8_t)((arg >> 2) % (MAXP + 1));
            for (uint8_t i = 0; i < len; i++) {
                buf[i] = (uint8_t)(op ^ (i * 37u) ^ arg);
            }
            uint32_t seq = 0;
            e = tern_outbox_enqueue(&ob, (tern_outbox_prio_t)prio, buf, len, &seq);
            CHECK(e == TERN_OK || e == TERN_ERR_FULL);
            if (e == TERN_OK) {
                CHECK(seq >= hwm);
                hwm = seq + 1;
                if (g_n < MAXREC) {
                    shadow_t *s = &g_rec[g_n++];
                    s->seq = seq;
                    s->prio = prio;
                    s->len = len;
                    memcpy(s->data, buf, len);
                    s->live = true;
                    s->uncertain = false;
                }
            }
            break;
        }
        case 2: /* ack the arg-th record we know (live or not) */
            if (g_n > 0) {
                shadow_t *s = &g_rec[arg % g_n];
                e = tern_outbox_ack(&ob, s->seq);
                CHECK(e == (s->live ? TERN_OK : TERN_ERR_NOT_FOUND));
                s->live = false;
            } else if (tern_outbox_peek(&ob, &r, NULL, 0) == TERN_OK) {
                CHECK(tern_outbox_ack(&ob, r.seq) == TERN_OK); /* one from the image */
            }
            break;
        case 3: /* peek / next */
            e = tern_outbox_peek(&ob, &r, buf, sizeof buf);
            CHECK(e == TERN_OK || e == TERN_ERR_EMPTY);
            if (e == TERN_OK) {
                check_rec(&r, buf);
            }
            break;
        case 4: /* the in-flight snapshot round trip */
            table[arg & 1].token = arg;
            table[arg & 1].stage = TERN_MQTT_STAGE_PUBACK;
            table[arg & 1].packet_id = (uint16_t)(arg + 1);
            e = tern_outbox_save_inflight(&ob, table, 2);
            CHECK(e == TERN_OK || e == TERN_ERR_FULL);
            if (e == TERN_OK) {
                size_t n = 0;
                CHECK(tern_outbox_load_inflight(&ob, back, 2, &n) == TERN_OK && n == 2);
                CHECK(memcmp(back, table, sizeof table) == 0);
            }
            break;
        case 5: /* remount */
            CHECK(tern_outbox_mount(&ob, &oc) == TERN_OK);
            CHECK(tern_outbox_next_seq(&ob) >= hwm);
            check_all(&ob);
            break;
        case 6: { /* an enqueue cut short by a power loss after `arg % 8` flash operations */
            tern_norsim_cut_after(&sim, (uint32_t)(arg % 8) + 1, TERN_NORSIM_TEAR_RANDOM);
            uint32_t seq = 0;
            memset(buf, arg, sizeof buf);
            g_cutting = true;
            e = tern_outbox_enqueue(&ob, TERN_OUTBOX_CRITICAL, buf, arg % (MAXP + 1), &seq);
            g_cutting = false;
            bool durable = e == TERN_OK;
            tern_norsim_reboot(&sim);
            CHECK(tern_outbox_mount(&ob, &oc) == TERN_OK);
            for (size_t i = 0; i < g_n; i++) { /* reported evicted, but the cut kept it */
                if (g_rec[i].uncertain) {
                    g_rec[i].uncertain = false;
                    g_rec[i].live = tern_outbox_read(&ob, g_rec[i].seq, NULL, NULL, 0) == TERN_OK;
                }
            }
            if (durable && g_n < MAXREC) {
                shadow_t *s = &g_rec[g_n++];
                s->seq = seq;
                s->prio = TERN_OUTBOX_CRITICAL;
                s->len = (uint8_t)(arg % (MAXP + 1));
                memcpy(s->data, buf, s->len);
                s->live = true;
                s->uncertain = false;
                hwm = seq + 1;
            }
            CHECK(tern_outbox_next_seq(&ob) >= hwm);
            hwm = tern_outbox_next_seq(&ob); /* a torn record may have taken a number */
            check_all(&ob);
            break;
        }
        default: /* next after an arbitrary point */
            r.prio = arg % 3;
            r.seq = arg;
            r.len = 0;
            e = tern_outbox_next(&ob, &r, &r, buf, sizeof buf);
            CHECK(e == TERN_OK || e == TERN_ERR_EMPTY);
            if (e == TERN_OK) {
                check_rec(&r, buf);
            }
            break;
        }
    }
    check_all(&ob);
    return 0;
}
