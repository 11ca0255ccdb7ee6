/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Power-loss sweep of the NOR simulator itself: the ground truth every other
 * sweep (outbox, logs, OTA) stands on. A fixed script of mixed erases and
 * programs runs once clean, recording the image before each operation. Then,
 * for every operation k and several tear lengths, a fresh flash runs the script
 * with power cut at k, and after the reboot the image must be exactly: all of
 * operations 1..k-1, a prefix of k (plus at most one byte whose bits moved only
 * the way k moves them), and nothing of k+1.. .
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "tern/hal.h"
#include "tern_norsim.h"

enum { SECTOR = 256, SECTORS = 4, SIZE = SECTOR * SECTORS, MAX_LEN = 64, MAX_OPS = 48 };

typedef struct {
    char kind; /* 'E'rase or 'P'rogram */
    uint16_t addr;
    uint16_t len; /* programs only; a multiple of 8 so every geometry below accepts it */
} step_t;

/* Fresh sectors, re-programs that clear more bits of programmed data, erases of full sectors. */
static const step_t k_script[] = {
    { 'E', 0, 0 },    { 'E', 256, 0 },  { 'P', 0, 16 },   { 'P', 16, 32 },  { 'P', 256, 64 },
    { 'P', 48, 8 },   { 'P', 0, 16 },   { 'E', 512, 0 },  { 'P', 512, 64 }, { 'P', 576, 64 },
    { 'P', 8, 8 },    { 'E', 0, 0 },    { 'P', 0, 64 },   { 'P', 64, 64 },  { 'P', 320, 24 },
    { 'P', 256, 64 }, { 'E', 768, 0 },  { 'P', 768, 40 }, { 'P', 1016, 8 }, { 'P', 808, 64 },
    { 'E', 256, 0 },  { 'P', 256, 8 },  { 'P', 264, 56 }, { 'P', 640, 64 }, { 'P', 704, 56 },
    { 'P', 0, 32 },   { 'E', 512, 0 },  { 'P', 520, 16 }, { 'P', 128, 64 }, { 'P', 192, 64 },
    { 'E', 768, 0 },  { 'P', 960, 64 }, { 'P', 896, 64 }, { 'P', 768, 8 },  { 'P', 32, 32 },
    { 'E', 0, 0 },    { 'P', 0, 8 },    { 'P', 248, 8 },  { 'P', 600, 40 }, { 'P', 888, 8 },
};
enum { STEPS = sizeof k_script / sizeof k_script[0] };

/*
 * Tear lengths tried at every cut point: none, one byte, inside and at a program unit, all, random.
 */
static const uint32_t k_tears[] = {
    0, 1, 5, 8, 100000, TERN_NORSIM_TEAR_RANDOM, TERN_NORSIM_TEAR_RANDOM
};
enum { TEARS = sizeof k_tears / sizeof k_tears[0] };

static const uint32_t k_prog_sizes[] = { 1, 8 };

static uint8_t g_mem[SIZE];
static uint32_t g_counts[SECTORS];
static uint8_t g_before[STEPS + 1][SIZE]; /* the image before step k (index k-1), and at the end */
static uint8_t g_data[STEPS][MAX_LEN];    /* what each program writes */
static uint8_t g_image[SIZE];

static void open_flash(tern_norsim_t *sim, uint32_t prog_size, uint64_t seed)
{
    const tern_norsim_config_t cfg = { SIZE, SECTOR, prog_size, 0, 0, seed };
    (void)tern_norsim_init(sim, &cfg, g_mem, g_counts); /* the geometry is known good */
    tern_norsim_format(sim);
}

static tern_err_t run_step(const tern_flash_t *f, size_t k)
{
    const step_t *s = &k_script[k];
    return s->kind == 'E' ? tern_flash_erase(f, s->addr)
                          : tern_flash_program(f, s->addr, g_data[k], s->len);
}

/* The clean run: choose each program's data (a pattern masked by what the cells
 * hold, so it is always legal NOR) and record the image before every step. */
static bool record_clean_run(uint32_t prog_size, uint32_t *n_ops)
{
    tern_norsim_t sim;
    open_flash(&sim, prog_size, 1);
    tern_flash_t f = tern_norsim_flash(&sim);
    for (size_t k = 0; k < STEPS; k++) {
        memcpy(g_before[k], g_mem, SIZE);
        const step_t *s = &k_script[k];
        for (size_t i = 0; i < s->len; i++) {
            uint8_t pattern = (uint8_t)((k * 37u + i * 11u) ^ (i << 4) ^ 0xA5u);
            g_data[k][i] = pattern & g_mem[s->addr + i];
        }
        if (run_step(&f, k) != TERN_OK) {
            fprintf(stderr, "clean run: step %zu failed\n", k + 1);
            return false;
        }
    }
    memcpy(g_before[STEPS], g_mem, SIZE);
    *n_ops = tern_norsim_op_count(&sim);
    return *n_ops == STEPS;
}

/* Only bits that differ between @p before and @p after may have moved. */
static bool between(uint8_t actual, uint8_t before, uint8_t after)
{
    return ((actual ^ before) & (uint8_t) ~(before ^ after)) == 0;
}

/* Check the rebooted image after a cut at step @p k (0-based) with @p tear. */
static bool image_ok(const uint8_t *img, size_t k, uint32_t tear)
{
    const uint8_t *prev = g_before[k], *next = g_before[k + 1];
    const step_t *s = &k_script[k];
    uint32_t a = s->addr, len = s->kind == 'E' ? SECTOR : s->len;
    /* Outside the cut operation: exactly the steps before it, nothing after. */
    if (memcmp(img, prev, a) != 0 || memcmp(img + a + len, prev + a + len, SIZE - a - len) != 0) {
        return false;
    }
    uint32_t p; /* bytes of the operation that landed in full */
    if (tear == TERN_NORSIM_TEAR_RANDOM) {
        for (p = 0; p < len && img[a + p] == next[a + p]; p++) {
        }
    } else {
        p = tear < len ? tear : len;
        if (memcmp(img + a, next + a, p) != 0) {
            return false;
        }
    }
    if (p < len) {
        if (!between(img[a + p], prev[a + p], next[a + p])) {
            return false;
        }
        p++;
    }
    return memcmp(img + a + p, prev + a + p, len - p) == 0;
}

static bool erase_counts_ok(const tern_norsim_t *sim, size_t k)
{
    for (uint32_t sec = 0; sec < SECTORS; sec++) {
        uint32_t want = 0;
        for (size_t j = 0; j <= k; j++) {
            want += k_script[j].kind == 'E' && k_script[j].addr / SECTOR == sec;
        }
        if (tern_norsim_erase_count(sim, sec * SECTOR) != want) {
            return false;
        }
    }
    return true;
}

static bool cut_scenario(uint32_t prog_size, size_t k, size_t tear_idx)
{
    tern_norsim_t sim;
    open_flash(&sim, prog_size, 1000u + k * TEARS + tear_idx);
    tern_flash_t f = tern_norsim_flash(&sim);
    tern_norsim_cut_after(&sim, (uint32_t)k + 1, k_tears[tear_idx]);
    for (size_t j = 0; j < STEPS; j++) {
        tern_err_t want = j < k ? TERN_OK : TERN_ERR_POWER_LOST;
        if (run_step(&f, j) != want) {
            return false;
        }
    }
    uint8_t probe;
    if (!tern_norsim_power_lost(&sim) || tern_flash_read(&f, 0, &probe, 1) != TERN_ERR_POWER_LOST) {
        return false;
    }
    tern_norsim_reboot(&sim);
    if (tern_norsim_op_count(&sim) != 0 || tern_flash_read(&f, 0, g_image, SIZE) != TERN_OK) {
        return false;
    }
    return image_ok(g_image, k, k_tears[tear_idx]) && erase_counts_ok(&sim, k);
}

int main(void)
{
    unsigned total = 0, passed = 0;
    for (size_t g = 0; g < sizeof k_prog_sizes / sizeof k_prog_sizes[0]; g++) {
        uint32_t n_ops = 0;
        if (!record_clean_run(k_prog_sizes[g], &n_ops)) {
            fprintf(stderr, "prog_size %u: clean run counted %u ops, want %u\n",
                    (unsigned)k_prog_sizes[g], (unsigned)n_ops, (unsigned)STEPS);
            total++; /* a broken clean run is a failed scenario, never a silent skip */
            continue;
        }
        for (size_t k = 0; k < n_ops; k++) {
            for (size_t t = 0; t < TEARS; t++) {
                total++;
                if (cut_scenario(k_prog_sizes[g], k, t)) {
                    passed++;
                } else {
                    fprintf(stderr, "FAIL prog_size %u, cut at op %zu, tear %u\n",
                            (unsigned)k_prog_sizes[g], k + 1, (unsigned)k_tears[t]);
                }
            }
        }
    }
    printf("powerloss norsim: %u cut points, %u passed\n", total, passed);
    return passed == total ? 0 : 1;
}
