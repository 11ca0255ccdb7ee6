/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The device twin on arbitrary bytes, both ways they come in: as a delta from
 * the network (tern_twin_on_delta()) and as a flash image (tern_twin_mount()).
 * A refused delta leaves the twin exactly as it was (its versions, what it
 * wants, its report, the flash untouched); an accepted one never moves the
 * applied version back, and applies only when from <= applied < version.
 * Any image mounts (to its newest valid copy, or empty); what mounts builds a
 * report, and survives a remount unchanged.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fuzz_check.h"

#include "tern/twin.h"
#include "tern_norsim.h"

enum { SECTOR = 1024, SIZE = 2 * SECTOR, CAP = 512 };

static uint8_t g_mem[SIZE];
static uint32_t g_counts[2];
static tern_norsim_t g_sim;

static tern_err_t accept_odd(void *ctx, const char *key, size_t key_len, const uint8_t *value,
                             size_t len, bool deleted)
{
    (void)ctx;
    (void)key;
    (void)value;
    (void)deleted;
    return (key_len + len) % 2 ? TERN_OK : TERN_ERR_INVAL; /* some taken, some refused */
}

static void mount(tern_twin_t *t, uint8_t *state)
{
    tern_twin_config_t cfg = { .flash = tern_norsim_flash(&g_sim),
                               .state_buf = state,
                               .state_cap = CAP,
                               .default_handler = accept_odd };
    CHECK(tern_twin_mount(t, &cfg) == TERN_OK);
}

/* Two mounts of the same flash hold the same state (versions, entries). */
static bool same(const tern_twin_t *a, const uint8_t *sa, const tern_twin_t *b, const uint8_t *sb)
{
    return tern_twin_applied(a) == tern_twin_applied(b) && a->used == b->used &&
           a->next == b->next && a->acked == b->acked && memcmp(sa, sb, a->used) == 0;
}

/* A report of the whole state builds (or does not fit): never anything else. */
static void report(tern_twin_t *t)
{
    static uint8_t out[1024];
    size_t len = 0;
    tern_err_t e = tern_twin_build_report(t, out, sizeof out, &len, true, NULL);
    CHECK(e == TERN_OK || e == TERN_ERR_TOO_SMALL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t state[CAP], state2[CAP], saved[CAP], mem_before[SIZE];
    tern_norsim_config_t cfg = { SIZE, SECTOR, 4, TERN_NORSIM_PROGRAM_ONCE, 0, 1 };
    CHECK(tern_norsim_init(&g_sim, &cfg, g_mem, g_counts) == TERN_OK);
    tern_twin_t t, t2;

    /* 1. The bytes as a flash image: mounts, and a remount finds the same. */
    tern_norsim_format(&g_sim);
    memcpy(g_mem, data, size < SIZE ? size : SIZE);
    mount(&t, state);
    mount(&t2, state2);
    CHECK(same(&t, state, &t2, state2));
    report(&t);

    /* 2. The bytes as a delta, on a twin that has applied version 3 of a small state. */
    tern_norsim_format(&g_sim);
    mount(&t, state);
    /* {1: 3, 2: 0, 3: {"a": 1, "b": "c"}} */
    static const uint8_t first[] = { 0xa3, 0x01, 0x03, 0x02, 0x00, 0x03, 0xa2,
                                     0x61, 0x61, 0x01, 0x61, 0x62, 0x61, 0x63 };
    tern_twin_outcome_t out;
    CHECK(tern_twin_on_delta(&t, first, sizeof first, &out) == TERN_OK &&
          out == TERN_TWIN_APPLIED && tern_twin_applied(&t) == 3);
    tern_twin_t before = t;
    memcpy(saved, state, CAP);
    memcpy(mem_before, g_mem, SIZE);
    uint32_t ops = tern_norsim_op_count(&g_sim);
    tern_err_t e = tern_twin_on_delta(&t, data, size, &out);
    if (e != TERN_OK && e != TERN_ERR_TOO_SMALL) { /* refused: nothing changed at all */
        CHECK(same(&t, state, &before, saved) && tern_twin_wants(&t) == tern_twin_wants(&before));
        CHECK(tern_norsim_op_count(&g_sim) == ops && memcmp(mem_before, g_mem, SIZE) == 0);
    } else if (out == TERN_TWIN_APPLIED) {
        CHECK(tern_twin_applied(&t) > 3);
    } else { /* stale or a gap: ignored */
        CHECK(tern_twin_applied(&t) == 3);
    }
    /* Whatever happened is what a remount finds. */
    mount(&t2, state2);
    CHECK(same(&t, state, &t2, state2));
    report(&t);
    return 0;
}
