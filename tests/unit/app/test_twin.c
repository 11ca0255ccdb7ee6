/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The device twin on the NOR simulator: deltas applied, stale and gapped;
 * handlers that accept, refuse and delete; reports byte for byte and their
 * versions; persistence across remounts; flash garbage and crafted copies
 * refused; bad deltas refused with nothing changed; a device offline while
 * desired state changed three times. Host and Cortex-M4 (static buffers only).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "tern/crc.h"
#include "tern/hal.h"
#include "tern/twin.h"
#include "tern_norsim.h"
#include "tern_test.h"
#include "tern_test_hex.h"

enum { SECTOR = 512, SECTORS = 2, SIZE = SECTOR * SECTORS, PROG = 4, CAP = 256, HDR = 32 };

static uint8_t g_mem[SIZE];
static uint32_t g_counts[SECTORS];
static tern_norsim_t g_sim;
static uint8_t g_state[CAP], g_state2[CAP];
static tern_twin_t g_twin;
static tern_twin_config_t g_cfg;
static uint8_t g_out[512];
static size_t g_out_len;

/* What the handlers saw. */
typedef struct call {
    char key[8];
    uint8_t value[16];
    size_t len;
    bool deleted;
} call_t;
static call_t g_calls[8];
static size_t g_n_calls;
static tern_err_t g_default_result;

static void log_call(const char *key, size_t klen, const uint8_t *v, size_t len, bool del)
{
    if (g_n_calls < 8) {
        call_t *c = &g_calls[g_n_calls];
        memset(c, 0, sizeof *c);
        memcpy(c->key, key, klen < 7 ? klen : 7);
        if (v != NULL) {
            memcpy(c->value, v, len < 16 ? len : 16);
        }
        c->len = len;
        c->deleted = del;
    }
    g_n_calls++;
}

static tern_err_t on_led(void *ctx, const char *key, size_t klen, const uint8_t *v, size_t len,
                         bool del)
{
    assert_ptr_equal(ctx, &g_twin);
    log_call(key, klen, v, len, del);
    return TERN_OK;
}

/* "rate" takes 0..100 only (a one-byte or two-byte unsigned integer). */
static tern_err_t on_rate(void *ctx, const char *key, size_t klen, const uint8_t *v, size_t len,
                          bool del)
{
    (void)ctx;
    log_call(key, klen, v, len, del);
    if (del) {
        return TERN_OK;
    }
    unsigned r = len == 1 && v[0] < 0x18 ? v[0] : len == 2 && v[0] == 0x18 ? v[1] : 1000;
    return r <= 100 ? TERN_OK : TERN_ERR_RANGE;
}

static tern_err_t on_other(void *ctx, const char *key, size_t klen, const uint8_t *v, size_t len,
                           bool del)
{
    (void)ctx;
    log_call(key, klen, v, len, del);
    return g_default_result;
}

static const tern_twin_handler_t k_handlers[] = { { "led", on_led }, { "rate", on_rate } };

/* Hex (lowercase, spaces allowed) into @p out; returns its length. */
static size_t unhex(const char *s, uint8_t *out)
{
    size_t n = 0;
    for (; *s; s++) {
        if (*s != ' ') {
            out[n++] = (uint8_t)(tern_test_nibble(s[0]) << 4 | tern_test_nibble(s[1]));
            s++;
        }
    }
    return n;
}

static uint8_t g_hex[256];
static size_t hex(const char *s)
{
    return unhex(s, g_hex);
}

/* Fail unless @p b[0..n) is the bytes written in @p want (hex, with spaces). */
static void expect_bytes(const uint8_t *b, size_t n, const char *want)
{
    static uint8_t w[256];
    size_t wn = unhex(want, w);
    if (n != wn || memcmp(b, w, n) != 0) {
        fail_msg("%u bytes, want %u (%s)", (unsigned)n, (unsigned)wn, want);
    }
}

static void mount_into(uint8_t *buf)
{
    g_cfg.state_buf = buf;
    assert_int_equal(tern_twin_mount(&g_twin, &g_cfg), TERN_OK);
}

static int setup(void **state)
{
    (void)state;
    tern_norsim_config_t cfg = { SIZE, SECTOR, PROG, TERN_NORSIM_PROGRAM_ONCE, 0, 3 };
    assert_int_equal(tern_norsim_init(&g_sim, &cfg, g_mem, g_counts), TERN_OK);
    tern_norsim_format(&g_sim);
    memset(&g_cfg, 0, sizeof g_cfg);
    g_cfg.flash = tern_norsim_flash(&g_sim);
    g_cfg.state_cap = CAP;
    g_cfg.handlers = k_handlers;
    g_cfg.n_handlers = 2;
    g_cfg.default_handler = on_other;
    g_cfg.ctx = &g_twin;
    g_n_calls = 0;
    g_default_result = TERN_OK;
    mount_into(g_state);
    return 0;
}

static tern_err_t delta(const char *h, tern_twin_outcome_t *oc)
{
    size_t n = hex(h);
    return tern_twin_on_delta(&g_twin, g_hex, n, oc);
}

static void apply(const char *h, tern_twin_outcome_t want)
{
    tern_twin_outcome_t oc = (tern_twin_outcome_t)-1;
    assert_int_equal(delta(h, &oc), TERN_OK);
    assert_int_equal(oc, want);
}

static uint32_t report(bool full, const char *want)
{
    uint32_t v = 0;
    assert_int_equal(tern_twin_build_report(&g_twin, g_out, sizeof g_out, &g_out_len, full, &v),
                     TERN_OK);
    expect_bytes(g_out, g_out_len, want);
    return v;
}

static void hello(const char *want)
{
    assert_int_equal(tern_twin_build_hello(&g_twin, g_out, sizeof g_out, &g_out_len), TERN_OK);
    expect_bytes(g_out, g_out_len, want);
}

static void expect_reported(const char *key, const char *want)
{
    const uint8_t *v = NULL;
    size_t len = 0;
    assert_int_equal(tern_twin_report_get(&g_twin, key, &v, &len), TERN_OK);
    expect_bytes(v, len, want);
}

static void set(const char *key, const char *value)
{
    size_t n = hex(value);
    assert_int_equal(tern_twin_report_set(&g_twin, key, g_hex, n), TERN_OK);
}

/* {1: 1, 2: 0, 3: {"led": true, "rate": 10}} */
#define D1 "a3 0101 0200 03 a2 636c6564 f5 6472617465 0a"
/* the report of it: {1: 1, 2: 1, 3: {"led": true, "rate": 10}} */
#define R1 "a3 0101 0201 03 a2 636c6564 f5 6472617465 0a"

static void test_delta_applied_and_reported(void **state)
{
    (void)state;
    hello("a2 0100 0200"); /* nothing yet: {1: 0, 2: 0} */
    assert_int_equal(tern_twin_wants(&g_twin), 0);
    apply(D1, TERN_TWIN_APPLIED);
    assert_int_equal(tern_twin_applied(&g_twin), 1);
    assert_int_equal(g_n_calls, 2);
    assert_string_equal(g_calls[0].key, "led");
    expect_bytes(g_calls[0].value, g_calls[0].len, "f5");
    assert_false(g_calls[0].deleted);
    assert_string_equal(g_calls[1].key, "rate");
    expect_bytes(g_calls[1].value, g_calls[1].len, "0a");
    expect_reported("led", "f5");
    expect_reported("rate", "0a");
    assert_int_equal(tern_twin_wants(&g_twin),
                     TERN_TWIN_WANT_HELLO | TERN_TWIN_WANT_REPORT | TERN_TWIN_UNACKED);

    /* Byte for byte, with the first reported version. */
    assert_int_equal(report(false, R1), 1);
    assert_int_equal(tern_twin_wants(&g_twin), TERN_TWIN_UNACKED);
    /* Until acknowledged, the changes stay pending; a resend keeps its version. */
    assert_int_equal(report(false, R1), 1);
    assert_int_equal(tern_twin_report_sent(&g_twin, 1), TERN_OK);
    assert_int_equal(tern_twin_wants(&g_twin), 0);
    /* Nothing left to report: a hello, saying ternd holds version 1. */
    assert_int_equal(report(false, "a2 0101 0201"), 1);
    hello("a2 0101 0201");
    /* The whole state, under a version of its own. */
    assert_int_equal(report(true, "a4 0102 0201 03 a2 636c6564 f5 6472617465 0a 04 f5"), 2);
    assert_int_equal(tern_twin_report_sent(&g_twin, 2), TERN_OK);
}

static void test_versions(void **state)
{
    (void)state;
    set("fw", "63 312e30"); /* "1.0" */
    set("up", "01");
    /* Both changes since the last report carry version 1. */
    assert_int_equal(report(false, "a3 0101 0200 03 a2 626677 63312e30 627570 01"), 1);
    set("up", "02"); /* a report was built: this change opens version 2 */
    assert_int_equal(report(false, "a3 0102 0200 03 a2 626677 63312e30 627570 02"), 2);
    assert_int_equal(tern_twin_report_sent(&g_twin, 3), TERN_ERR_RANGE); /* never built */
    assert_int_equal(tern_twin_report_sent(&g_twin, 1), TERN_OK);        /* late ack of 1 */
    assert_int_equal(report(false, "a3 0102 0200 03 a1 627570 02"), 2);  /* "up" still due */
    set("up", "03");
    assert_int_equal(tern_twin_report_sent(&g_twin, 3), TERN_ERR_RANGE); /* 3 is not built yet */
    assert_int_equal(tern_twin_report_sent(&g_twin, 2), TERN_OK);
    assert_int_equal(report(false, "a3 0103 0200 03 a1 627570 03"), 3);
    assert_int_equal(tern_twin_report_sent(&g_twin, 3), TERN_OK);
    assert_int_equal(tern_twin_report_sent(&g_twin, 2), TERN_OK); /* old acks change nothing */
    hello("a2 0103 0200");
    /* A report that does not fit changes nothing: the changes are still due. */
    set("up", "04");
    assert_int_equal(tern_twin_build_report(&g_twin, g_out, 8, &g_out_len, false, NULL),
                     TERN_ERR_TOO_SMALL);
    assert_true(tern_twin_wants(&g_twin) & TERN_TWIN_WANT_REPORT);
    assert_int_equal(report(false, "a3 0104 0200 03 a1 627570 04"), 4);
}

static void test_stale_delta_ignored(void **state)
{
    (void)state;
    apply(D1, TERN_TWIN_APPLIED);
    /* {1: 2, 2: 1, 3: {"rate": 20}} */
    apply("a3 0102 0201 03 a1 6472617465 14", TERN_TWIN_APPLIED);
    g_n_calls = 0;
    uint32_t ops = tern_norsim_op_count(&g_sim);
    /* Late copies of older deltas: never applied over the newer state. */
    apply(D1, TERN_TWIN_STALE);
    apply("a3 0102 0200 03 a1 6472617465 0f", TERN_TWIN_STALE); /* {1: 2, 2: 0, rate: 15} */
    apply("a3 0102 0201 03 a1 6472617465 14", TERN_TWIN_STALE); /* the same one, twice */
    assert_int_equal(g_n_calls, 0);
    assert_int_equal(tern_norsim_op_count(&g_sim), ops);
    assert_int_equal(tern_twin_applied(&g_twin), 2);
    expect_reported("rate", "14");
}

static void test_gap_wants_sync(void **state)
{
    (void)state;
    apply(D1, TERN_TWIN_APPLIED);
    assert_int_equal(report(false, R1), 1);
    assert_int_equal(tern_twin_report_sent(&g_twin, 1), TERN_OK);
    assert_int_equal(tern_twin_wants(&g_twin), 0);
    g_n_calls = 0;
    uint32_t ops = tern_norsim_op_count(&g_sim);
    /* {1: 5, 2: 3, 3: {"rate": 99}}: versions 2 and 3 were missed */
    apply("a3 0105 0203 03 a1 6472617465 1863", TERN_TWIN_GAP);
    assert_int_equal(g_n_calls, 0);
    assert_int_equal(tern_norsim_op_count(&g_sim), ops);
    assert_int_equal(tern_twin_applied(&g_twin), 1);
    expect_reported("rate", "0a");
    assert_int_equal(tern_twin_wants(&g_twin), TERN_TWIN_WANT_HELLO);
    hello("a2 0101 0201"); /* where the device is: ternd answers with the delta from 1 */
    assert_int_equal(tern_twin_wants(&g_twin), 0);
    /* {1: 5, 2: 1, 3: {"rate": 99}} */
    apply("a3 0105 0201 03 a1 6472617465 1863", TERN_TWIN_APPLIED);
    assert_int_equal(tern_twin_applied(&g_twin), 5);
    expect_reported("rate", "1863");
}

static void test_delete_via_null(void **state)
{
    (void)state;
    apply(D1, TERN_TWIN_APPLIED);
    assert_int_equal(tern_twin_report_sent(&g_twin, report(false, R1)), TERN_OK);
    size_t before = g_twin.used;
    g_n_calls = 0;
    apply("a3 0102 0201 03 a1 636c6564 f6", TERN_TWIN_APPLIED); /* {"led": null} */
    assert_int_equal(g_n_calls, 1);
    assert_true(g_calls[0].deleted);
    assert_int_equal(g_calls[0].len, 0);
    const uint8_t *v;
    size_t len;
    assert_int_equal(tern_twin_report_get(&g_twin, "led", &v, &len), TERN_ERR_NOT_FOUND);
    assert_int_equal(report(false, "a3 0102 0202 03 a1 636c6564 f6"), 2);
    assert_int_equal(report(true, "a4 0103 0202 03 a1 6472617465 0a 04 f5"), 3);
    assert_int_equal(tern_twin_report_sent(&g_twin, 2), TERN_OK);
    assert_true(g_twin.used < before); /* ternd has the deletion: no tombstone left */
    /* The application deletes too. */
    assert_int_equal(tern_twin_report_delete(&g_twin, "rate"), TERN_OK);
    assert_int_equal(tern_twin_report_get(&g_twin, "rate", &v, &len), TERN_ERR_NOT_FOUND);
    assert_int_equal(report(false, "a3 0104 0202 03 a1 6472617465 f6"), 4);
    assert_int_equal(tern_twin_report_sent(&g_twin, 4), TERN_OK);
    assert_int_equal(g_twin.used, 0);
}

static void test_refused_key_not_reported(void **state)
{
    (void)state;
    /* {1: 1, 2: 0, 3: {"led": true, "mode": "eco", "rate": 200}} */
    const char *d = "a3 0101 0200 03 a3 636c6564 f5 646d6f6465 6365636f 6472617465 18c8";
    g_default_result = TERN_ERR_UNSUPPORTED; /* no handler for "mode" takes it */
    apply(d, TERN_TWIN_APPLIED);
    assert_int_equal(g_n_calls, 3);
    assert_string_equal(g_calls[1].key, "mode");
    assert_string_equal(g_calls[2].key, "rate");
    assert_int_equal(tern_twin_applied(&g_twin), 1); /* applied all the same */
    const uint8_t *v;
    size_t len;
    assert_int_equal(tern_twin_report_get(&g_twin, "rate", &v, &len), TERN_ERR_NOT_FOUND);
    assert_int_equal(report(false, "a3 0101 0201 03 a1 636c6564 f5"), 1);
    /* The default handler takes keys nobody registered; none at all refuses them. */
    g_default_result = TERN_OK;
    apply("a3 0102 0201 03 a1 646d6f6465 63656366", TERN_TWIN_APPLIED);
    expect_reported("mode", "63656366");
    g_cfg.default_handler = NULL;
    mount_into(g_state);
    apply("a3 0103 0202 03 a1 646d6f6465 63656367", TERN_TWIN_APPLIED);
    expect_reported("mode", "63656366");
    /* The refused delta still moved the applied version: the next report says so. */
    assert_true(tern_twin_wants(&g_twin) & TERN_TWIN_WANT_HELLO);
    assert_int_equal(tern_twin_report_sent(&g_twin, report(false, "a3 0102 0203 03 a2 636c6564 "
                                                                  "f5 646d6f6465 63656366")),
                     TERN_OK);
    report(false, "a2 0102 0203");
}

static void test_values_deterministic(void **state)
{
    (void)state;
    /* {"ab": 1, "a": 1.5 as a double}: keys out of order, a float longer than needed */
    set("cfg", "a2 626162 01 6161 fb3ff8000000000000");
    expect_reported("cfg", "a2 6161 f93e00 626162 01");
    /* [-1, h'00', tag 1(1000)] with a 4-byte head for 1000 */
    set("arr", "83 20 4100 c1 1a000003e8");
    expect_reported("arr", "83 20 4100 c1 1903e8");
    /* Refused, with nothing changed: not one item, indefinite, empty, bad key, duplicates. */
    size_t used = g_twin.used;
    size_t n = hex("01 02");
    assert_int_equal(tern_twin_report_set(&g_twin, "x", g_hex, n), TERN_ERR_CBOR_TRAILING);
    n = hex("9f 01 ff");
    assert_int_equal(tern_twin_report_set(&g_twin, "x", g_hex, n), TERN_ERR_MALFORMED);
    assert_int_equal(tern_twin_report_set(&g_twin, "x", g_hex, 0), TERN_ERR_CBOR_TRUNCATED);
    n = hex("01");
    assert_int_equal(tern_twin_report_set(&g_twin, "\xc3\x28", g_hex, n), TERN_ERR_CBOR_BAD_UTF8);
    n = hex("a2 6161 01 6161 02");
    assert_int_not_equal(tern_twin_report_set(&g_twin, "x", g_hex, n), TERN_OK);
    assert_int_equal(tern_twin_report_set(&g_twin, "x", NULL, 1), TERN_ERR_INVAL);
    assert_int_equal(g_twin.used, used);
    /* A null value is a deletion. */
    set("cfg", "f6");
    const uint8_t *v;
    assert_int_equal(tern_twin_report_get(&g_twin, "cfg", &v, &n), TERN_ERR_NOT_FOUND);
}

static void test_state_full(void **state)
{
    (void)state;
    static uint8_t big[260];
    big[0] = 0x59; /* a byte string of 257 bytes: its entry takes 4 + 1 + 260 */
    big[1] = 0x01;
    big[2] = 0x01;
    assert_int_equal(tern_twin_report_set(&g_twin, "big", big, 260), TERN_ERR_TOO_SMALL);
    big[0] = 0x58; /* 240 bytes: 4 + 1 + 242 */
    big[1] = 240;
    assert_int_equal(tern_twin_report_set(&g_twin, "big", big, 242), TERN_OK);
    /* a change needs room for its new entry next to the old one */
    assert_int_equal(tern_twin_report_set(&g_twin, "big", big, 242), TERN_ERR_TOO_SMALL);
    set("big", "01");
    /* a delta whose accepted value does not fit is applied, and says so */
    assert_int_equal(tern_twin_report_set(&g_twin, "big", big, 242), TERN_OK);
    g_n_calls = 0;
    assert_int_equal(delta("a3 0101 0200 03 a2 636c6564 f5 6472617465 0a", NULL),
                     TERN_ERR_TOO_SMALL);
    assert_int_equal(g_n_calls, 2);
    assert_int_equal(tern_twin_applied(&g_twin), 1);
    expect_reported("led", "f5");
}

static void test_persists_across_remount(void **state)
{
    (void)state;
    apply(D1, TERN_TWIN_APPLIED);
    set("fw", "63 312e30");
    const char *r = "a3 0101 0201 03 a3 626677 63312e30 636c6564 f5 6472617465 0a";
    assert_int_equal(report(false, r), 1); /* built, never acknowledged: the power goes */
    memset(&g_twin, 0x5A, sizeof g_twin);
    mount_into(g_state2);
    assert_int_equal(tern_twin_applied(&g_twin), 1);
    expect_reported("fw", "63312e30");
    expect_reported("led", "f5");
    assert_int_equal(tern_twin_wants(&g_twin), TERN_TWIN_WANT_REPORT | TERN_TWIN_UNACKED);
    hello("a2 0100 0201");
    assert_int_equal(report(false, r), 1); /* the same report again */
    assert_int_equal(tern_twin_report_sent(&g_twin, 1), TERN_OK);
    mount_into(g_state);
    assert_int_equal(tern_twin_wants(&g_twin), 0);
    hello("a2 0101 0201");
    /* After a reset the next change takes a new version: 1 may have left already. */
    set("fw", "63 312e31");
    assert_int_equal(report(false, "a3 0102 0201 03 a1 626677 63312e31"), 2);
    /* A delta after the remount goes on from the applied version kept on flash. */
    apply("a3 0102 0201 03 a1 6472617465 14", TERN_TWIN_APPLIED);
    mount_into(g_state2);
    assert_int_equal(tern_twin_applied(&g_twin), 2);
    expect_reported("rate", "14");
    expect_reported("fw", "63312e31");
}

/* Write a copy of the state into slot @p s by hand, as tern/twin.h documents it. */
static void craft(unsigned s, uint32_t gen, uint32_t next, uint32_t acked, uint32_t applied,
                  const char *payload)
{
    uint8_t *p = g_mem + s * SECTOR;
    size_t n = hex(payload);
    uint32_t f[8] = { 0x314E5754, 0, gen, (uint32_t)n, next, acked, applied, 0xFFFFFFFF };
    memset(p, 0xFF, SECTOR);
    for (int i = 0; i < 8; i++) {
        for (int b = 0; b < 4; b++) {
            p[4 * i + b] = (uint8_t)(f[i] >> (8 * b));
        }
    }
    memcpy(p + HDR, g_hex, n);
    uint32_t crc = tern_crc32_update(tern_crc32(p + 8, HDR - 8), p + HDR, n);
    for (int b = 0; b < 4; b++) {
        p[4 + b] = (uint8_t)(crc >> (8 * b));
    }
}

static void test_crafted_copies(void **state)
{
    (void)state;
    apply(D1, TERN_TWIN_APPLIED); /* slot 0, generation 1: the fallback */
    /* A valid copy made by hand wins by generation: the format is as documented. */
    craft(1, 2, 3, 1, 7, "636c6564 03 f4");
    mount_into(g_state);
    assert_int_equal(tern_twin_applied(&g_twin), 7);
    expect_reported("led", "f4");
    const uint8_t *v;
    size_t len;
    assert_int_equal(tern_twin_report_get(&g_twin, "rate", &v, &len), TERN_ERR_NOT_FOUND);
    /* Each of these newer copies is refused and slot 0 is used. */
    static const char *const bad[] = {
        "ff",                              /* not CBOR */
        "636c6564 01",                     /* an entry cut short */
        "6472617465 01 0a 636c6564 01 f5", /* keys out of order */
        "636c6564 01 f5 636c6564 01 f4",   /* the same key twice */
        "636c6564 01 1800",                /* not deterministic */
        "636c6564 04 f5",                  /* changed after the next version */
        "01 01 f5",                        /* a key that is not text */
        "636c6564 1b0000000100000000 f5",  /* a version beyond 32 bits */
        "636c6564 01 9f ff",               /* indefinite length */
        "62c328 01 f5",                    /* not UTF-8 */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        craft(1, 2, 3, 1, 7, bad[i]);
        mount_into(g_state);
        if (tern_twin_applied(&g_twin) != 1) {
            fail_msg("copy %u accepted", (unsigned)i);
        }
        expect_reported("rate", "0a");
    }
    craft(1, 2, 3, 4, 7, "636c6564 01 f5"); /* acknowledged past the next version */
    mount_into(g_state);
    assert_int_equal(tern_twin_applied(&g_twin), 1);
    craft(1, 2, 3, 1, 7, "636c6564 01 f5");
    g_mem[SECTOR + 13] = 0x10; /* a length beyond the state buffer */
    mount_into(g_state);
    assert_int_equal(tern_twin_applied(&g_twin), 1);
    craft(1, 2, 3, 1, 7, "636c6564 01 f5");
    g_mem[SECTOR + HDR + 5] ^= 0x01; /* bit rot: the CRC fails */
    mount_into(g_state);
    assert_int_equal(tern_twin_applied(&g_twin), 1);
    craft(1, 2, 3, 1, 7, "636c6564 01 f5");
    g_mem[SECTOR] = 0; /* no magic */
    mount_into(g_state);
    assert_int_equal(tern_twin_applied(&g_twin), 1);
    /* The twin goes on: the next save replaces the refused copy. */
    apply("a3 0102 0201 03 a1 6472617465 14", TERN_TWIN_APPLIED);
    mount_into(g_state2);
    assert_int_equal(tern_twin_applied(&g_twin), 2);
    expect_reported("rate", "14");
}

static void test_garbage_flash(void **state)
{
    (void)state;
    uint32_t x = 12345;
    for (size_t i = 0; i < SIZE; i++) {
        x = x * 1103515245u + 12345u;
        g_mem[i] = (uint8_t)(x >> 16);
    }
    mount_into(g_state);
    assert_int_equal(tern_twin_applied(&g_twin), 0);
    assert_int_equal(g_twin.used, 0);
    /* Both copies bad, whatever their headers say: still empty. */
    craft(0, 9, 3, 1, 7, "ff");
    craft(1, 8, 3, 1, 7, "636c6564");
    mount_into(g_state);
    assert_int_equal(tern_twin_applied(&g_twin), 0);
    apply(D1, TERN_TWIN_APPLIED);
    mount_into(g_state2);
    assert_int_equal(tern_twin_applied(&g_twin), 1);
    expect_reported("led", "f5");
}

static void test_bad_deltas_change_nothing(void **state)
{
    (void)state;
    apply(D1, TERN_TWIN_APPLIED);
    static const struct {
        const char *hex;
        tern_err_t err;
    } bad[] = {
        { "", TERN_ERR_CBOR_TRUNCATED },
        { "a3 0102 0201", TERN_ERR_CBOR_TRUNCATED },
        { "a3 0102 0201 03 a0 00", TERN_ERR_CBOR_TRAILING },
        { "1c", TERN_ERR_CBOR_RESERVED },
        { "a3 0102 0201 03 a1 62c328 f5", TERN_ERR_CBOR_BAD_UTF8 },
        { "a3 0102 0201 03 a2 636c6564 f5 636c6564 f4", TERN_ERR_CBOR_DUPLICATE_KEY },
        { "a3 0102 0103 0201", TERN_ERR_CBOR_DUPLICATE_KEY },
        { "01", TERN_ERR_MALFORMED },                            /* not a map */
        { "a1 0102", TERN_ERR_MALFORMED },                       /* no from */
        { "a2 0102 0202", TERN_ERR_MALFORMED },                  /* version <= from */
        { "a2 01 6161 0201", TERN_ERR_MALFORMED },               /* version not an integer */
        { "a2 01 1b0000000100000000 0200", TERN_ERR_MALFORMED }, /* beyond 32 bits */
        { "a3 0102 0201 03 01", TERN_ERR_MALFORMED },            /* 3 not a map */
        { "a3 0102 0201 03 a1 01 f5", TERN_ERR_MALFORMED },      /* a desired key not text */
        { "a3 6161 01 0102 0201", TERN_ERR_MALFORMED },          /* a top-level key not a uint */
        { "bf 0102 0201 ff", TERN_ERR_MALFORMED },               /* indefinite map */
        { "a3 0102 0201 03 a1 636c6564 9f 01 ff", TERN_ERR_MALFORMED },
        { "a3 0102 0201 03 a1 636c6564 5f 4100 ff", TERN_ERR_MALFORMED },
    };
    static uint8_t before[CAP];
    memcpy(before, g_state, CAP);
    size_t used = g_twin.used;
    uint32_t ops = tern_norsim_op_count(&g_sim);
    g_n_calls = 0;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        tern_twin_outcome_t oc = (tern_twin_outcome_t)77;
        tern_err_t err = delta(bad[i].hex, &oc);
        if (err != bad[i].err) {
            fail_msg("delta %u (%s): %s", (unsigned)i, bad[i].hex, tern_err_name(err));
        }
        assert_int_equal(oc, 77);
    }
    assert_int_equal(g_n_calls, 0);
    assert_int_equal(tern_twin_applied(&g_twin), 1);
    assert_int_equal(g_twin.used, used);
    assert_memory_equal(g_state, before, CAP);
    assert_int_equal(tern_norsim_op_count(&g_sim), ops);
    assert_int_equal(tern_twin_on_delta(&g_twin, NULL, 3, NULL), TERN_ERR_INVAL);
    /* Keys of a later schema are ignored, and a delta may change nothing. */
    apply("a3 0102 0201 18 63 f5", TERN_TWIN_APPLIED);
    assert_int_equal(tern_twin_applied(&g_twin), 2);
}

/*
 * Offline for a week: desired state moved from version 1 to 4 in three steps
 * (rate 20; led false and mode "eco"; rate 30 and mode deleted). ternd merges
 * them into one delta from the version the device's hello names, and one
 * exchange (hello, delta, report) brings the device to the net result; the
 * three single deltas arriving late afterwards change nothing.
 */
static void test_offline_week_converges(void **state)
{
    (void)state;
    apply("a3 0101 0200 03 a2 636c6564 f5 6472617465 0a", TERN_TWIN_APPLIED);
    assert_int_equal(tern_twin_report_sent(&g_twin, report(false, R1)), TERN_OK);
    /* ... a week later, on connect: */
    hello("a2 0101 0201");
    /* ternd: every key changed after 1, as of 4 */
    g_n_calls = 0;
    apply("a3 0104 0201 03 a3 636c6564 f4 646d6f6465 f6 6472617465 181e", TERN_TWIN_APPLIED);
    assert_int_equal(g_n_calls, 3);
    assert_int_equal(tern_twin_applied(&g_twin), 4);
    uint32_t v = report(false, "a3 0102 0204 03 a3 636c6564 f4 646d6f6465 f6 6472617465 181e");
    assert_int_equal(tern_twin_report_sent(&g_twin, v), TERN_OK);
    assert_int_equal(tern_twin_wants(&g_twin), 0);
    /* converged: reported is the desired state of version 4 */
    assert_int_equal(report(true, "a4 0103 0204 03 a2 636c6564 f4 6472617465 181e 04 f5"), 3);
    /* the three deltas of the week, late */
    g_n_calls = 0;
    apply("a3 0102 0201 03 a1 6472617465 14", TERN_TWIN_STALE);
    apply("a3 0103 0202 03 a2 636c6564 f4 646d6f6465 63656366", TERN_TWIN_STALE);
    apply("a3 0104 0203 03 a2 646d6f6465 f6 6472617465 181e", TERN_TWIN_STALE);
    assert_int_equal(g_n_calls, 0);
    expect_reported("rate", "181e");
}

static void test_mount_arguments(void **state)
{
    (void)state;
    tern_twin_t t;
    tern_twin_config_t c = g_cfg;
    c.state_buf = NULL;
    assert_int_equal(tern_twin_mount(&t, &c), TERN_ERR_INVAL);
    c = g_cfg;
    tern_twin_handler_t h[1] = { { "x", NULL } };
    c.handlers = h;
    c.n_handlers = 1;
    assert_int_equal(tern_twin_mount(&t, &c), TERN_ERR_INVAL);
    c = g_cfg;
    tern_flash_part_t part;
    assert_int_equal(tern_flash_partition(&g_cfg.flash, 0, SECTOR, &part, &c.flash), TERN_OK);
    assert_int_equal(tern_twin_mount(&t, &c), TERN_ERR_INVAL); /* one sector */
    tern_norsim_t sim;
    tern_norsim_config_t nc = { SIZE, SECTOR, 64, 0, 0, 1 };
    assert_int_equal(tern_norsim_init(&sim, &nc, g_mem, g_counts), TERN_OK);
    c = g_cfg;
    c.flash = tern_norsim_flash(&sim);
    assert_int_equal(tern_twin_mount(&t, &c), TERN_ERR_UNSUPPORTED); /* 64-byte program unit */
    c.flash.ops = NULL;
    assert_int_equal(tern_twin_mount(&t, &c), TERN_ERR_UNSUPPORTED);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_delta_applied_and_reported, setup),
        cmocka_unit_test_setup(test_versions, setup),
        cmocka_unit_test_setup(test_stale_delta_ignored, setup),
        cmocka_unit_test_setup(test_gap_wants_sync, setup),
        cmocka_unit_test_setup(test_delete_via_null, setup),
        cmocka_unit_test_setup(test_refused_key_not_reported, setup),
        cmocka_unit_test_setup(test_values_deterministic, setup),
        cmocka_unit_test_setup(test_state_full, setup),
        cmocka_unit_test_setup(test_persists_across_remount, setup),
        cmocka_unit_test_setup(test_crafted_copies, setup),
        cmocka_unit_test_setup(test_garbage_flash, setup),
        cmocka_unit_test_setup(test_bad_deltas_change_nothing, setup),
        cmocka_unit_test_setup(test_offline_week_converges, setup),
        cmocka_unit_test_setup(test_mount_arguments, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
