/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The persistent outbox on the NOR simulator: drain order, acks, remounts,
 * eviction, refusal when only critical records fill it, compaction, wear,
 * corrupt records and the in-flight snapshot. Portable: runs on the host and
 * on the Cortex-M4 under QEMU (static buffers only).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "tern/hal.h"
#include "tern/outbox.h"
#include "tern_norsim.h"

#include "tern_test.h"

/* 8 sectors of 512 B, 40-byte payloads: 60-byte slots, 8 per sector, 56 usable. */
enum { SECTOR = 512, SECTORS = 8, SIZE = SECTOR * SECTORS, PROG = 4, MAXP = 40, CAP = 56 };

static uint8_t g_mem[SIZE];
static uint32_t g_counts[SECTORS];
static tern_norsim_t g_sim;
static tern_outbox_t g_ob;
static tern_outbox_config_t g_cfg;

static uint32_t g_evicted[64];
static uint8_t g_evicted_prio[64];
static size_t g_n_evicted;

static void on_evict(void *user, uint32_t seq, tern_outbox_prio_t prio)
{
    (void)user;
    if (g_n_evicted < 64) {
        g_evicted[g_n_evicted] = seq;
        g_evicted_prio[g_n_evicted] = (uint8_t)prio;
    }
    g_n_evicted++;
}

static void mount(void)
{
    assert_int_equal(tern_outbox_mount(&g_ob, &g_cfg), TERN_OK);
}

static int setup(void **state)
{
    (void)state;
    tern_norsim_config_t cfg = { SIZE, SECTOR, PROG, 0, 0, 7 };
    assert_int_equal(tern_norsim_init(&g_sim, &cfg, g_mem, g_counts), TERN_OK);
    tern_norsim_format(&g_sim);
    memset(&g_cfg, 0, sizeof g_cfg);
    g_cfg.flash = tern_norsim_flash(&g_sim);
    g_cfg.max_payload = MAXP;
    g_cfg.on_evict = on_evict;
    g_n_evicted = 0;
    mount();
    return 0;
}

/* A payload that names its record: 'p', the tag and a length that varies with it. */
static size_t payload(uint32_t tag, uint8_t *buf)
{
    size_t len = 1 + tag % MAXP;
    for (size_t i = 0; i < len; i++) {
        buf[i] = (uint8_t)(tag * 31u + i * 7u);
    }
    return len;
}

static uint32_t put(tern_outbox_prio_t prio, uint32_t tag)
{
    uint8_t b[MAXP];
    uint32_t seq = 0;
    assert_int_equal(tern_outbox_enqueue(&g_ob, prio, b, payload(tag, b), &seq), TERN_OK);
    return seq;
}

static void expect_head(uint32_t seq, tern_outbox_prio_t prio, uint32_t tag)
{
    uint8_t want[MAXP], got[MAXP];
    size_t len = payload(tag, want);
    tern_outbox_rec_t rec;
    assert_int_equal(tern_outbox_peek(&g_ob, &rec, got, sizeof got), TERN_OK);
    assert_int_equal(rec.seq, seq);
    assert_int_equal(rec.prio, prio);
    assert_int_equal(rec.len, len);
    assert_memory_equal(got, want, len);
}

static void test_order_and_ack(void **state)
{
    (void)state;
    tern_outbox_rec_t rec;
    assert_int_equal(tern_outbox_peek(&g_ob, &rec, NULL, 0), TERN_ERR_EMPTY);
    uint32_t n1 = put(TERN_OUTBOX_NORMAL, 1), b1 = put(TERN_OUTBOX_BULK, 2);
    uint32_t c1 = put(TERN_OUTBOX_CRITICAL, 3), n2 = put(TERN_OUTBOX_NORMAL, 4);
    uint32_t c2 = put(TERN_OUTBOX_CRITICAL, 5), b2 = put(TERN_OUTBOX_BULK, 6);
    assert_true(n1 < b1 && b1 < c1 && c1 < n2 && n2 < c2 && c2 < b2);
    assert_int_equal(tern_outbox_count(&g_ob, TERN_OUTBOX_CRITICAL), 2);
    assert_int_equal(tern_outbox_count(&g_ob, TERN_OUTBOX_BULK), 2);

    /* next walks the drain order without removing anything. */
    const uint32_t order[] = { c1, c2, n1, n2, b1, b2 };
    assert_int_equal(tern_outbox_peek(&g_ob, &rec, NULL, 0), TERN_OK);
    for (size_t i = 0; i < 6; i++) {
        assert_int_equal(rec.seq, order[i]);
        tern_err_t err = tern_outbox_next(&g_ob, &rec, &rec, NULL, 0);
        assert_int_equal(err, i == 5 ? TERN_ERR_EMPTY : TERN_OK);
    }
    /* A record leaves only when acked; then the next one comes up. */
    expect_head(c1, TERN_OUTBOX_CRITICAL, 3);
    expect_head(c1, TERN_OUTBOX_CRITICAL, 3);
    assert_int_equal(tern_outbox_ack(&g_ob, c1), TERN_OK);
    assert_int_equal(tern_outbox_ack(&g_ob, c1), TERN_ERR_NOT_FOUND);
    expect_head(c2, TERN_OUTBOX_CRITICAL, 5);
    assert_int_equal(tern_outbox_ack(&g_ob, n2), TERN_OK); /* out of order is fine */
    assert_int_equal(tern_outbox_read(&g_ob, n2, &rec, NULL, 0), TERN_ERR_NOT_FOUND);
    uint8_t buf[MAXP], want[MAXP];
    assert_int_equal(tern_outbox_read(&g_ob, b1, &rec, buf, sizeof buf), TERN_OK);
    assert_memory_equal(buf, want, payload(2, want));
    assert_int_equal(tern_outbox_read(&g_ob, b1, &rec, buf, 1), TERN_ERR_TOO_SMALL);
    assert_int_equal(tern_outbox_ack(&g_ob, c2), TERN_OK);
    expect_head(n1, TERN_OUTBOX_NORMAL, 1);
    assert_int_equal(tern_outbox_ack(&g_ob, n1), TERN_OK);
    expect_head(b1, TERN_OUTBOX_BULK, 2);
    assert_int_equal(tern_outbox_ack(&g_ob, b1), TERN_OK);
    assert_int_equal(tern_outbox_ack(&g_ob, b2), TERN_OK);
    assert_int_equal(tern_outbox_peek(&g_ob, &rec, NULL, 0), TERN_ERR_EMPTY);
}

static void test_arguments(void **state)
{
    (void)state;
    uint8_t b[MAXP + 1] = { 0 };
    assert_int_equal(tern_outbox_enqueue(&g_ob, TERN_OUTBOX_BULK, b, MAXP + 1, NULL),
                     TERN_ERR_RANGE);
    assert_int_equal(tern_outbox_enqueue(&g_ob, (tern_outbox_prio_t)3, b, 1, NULL), TERN_ERR_INVAL);
    assert_int_equal(tern_outbox_enqueue(&g_ob, TERN_OUTBOX_BULK, NULL, 1, NULL), TERN_ERR_INVAL);
    assert_int_equal(tern_outbox_enqueue(&g_ob, TERN_OUTBOX_BULK, NULL, 0, NULL), TERN_OK);
    tern_outbox_config_t bad = g_cfg;
    bad.max_payload = SECTOR; /* a slot larger than a sector */
    assert_int_equal(tern_outbox_mount(&g_ob, &bad), TERN_ERR_INVAL);
    tern_outbox_rec_t rec;
    assert_int_equal(tern_outbox_peek(&g_ob, &rec, NULL, 0), TERN_ERR_STATE);
    mount();
    assert_int_equal(tern_outbox_peek(&g_ob, &rec, NULL, 0), TERN_OK);
    assert_int_equal(rec.len, 0);
}

/* Walk the drain order into arrays: what a remount must reproduce exactly. */
static size_t snapshot(uint32_t *seqs, uint8_t *prios, uint8_t (*data)[MAXP], uint16_t *lens)
{
    tern_outbox_rec_t rec;
    size_t n = 0;
    tern_err_t err = tern_outbox_peek(&g_ob, &rec, data[0], MAXP);
    while (err == TERN_OK) {
        seqs[n] = rec.seq;
        prios[n] = rec.prio;
        lens[n] = rec.len;
        n++;
        err = tern_outbox_next(&g_ob, &rec, &rec, data[n], MAXP);
    }
    assert_int_equal(err, TERN_ERR_EMPTY);
    return n;
}

static uint32_t s_seq[2][CAP];
static uint8_t s_prio[2][CAP];
static uint8_t s_data[2][CAP + 1][MAXP];
static uint16_t s_len[2][CAP];

static void test_remount_restores(void **state)
{
    (void)state;
    uint32_t seqs[40];
    for (uint32_t i = 0; i < 40; i++) {
        seqs[i] = put((tern_outbox_prio_t)(i % 3), i);
    }
    for (uint32_t i = 0; i < 40; i += 4) {
        assert_int_equal(tern_outbox_ack(&g_ob, seqs[i]), TERN_OK);
    }
    size_t n0 = snapshot(s_seq[0], s_prio[0], s_data[0], s_len[0]);
    assert_int_equal(n0, 30);
    uint32_t next = tern_outbox_next_seq(&g_ob);
    mount();
    size_t n1 = snapshot(s_seq[1], s_prio[1], s_data[1], s_len[1]);
    assert_int_equal(n1, n0);
    assert_memory_equal(s_seq[0], s_seq[1], n0 * sizeof s_seq[0][0]);
    assert_memory_equal(s_prio[0], s_prio[1], n0);
    assert_memory_equal(s_len[0], s_len[1], n0 * sizeof s_len[0][0]);
    assert_memory_equal(s_data[0], s_data[1], n0 * MAXP);
    assert_int_equal(tern_outbox_next_seq(&g_ob), next);
    for (uint32_t p = 0; p < 3; p++) {
        assert_int_equal(tern_outbox_count(&g_ob, (tern_outbox_prio_t)p), 10);
    }
}

static void test_eviction_order(void **state)
{
    (void)state;
    uint32_t crit[10], norm[20], bulk[26];
    for (uint32_t i = 0; i < 26; i++) {
        bulk[i] = put(TERN_OUTBOX_BULK, 100 + i);
        if (i < 20) {
            norm[i] = put(TERN_OUTBOX_NORMAL, 200 + i);
        }
        if (i < 10) {
            crit[i] = put(TERN_OUTBOX_CRITICAL, 300 + i);
        }
    }
    assert_int_equal(g_n_evicted, 0);
    /* Full: 30 more critical records push out every bulk one, oldest first, then 4 normal. */
    for (uint32_t i = 0; i < 30; i++) {
        put(TERN_OUTBOX_CRITICAL, 400 + i);
    }
    assert_int_equal(g_n_evicted, 30);
    for (uint32_t i = 0; i < 26; i++) {
        assert_int_equal(g_evicted[i], bulk[i]);
        assert_int_equal(g_evicted_prio[i], TERN_OUTBOX_BULK);
    }
    for (uint32_t i = 0; i < 4; i++) {
        assert_int_equal(g_evicted[26 + i], norm[i]);
        assert_int_equal(g_evicted_prio[26 + i], TERN_OUTBOX_NORMAL);
    }
    assert_int_equal(tern_outbox_count(&g_ob, TERN_OUTBOX_BULK), 0);
    assert_int_equal(tern_outbox_count(&g_ob, TERN_OUTBOX_NORMAL), 16);
    assert_int_equal(tern_outbox_count(&g_ob, TERN_OUTBOX_CRITICAL), 40);
    /* Evicted records are gone for good, the others survive a remount. */
    mount();
    tern_outbox_rec_t rec;
    assert_int_equal(tern_outbox_read(&g_ob, bulk[0], &rec, NULL, 0), TERN_ERR_NOT_FOUND);
    assert_int_equal(tern_outbox_read(&g_ob, norm[3], &rec, NULL, 0), TERN_ERR_NOT_FOUND);
    assert_int_equal(tern_outbox_read(&g_ob, norm[4], &rec, NULL, 0), TERN_OK);
    expect_head(crit[0], TERN_OUTBOX_CRITICAL, 300);
    assert_int_equal(tern_outbox_count(&g_ob, TERN_OUTBOX_NORMAL), 16);
}

static void test_critical_full(void **state)
{
    (void)state;
    uint32_t first = 0;
    for (uint32_t i = 0; i < CAP; i++) {
        uint32_t s = put(TERN_OUTBOX_CRITICAL, i);
        first = i == 0 ? s : first;
    }
    uint8_t b[4] = { 1, 2, 3, 4 };
    assert_int_equal(tern_outbox_enqueue(&g_ob, TERN_OUTBOX_CRITICAL, b, 4, NULL), TERN_ERR_FULL);
    assert_int_equal(tern_outbox_enqueue(&g_ob, TERN_OUTBOX_BULK, b, 4, NULL), TERN_ERR_FULL);
    assert_int_equal(g_n_evicted, 0);
    assert_int_equal(tern_outbox_count(&g_ob, TERN_OUTBOX_CRITICAL), CAP);
    /* One ack makes room again (by compacting the oldest sector). */
    assert_int_equal(tern_outbox_ack(&g_ob, first), TERN_OK);
    put(TERN_OUTBOX_CRITICAL, 999);
    assert_int_equal(tern_outbox_enqueue(&g_ob, TERN_OUTBOX_CRITICAL, b, 4, NULL), TERN_ERR_FULL);
    mount();
    assert_int_equal(tern_outbox_count(&g_ob, TERN_OUTBOX_CRITICAL), CAP);
    expect_head(first + 1, TERN_OUTBOX_CRITICAL, 1);
}

/* A steady stream acked as it goes, with a few records never acked: compaction copies those
 * forward again and again, and the erase counts stay within 10 % of each other. */
static void test_compaction_and_wear(void **state)
{
    (void)state;
    uint32_t keep[3];
    keep[0] = put(TERN_OUTBOX_NORMAL, 7);
    keep[1] = put(TERN_OUTBOX_BULK, 8);
    keep[2] = put(TERN_OUTBOX_CRITICAL, 9);
    uint32_t last = 0;
    for (uint32_t i = 0; i < 6000; i++) {
        uint32_t s = put((tern_outbox_prio_t)(i % 3), i);
        assert_true(s > last);
        last = s;
        if (i >= 20) {
            tern_outbox_rec_t rec;
            /* ack the oldest non-kept record of the stream: one that is 20 behind */
            assert_int_equal(tern_outbox_read(&g_ob, s - 20, &rec, NULL, 0), TERN_OK);
            assert_int_equal(tern_outbox_ack(&g_ob, s - 20), TERN_OK);
        }
        if (i % 1000 == 999) {
            mount();
        }
    }
    assert_int_equal(g_n_evicted, 0);
    expect_head(keep[2], TERN_OUTBOX_CRITICAL, 9);
    tern_outbox_rec_t rec;
    uint8_t buf[MAXP], want[MAXP];
    assert_int_equal(tern_outbox_read(&g_ob, keep[0], &rec, buf, sizeof buf), TERN_OK);
    assert_memory_equal(buf, want, payload(7, want));
    assert_int_equal(tern_outbox_read(&g_ob, keep[1], &rec, buf, sizeof buf), TERN_OK);
    assert_memory_equal(buf, want, payload(8, want));
    uint32_t lo = UINT32_MAX, hi = 0;
    for (uint32_t s = 0; s < SECTORS; s++) {
        uint32_t c = tern_norsim_erase_count(&g_sim, s * SECTOR);
        lo = c < lo ? c : lo;
        hi = c > hi ? c : hi;
    }
    assert_true(lo > 50);
    assert_true((hi - lo) * 10 <= hi);
}

static void test_corrupt_record_skipped(void **state)
{
    (void)state;
    uint32_t a = put(TERN_OUTBOX_NORMAL, 1), b = put(TERN_OUTBOX_NORMAL, 2);
    uint32_t c = put(TERN_OUTBOX_NORMAL, 3);
    /* Rot one payload bit of b on flash: slot 1 of sector 0, first payload byte. */
    enum { SLOT = (TERN_OUTBOX_RECORD_OVERHEAD + MAXP + 3u) & ~3u };
    g_mem[TERN_OUTBOX_SECTOR_HEADER + SLOT + TERN_OUTBOX_RECORD_OVERHEAD] ^= 0x01;
    tern_outbox_rec_t rec;
    uint8_t buf[MAXP];
    assert_int_equal(tern_outbox_read(&g_ob, b, &rec, buf, sizeof buf), TERN_ERR_CORRUPT);
    mount();
    assert_int_equal(tern_outbox_count(&g_ob, TERN_OUTBOX_NORMAL), 2);
    assert_int_equal(tern_outbox_read(&g_ob, b, &rec, buf, sizeof buf), TERN_ERR_NOT_FOUND);
    expect_head(a, TERN_OUTBOX_NORMAL, 1);
    assert_int_equal(tern_outbox_next(&g_ob, &rec, &rec, buf, sizeof buf), TERN_OK);
    assert_int_equal(rec.seq, c);
    /* A header garbled beyond recognition is skipped too, and the sequence goes on. */
    memset(&g_mem[16], 0x00, 8);
    mount();
    assert_int_equal(tern_outbox_count(&g_ob, TERN_OUTBOX_NORMAL), 1);
    expect_head(c, TERN_OUTBOX_NORMAL, 3);
    assert_true(put(TERN_OUTBOX_BULK, 4) > c);
}

static void test_torn_enqueue(void **state)
{
    (void)state;
    uint32_t a = put(TERN_OUTBOX_CRITICAL, 1);
    uint8_t b[MAXP];
    for (uint32_t nth = 1; nth <= 2; nth++) { /* header, then payload */
        tern_norsim_cut_after(&g_sim, nth, TERN_NORSIM_TEAR_RANDOM);
        assert_int_equal(tern_outbox_enqueue(&g_ob, TERN_OUTBOX_BULK, b, payload(39, b), NULL),
                         TERN_ERR_POWER_LOST);
        assert_int_equal(tern_outbox_enqueue(&g_ob, TERN_OUTBOX_BULK, b, 1, NULL), TERN_ERR_STATE);
        tern_norsim_reboot(&g_sim);
        uint32_t before = tern_outbox_next_seq(&g_ob);
        mount();
        assert_true(tern_outbox_next_seq(&g_ob) >= before - 1);
        expect_head(a, TERN_OUTBOX_CRITICAL, 1);
        assert_true(tern_outbox_count(&g_ob, TERN_OUTBOX_BULK) <= 1);
    }
    uint32_t s = put(TERN_OUTBOX_NORMAL, 2);
    mount();
    assert_int_equal(tern_outbox_read(&g_ob, s, NULL, NULL, 0), TERN_OK);
}

static void test_seq_monotonic(void **state)
{
    (void)state;
    uint32_t last = 0;
    for (uint32_t round = 0; round < 12; round++) {
        /* Everything acked, so whole sectors get erased while the numbers climb. */
        for (uint32_t i = 0; i < 37; i++) {
            uint32_t s = put(TERN_OUTBOX_BULK, i);
            assert_true(s > last);
            last = s;
            assert_int_equal(tern_outbox_ack(&g_ob, s), TERN_OK);
        }
        mount();
        assert_true(tern_outbox_next_seq(&g_ob) > last);
        tern_outbox_rec_t rec;
        assert_int_equal(tern_outbox_peek(&g_ob, &rec, NULL, 0), TERN_ERR_EMPTY);
    }
}

static void test_inflight_snapshot(void **state)
{
    (void)state;
    tern_mqtt_inflight_t t[3], back[3];
    size_t n = 99;
    assert_int_equal(tern_outbox_load_inflight(&g_ob, back, 3, &n), TERN_OK);
    assert_int_equal(n, 0);
    uint32_t s1 = put(TERN_OUTBOX_NORMAL, 1), s2 = put(TERN_OUTBOX_NORMAL, 2);
    memset(t, 0, sizeof t);
    t[0] = (tern_mqtt_inflight_t){ 5, s1, 10, TERN_MQTT_STAGE_PUBACK, TERN_MQTT_IF_SENT };
    t[1] = (tern_mqtt_inflight_t){ 6, s2, 11, TERN_MQTT_STAGE_PUBCOMP, TERN_MQTT_IF_PENDING };
    assert_int_equal(tern_outbox_save_inflight(&g_ob, t, 3), TERN_OK);
    mount();
    assert_int_equal(tern_outbox_load_inflight(&g_ob, back, 3, &n), TERN_OK);
    assert_int_equal(n, 3);
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(back[i].order, t[i].order);
        assert_int_equal(back[i].token, t[i].token);
        assert_int_equal(back[i].packet_id, t[i].packet_id);
        assert_int_equal(back[i].stage, t[i].stage);
        assert_int_equal(back[i].flags, t[i].flags);
    }
    assert_int_equal(tern_outbox_load_inflight(&g_ob, back, 2, &n), TERN_ERR_TOO_SMALL);
    /* The newest snapshot wins; the snapshot is not a message. */
    assert_int_equal(tern_outbox_save_inflight(&g_ob, &t[1], 1), TERN_OK);
    assert_int_equal(tern_outbox_load_inflight(&g_ob, back, 3, &n), TERN_OK);
    assert_int_equal(n, 1);
    assert_int_equal(back[0].token, s2);
    assert_int_equal(tern_outbox_ack(&g_ob, s1), TERN_OK);
    assert_int_equal(tern_outbox_ack(&g_ob, s2), TERN_OK);
    tern_outbox_rec_t rec;
    assert_int_equal(tern_outbox_peek(&g_ob, &rec, NULL, 0), TERN_ERR_EMPTY);
    /* It survives compaction, and a table too big for a slot is refused. */
    for (uint32_t i = 0; i < 200; i++) {
        assert_int_equal(tern_outbox_ack(&g_ob, put(TERN_OUTBOX_BULK, i)), TERN_OK);
    }
    mount();
    assert_int_equal(tern_outbox_load_inflight(&g_ob, back, 3, &n), TERN_OK);
    assert_int_equal(n, 1);
    assert_int_equal(back[0].packet_id, 11);
    static tern_mqtt_inflight_t big[MAXP / 12 + 1];
    assert_int_equal(tern_outbox_save_inflight(&g_ob, big, MAXP / 12 + 1), TERN_ERR_RANGE);
    assert_int_equal(tern_outbox_save_inflight(&g_ob, NULL, 0), TERN_OK);
    assert_int_equal(tern_outbox_load_inflight(&g_ob, back, 3, &n), TERN_OK);
    assert_int_equal(n, 0);
}

/* ECC flash that takes one program per unit between erases: the status word is its own
 * program unit, so acks never program a unit twice. */
static void test_program_once_flash(void **state)
{
    (void)state;
    tern_norsim_config_t cfg = { SIZE, SECTOR, PROG, TERN_NORSIM_PROGRAM_ONCE, 0, 9 };
    assert_int_equal(tern_norsim_init(&g_sim, &cfg, g_mem, g_counts), TERN_OK);
    tern_norsim_format(&g_sim);
    mount();
    uint32_t keep = put(TERN_OUTBOX_CRITICAL, 5);
    for (uint32_t i = 0; i < 300; i++) {
        assert_int_equal(tern_outbox_ack(&g_ob, put((tern_outbox_prio_t)(i % 3), i)), TERN_OK);
        if (i % 100 == 99) {
            mount();
        }
    }
    expect_head(keep, TERN_OUTBOX_CRITICAL, 5);
    assert_int_equal(tern_outbox_count(&g_ob, TERN_OUTBOX_NORMAL), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_order_and_ack, setup),
        cmocka_unit_test_setup(test_arguments, setup),
        cmocka_unit_test_setup(test_remount_restores, setup),
        cmocka_unit_test_setup(test_eviction_order, setup),
        cmocka_unit_test_setup(test_critical_full, setup),
        cmocka_unit_test_setup(test_compaction_and_wear, setup),
        cmocka_unit_test_setup(test_corrupt_record_skipped, setup),
        cmocka_unit_test_setup(test_torn_enqueue, setup),
        cmocka_unit_test_setup(test_seq_monotonic, setup),
        cmocka_unit_test_setup(test_inflight_snapshot, setup),
        cmocka_unit_test_setup(test_program_once_flash, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
